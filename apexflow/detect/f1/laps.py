"""F1 lap-level detectors on ``SessionFacts`` (FastF1 column names, times in seconds).

They read only lap and track-status rows, so they run the same on FastF1 sessions and on
the synthetic race, and need no car telemetry.

- ``track_status_events``: yellow, safety car, virtual safety car and red flag periods.
- ``lap_time_outliers``: laps far off the driver's own local stint pace.
- ``tyre_degradation``: per stint, the pace trend and the forecast of the "cliff".
- ``slow_punctures``: lap times drifting up lap after lap until a pit stop (races), against the
  stint's own pace and, from the first laps of a stint on, against the field's.
- ``pit_stops``: pit-lane visits with their lane time.

``detect_facts`` runs them all. Session-level detections (track status) have
``entity_id == ""`` (stored as NULL, see migration 0002).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from apexflow.contract import SessionFacts
from apexflow.detect.base import Detection, severity

VERSION = "1"
RACE_SESSIONS = frozenset({"Race", "Sprint"})

# -- track status --------------------------------------------------------------------------

STATUS_KIND = {"2": "yellow_flag", "4": "safety_car", "5": "red_flag", "6": "virtual_safety_car",
               "7": "virtual_safety_car"}
_RANK = {"yellow_flag": 1, "virtual_safety_car": 2, "safety_car": 3, "red_flag": 4}


def track_status_events(session_id: str, track_status: list[dict], end_time: float | None = None) -> list[Detection]:
    """Periods of yellow, SC, VSC and red from FastF1's track-status rows (``Time``, ``Status``).

    A state machine over the status changes: the safety car holds until the track is clear
    (a yellow shown under the SC does not end it), VSC (``6``) and VSC ending (``7``) are
    one VSC period, and a period ends when a different period starts or the track is
    clear. SC and VSC are separate kinds, never merged. A period still open at the end of
    the data ends at ``end_time`` (or its last change) and says so in its evidence.
    """
    rows = sorted((float(r["Time"]), str(r["Status"]), r.get("Message", "")) for r in track_status
                  if r.get("Time") is not None)
    out: list[Detection] = []
    cur: dict | None = None

    def close(t_end: float, open_: bool = False) -> None:
        nonlocal cur
        if cur is not None:
            out.append(_status_detection(session_id, cur, t_end, open_))
            cur = None

    for t, status, message in rows:
        kind = STATUS_KIND.get(status)
        if kind is None:  # "1" all clear (or an unknown code): whatever was shown ends
            close(t)
            continue
        if cur is not None and cur["kind"] == kind:
            cur["statuses"].append(status)
            continue
        if cur is not None and cur["kind"] == "safety_car" and kind == "yellow_flag":
            cur["statuses"].append(status)  # a local yellow under the SC: the SC holds
            continue
        close(t)
        cur = {"kind": kind, "t0": t, "statuses": [status], "message": message}
    if cur is not None:
        last = end_time if end_time is not None else (rows[-1][0] if rows else cur["t0"])
        close(max(last, cur["t0"]), open_=True)
    return out


def _status_detection(session_id: str, ev: dict, t_end: float, open_: bool) -> Detection:
    score = _RANK[ev["kind"]] / 4.0
    evidence = {"statuses": "".join(ev["statuses"]), "message": ev["message"],
                "seconds": round(t_end - ev["t0"], 3)}
    if open_:
        evidence["open_at_end_of_data"] = True
    return Detection(session_id, "", ev["kind"], severity(score), score, ev["t0"], t_end, "track_status", VERSION,
                     evidence=evidence)


# -- laps ----------------------------------------------------------------------------------

_NOT_GREEN = set("24567")


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _laps_by_driver(laps: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for lap in laps:
        if lap.get("Driver") is not None and _num(lap.get("LapNumber")) is not None:
            out[str(lap["Driver"])].append(lap)
    for rows in out.values():
        rows.sort(key=lambda r: _num(r["LapNumber"]))
    return dict(sorted(out.items()))


def _neutralised(track_status: list[dict]) -> list[tuple[float, float]]:
    """Time intervals with anything but a green track (from the session's status timeline)."""
    return [(d.t_start, d.t_end) for d in track_status_events("x", track_status)]


def is_green(lap: dict, neutral: list[tuple[float, float]] | None = None) -> bool:
    """No yellow, SC, VSC or red during the lap, by its own ``TrackStatus`` and by the status timeline."""
    status = str(lap.get("TrackStatus") or "1")
    if _NOT_GREEN & set(status):
        return False
    t0, lt = _num(lap.get("LapStartTime")), _num(lap.get("LapTime"))
    if neutral and t0 is not None and lt is not None:
        return not any(a < t0 + lt and b > t0 for a, b in neutral)
    return True


def is_clean(lap: dict, neutral=None) -> bool:
    """A timed green-flag lap that is neither an in-lap, an out-lap nor the opening lap."""
    return (_num(lap.get("LapTime")) is not None and lap.get("PitInTime") is None
            and lap.get("PitOutTime") is None and (_num(lap.get("LapNumber")) or 0) > 1
            and is_green(lap, neutral))


def _lap_end(lap: dict) -> float:
    t0, lt = _num(lap.get("LapStartTime")), _num(lap.get("LapTime"))
    if t0 is not None and lt is not None:
        return t0 + lt
    return _num(lap.get("Time")) or t0 or 0.0


# Lap-time outliers ------------------------------------------------------------------------
NEIGHBOURS = 3        # clean laps each side that make the local stint pace
MIN_REF = 3           # at least this many of them
OUT_ABS_S = 1.5       # an outlier is off by at least this much ...
OUT_SIGMA = 5.0       # ... and this many robust sigmas of the stint's lap-to-pace spread
PUSH_FACTOR = 1.07    # outside races, laps over 107 % of the driver's best are not push laps
FIELD_SLOW = 0.02     # a lap on which the field's median car is 2 % off its own pace is no one's outlier
FIELD_MIN_CARS = 5


def lap_time_outliers(session_id: str, laps: list[dict], track_status: list[dict] | None = None,
                      race: bool = True) -> list[Detection]:
    """Laps far off the driver's own local pace in the same stint, slow or fast.

    Candidates and references are clean laps (green, timed, not in/out/first, not the
    restart lap after a yellow, SC, VSC or red). The
    reference of a lap is the median of up to ``NEIGHBOURS`` clean laps either side in its
    stint (so tyre wear and fuel burn do not look like outliers); the spread is the MAD of
    all clean laps' deviations from their references in the stint. Outside races only
    push laps (within ``PUSH_FACTOR`` of the driver's best) count: cool-down laps are not
    outliers.
    """
    neutral = _neutralised(track_status or [])
    found = []
    for driver, rows in _laps_by_driver(laps).items():
        # the restart lap after a neutralisation is green but not representative
        clean = [r for k, r in enumerate(rows) if is_clean(r, neutral) and (k == 0 or is_green(rows[k - 1], neutral))]
        if not race and clean:
            best = min(_num(r["LapTime"]) for r in clean)
            clean = [r for r in clean if _num(r["LapTime"]) <= PUSH_FACTOR * best]
        stints: dict = defaultdict(list)
        for r in clean:
            stints[_num(r.get("Stint"))].append(r)
        for stint, srows in stints.items():
            times = np.array([_num(r["LapTime"]) for r in srows])
            refs = np.full(len(times), np.nan)
            for i in range(len(times)):
                near = np.r_[times[max(0, i - NEIGHBOURS):i], times[i + 1:i + 1 + NEIGHBOURS]]
                if len(near) >= MIN_REF:
                    refs[i] = np.median(near)
            ok = np.isfinite(refs)
            if ok.sum() < MIN_REF + 1:
                continue
            dev = times[ok] - refs[ok]
            sigma = max(1.4826 * float(np.median(np.abs(dev - np.median(dev)))), 0.05)
            limit = max(OUT_ABS_S, OUT_SIGMA * sigma)
            for i in np.flatnonzero(ok).tolist():
                found.append((driver, srows[i], float(times[i]), float(refs[i]), sigma, limit, stint))
    # the field's pace on each lap: when most cars are off their own pace, it is the track, not the driver
    field: dict = defaultdict(list)
    for driver, r, lt, ref, *_ in found:
        field[int(_num(r["LapNumber"]))].append(lt / ref - 1.0)
    field_delta = {k: float(np.median(v)) for k, v in field.items() if len(v) >= FIELD_MIN_CARS}
    out = []
    for driver, r, lt, ref, sigma, limit, stint in found:
        delta = lt - ref
        fd = field_delta.get(int(_num(r["LapNumber"])))
        if abs(delta) <= limit or (fd is not None and abs(fd) > FIELD_SLOW):
            continue
        score = min(1.0, 0.5 + 0.5 * (abs(delta) - limit) / (2 * limit))
        out.append(Detection(
            session_id, driver, "lap_time_outlier", severity(score), score,
            _num(r.get("LapStartTime")) or _lap_end(r) - lt, _lap_end(r), "lap_time", VERSION,
            channel="LapTime", lap=int(_num(r["LapNumber"])),
            evidence={"lap_time": round(lt, 3), "reference": round(ref, 3),
                      "delta": round(delta, 3), "direction": "slow" if delta > 0 else "fast",
                      "sigma": round(sigma, 3), "limit": round(limit, 3), "stint": stint,
                      "field_delta_pct": None if fd is None else round(100 * fd, 2),
                      "deleted": bool(r.get("Deleted") or False)}))
    return out


# Tyre degradation --------------------------------------------------------------------------
MIN_STINT_LAPS = 5
FUEL_S_PER_LAP = 0.05   # lap time gained per lap of fuel burnt (races: ~1.6 kg/lap x ~0.03 s/kg)
CLIFF_DELTA_S = 1.5     # the "cliff": fuel-corrected pace this much slower than the stint's start
MAX_FORECAST_LAPS = 60  # forecasts further out than this are "no cliff in sight"


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Robust line: median of pairwise slopes, intercept through the median residual."""
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    keep = dx != 0
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep])) if keep.any() else 0.0
    return slope, float(np.median(y - slope * x))


def tyre_degradation(session_id: str, laps: list[dict], track_status: list[dict] | None = None,
                     race: bool = True) -> list[Detection]:
    """Per stint with ``MIN_STINT_LAPS`` clean laps: the pace trend per lap of tyre life, fuel
    corrected in races, and the tyre life at which the trend crosses ``CLIFF_DELTA_S`` over
    the stint's starting pace (already crossed, or forecast beyond the stint's last lap)."""
    neutral = _neutralised(track_status or [])
    out = []
    fuel = FUEL_S_PER_LAP if race else 0.0
    for driver, rows in _laps_by_driver(laps).items():
        stints: dict = defaultdict(list)
        for r in rows:
            stints[_num(r.get("Stint"))].append(r)
        for stint, srows in stints.items():
            clean = [r for r in srows if is_clean(r, neutral)]
            if not race and clean:
                best = min(_num(r["LapTime"]) for r in clean)
                clean = [r for r in clean if _num(r["LapTime"]) <= PUSH_FACTOR * best]
            if len(clean) < MIN_STINT_LAPS:
                continue
            lapno = np.array([_num(r["LapNumber"]) for r in clean])
            life = np.array([_num(r.get("TyreLife")) if _num(r.get("TyreLife")) is not None else np.nan
                             for r in clean])
            x = life if np.isfinite(life).all() else lapno - lapno[0] + 1
            y = np.array([_num(r["LapTime"]) for r in clean]) + fuel * (lapno - lapno[0])
            slope, icpt = theil_sen(x.astype(float), y)
            start_pace = icpt + slope * float(x[0])
            cliff = float(x[0]) + CLIFF_DELTA_S / slope if slope > 1e-6 else None
            if cliff is not None and cliff - float(x[-1]) > MAX_FORECAST_LAPS:
                cliff = None  # no cliff in sight
            last = float(x[-1])
            laps_to_cliff = None if cliff is None else round(float(cliff - last), 1)
            score = min(1.0, max(0.0, slope / 0.2)) if cliff is None or cliff > last else 1.0
            if cliff is not None and cliff <= last:
                score = 1.0
            first, final = srows[0], srows[-1]
            out.append(Detection(
                session_id, driver, "tyre_degradation", severity(score), score,
                _num(first.get("LapStartTime")) or _lap_end(first), _lap_end(final), "tyre_degradation", VERSION,
                channel="LapTime", lap=int(_num(final["LapNumber"])),
                evidence={"stint": stint, "compound": first.get("Compound"), "clean_laps": len(clean),
                          "slope_s_per_lap": round(slope, 4), "fuel_correction_s_per_lap": fuel,
                          "start_pace": round(float(start_pace), 3), "cliff_delta_s": CLIFF_DELTA_S,
                          "cliff_tyre_life": None if cliff is None else round(float(cliff), 1),
                          "laps_to_cliff": laps_to_cliff, "crossed": bool(cliff is not None and cliff <= last),
                          "x": "TyreLife" if x is life else "lap_in_stint"}))
    return out


# Slow punctures -----------------------------------------------------------------------------
DRIFT_MIN_S = 0.25     # first drifting lap at least this much (and 4 sigma) off the stint's pace
DRIFT_STEP_S = 0.2     # each next lap at least this much slower again
DRIFT_LAPS = 2         # drifting laps that end in a pit stop
DRIFT_LAPS_NO_PIT = 3  # ... or this many, the last DRIFT_NO_PIT_S off, without a stop
DRIFT_NO_PIT_S = 2.0


def slow_punctures(session_id: str, laps: list[dict], track_status: list[dict] | None = None) -> list[Detection]:
    """Lap times drifting up lap after lap against the stint's own pace, until a pit stop.

    The pace is the robust trend (Theil-Sen) of the eight clean laps before the drift,
    extrapolated one lap, so tyre wear is part of it (a falling trend is not extrapolated). A drift is
    ``DRIFT_LAPS`` or more consecutive clean laps, each slower than the last by
    ``DRIFT_STEP_S``, the first at least ``DRIFT_MIN_S`` off; it is a slow puncture when the next lap is the in-lap, or when it lasts ``DRIFT_LAPS_NO_PIT`` laps and ends
    ``DRIFT_NO_PIT_S`` off. Tyre wear is far slower (hundredths per lap), and traffic does not
    build lap after lap.

    That needs three clean laps earlier in the stint; a drift that starts sooner is found
    against the field's pace on the same laps (``_field_punctures``), reported unless it
    overlaps one found here. ``evidence["reference"]`` says which ("stint" or "field").
    """
    neutral = _neutralised(track_status or [])
    out = []
    for driver, rows in _laps_by_driver(laps).items():
        stints: dict = defaultdict(list)
        for r in rows:
            stints[_num(r.get("Stint"))].append(r)
        for stint, srows in stints.items():
            hist: list[float] = []
            run: list[tuple[dict, float]] = []
            for k, r in enumerate(srows):
                pit_now = r.get("PitInTime") is not None
                if run and (pit_now or not is_clean(r, neutral)):
                    deltas = [d for _, d in run]
                    if (pit_now and len(run) >= DRIFT_LAPS) or (
                            len(run) >= DRIFT_LAPS_NO_PIT and deltas[-1] >= DRIFT_NO_PIT_S):
                        out.append(_puncture(session_id, driver, run, r if pit_now else None, stint))
                    run = []
                if not is_clean(r, neutral):
                    continue
                lt = _num(r["LapTime"])
                if len(hist) < 3:
                    hist.append(lt)
                    continue
                recent = np.array(hist[-8:])
                x = np.arange(len(recent), dtype=float)
                slope, icpt = theil_sen(x, recent) if len(recent) >= 5 else (0.0, float(np.median(recent)))
                if slope < 0:  # warming tyres, burning fuel: no extrapolation of the gain
                    slope, icpt = 0.0, float(np.median(recent[-5:]))
                ref = icpt + slope * len(recent)  # the stint's trend (tyre wear included) at the next lap
                resid = recent - (icpt + slope * x)
                sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
                delta = lt - ref
                if run and delta >= run[-1][1] + DRIFT_STEP_S:
                    run.append((r, delta))
                elif delta >= max(DRIFT_MIN_S, 4 * sigma):
                    hist.extend(_num(rr["LapTime"]) for rr, _ in run)
                    run = [(r, delta)]
                else:
                    if run:  # the drift stopped short of a stop
                        deltas = [d for _, d in run]
                        if len(run) >= DRIFT_LAPS_NO_PIT and deltas[-1] >= DRIFT_NO_PIT_S:
                            out.append(_puncture(session_id, driver, run, None, stint))
                        for rr, _ in run:
                            hist.append(_num(rr["LapTime"]))
                    run = []
                    hist.append(lt)
            if run and len(run) >= DRIFT_LAPS_NO_PIT and run[-1][1] >= DRIFT_NO_PIT_S:
                out.append(_puncture(session_id, driver, run, None, stint))
    return out + [d for d in _field_punctures(session_id, laps, neutral)
                  if not any(o.entity_id == d.entity_id and o.t_start < d.t_end and o.t_end > d.t_start for o in out)]


# Slow punctures against the field (found early in a stint, too) --------------------------------
FIELD_STEP_S = 0.25      # each lap's gap to the field at least this much larger than the lap before's ...
FIELD_STEP_SIGMA = 4.0   # ... and this many robust sigmas of the session's lap-to-lap gap changes
FIELD_STEP_MAX_S = 2.5   # ... and at most this much (a sudden loss is no build-up)
FIELD_ACCEL = 0.5        # each step at least this share of the step before (a puncture accelerates)
FIELD_STEADY_S = 0.75    # laps on which the whole field changes pace more than this (restarts) are not compared
FIELD_POINTS = 3         # consecutive laps (the in-lap's first two sectors count) with a growing gap
FIELD_GROWTH_S = 0.7     # the gap grows by at least this much over them


def _s12(lap: dict) -> float | None:
    a, b = _num(lap.get("Sector1Time")), _num(lap.get("Sector2Time"))
    return None if a is None or b is None else a + b


def _s12_green(lap: dict, neutral) -> bool:
    """The lap's first two sectors (before any pit entry) were run under green, out-laps excluded."""
    t0, part = _num(lap.get("LapStartTime")), _s12(lap)
    if part is None or lap.get("PitOutTime") is not None or (_num(lap.get("LapNumber")) or 0) <= 1:
        return False
    if t0 is None:
        return is_green(lap, neutral)
    return not any(a < t0 + part and b > t0 for a, b in neutral)


def _field_steps(by_driver: dict[str, list[dict]], neutral) -> tuple[dict[int, float], dict[int, float], float]:
    """How the field's lap time changes from one lap to the next, from cars timed on both.

    Per lap number ``n``: the median over cars with clean laps ``n - 1`` and ``n`` of their lap
    time change (from the first two sectors where too few cars have two clean laps), the same
    for the first two sectors (lap ``n`` may be an in-lap: they come before the pit entry),
    and the lap's share in those sectors. Paired changes remove fuel,
    track evolution and the cars leaving the field for the pits alike.
    """
    full: dict[int, list[float]] = defaultdict(list)
    part: dict[int, list[float]] = defaultdict(list)
    share: list[float] = []
    for rows in by_driver.values():
        by_lap = {int(_num(r["LapNumber"])): r for r in rows}
        for n, r in by_lap.items():
            prev = by_lap.get(n - 1)
            if is_clean(r, neutral) and _s12(r):
                share.append(_s12(r) / _num(r["LapTime"]))
            if prev is None or not is_clean(prev, neutral):
                continue
            if is_clean(r, neutral):
                full[n].append(_num(r["LapTime"]) - _num(prev["LapTime"]))
            if _s12_green(r, neutral) and _s12(prev) is not None:
                part[n].append(_s12(r) - _s12(prev))
    med = {n: float(np.median(v)) for n, v in full.items() if len(v) >= FIELD_MIN_CARS}
    med12 = {n: float(np.median(v)) for n, v in part.items() if len(v) >= FIELD_MIN_CARS}
    share_ = float(np.median(share)) if share else 0.0
    for n, v in med12.items():  # most of the field in the pits: its first two sectors stand for the lap
        if n not in med and share_:
            med[n] = v / share_
    return med, med12, share_


def _field_spread(by_driver: dict[str, list[dict]], med: dict[int, float], neutral) -> float:
    """Robust sigma of every car's lap-to-lap change against the field's: the session's noise."""
    x = []
    for rows in by_driver.values():
        for prev, r in zip(rows, rows[1:]):
            n = int(_num(r["LapNumber"]))
            if n in med and _num(prev["LapNumber"]) == n - 1 and is_clean(r, neutral) and is_clean(prev, neutral):
                x.append(_num(r["LapTime"]) - _num(prev["LapTime"]) - med[n])
    if len(x) < 20:
        return 0.0
    x = np.array(x)
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def _field_punctures(session_id: str, laps: list[dict], neutral) -> list[Detection]:
    """A driver's gap to the field growing faster and faster over ``FIELD_POINTS`` or more
    consecutive laps, up to a pit stop or the end of the race.

    The gap changes lap by lap as the driver's lap time change minus the field's (median of
    the cars timed on both laps), so fuel, track evolution and safety-car effects are out; the
    car's own pace is a constant offset, so only the growth of the gap counts, never its
    level. A green in-lap adds its first two sectors (before the pit entry), scaled to a lap,
    as the last point. Each step must reach ``FIELD_STEP_S`` and ``FIELD_STEP_SIGMA`` robust
    sigmas of the session's lap-to-lap gap changes and not shrink much: a sudden loss (an
    incident, a power loss) is one step, not a build-up. The detection starts at the first
    lap shown slower than the lap before.
    """
    by_driver = _laps_by_driver(laps)
    med, med12, share = _field_steps(by_driver, neutral)
    last_lap = max((int(_num(r["LapNumber"])) for rows in by_driver.values() for r in rows), default=0)
    out = []
    step_min = max(FIELD_STEP_S, FIELD_STEP_SIGMA * _field_spread(by_driver, med, neutral))
    for driver, rows in by_driver.items():
        by_lap = {int(_num(r["LapNumber"])): r for r in rows}

        def step(n: int) -> float | None:  # the gap's change from lap n - 1 to clean lap n
            r, prev = by_lap.get(n), by_lap.get(n - 1)
            if (r is None or prev is None or n not in med or abs(med[n]) > FIELD_STEADY_S or not is_clean(r, neutral)
                    or not is_clean(prev, neutral) or r.get("Stint") != prev.get("Stint")):
                return None
            return _num(r["LapTime"]) - _num(prev["LapTime"]) - med[n]

        for n, r in by_lap.items():
            pit = r.get("PitInTime") is not None
            if not pit and not (n == last_lap and is_clean(r, neutral)):
                continue
            steps: list[tuple[dict, float]] = []  # (lap, gap change into it), collected backwards
            prev = by_lap.get(n - 1)
            if (pit and share and n in med12 and abs(med12[n] / share) <= FIELD_STEADY_S and _s12_green(r, neutral)
                    and prev is not None and is_clean(prev, neutral) and _s12(prev) is not None
                    and prev.get("Stint") == r.get("Stint")):
                steps.append((r, (_s12(r) - _s12(prev) - med12[n]) / share))
            m = n if not pit else n - 1
            while (x := step(m)) is not None:
                steps.append((by_lap[m], x))
                m -= 1
            steps.reverse()
            run = _growing_tail(steps, step_min)
            if len(run) + 1 >= FIELD_POINTS and sum(x for _, x in run) >= FIELD_GROWTH_S:
                gaps = np.cumsum([x for _, x in run])
                drift = [(rr, float(g)) for (rr, _), g in zip(run, gaps)]
                if pit and drift[-1][0] is r and len(drift) > 1:  # the in-lap's point is evidence, not a drifting lap
                    drift = drift[:-1]
                out.append(_puncture(session_id, driver, drift, r if pit else None, r.get("Stint"), method="field"))
    return out


def _growing_tail(steps: list[tuple[dict, float]], step_min: float) -> list[tuple[dict, float]]:
    """The longest end of ``steps`` in which each step is between ``step_min`` and ``FIELD_STEP_MAX_S``
    and the next one keeps up (at least ``FIELD_ACCEL`` of it)."""
    i = len(steps)
    while i > 0 and step_min <= steps[i - 1][1] <= FIELD_STEP_MAX_S and (
            i == len(steps) or steps[i][1] >= FIELD_ACCEL * steps[i - 1][1]):
        i -= 1
    return steps[i:]


def _puncture(session_id: str, driver: str, run: list, pit_lap: dict | None, stint, method: str = "stint") -> Detection:
    first = run[0][0]
    last_delta = run[-1][1]
    score = min(1.0, 0.6 + 0.1 * last_delta)
    t_end = _num(pit_lap.get("PitInTime")) if pit_lap is not None else _lap_end(run[-1][0])
    return Detection(session_id, driver, "slow_puncture", severity(score), score,
                     _num(first.get("LapStartTime")) or _lap_end(first) - _num(first["LapTime"]), t_end,
                     "slow_puncture", VERSION, channel="LapTime", lap=int(_num(first["LapNumber"])),
                     evidence={"laps": [int(_num(r["LapNumber"])) for r, _ in run],
                               "deltas": [round(d, 3) for _, d in run], "stint": stint,
                               "ended_in_pit": pit_lap is not None, "reference": method,
                               "pit_lap": None if pit_lap is None else int(_num(pit_lap["LapNumber"]))})


# Pit stops ---------------------------------------------------------------------------------
GARAGE_S = 60.0  # longer than this between pit in and out: the car went to the garage


def pit_stops(session_id: str, laps: list[dict]) -> list[Detection]:
    """A ``PitInTime`` followed by the next lap's ``PitOutTime``: one visit, with its lane time.

    Stationary time is not in lap data (it needs car telemetry). A pit-in with no pit-out
    (retirement, end of session) is reported with ``returned: false``.
    """
    out = []
    for driver, rows in _laps_by_driver(laps).items():
        for k, r in enumerate(rows):
            t_in = _num(r.get("PitInTime"))
            if t_in is None:
                continue
            nxt = rows[k + 1] if k + 1 < len(rows) else None
            t_out = _num(nxt.get("PitOutTime")) if nxt is not None else None
            lane = None if t_out is None else t_out - t_in
            ev = {"in_lap": int(_num(r["LapNumber"])), "returned": t_out is not None,
                  "lane_seconds": None if lane is None else round(lane, 3),
                  "garage": bool(lane is not None and lane > GARAGE_S),
                  "compound_before": r.get("Compound"), "compound_after": nxt.get("Compound") if nxt else None}
            out.append(Detection(session_id, driver, "pit_stop", "info", 0.2, t_in,
                                 t_out if t_out is not None else t_in, "pit_stop", VERSION,
                                 lap=int(_num(r["LapNumber"])), evidence=ev))
    return out


def detect_facts(session_id: str, facts: SessionFacts, session_name: str | None = None) -> list[Detection]:
    """Every lap-level detector on a session's facts. ``session_name`` (FastF1's, e.g. "Race",
    "Qualifying") decides race rules; unknown means race rules."""
    race = session_name is None or session_name in RACE_SESSIONS
    end = max((_lap_end(r) for r in facts.laps), default=None)
    return (track_status_events(session_id, facts.track_status, end)
            + lap_time_outliers(session_id, facts.laps, facts.track_status, race)
            + tyre_degradation(session_id, facts.laps, facts.track_status, race)
            + (slow_punctures(session_id, facts.laps, facts.track_status) if race else [])
            + pit_stops(session_id, facts.laps))
