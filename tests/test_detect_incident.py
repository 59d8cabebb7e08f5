"""Incident on real-looking car data: ~4 Hz irregular samples, speed in whole km/h, a boolean brake that may
lag the deceleration by a sample, holes of a second or two, and no Distance."""
from __future__ import annotations

import json

import numpy as np
import pytest

from apexflow.chunk import Chunk
from apexflow.contract import F1_CHANNELS
from apexflow.detect import incident
from apexflow.detect.base import Context

CTX = Context("s", "car", {c.name: c for c in F1_CHANNELS})


def trace(segments, seed: int = 0, brake_lag: bool = False):
    """Speed and brake at ~4 Hz (intervals 0.2-0.3 s) from (seconds, km/h per second, brake) segments,
    starting at 300 km/h. With ``brake_lag`` the flag shows one sample after each braking starts."""
    rng = np.random.default_rng(seed)
    total = sum(s for s, _, _ in segments)
    t = np.cumsum(rng.uniform(0.2, 0.3, int(total / 0.2) + 2))
    t = t[t < total]
    edges = np.cumsum([0] + [s for s, _, _ in segments])
    seg = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(segments) - 1)
    rate = np.array([r for _, r, _ in segments])[seg]
    speed = 300.0 + np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(t))])
    braked = np.array([b for _, _, b in segments], dtype=bool)[seg]  # from each sample to the next
    brake = np.concatenate([[False], braked[:-1]])  # on at the samples that end a braked interval
    if brake_lag:
        brake = np.concatenate([[False], brake[:-1]])
    return t, np.maximum(np.round(speed), 0.0), brake


def found(t, speed, brake, cuts=()) -> list:
    """Incidents, the stream cut at ``cuts`` with the state through JSON in between (folded by id)."""
    state: dict = {}
    out = {}
    bounds = [0, *cuts, len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        c = Chunk("s", "car", 0, t[a:b], {"Speed": speed[a:b].astype(np.float32),
                                         "Brake": brake[a:b].astype(np.float32)}, {"Speed": "km/h", "Brake": "bool"})
        for d in incident.run(c, state, CTX):
            out[d.detection_id] = d
        state = json.loads(json.dumps(state, allow_nan=False))
    return list(out.values())


def test_a_120_kmh_loss_in_1_5_s_unbraked_is_an_incident_though_the_car_keeps_over_half_its_speed():
    t, speed, brake = trace([(5, 2, False), (1.5, -80, False), (3, 30, False), (4, 0, False)])
    [d] = found(t, speed, brake)
    assert d.severity in ("warning", "critical") and 0.5 <= d.score < 0.8
    assert 100 <= d.evidence["loss"] <= 130 and d.evidence["kept_share"] > 0.5
    assert 4.6 <= d.t_start <= 5.3 and d.evidence["rate"] >= 60
    assert found(t, speed, brake, cuts=range(1, len(t), 3)) and found(t, speed, brake, cuts=[21, 22])[0].to_row() \
        == d.to_row()


def test_the_score_grows_with_what_is_lost():
    small = found(*trace([(5, 0, False), (1.0, -70, False), (5, 20, False)]))
    spin = found(*trace([(5, 0, False), (2.0, -140, False), (5, 0, False)]))
    assert small and spin and small[0].score < spin[0].score and spin[0].severity == "critical"


@pytest.mark.parametrize("segments, lag", [
    ([(5, 2, False), (3, -25, False), (3, 10, False)], False),  # lifting at top speed: drag only
    ([(5, 2, False), (1.2, -40, False), (2.5, -150, True), (3, 40, False)], False),  # lift and coast, then brake
    ([(5, 2, False), (1.5, -150, True), (3, 40, False)], True),  # hard braking, the flag a sample late
    # a trail brake released, the car still slowing
    ([(5, 2, False), (0.8, -150, True), (1.2, -75, False), (3, 40, False)], True),
])
def test_normal_driving_is_no_incident(segments, lag):
    for seed in range(20):
        assert found(*trace(segments, seed, brake_lag=lag)) == []


def test_a_glitched_sample_or_a_hole_in_the_data_is_no_incident():
    t, speed, brake = trace([(10, 0, False)])
    glitch = speed.copy()
    glitch[20] = 150.0  # one reading 150 km/h low
    assert found(t, glitch, brake) == []
    t, speed, brake = trace([(5, 2, False), (2, -150, True), (4, 40, False)], seed=3)
    hole = (t < 5.0) | (t > 7.0)  # the braking lost in a 2 s hole: only unbraked samples either side are left
    assert found(t[hole], speed[hole], np.zeros(hole.sum(), bool)) == []
