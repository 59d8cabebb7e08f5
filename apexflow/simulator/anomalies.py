"""The injected anomalies: where they go (seeded) and how they change a car's data.

Kinds: ``incident`` (a spin: sudden speed loss to walking pace where nobody brakes; or contact:
a third of the speed or more lost in a second or two, unbraked, the car going on), ``power_loss``
(top speed and RPM capped from some lap on), ``slow_puncture`` (lap times drifting up
until a pit stop), ``frozen_sensor`` (one channel stuck), ``dropout`` (no samples) and
``throttle_brake_overlap`` (the brake pedal sticking on, at full throttle down the main straight).
Each car gets at most one anomaly. Speed-related ones avoid lap 1, the safety car and
pit laps. Contact and the sticking pedal are drawn last, so the others are what they were
before these kinds existed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from apexflow.simulator.plan import CarPlan, RacePlan

FREEZABLE = ("RPM", "Throttle")
STICK_S = (3.0, 5.0)  # a sticking pedal lasts this long ...
STRAIGHT_S = 6.5  # ... inside the first seconds of the lap, flat out down the main straight
SNAP_S = 1.0  # an incident's first second: speed lost with neither brake nor throttle (the driver has not reacted yet)


def plan_anomalies(rng: np.random.Generator, plan: RacePlan) -> list[dict]:
    """Choose cars and laps, put the physical anomalies into the car plans.

    Returns the sensor-level ones (``frozen_sensor``, ``dropout``, ``throttle_brake_overlap``) as
    ``{"kind", "car", "lap", "u", "seconds", "channel"}`` (and ``within_s`` where they start within the lap's
    first seconds, else anywhere in it); times follow from the drive.
    """
    laps = plan.laps
    free = [int(i) for i in rng.permutation(len(plan.cars))]

    def take(ok: Callable[[CarPlan], list[Any]]) -> tuple[int, Any] | None:
        """First free car with an acceptable option, and a random one of its options."""
        for i in free:
            options = ok(plan.cars[i])
            if options:
                free.remove(i)
                return i, options[int(rng.integers(len(options)))]
        return None

    if laps >= 6:
        def puncture(car):
            return [(q, q + k - 1) for k in range(3, min(6, laps - 2) + 1) for q in range(2, laps - k + 1)
                    if not plan.sc_laps() & set(range(q, q + k))]
        chosen = take(puncture)
        if chosen:
            car, (q, p) = plan.cars[chosen[0]], chosen[1]
            car.pit_lap = p
            n = np.arange(1, p - q + 2)
            car.extra_s[q : p + 1] = rng.uniform(0.35, 0.5) * n * (1 + 0.25 * (n - 1))

    def power_loss(car):
        return [lap for lap in range(3, laps + 1) if plan.clean(car, lap)
                and any(plan.clean(car, e) for e in range(2, lap))]
    chosen = take(power_loss)
    if chosen:
        plan.cars[chosen[0]].power_loss = (chosen[1], float(1 - rng.uniform(0.05, 0.08)))

    for _ in range(2 if laps >= 5 else 1):
        chosen = take(lambda car: [lap for lap in range(2, laps + 1) if plan.clean(car, lap)
                                   and (lap == 2 or plan.clean(car, lap - 1))])
        if chosen:
            plan.cars[chosen[0]].incidents.append({
                "lap": chosen[1], "u": float(rng.uniform()), "decel": float(rng.uniform(38, 48)),
                "v_min": float(rng.uniform(1.5, 4.0)), "roll_m": float(rng.uniform(8, 25)),
                "recover": float(rng.uniform(5.5, 8.0)),
            })

    sensors = []

    def clean_lap(car):
        return [lap for lap in range(2, laps + 1) if plan.clean(car, lap)]
    n_frozen = int(rng.integers(1, 3)) if laps >= 10 else 1
    for kind, span in [("frozen_sensor", (20, 40))] * n_frozen + [("dropout", (5, 15))]:
        chosen = take(lambda car: clean_lap(car) or list(range(1, laps + 1)))
        if chosen:
            sensors.append({
                "kind": kind, "car": chosen[0], "lap": chosen[1], "u": float(rng.uniform()),
                "seconds": float(rng.uniform(*span)),
                "channel": str(rng.choice(FREEZABLE)) if kind == "frozen_sensor" else None,
            })
    if laps >= 5:
        chosen = take(lambda car: [lap for lap in clean_lap(car) if lap == 2 or plan.clean(car, lap - 1)])
        if chosen:
            plan.cars[chosen[0]].incidents.append({
                "lap": chosen[1], "u": float(rng.uniform()), "decel": float(rng.uniform(20, 28)),
                "keep": float(rng.uniform(0.55, 0.7)), "roll_m": 0.0, "recover": float(rng.uniform(5.5, 8.0)),
            })
    chosen = take(clean_lap)
    if chosen:
        seconds = float(rng.uniform(*STICK_S))
        sensors.append({"kind": "throttle_brake_overlap", "car": chosen[0], "lap": chosen[1], "seconds": seconds,
                        "u": float(rng.uniform()), "within_s": STRAIGHT_S, "channel": None})  # which pedal: unknown
    return sensors


def incident_speeds(v: np.ndarray, i0: int, ds: float, spec: dict) -> tuple[np.ndarray, int, float]:
    """Speeds after a spin or contact at point ``i0``: hard drop (to walking pace, or to ``keep`` of the
    speed), roll, slow recovery.

    Returns the new speed array, the point where the car is back on its normal profile and how long
    the car goes unbraked (the drop of a contact; the driver's first second in a spin).
    """
    v_min = spec["keep"] * v[i0] if "keep" in spec else spec["v_min"]
    snap = (v[i0] - v_min) / spec["decel"] if "keep" in spec else SNAP_S
    u0, vmin2 = v[i0] ** 2, v_min ** 2
    r1 = (u0 - vmin2) / (2 * spec["decel"]) + spec["roll_m"]
    span = min(len(v) - i0, int((r1 + v.max() ** 2 / (2 * spec["recover"])) / ds) + 2)
    r = np.arange(span) * ds
    u = np.where(r <= r1, np.maximum(vmin2, u0 - 2 * spec["decel"] * r), vmin2 + 2 * spec["recover"] * (r - r1))
    window = v[i0 : i0 + span]
    slowed = np.sqrt(u) < window
    back = i0 + (int(np.argmin(slowed[1:])) + 1 if not slowed[1:].all() else span)
    out = v.copy()
    out[i0 : i0 + span] = np.minimum(window, np.sqrt(u))
    return out, back, float(snap)


def freeze(t: np.ndarray, column: np.ndarray, t_start: float, t_end: float) -> np.ndarray:
    """The column held at its last value before ``t_start`` until ``t_end``."""
    inside = (t >= t_start) & (t <= t_end)
    first = int(np.argmax(inside)) if inside.any() else 0
    if inside.any() and first > 0:
        column = column.copy()
        column[inside] = column[first - 1]
    return column
