"""F1 detector set on a short synthetic race, plus the smaller pieces on hand-made chunks."""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.contract import F1_CHANNELS
from apexflow.detect import DETECTORS, GENERIC, detectors_for
from apexflow.detect.base import Context
from apexflow.detect.f1 import overlap


def test_detector_sets_by_source():
    assert detectors_for("synthetic") is DETECTORS and detectors_for("fastf1") is DETECTORS
    assert detectors_for("csv") is GENERIC and detectors_for(None) is GENERIC
    assert {"incident", "frozen_sensor", "dropout"} <= set(DETECTORS)  # the demo's kinds stay


def test_short_race_every_injected_kind_found_and_no_false_alarm():
    from benchmarks.detection_quality import evaluate, run_race

    result = evaluate([run_race(1, 10)])
    for kind, row in result["kinds"].items():
        assert row["found"] == row["injected"] and row["false_alarms"] == 0, (kind, row)
    assert set(result["kinds"]) == {"dropout", "frozen_sensor", "incident", "power_loss", "slow_puncture"}
    assert result["false_alarms_on_clean_laps"] == []


def test_throttle_brake_overlap_needs_a_second_and_spans_chunks():
    channels = {c.name: c for c in F1_CHANNELS}
    ctx = Context("s", "car", channels)
    t = np.arange(0, 20, 0.25)
    thr = np.where((t >= 5) & (t < 8), 40.0, 0.0)
    thr[(t >= 12) & (t < 12.5)] = 40.0  # too short
    brake = np.where(((t >= 4) & (t < 9)) | ((t >= 11) & (t < 13)), 1.0, 0.0)
    units = {"Throttle": "%", "Brake": "bool"}
    state: dict = {}
    found = {}
    for a in range(0, len(t), 7):
        c = Chunk("s", "car", a, t[a:a + 7], {"Throttle": thr[a:a + 7].astype(np.float32),
                                               "Brake": brake[a:a + 7].astype(np.float32)}, units)
        for d in overlap.run(c, state, ctx):
            found[d.detection_id] = d
    assert [(d.t_start, d.t_end) for d in found.values()] == [(5.0, 7.75)]
