"""The same data gives the same detections whatever the batch boundaries (hypothesis over random splits).

Every detector in both registries runs chunk by chunk with a JSON round-trip of its state
between chunks (as the analyzer persists it in the batch transaction), against one fixed
field (another car's stream); the detections, folded by id as the database upserts them,
must equal those of one single chunk.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apexflow.chunk import Chunk
from apexflow.contract import F1_CHANNELS, Channel
from apexflow.detect import DETECTORS, GENERIC
from apexflow.detect.base import Context
from apexflow.detect.field import Profile

pytestmark = pytest.mark.slow

CHANNELS = {c.name: c for c in (*F1_CHANNELS, Channel("Temp", "C", -50, 150))}
NAMES = ("Speed", "RPM", "Throttle", "Brake", "Distance", "LapNumber", "nGear", "Temp")


def telemetry(seed: int, n: int = 1600) -> tuple[np.ndarray, dict]:
    """A car-like stream with every kind of trouble: incident, spike, shift, stuck, gap, out of range, power loss."""
    rng = np.random.default_rng(seed)
    dt = np.full(n, 0.25) + rng.uniform(-0.02, 0.02, n)
    g = int(rng.integers(400, n - 100))
    dt[g] = float(rng.uniform(3.0, 12.0))  # a dropout
    t = 10.0 + np.cumsum(dt)
    lap_len = 1200.0
    phase = 2 * np.pi * np.arange(n) / 80.0
    speed = 220 + 90 * np.sin(phase) + rng.normal(0, 2, n)
    inc = 80 * int(rng.integers(7, n // 80 - 2)) + 14  # near the top of a straight
    speed[inc:inc + 12] = np.linspace(speed[inc], 30, 12)
    speed[inc + 12:inc + 40] = 30 + rng.normal(0, 1, 28)
    p = int(rng.integers(900, 1200))
    speed[p:] = np.minimum(speed[p:], 0.93 * speed[:p].max())  # power loss
    dist_total = np.cumsum(speed / 3.6 * dt)
    brake = (np.gradient(speed) < -3).astype(float)
    brake[inc:inc + 40] = 0
    throttle = np.clip(60 + 40 * np.cos(phase) + rng.normal(0, 3, n), 0, 100)
    throttle[int(rng.integers(300, n - 10))] = 0.0  # a spike down
    rpm = 10000 + 1500 * np.sin(phase) + rng.normal(0, 50, n)
    s = int(rng.integers(300, n - 200))
    rpm[s:s + int(rng.integers(40, 150))] = rpm[s]  # stuck
    temp = 90 + rng.normal(0, 0.5, n)
    temp[int(rng.integers(200, 290))] += 15.0  # a spike
    temp[int(rng.integers(300, n - 300)):] += float(rng.choice([-8.0, 8.0]))  # level shift
    o = int(rng.integers(200, n - 20))
    speed[o:o + int(rng.integers(1, 6))] = 450.0  # out of range
    values = {"Speed": speed, "RPM": rpm, "Throttle": throttle, "Brake": brake,
              "Distance": dist_total % lap_len, "LapNumber": 1 + dist_total // lap_len,
              "nGear": np.clip(np.round(speed / 45), 1, 8), "Temp": temp}
    return t, {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}


def chunks_at(t, values, cuts) -> list[Chunk]:
    bounds = [0, *sorted(set(cuts)), len(t)]
    units = {k: CHANNELS[k].unit for k in values}
    return [Chunk("s1", "car1", i, t[a:b], {k: v[a:b] for k, v in values.items()}, units)
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])) if b > a]


def field() -> Profile:
    """The field as another car of the same session left it: fixed for the whole stream, as within a batch."""
    t, values = telemetry(99)
    profile = Profile()
    profile.add_chunk(chunks_at(t, values, [])[0])
    return profile


FIELD = field()


def detect(detectors: dict, chunks: list[Chunk]) -> dict:
    ctx = Context("s1", "car1", CHANNELS, FIELD)
    state: dict = {}
    found = {}
    for c in chunks:
        for name, run in detectors.items():
            for d in run(c, state.setdefault(name, {}), ctx):
                found[d.detection_id] = d.to_row()
        state = json.loads(json.dumps(state))  # persisted as jsonb between batches
    return found


def summary(found: dict) -> list[tuple]:
    return sorted((i, d["detector"], d["kind"], d["channel"], d["t_start"], d["t_end"], d["score"],
                   json.dumps(d["evidence"], sort_keys=True)) for i, d in found.items())


REGISTRY = {**DETECTORS, **{f"g_{k}": v for k, v in GENERIC.items()}}
_WHOLE: dict = {}


def whole(seed: int) -> list[tuple]:
    if seed not in _WHOLE:
        t, values = telemetry(seed)
        _WHOLE[seed] = summary(detect(REGISTRY, chunks_at(t, values, [])))
    return _WHOLE[seed]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3),
       cuts=st.one_of(st.lists(st.integers(1, 1599), max_size=120),
                      st.builds(lambda a, k: list(range(a, 1600, k)), st.integers(1, 40), st.integers(1, 40))))
def test_any_split_gives_the_same_detections(seed, cuts):
    t, values = telemetry(seed)
    assert summary(detect(REGISTRY, chunks_at(t, values, cuts))) == whole(seed)


def test_sample_by_sample_equals_one_batch():
    t, values = telemetry(11)
    expected = summary(detect(REGISTRY, chunks_at(t, values, [])))
    assert summary(detect(REGISTRY, chunks_at(t, values, list(range(1, len(t)))))) == expected


def test_the_stream_has_something_to_find():
    for seed in range(4):
        kinds = {d[2] for d in whole(seed)}
        assert {"incident", "dropout", "out_of_range", "anomaly", "frozen_sensor", "power_loss",
                "throttle_brake_overlap"} <= kinds, (seed, kinds)


def test_event_spanning_batches_is_one_detection():
    t, values = telemetry(2)
    whole_found = detect(REGISTRY, chunks_at(t, values, []))
    split_found = detect(REGISTRY, chunks_at(t, values, list(range(10, len(t), 10))))
    assert len(split_found) == len(whole_found)
    long = [d for d in split_found.values() if d["kind"] == "anomaly" and d["evidence"]["rows"] > 20]
    assert long and all(d["t_end"] - d["t_start"] > 2.5 for d in long)  # spans several 10-sample chunks


def test_state_is_plain_json():
    t, values = telemetry(1)
    ctx = Context("s1", "car1", CHANNELS)
    state: dict = {}
    for c in chunks_at(t, values, list(range(50, len(t), 50))):
        for name, run in REGISTRY.items():
            run(c, state.setdefault(name, {}), ctx)
    assert json.loads(json.dumps(state, allow_nan=False)) == state
