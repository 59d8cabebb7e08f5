"""One car's whole race as a speed profile over race distance, then as time.

Points are the track points repeated lap after lap, starting from the car's grid slot
(``GRID_GAP_M`` per place behind the line). Caps per point come from the corners and
the lap's pace, the pit-lane limit, the box (a stop) and DRS; one speed-profile pass
over the whole race makes every transition (start, pit lane, safety car) continuous.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apexflow.simulator import physics
from apexflow.simulator.anomalies import incident_speeds
from apexflow.simulator.plan import SC_PACE, CarPlan, RacePlan
from apexflow.simulator.track import PIT_BOX_M, PIT_ENTRY_M, PIT_EXIT_M, V_TOP, Track

GRID_GAP_M = 8.0
PIT_LIMIT = 80 / 3.6  # m/s
DRS_GAIN = 1.03  # top-speed gain with the flap open
INCIDENT_MARGIN_M = 40.0  # no braking this close to an incident on the lap before


@dataclass
class Drive:
    grid_pts: int  # points from the car's grid slot to the line
    t: np.ndarray  # knots: time (s) at each point, with the pit stop as an extra knot
    i: np.ndarray  # knots: point index
    v: np.ndarray  # knots: speed (m/s)
    state: np.ndarray  # per point: 0 part throttle, 1 full throttle, 2 braking
    drs: np.ndarray  # per point: DRS flap open
    lap_start: np.ndarray  # per lap (index = lap number, laps + 1 = finish): time at the line
    sector_start: np.ndarray  # (laps + 1, 2): times sectors 2 and 3 start
    pit_in: float | None
    pit_out: float | None
    incidents: list[dict]  # {"lap", "i0", "t_start", "t_end", "distance_m", "snap_s", "speed_before_kmh",
    # "min_speed_kmh", "time_lost_s"}


def lap_start_point(grid_pts: int, n: int, lap: np.ndarray | int) -> np.ndarray:
    """Point index where ``lap`` starts (lap 1 at the grid slot, point 0)."""
    return np.where(np.asarray(lap) <= 1, 0, grid_pts + (np.asarray(lap) - 1) * n)


def drive(track: Track, plan: RacePlan, car: CarPlan, drs_laps: np.ndarray) -> Drive:
    """The car's race; ``drs_laps[lap]`` says whether DRS may open on that lap."""
    n, ds, laps = track.n, track.ds, plan.laps
    g = int(round(car.grid * GRID_GAP_M / ds))
    idx = np.arange(g + laps * n + 1)
    offset = idx - g
    lap = np.clip(offset // n + 1, 1, laps)
    within = offset - (lap - 1) * n  # point index into the lap (negative on the grid)
    trk = np.mod(offset, n)
    mult = plan.grip(car)[lap]
    grip = mult**2  # all accelerations scale with grip, so speeds scale with its root
    top = np.full(len(idx), V_TOP * car.pace)
    sc = np.isin(lap, list(plan.sc_laps()))
    pit = np.zeros(len(idx), bool)
    box = None
    if car.pit_lap:
        pit = ((lap == car.pit_lap) & (within >= n - PIT_ENTRY_M / ds)) | (
            (lap == car.pit_lap + 1) & (within <= int(PIT_EXIT_M / ds)))
        box = g + car.pit_lap * n - int(PIT_BOX_M / ds)
    drs = track.drs[trk] & drs_laps[lap] & ~pit
    cap = np.minimum(track.v_corner[trk] * mult, np.where(drs, top * DRS_GAIN, top))
    if car.power_loss:  # the engine, not drag, sets top speed: DRS does not help
        hit = lap >= car.power_loss[0]
        top = np.where(hit, top * car.power_loss[1], top)
        cap = np.minimum(cap, top)
        grip[hit] *= 0.9
    cap = np.where(sc, cap * SC_PACE, cap)
    cap = np.where(pit, np.minimum(cap, PIT_LIMIT), cap)
    cap[0] = 0.0
    if box is not None:
        cap[box] = 0.0
    v = physics.speed_profile(cap, grip, ds)

    a = physics.acceleration(v, ds)
    incidents = []
    for spec in car.incidents:
        start = int(lap_start_point(g, n, spec["lap"]))
        prev = int(lap_start_point(g, n, spec["lap"] - 1))
        m = int(INCIDENT_MARGIN_M / ds)
        braking = np.convolve(a < physics.BRAKE_BELOW, np.ones(2 * m + 1), "same") > 0
        cand = np.arange(int(150 / ds), n - int(900 / ds))
        cand = cand[(v[start + cand] > 0.75 * top[start + cand]) & (a[start + cand] >= 0)
                    & ~braking[start + cand] & ~braking[prev + cand]]
        i0 = int(start + cand[int(spec["u"] * len(cand))])
        before = v
        v, back, snap = incident_speeds(v, i0, ds, spec)
        dt_old = 2 * ds / (before[i0:back] + before[i0 + 1 : back + 1])
        dt_new = 2 * ds / (v[i0:back] + v[i0 + 1 : back + 1])
        incidents.append({"lap": spec["lap"], "i0": i0, "back": back, "distance_m": (i0 - start) * ds, "snap_s": snap,
                          "speed_before_kmh": float(before[i0] * 3.6),
                          "min_speed_kmh": float(v[i0:back].min() * 3.6),
                          "time_lost_s": float(dt_new.sum() - dt_old.sum())})
    a = physics.acceleration(v, ds)
    full = ((a > 0.2) & (a > 0.5 * physics.full_throttle_accel(v, grip))) | ((v >= 0.995 * top) & ~pit & ~sc)
    state = np.where(a < physics.BRAKE_BELOW, 2, np.where(full, 1, 0)).astype(np.int8)

    t = np.concatenate([[0.0], np.cumsum(2 * ds / (v[:-1] + v[1:]))])
    knots = idx
    if box is not None:
        t[box + 1 :] += car.stop_s
        knots = np.insert(idx, box + 1, box)
        t = np.insert(t, box + 1, t[box] + car.stop_s)
        v = np.insert(v, box + 1, 0.0)

    def at(points):
        """Time at points (after the stop, at the box)."""
        return t[np.searchsorted(knots, points, side="right") - 1]

    for inc in incidents:
        inc["t_start"], inc["t_end"] = float(at(inc["i0"])), float(at(inc.pop("back")))
    starts = lap_start_point(g, n, np.arange(1, laps + 2))
    sectors = np.stack([at(g + np.arange(laps) * n + s) for s in track.sectors], axis=1)
    pit_in = pit_out = None
    if car.pit_lap:
        pit_in = float(at(g + car.pit_lap * n - int(PIT_ENTRY_M / ds)))
        pit_out = float(at(g + car.pit_lap * n + int(PIT_EXIT_M / ds)))
    return Drive(g, t, knots, v, state, drs & (state != 2), np.concatenate([[np.nan], at(starts)]),
                 np.vstack([np.full((1, 2), np.nan), sectors]), pit_in, pit_out, incidents)
