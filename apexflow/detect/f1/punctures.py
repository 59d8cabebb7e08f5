"""Slow punctures: lap times drifting up lap after lap until a pit stop (races).

Against the stint's own pace (``slow_punctures``) and, from the first laps of a stint on, against
the field's (``field_punctures``). ``evidence["reference"]`` says which ("stint" or "field").
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from apexflow.detect.base import Detection, severity
from apexflow.detect.f1.lap import VERSION, Lap
from apexflow.detect.f1.lap_table import LapTable, by_stint, is_green
from apexflow.detect.f1.stats import robust_sigma, theil_sen

DRIFT_MIN_S = 0.25     # first drifting lap at least this much (and 4 sigma) off the stint's pace
DRIFT_STEP_S = 0.2     # each next lap at least this much slower again
DRIFT_LAPS = 2         # drifting laps that end in a pit stop
DRIFT_LAPS_NO_PIT = 3  # ... or this many, the last DRIFT_NO_PIT_S off, without a stop
DRIFT_NO_PIT_S = 2.0

FIELD_STEP_S = 0.25      # each lap's gap to the field at least this much larger than the lap before's ...
FIELD_STEP_SIGMA = 4.0   # ... and this many robust sigmas of the session's lap-to-lap gap changes
FIELD_STEP_MAX_S = 2.5   # ... and at most this much (a sudden loss is no build-up)
FIELD_ACCEL = 0.5        # each step at least this share of the step before (a puncture accelerates)
FIELD_STEADY_S = 0.75    # laps on which the whole field changes pace more than this (restarts) are not compared
FIELD_POINTS = 3         # consecutive laps (the in-lap's first two sectors count) with a growing gap
FIELD_GROWTH_S = 0.7     # the gap grows by at least this much over them
FIELD_MIN_CARS = 5


def slow_punctures(session_id: str, table: LapTable) -> list[Detection]:
    """Lap times drifting up lap after lap against the stint's own pace, until a pit stop.

    The pace is the robust trend (Theil-Sen) of the eight clean laps before the drift,
    extrapolated one lap, so tyre wear is part of it (a falling trend is not extrapolated). A
    drift is ``DRIFT_LAPS`` or more consecutive clean laps, each slower than the last by
    ``DRIFT_STEP_S``, the first at least ``DRIFT_MIN_S`` off; it is a slow puncture when the next
    lap is the in-lap, or when it lasts ``DRIFT_LAPS_NO_PIT`` laps and ends ``DRIFT_NO_PIT_S`` off.
    Tyre wear is far slower (hundredths per lap), and traffic does not build lap after lap.

    That needs three clean laps earlier in the stint; a drift that starts sooner is found
    against the field's pace on the same laps (``field_punctures``), reported unless it
    overlaps one found here.
    """
    out = []
    for driver, laps in table.by_driver.items():
        for stint, slaps in by_stint(laps).items():
            out += _stint_drifts(session_id, driver, stint, slaps)
    return out + [d for d in field_punctures(session_id, table)
                  if not any(o.entity_id == d.entity_id and o.t_start < d.t_end and o.t_end > d.t_start for o in out)]


def _stint_drifts(session_id: str, driver: str, stint, laps: list[Lap]) -> list[Detection]:
    out = []
    hist: list[float] = []
    run: list[tuple[Lap, float]] = []

    def long_enough() -> bool:
        return len(run) >= DRIFT_LAPS_NO_PIT and run[-1][1] >= DRIFT_NO_PIT_S

    for lap in laps:
        if run and (lap.pitted_in or not lap.clean):
            if (lap.pitted_in and len(run) >= DRIFT_LAPS) or long_enough():
                out.append(_puncture(session_id, driver, run, lap if lap.pitted_in else None, stint))
            run = []
        if not lap.clean:
            continue
        if len(hist) < 3:
            hist.append(lap.timed)
            continue
        recent = np.array(hist[-8:])
        x = np.arange(len(recent), dtype=float)
        slope, icpt = theil_sen(x, recent) if len(recent) >= 5 else (0.0, float(np.median(recent)))
        if slope < 0:  # warming tyres, burning fuel: no extrapolation of the gain
            slope, icpt = 0.0, float(np.median(recent[-5:]))
        ref = icpt + slope * len(recent)  # the stint's trend (tyre wear included) at the next lap
        sigma = robust_sigma(recent - (icpt + slope * x))
        delta = lap.timed - ref
        if run and delta >= run[-1][1] + DRIFT_STEP_S:
            run.append((lap, delta))
        elif delta >= max(DRIFT_MIN_S, 4 * sigma):
            hist.extend(rl.timed for rl, _ in run)
            run = [(lap, delta)]
        else:
            if run:  # the drift stopped short of a stop
                if long_enough():
                    out.append(_puncture(session_id, driver, run, None, stint))
                hist.extend(rl.timed for rl, _ in run)
            run = []
            hist.append(lap.timed)
    if run and long_enough():
        out.append(_puncture(session_id, driver, run, None, stint))
    return out


def _s12_green(lap: Lap, neutral) -> bool:
    """The lap's first two sectors (before any pit entry) were run under green, out-laps excluded."""
    t0, part = lap.lap_start_time, lap.s12
    if part is None or lap.pitted_out or lap.lap_number <= 1:
        return False
    if t0 is None:
        return is_green(lap, neutral)
    return not any(a < t0 + part and b > t0 for a, b in neutral)


def _field_steps(table: LapTable) -> tuple[dict[int, float], dict[int, float], float]:
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
    for laps in table.by_driver.values():
        by_lap = {lap.lap_number: lap for lap in laps}
        for n, lap in by_lap.items():
            prev = by_lap.get(n - 1)
            if lap.clean and lap.s12:
                share.append(lap.s12 / lap.timed)
            if prev is None or not prev.clean:
                continue
            if lap.clean:
                full[n].append(lap.timed - prev.timed)
            if _s12_green(lap, table.neutral) and lap.s12 is not None and prev.s12 is not None:
                part[n].append(lap.s12 - prev.s12)
    med = {n: float(np.median(v)) for n, v in full.items() if len(v) >= FIELD_MIN_CARS}
    med12 = {n: float(np.median(v)) for n, v in part.items() if len(v) >= FIELD_MIN_CARS}
    share_ = float(np.median(share)) if share else 0.0
    for n, v in med12.items():  # most of the field in the pits: its first two sectors stand for the lap
        if n not in med and share_:
            med[n] = v / share_
    return med, med12, share_


def _field_spread(table: LapTable, med: dict[int, float]) -> float:
    """Robust sigma of every car's lap-to-lap change against the field's: the session's noise."""
    x = [lap.timed - prev.timed - med[lap.lap_number]
         for laps in table.by_driver.values() for prev, lap in zip(laps, laps[1:])
         if lap.lap_number in med and prev.lap_number == lap.lap_number - 1 and lap.clean and prev.clean]
    return robust_sigma(x) if len(x) >= 20 else 0.0


def field_punctures(session_id: str, table: LapTable) -> list[Detection]:
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
    med, med12, share = _field_steps(table)
    last_lap = max((lap.lap_number for lap in table.laps), default=0)
    out = []
    step_min = max(FIELD_STEP_S, FIELD_STEP_SIGMA * _field_spread(table, med))
    for driver, laps in table.by_driver.items():
        by_lap = {lap.lap_number: lap for lap in laps}

        def step(n: int, by_lap: dict[int, Lap] = by_lap) -> float | None:  # gap change, lap n - 1 to clean lap n
            lap, prev = by_lap.get(n), by_lap.get(n - 1)
            if (lap is None or prev is None or n not in med or abs(med[n]) > FIELD_STEADY_S or not lap.clean
                    or not prev.clean or lap.stint != prev.stint):
                return None
            return lap.timed - prev.timed - med[n]

        for n, lap in by_lap.items():
            if not lap.pitted_in and not (n == last_lap and lap.clean):
                continue
            steps: list[tuple[Lap, float]] = []  # (lap, gap change into it), collected backwards
            prev = by_lap.get(n - 1)
            if (lap.pitted_in and share and n in med12 and abs(med12[n] / share) <= FIELD_STEADY_S
                    and _s12_green(lap, table.neutral) and prev is not None and prev.clean
                    and lap.s12 is not None and prev.s12 is not None and prev.stint == lap.stint):
                steps.append((lap, (lap.s12 - prev.s12 - med12[n]) / share))
            m = n if not lap.pitted_in else n - 1
            while (x := step(m)) is not None:
                steps.append((by_lap[m], x))
                m -= 1
            steps.reverse()
            run = _growing_tail(steps, step_min)
            if len(run) + 1 >= FIELD_POINTS and sum(x for _, x in run) >= FIELD_GROWTH_S:
                gaps = np.cumsum([x for _, x in run])
                drift = [(rl, float(g)) for (rl, _), g in zip(run, gaps)]
                if lap.pitted_in and drift[-1][0] is lap and len(drift) > 1:  # the in-lap's point is evidence only
                    drift = drift[:-1]
                out.append(_puncture(session_id, driver, drift, lap if lap.pitted_in else None, lap.stint,
                                     method="field"))
    return out


def _growing_tail(steps: list[tuple[Lap, float]], step_min: float) -> list[tuple[Lap, float]]:
    """The longest end of ``steps`` in which each step is between ``step_min`` and ``FIELD_STEP_MAX_S``
    and the next one keeps up (at least ``FIELD_ACCEL`` of it)."""
    i = len(steps)
    while i > 0 and step_min <= steps[i - 1][1] <= FIELD_STEP_MAX_S and (
            i == len(steps) or steps[i][1] >= FIELD_ACCEL * steps[i - 1][1]):
        i -= 1
    return steps[i:]


def _puncture(session_id: str, driver: str, run: list[tuple[Lap, float]], pit_lap: Lap | None, stint,
              method: str = "stint") -> Detection:
    first = run[0][0]
    score = min(1.0, 0.6 + 0.1 * run[-1][1])
    t_end = pit_lap.pit_in_time if pit_lap is not None and pit_lap.pit_in_time is not None else run[-1][0].end
    return Detection(session_id, driver, "slow_puncture", severity(score), score, first.start, t_end,
                     "slow_puncture", VERSION, channel="LapTime", lap=first.lap_number,
                     evidence={"laps": [lap.lap_number for lap, _ in run], "deltas": [round(d, 3) for _, d in run],
                               "stint": stint, "ended_in_pit": pit_lap is not None, "reference": method,
                               "pit_lap": None if pit_lap is None else pit_lap.lap_number})
