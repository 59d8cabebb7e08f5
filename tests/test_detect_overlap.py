"""Throttle-brake overlap: normal pedal overlaps are never reported; a sticking pedal and overlaps far longer
than the driver's own are."""
from __future__ import annotations

import json

import numpy as np

from apexflow.chunk import Chunk
from apexflow.contract import F1_CHANNELS
from apexflow.detect.base import Context
from apexflow.detect.f1 import overlap

CTX = Context("s", "car", {c.name: c for c in F1_CHANNELS})
UNITS = {"Speed": "km/h", "Throttle": "%", "Brake": "bool"}


def laps(n: int, seed: int = 0, extra=()):
    """``n`` laps of 80 s at ~4 Hz: 12 braking zones a lap, most ending in an overlap of 0.2-1.2 s at 20-40 %
    throttle (1.5-2.5 s in the two slow corners). ``extra``: (start s, seconds, throttle %, km/h) overlaps."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.2, 0.28, int(n * 80 / 0.2)))
    t = t[t < n * 80]
    throttle, brake, speed = np.full(len(t), 100.0), np.zeros(len(t)), np.full(len(t), 250.0)

    def press(t0, seconds, thr, kmh):
        on = (t >= t0) & (t < t0 + seconds)
        throttle[on], brake[on], speed[on] = thr, 1.0, kmh

    for lap in range(n):
        for zone in range(12):
            t0 = lap * 80 + 2 + zone * 6.5 + rng.uniform(0, 0.5)
            press(t0, 1.5, 0.0, 200.0)  # braking, off the throttle
            if rng.uniform() < 0.7:
                slow = zone in (3, 8)
                seconds = rng.uniform(1.5, 2.5) if slow else rng.uniform(0.2, 1.2)
                press(t0 + 1.5, seconds, rng.uniform(20, 40), 90.0 if slow else 160.0)
    for t0, seconds, thr, kmh in extra:
        press(t0, seconds, thr, kmh)
    return t, {"Throttle": throttle, "Brake": brake, "Speed": speed}


def found(t, values, cuts=()) -> list:
    state: dict = {}
    out = {}
    bounds = [0, *cuts, len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        c = Chunk("s", "car", 0, t[a:b], {k: x[a:b].astype(np.float32) for k, x in values.items()}, UNITS)
        for d in overlap.run(c, state, CTX):
            out[d.detection_id] = d.to_row()
        state = json.loads(json.dumps(state, allow_nan=False))
    return sorted(out.values(), key=lambda d: d["t_start"])


def test_normal_overlaps_on_every_lap_are_never_reported():
    for seed in range(5):
        assert found(*laps(20, seed)) == []


def test_a_sticking_pedal_on_a_straight_is_reported_a_brief_full_throttle_tap_is_not():
    t, values = laps(6, extra=[(400.3, 0.6, 100.0, 300.0), (441.0, 2.6, 100.0, 300.0)])
    [d] = found(t, values)
    assert d["evidence"]["why"] == "sticking pedal" and 440.9 < d["t_start"] < 441.4
    assert d["evidence"]["high_throttle_s"] >= 2.0 and d["t_end"] > 443
    assert found(t, values, cuts=range(5, len(t), 7)) == [d]


def test_far_longer_than_the_drivers_own_overlaps_is_reported_a_habit_is_learnt():
    t, values = laps(10, extra=[(600.2, 5.0, 30.0, 120.0)])
    [d] = found(t, values)
    assert d["evidence"]["why"] == "longer than usual" and d["evidence"]["seconds"] >= 4.5
    assert overlap.FLOOR_S <= d["evidence"]["limit_s"] < d["evidence"]["seconds"] and d["severity"] == "warning"
    habit = [(80 * lap + 79.0 - 4.5, 4.2, 30.0, 90.0) for lap in range(12)]  # 4 s in the last corner, every lap
    reported = {int(r["t_start"] // 80) for r in found(*laps(12, extra=habit))}
    assert 0 in reported and reported <= {0, 1, 2}  # the first laps, until it is the driver's own usual


def test_held_on_the_brake_at_standstill_is_no_overlap():
    t, values = laps(2, extra=[(100.0, 6.0, 60.0, 0.0)])  # a practice start
    assert found(t, values) == []
