"""Incident: a sudden speed loss the driver did not ask for (spin, off, contact), graded by how much.

Braking hard is normal; losing speed faster than drag can take it with the brake off is not.
A candidate opens on an interval where the car, from at least ``MIN_SPEED``, loses more than
``ONSET_DECEL`` km/h per second with the brake off at its start and for ``LAG_S`` after its end
(the brake flag, a boolean sampled at ~4 Hz, may show a sample after the deceleration starts,
and merged position rows repeat the last flag), the brake having been off for ``BRAKE_FREE_S``
before (a trail brake being released still slows the car), across no interval over ``MAX_DT``
(a hole in the data), at a lap distance where this car does not normally brake (its own brake use
per 50 m once it has ``OWN_SAMPLES`` there, before that the field's of the minutes before the sample's,
``detect.field``; without ``Distance`` the pedals alone decide). It is *sudden* once the unbraked part of
the drop reaches ``ONSET_LOSS`` at an average of ``ONSET_DECEL`` or more (a
lift at top speed, ~15-40 km/h/s, never does). It is confirmed when, within ``CONFIRM_S``,
speed has stayed ``MIN_LOSS`` under the reference for ``HOLD_S`` (one glitched sample is not a
lost second): the reference is the lowest of the speed before, the car's own mean speed at that
distance and the field's (each where known). The car may keep more than half its speed. It ends
once the car has regained three quarters of what it lost (or after ``MAX_EVENT_S``).

The score grows with the share of speed lost and how fast it went (``score``): a loss of
60 km/h from top speed is a warning, a spin to walking pace critical.

Each sample is judged once ``LAG_S`` of data after it has arrived (the brake look-ahead), so the
state carries the samples not judged yet and the one before them. Candidates are found
vectorised; only the samples of an open event are walked.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.base import Context, Detection, severity
from apexflow.detect.field import Profile
from apexflow.detect.field import bins as to_bins

NAME, VERSION = "incident", "7"
OWN_SAMPLES = 8  # about three passes flat out (4 Hz, 50 m bins), one in a slow corner
MIN_SPEED = 120.0  # km/h
ONSET_DECEL = 60.0  # km/h per second, unbraked (lifting at top speed gives 15-40)
ONSET_LOSS = 25.0  # km/h lost unbraked before a candidate counts as sudden
MIN_LOSS = 60.0  # km/h under the reference ...
HOLD_S = 0.4  # ... for this long confirms
CONFIRM_S = 3.0
BRAKE_FREE_S = 1.0
LAG_S = 0.5  # s the brake flag may show after the deceleration it belongs to
MAX_DT = 0.7  # s; a longer interval is a hole in the data: nothing is known inside it
RECOVERED = 0.75  # share of the loss regained that ends an event
MAX_EVENT_S = 60.0
NORMALLY = 0.5  # "normally brakes here": on most passes over that bin
FIELDS = ("t", "speed", "brake", "distance", "lap", "brake_t")  # a carried sample


def run(chunk: Chunk, state: dict, ctx: Context) -> list[Detection]:
    cols = chunk.values
    if "Speed" not in cols or "Brake" not in cols:
        return []
    s = _Stream(state.get("tail", []), chunk)
    use = _Usual(state, s.bins, s.brake, s.speed, s.t, ctx)
    out: list[Detection] = []
    i, last = 1, s.last  # samples 1 .. last - 1 are judged now: each has the one before and LAG_S after
    candidates = np.flatnonzero(s.candidates()[:last]).tolist()
    while i < last:
        event = state.get("event")
        if event is not None:
            i = _walk(s, i, last, event, state, use, ctx, out)
            continue
        k = next((k for k in candidates if k >= i), last)
        use.add(i, k)
        if k < last and use.share(k) < NORMALLY:
            state["event"] = _open(s, k, use)  # walked from sample k on
            i = k
        else:
            use.add(k, min(k + 1, last))
            i = k + 1
    use.save()
    state["tail"] = s.tail()
    return out


class _Stream:
    """The chunk with the samples of the stream not judged yet and the one before them (``tail``) in front."""

    def __init__(self, tail: list[list], chunk: Chunk):
        cols, m = chunk.values, len(tail)
        carried = [np.array([row[f] for row in tail], dtype=np.float64) for f in range(len(FIELDS))]

        def required(f: int, name: str) -> np.ndarray:
            return np.concatenate([carried[f], cols[name].astype(np.float64)])

        def column(f: int, name: str) -> np.ndarray | None:
            return required(f, name) if name in cols else None

        self.t = np.concatenate([carried[0], chunk.t])
        self.speed, self.distance, self.lap = required(1, "Speed"), column(3, "Distance"), column(4, "LapNumber")
        self.brake: np.ndarray = required(2, "Brake") >= 0.5
        self.n = len(self.t)
        on = np.where(self.brake, self.t, -np.inf)  # the last time the brake was on, at each sample
        if m and tail[0][5] is not None:
            on[0] = max(on[0], tail[0][5])
        self.brake_t = np.maximum.accumulate(on)
        later = np.minimum.accumulate(np.where(self.brake, self.t, np.inf)[::-1])[::-1]  # next time it is on
        self.ahead = later <= self.t + LAG_S  # the brake is on at a sample or within LAG_S after it
        self.last = max(1, int(np.searchsorted(self.t, self.t[-1] - LAG_S, side="right")))
        self.bins = None if self.distance is None else to_bins(self.distance)

    def candidates(self) -> np.ndarray:
        """Per sample: does an unbraked drop faster than ``ONSET_DECEL`` end there?"""
        t, v, b = self.t, self.speed, self.brake
        ok = np.zeros(self.n, dtype=bool)
        p, i = slice(0, -1), slice(1, None)
        dt = t[i] - t[p]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok[i] = (~b[p] & ~self.ahead[i] & (v[p] >= MIN_SPEED) & (dt > 0) & (dt <= MAX_DT)
                     & ((v[p] - v[i]) / dt >= ONSET_DECEL) & (t[p] - self.brake_t[p] >= BRAKE_FREE_S))
        return ok

    def tail(self) -> list[list]:
        def val(x, k):
            return None if x is None else float(x[k])

        return [[float(self.t[k]), float(self.speed[k]), float(self.brake[k]), val(self.distance, k),
                 val(self.lap, k), None if np.isinf(self.brake_t[k]) else float(self.brake_t[k])]
                for k in range(self.last - 1, self.n)]


def _open(s: _Stream, k: int, use: _Usual) -> dict:
    own_at, field_at = use.own_at(k), use.field_at(k)
    own = own_at[1] if own_at else None  # mean speeds there, where known
    field = field_at[1] if field_at else None
    before = float(s.speed[k - 1])
    return {"t_start": float(s.t[k - 1]), "speed_before": before, "min_speed": before, "loss": 0.0,
            "rate": 0.0, "sudden": False, "unbraked": True, "low_since": None, "confirmed": False,
            "distance": None if s.distance is None else float(s.distance[k]),
            "lap": None if s.lap is None else int(s.lap[k]),
            "own_speed": own and round(own, 1), "field_speed": field and round(field, 1),
            "reference": min(before, own or np.inf, field or np.inf)}


def _walk(s: _Stream, i: int, last: int, event: dict, state: dict, use: _Usual, ctx: Context,
          out: list) -> int:
    """Follow an open event from sample ``i``; returns the next sample to judge."""
    t, v = s.t, s.speed
    while i < last:
        ti, vi = float(t[i]), float(v[i])
        if ti - float(t[i - 1]) > MAX_DT:  # a hole: what happened inside it is unknown
            _close(state, ctx, out, float(t[i - 1]))
            return i
        elapsed = ti - event["t_start"]
        event["min_speed"] = min(event["min_speed"], vi)
        event["loss"] = max(0.0, event["reference"] - event["min_speed"])
        if event["unbraked"]:
            if s.ahead[i]:
                event["unbraked"] = False
            elif event["speed_before"] - vi >= ONSET_LOSS:
                rate = (event["speed_before"] - vi) / elapsed
                event["sudden"] = event["sudden"] or rate >= ONSET_DECEL
                event["rate"] = max(event["rate"], rate)
        low = event["reference"] - vi >= MIN_LOSS
        event["low_since"] = (event["low_since"] if event["low_since"] is not None else ti) if low else None
        if (event["sudden"] and not event["confirmed"] and event["low_since"] is not None
                and ti - event["low_since"] >= HOLD_S):
            event["confirmed"] = True
            out.append(_detection(ctx, event, ti))
        i += 1
        lost = event["speed_before"] - event["min_speed"]
        if event["confirmed"]:
            done = vi >= event["min_speed"] + RECOVERED * lost or elapsed > MAX_EVENT_S
        else:
            done = elapsed > CONFIRM_S or not (event["sudden"] or event["unbraked"])
        if done:
            _close(state, ctx, out, ti)
            use.add(i - 1, i)  # the sample that ends an event counts as a pass again
            return i
    return i


def _close(state: dict, ctx: Context, out: list, t_end: float) -> None:
    event = state.pop("event")
    if event["confirmed"]:
        out.append(_detection(ctx, event, t_end))


class _Usual:
    """What this car usually does at each sample's distance (its own ``Profile``, kept in the state),
    and the field's where the car's own is thin."""

    def __init__(self, state: dict, bins: np.ndarray | None, brakes: np.ndarray, speed: np.ndarray,
                 times: np.ndarray, ctx: Context):
        self.state, self.bins, self.brakes, self.speed, self.field = state, bins, brakes, speed, ctx.field
        self.times = times
        self.own = Profile.from_state(state) if bins is not None else None

    def add(self, a: int, b: int) -> None:
        """Samples ``a`` to ``b`` (exclusive) were ordinary passes: count them in."""
        if self.own is not None and self.bins is not None and b > a:
            self.own.add(self.bins[a:b], self.brakes[a:b].astype(np.float64), self.speed[a:b])

    def field_at(self, k: int) -> tuple[float, float] | None:
        """The field at sample ``k``'s distance, as it stood before sample ``k``'s minute (``detect.field``)."""
        if self.bins is None or self.field is None:
            return None
        return self.field.at(int(self.bins[k]), t=float(self.times[k]))

    def own_at(self, k: int) -> tuple[float, float] | None:
        if self.own is None or self.bins is None:
            return None
        return self.own.at(int(self.bins[k]), OWN_SAMPLES)

    def share(self, k: int) -> float:
        """How often the brake is on at sample ``k``'s distance: the car's own, else the field's, else 0."""
        if self.bins is None or self.own is None:  # the car's own profile exists wherever there are bins
            return 0.0
        usual = self.own_at(k) or self.field_at(k) or self.own.at(int(self.bins[k]), 1)
        return usual[0] if usual else 0.0

    def save(self) -> None:
        if self.own is not None:
            self.own.save(self.state)


def score(loss: float, reference: float, rate: float) -> float:
    """Share of the speed lost, and how fast (km/h per second): 60 km/h from 300 is 0.5, a spin ~1."""
    return min(1.0, 0.3 + 0.6 * loss / max(reference, 1.0) + 0.2 * min(1.0, rate / 150.0))


def _detection(ctx: Context, event: dict, t_end: float) -> Detection:
    value = score(event["loss"], event["reference"], event["rate"])
    evidence = {k: round(v, 2) if isinstance(v, float) else v for k, v in event.items()
                if k in ("speed_before", "min_speed", "loss", "rate", "reference", "own_speed", "field_speed",
                         "distance", "lap")}
    evidence["kept_share"] = round(event["min_speed"] / max(event["speed_before"], 1.0), 3)
    return Detection(ctx.session_id, ctx.entity_id, "incident", severity(value), value, event["t_start"], t_end,
                     NAME, VERSION, channel="Speed", lap=event["lap"], distance=event["distance"],
                     evidence=evidence)
