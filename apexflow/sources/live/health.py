"""Feed health of a live session, per source and per car: a quiet feed told from a dead one.

Every message is observed with its source (``source_of``: F1 ``car_data``, ``position``, ``timing``,
``race_control``, ``heartbeat``; OpenF1 its topic), the stream time it arrived at (the live stage's clock, which
the wall clock moves on when everything stalls) and whether it brought anything new (a message of samples all
received before is a *stale repeat*). Per source: messages, stale repeats, the rate, the age of the newest, the
usual interval (learnt: ``FACTOR`` x the longest of its last ``KEPT`` intervals, never under ``FLOOR_S``, once
``LEARN`` intervals are known: a source sending in bursts is not called silent between them) and its gaps.
Per car: the same over its car-data samples.

``FeedHealth.check(now)`` returns what changed: a ``feed_gap`` raised when a source has sent nothing new for
longer than its usual interval (``warning``; one for ``all`` sources, ``critical``, when nothing at all came
for longer than the most regular source's interval during a running session), or a car has while the others
go on; cleared (the same detection, its ``t_end`` set)
when it returns. Each gap is raised once and cleared once.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from apexflow.contract import Severity
from apexflow.detect.base import Detection

DETECTOR, VERSION, KIND = "feed_health", "1", "feed_gap"
FLOOR_S = 5.0
FACTOR = 3.0
LEARN = 20
KEPT = 200
F1_SOURCES = {"CarData.z": "car_data", "Position.z": "position", "TimingData": "timing", "TimingAppData": "timing",
              "TimingStats": "timing", "LapCount": "timing", "TrackStatus": "race_control",
              "RaceControlMessages": "race_control", "Heartbeat": "heartbeat"}


def source_of(topic: str) -> str | None:
    """The source a message's topic belongs to (None: not watched, e.g. session info sent once)."""
    if topic.startswith("v1/"):
        name = topic.removeprefix("v1/")
        return None if name in ("sessions", "meetings", "drivers") else name
    return F1_SOURCES.get(topic)


@dataclass
class Watch:
    """One source or one car."""

    messages: int = 0
    stale: int = 0
    first: float | None = None
    newest: float | None = None  # stream time of the newest message
    fresh: float | None = None  # ...of the newest that brought something new
    intervals: deque = field(default_factory=lambda: deque(maxlen=KEPT))
    gap: dict | None = None  # the open gap: {"start", "reason"}
    back: float | None = None  # when the last gap ended
    gaps: list = field(default_factory=list)

    def see(self, at: float, new: bool) -> None:
        self.messages += 1
        self.first = at if self.first is None else self.first
        self.newest = at if self.newest is None else max(self.newest, at)
        if not new:
            self.stale += 1
            return
        if self.fresh is not None and at > self.fresh:
            self.intervals.append(at - self.fresh)
        self.fresh = at if self.fresh is None else max(self.fresh, at)

    def limit(self) -> float | None:
        """Silent longer than this is a gap (None until the usual interval is learnt)."""
        if len(self.intervals) < LEARN:
            return None
        return max(FLOOR_S, FACTOR * max(self.intervals))

    def state(self, now: float) -> dict:
        span = (self.newest - self.first) if self.newest is not None and self.first is not None else 0.0
        limit = self.limit()
        return {"messages": self.messages, "stale_repeats": self.stale,
                "rate_per_s": round(self.messages / span, 3) if span > 0 else None,
                "newest_age_s": round(now - self.newest, 3) if self.newest is not None else None,
                "limit_s": round(limit, 3) if limit is not None else None,
                "state": ("gap: " + self.gap["reason"]) if self.gap else "ok" if limit is not None else "learning",
                "gaps": list(self.gaps)}


class FeedHealth:
    def __init__(self, session_id: str, start_utc: float):
        self.session_id, self.start = session_id, start_utc
        self.sources: dict[str, Watch] = {}
        self.cars: dict[str, Watch] = {}
        self.all_gap: dict | None = None
        self.all_gaps: list = []
        self.changed = False
        self.running = False

    def observe(self, topic: str, at: float, new: bool, cars: dict[str, bool] | None = None) -> None:
        """A message of ``topic`` arrived at stream time ``at`` (UTC s); ``new``: it brought something not
        received before; ``cars``: the cars whose samples it carried, each with whether any was new."""
        source = source_of(topic)
        if source is None:
            return
        self.sources.setdefault(source, Watch()).see(at, new)
        for car, fresh in (cars or {}).items():
            self.cars.setdefault(car, Watch()).see(at, fresh)

    def _detection(self, entity: str, channel: str, gap: dict, end: float, severity: Severity, state: str) -> dict:
        t0, t1 = gap["start"] - self.start, end - self.start
        return Detection(self.session_id, entity, KIND, severity, 1.0 if severity == "critical" else 0.6, t0, t1,
                         DETECTOR, VERSION, channel=channel,
                         evidence={"source": channel, "reason": gap["reason"], "state": state,
                                   "silent_s": round(end - gap["start"], 3),
                                   "limit_s": gap.get("limit")}).to_row()

    def _watch(self, entity: str, name: str, w: Watch, now: float, alive: bool, out: list) -> None:
        fresh, newest, limit = w.fresh, w.newest, w.limit()
        if fresh is None or newest is None:  # nothing new yet: no interval learnt, no gap opened
            return
        if w.gap is None and limit is not None and alive and self.running and now - fresh > limit:
            reason = "silent" if now - newest > limit else "stale repeats only"
            w.gap = {"start": fresh, "reason": reason, "limit": round(limit, 3)}
            out.append(self._detection(entity, name, w.gap, now, "warning", "open"))
        elif w.gap is not None and fresh > w.gap["start"]:
            w.gaps.append({"from_s": round(w.gap["start"] - self.start, 3), "to_s": round(fresh - self.start, 3),
                           "reason": w.gap["reason"]})
            out.append(self._detection(entity, name, w.gap, fresh, "warning", "cleared"))
            w.gap, w.back = None, fresh

    def check(self, now: float, running: bool) -> list[dict]:
        """Gaps raised and cleared at stream time ``now``, as detection rows (upserted: same gap, same id);
        ``running``: the session is under way (new gaps are raised only then; cleared whenever they end)."""
        out: list[dict] = []
        self.running = running  # gaps open only while the session runs (not before the start, nor after the flag)
        for name, w in self.sources.items():
            self._watch("", name, w, now, True, out)
        car_data = self.sources.get("car_data")
        flowing = (car_data is not None and car_data.gap is None and self.all_gap is None
                   and (car_data.back is None or now - car_data.back > FLOOR_S))
        for car, w in self.cars.items():  # a car silent alone: the car data flows on, another car's past its limit
            limit = w.limit()
            others = flowing and limit is not None and w.fresh is not None and any(
                o.fresh is not None and o.fresh > w.fresh + limit for k, o in self.cars.items() if k != car)
            self._watch(car, "car_data", w, now, others or w.gap is not None, out)
        limits = [limit for w in self.sources.values() if (limit := w.limit()) is not None]
        newest = max((w.newest for w in self.sources.values() if w.newest is not None), default=None)
        if newest is not None and limits and running and self.all_gap is None and now - newest > min(limits):
            self.all_gap = {"start": newest, "reason": "every source silent", "limit": round(min(limits), 3)}
            out.append(self._detection("", "all", self.all_gap, now, "critical", "open"))
        elif self.all_gap is not None and newest is not None and newest > self.all_gap["start"]:
            self.all_gaps.append({"from_s": round(self.all_gap["start"] - self.start, 3),
                                  "to_s": round(newest - self.start, 3), "reason": self.all_gap["reason"]})
            out.append(self._detection("", "all", self.all_gap, newest, "critical", "cleared"))
            self.all_gap = None
        self.changed = self.changed or bool(out)
        return out

    def state(self, now: float) -> dict:
        """Each source's and car's state (``sessions.meta.feeds``, ``GET /sessions/{id}/feeds``)."""
        return {"at_s": round(now - self.start, 3),
                "sources": {k: w.state(now) for k, w in sorted(self.sources.items())},
                "cars": {k: w.state(now) for k, w in sorted(self.cars.items())},
                "all_silent": ({"state": "gap", "from_s": round(self.all_gap["start"] - self.start, 3)}
                               if self.all_gap else {"state": "ok"}),
                "gaps": self.gaps()}

    def gaps(self) -> list[dict]:
        """Every gap so far, closed or open, by source (and car), in time order."""
        out = [{"source": k, **g} for k, w in self.sources.items() for g in w.gaps]
        out += [{"source": "car_data", "car": k, **g} for k, w in self.cars.items() for g in w.gaps]
        out += [{"source": "all", **g} for g in self.all_gaps]
        for key, w, car in ([(k, w, None) for k, w in self.sources.items()]
                            + [("car_data", w, k) for k, w in self.cars.items()]):
            if w.gap:
                out.append({"source": key, **({"car": car} if car else {}),
                            "from_s": round(w.gap["start"] - self.start, 3), "to_s": None,
                            "reason": w.gap["reason"]})
        return sorted(out, key=lambda g: g["from_s"])
