"""Incident: a sudden speed loss the driver did not ask for (spin, off, contact).

Braking hard is normal; losing speed hard with neither brake nor a braking zone is not.
An event opens when the car decelerates faster than ``MIN_DECEL`` (about 2.5 g, more than
lifting off at top speed gives) between two samples with the brake off, from at least
``MIN_SPEED``, at a lap distance where this car does not normally brake: its own brake use
per 50 m (``detect.field.BIN_M``) decides once it has ``OWN_SAMPLES`` there, the field's
before that (``detect.field``). It is confirmed when, within ``CONFIRM_S`` seconds, speed
falls under half of the speed before, of the car's own mean speed at that distance and of
the field's (each where known); it ends once speed is back to 80 % of the speed before.

Brake use and speed are counted with ``bincount`` per stretch of samples outside an event;
only the samples of an open event are walked one by one.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity
from apexflow.detect.field import Profile
from apexflow.detect.field import bins as to_bins

NAME, VERSION = "incident", "5"
OWN_SAMPLES = 8  # about three passes flat out (4 Hz, 50 m bins), one in a slow corner
MIN_DECEL = 88.0  # km/h per second
MIN_SPEED = 120.0  # km/h
CONFIRM_S = 3.0
NORMALLY = 0.5  # "normally brakes here": on most passes over that bin


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    cols = chunk.values
    if "Speed" not in cols or "Brake" not in cols:
        return []
    speed, brakes, distance = cols["Speed"], cols["Brake"], cols.get("Distance")
    prev = state.get("prev")  # [t, speed, brake]
    sudden = np.flatnonzero(_sudden_loss(chunk.t, speed, brakes, prev)).tolist()
    bins = None if distance is None else to_bins(distance)
    use = _Usual(state, bins, brakes, speed, ctx)
    laps = cols.get("LapNumber")
    t = chunk.t
    out: list[Detection] = []
    i, n = 0, chunk.n
    while i < n:
        event = state.get("event")
        if event is not None:  # walk the event's samples until it ends
            while i < n:
                v = float(speed[i])
                event["min_speed"] = min(event["min_speed"], v)
                if not event["confirmed"] and event["min_speed"] < 0.5 * event["reference"]:
                    event["confirmed"] = True
                    out.append(_detection(ctx, event, float(t[i])))
                elapsed = float(t[i]) - event["t_start"]
                i += 1
                if v >= 0.8 * event["speed_before"] or elapsed > 120 or \
                        (not event["confirmed"] and elapsed > CONFIRM_S):
                    state.pop("event")
                    if event["confirmed"]:
                        out.append(_detection(ctx, event, float(t[i - 1])))
                    use.add(i - 1, i)  # the sample that ends an event counts as a pass again
                    break
            continue
        k = next((k for k in sudden if k >= i), n)  # the next sudden loss, or the end of the chunk
        use.add(i, k)
        if k < n:
            if use.share(k) < NORMALLY:
                p = prev if k == 0 else [float(t[k - 1]), float(speed[k - 1])]
                own, field = use.own_at(k), use.field_at(k)
                own, field = own and own[1], field and field[1]  # mean speeds there, where known
                state["event"] = {"t_start": p[0], "speed_before": p[1], "min_speed": float(speed[k]),
                                  "confirmed": False, "distance": None if distance is None else float(distance[k]),
                                  "lap": None if laps is None else int(laps[k]),
                                  "own_speed": own and round(own, 1), "field_speed": field and round(field, 1),
                                  "reference": min(p[1], own or np.inf, field or np.inf)}
            else:
                use.add(k, k + 1)
        i = k + 1
    use.save()
    state["prev"] = [float(t[-1]), float(speed[-1]), float(brakes[-1])]
    return out


class _Usual:
    """What this car usually does at each sample's distance (its own ``Profile``, kept in the state),
    and the field's where the car's own is thin."""

    def __init__(self, state: dict, bins: np.ndarray | None, brakes: np.ndarray, speed: np.ndarray, ctx: Context):
        self.state, self.bins, self.brakes, self.speed, self.field = state, bins, brakes, speed, ctx.field
        self.own = Profile.from_state(state) if bins is not None else None

    def add(self, a: int, b: int) -> None:
        """Samples ``a`` to ``b`` (exclusive) were ordinary passes: count them in."""
        if self.own is not None and b > a:
            self.own.add(self.bins[a:b], self.brakes[a:b], self.speed[a:b])

    def field_at(self, k: int) -> tuple[float, float] | None:
        return None if self.bins is None or self.field is None else self.field.at(int(self.bins[k]))

    def own_at(self, k: int) -> tuple[float, float] | None:
        return None if self.own is None else self.own.at(int(self.bins[k]), OWN_SAMPLES)

    def share(self, k: int) -> float:
        """How often the brake is on at sample ``k``'s distance: the car's own, else the field's, else 0."""
        usual = self.own_at(k) or self.field_at(k) or (self.own and self.own.at(int(self.bins[k]), 1))
        return usual[0] if usual else 0.0

    def save(self) -> None:
        if self.own is not None:
            self.own.save(self.state)


def _sudden_loss(t: np.ndarray, speed: np.ndarray, brake: np.ndarray, prev: list | None) -> np.ndarray:
    """Per sample: did the car lose speed faster than ``MIN_DECEL`` since the sample before, brake off?"""
    p = prev or [np.nan] * 3
    t0, v0, b0 = (np.concatenate([[p[k]], x[:-1]]) for k, x in enumerate((t, speed, brake)))
    dt = t - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        return (v0 >= MIN_SPEED) & (brake == 0) & (b0 == 0) & (dt > 0) & ((v0 - speed) / dt >= MIN_DECEL)


def _detection(ctx: Context, event: dict, t_end: float) -> Detection:
    score = min(1.0, max(0.0, 1.0 - event["min_speed"] / event["speed_before"]))
    return Detection(ctx.session_id, ctx.entity_id, "incident", severity(score), score, event["t_start"], t_end,
                     NAME, VERSION, channel="Speed", lap=event["lap"], distance=event["distance"],
                     evidence={k: round(v, 2) if isinstance(v, float) else v for k, v in event.items()
                               if k != "confirmed"})
