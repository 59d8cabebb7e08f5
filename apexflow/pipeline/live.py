"""Live: a running session's events (``apexflow.sources.live``) -> chunks on the stream while the cars are on track.

The live counterpart of ``apexflow.pipeline.ingest``, writing the same things in the same places:

- **Chunks** by car and time within a latency budget: a car's buffered samples leave as soon as the oldest
  is ``latency`` seconds old by the stream's clock (the newest message time, or the wall clock when the
  stream stalls), so every car sends a chunk at least every ``latency`` seconds while it has data. Each
  chunk goes to the raw store (run ``live``) and then to the stream. Positions are interpolated onto the
  car-data clock; ``LapNumber`` and ``Distance`` (integrated from speed) restart with each completed lap.
- **Nothing lost, nothing doubled, whatever the order**: a sample at an instant already received for the car
  (sent or buffered) is a true duplicate and dropped; any other is kept. After the feed reconnects, or when a
  sample comes after a later one (QoS 1 redelivery; a publisher's backlog overtaken by its newer messages),
  chunks are held ``SETTLE_S`` (wall clock, at most ``SETTLE_MAX_S`` in a row) so older messages still on their
  way are sorted into place; a sample that still comes after its time's chunk left is sent in a chunk of its
  own (``late_samples``, logged) rather than lost; chunk sequence numbers continue across restarts (read back from
  the raw store, whose newest chunks of each car are streamed again: analyze skips what it has).
- **Facts as they complete**: the session is registered when known (drivers added as they appear); laps,
  track status and race-control messages are written as they arrive, and the lap-level detectors run
  again on every new lap or status (retirements and non-starters only at the close).
- **Close** at the session's end: the last chunks, the final lap-level detections (replacing the
  provisional ones), the session and its facts as ``ingest`` keeps them (so ``reprocess`` rebuilds a live
  session from its raw run), the manifest, ``sessions.meta.live`` and ``sessions.meta.chunks`` (the count that makes
  the session complete once analyzed: ``apexflow_aws.insights_starter``), then ``on_close(session_id)`` (which
  starts the insights workflow if analyze has already caught up).
"""
from __future__ import annotations

import bisect
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from apexflow import chunk as chunks
from apexflow.contract import F1_CHANNELS, SCHEMA_VERSION, Entity, Session, SessionFacts
from apexflow.detect import DETECTORS, GENERIC
from apexflow.detect.f1.laps import detect_facts
from apexflow.errors import BadMessage
from apexflow.pipeline.ingest import Stream, record
from apexflow.sources.live import events as ev
from apexflow.sources.live import health
from apexflow.storage import detection_store, registry

log = logging.getLogger(__name__)
RUN_ID = "live"
BAD_LOGGED = 20  # bad messages of one kind logged in full; the rest only counted
RESEND = 5  # newest chunks per car streamed again on resuming: covers a crash between store and stream
STREAM_DETECTORS = sorted({*DETECTORS, *GENERIC})
POSITION_KEEP_S = 30.0
SETTLE_S = 3.0  # after a reconnect, or a sample older than one already received: hold chunks this long (wall)
SETTLE_MAX_S = 30.0  # ...but never longer than this in a row
TRACK_KEEP_S = 300.0  # lap and distance of the samples sent this long ago still known for a late sample
FEEDS_EVERY_S = 5.0  # the feeds' state written to the session this often (wall clock) at least
WHEN_CLOSED = frozenset({"retirement", "did_not_start"})  # a car behind on laps has not retired: wait for the end


class LiveRawStore(Protocol):
    def put_chunk(self, session: Session, run_id: str, key: str, data: bytes) -> None: ...
    def run_objects(self, session: Session, run_id: str) -> dict[str, bytes]: ...
    def commit_run(self, session: Session, run_id: str, manifest: dict, record: dict | None = None) -> str: ...


@dataclass
class Car:
    seq: int = 0
    last_t: float = -math.inf
    buffer: dict[float, dict] = field(default_factory=dict)
    positions: list[tuple[float, float, float, float]] = field(default_factory=list)
    lap_starts: list[tuple[float, int]] = field(default_factory=list)  # (session t, lap starting then)
    lap: int = 1
    distance: float = 0.0
    speed_t: tuple[float, float] | None = None  # (t, speed) of the last sample sent
    sent: set[float] = field(default_factory=set)  # every sample time sent: what a true duplicate repeats
    newest: float = -math.inf  # the newest sample time received (sent or not)
    track: list[tuple[float, float, float]] = field(default_factory=list)  # (t, lap, distance) of samples sent


class LiveIngest:
    def __init__(self, raw: LiveRawStore, stream: Stream, db: Callable[[], AbstractContextManager], *,
                 latency: float = 1.0, chunk_seconds: float = 10.0,
                 on_close: Callable[[str], object] = lambda session_id: None,
                 wall: Callable[[], float] = time.time, stall_is_silence: bool = True,
                 on_gap: Callable[[dict], None] = lambda detection: None):
        if not (latency > 0 and chunk_seconds >= latency):
            raise ValueError(f"need 0 < latency <= chunk_seconds, got {latency} and {chunk_seconds}")
        self.raw, self.stream, self.db, self.on_close, self.wall = raw, stream, db, on_close, wall
        self.on_gap = on_gap  # called with each critical feed gap as it opens (an alert)
        self.latency, self.chunk_seconds = latency, chunk_seconds
        self.known: ev.SessionKnown | None = None
        self.early: list = []
        self.session: Session | None = None
        self.entities: dict[str, Entity] = {}
        self.new_entities: list[Entity] = []
        self.cars: dict[str, Car] = {}
        self.facts = SessionFacts()
        self.laps: dict[tuple[str, int], dict] = {}
        self.changed: dict[str, Any] = {"laps": [], "track_status": [], "race_control": False, "missing": False}
        self.checksums: dict[str, str] = {}
        self.clock = -math.inf  # newest message time (UTC seconds)
        self.wall_at_clock = 0.0
        self.ended: ev.Ended | None = None
        self.closed: dict | None = None
        self.counts = {"samples": 0, "duplicate_samples": 0, "reordered_samples": 0, "late_samples": 0,
                       "chunks": 0, "resent": 0}
        self.hold: tuple[float, float] | None = None  # (since, until) in wall time: no chunk leaves meanwhile
        self.health: health.FeedHealth | None = None
        self.chequered = False  # the flag is out: cars stop one by one, feeds wind down (no new feed gaps)
        self.stall_is_silence = stall_is_silence  # False for a replay as fast as it goes: no wall-clock silence
        self.message: dict | None = None  # what the message being fed brought: {"new": n, "cars": {car: new}}
        self.health_written = -math.inf
        self.bad: dict[str, int] = {}  # messages skipped, by kind (``BadMessage.kind``)

    def skip(self, e: BadMessage) -> None:
        """A message that could not be read: counted by kind and logged (the first ``BAD_LOGGED`` of a kind)."""
        self.bad[e.kind] = self.bad.get(e.kind, 0) + 1
        if self.bad[e.kind] <= BAD_LOGGED:
            log.warning("skipped a bad live message (%s): %s", e.kind, e)

    # -- events --------------------------------------------------------------------------------------------
    def take(self, topic: str | None, events: list) -> None:
        """The events of one message of ``topic``, its feed health observed (new data or a stale repeat)."""
        self.message = {"new": 0, "data": False, "cars": {}}
        self.feed(events)
        seen, self.message = self.message, None
        if self.health is not None and topic is not None and self.clock > -math.inf:
            new = seen["new"] > 0 or not seen["data"]
            self.health.observe(topic, self.clock, new, seen["cars"])

    def feed(self, events: Iterable) -> None:
        """Apply events; those that need the session's start wait until it is known."""
        for e in events:
            if self.known is None and not isinstance(e, (ev.SessionKnown, ev.Driver, ev.Missing, ev.Tick)):
                self.early.append(e)
                continue
            fresh = getattr(self, "_" + type(e).__name__.lower())(e)
            if self.message is not None and not isinstance(e, ev.Tick):
                self.message["data"] = True
                self.message["new"] += fresh is not False
            if isinstance(e, ev.SessionKnown) and self.early:
                early, self.early = self.early, []
                self.feed(early)

    def t(self, utc: float) -> float:
        assert self.known is not None  # events that need the start wait (``early``) until it is known
        return utc - self.known.start_time.timestamp()

    def _tick(self, e: ev.Tick) -> None:
        if e.utc > self.clock:
            self.clock, self.wall_at_clock = e.utc, self.wall()

    def _sessionknown(self, e: ev.SessionKnown) -> None:
        if self.known is None:
            self.known = e
            self.health = health.FeedHealth(e.session_id, e.start_time.timestamp())

    def _driver(self, e: ev.Driver) -> None:
        if e.entity.entity_id not in self.entities:
            self.entities[e.entity.entity_id] = e.entity
            self.new_entities.append(e.entity)

    def _car(self, entity_id: str) -> Car:
        if entity_id not in self.entities:
            self._driver(ev.Driver(Entity(entity_id)))
        return self.cars.setdefault(entity_id, Car())

    def settle(self) -> None:
        """Hold every chunk ``SETTLE_S`` (from now; in all at most ``SETTLE_MAX_S``): the feed reconnected or
        delivered out of order, so older messages may still come (QoS 1 redelivery, a publisher's backlog
        overtaken by newer messages); held, they are sorted into their place instead of arriving late."""
        wall = self.wall()
        since = self.hold[0] if self.hold and wall < self.hold[1] else wall
        self.hold = (since, min(since + SETTLE_MAX_S, wall + SETTLE_S))

    def _carsample(self, e: ev.CarSample) -> bool:
        car, t = self._car(e.entity_id), self.t(e.utc)
        if t in car.sent or t in car.buffer:  # a true duplicate: this very sample was received before
            self.counts["duplicate_samples"] += 1
            if self.message is not None:
                self.message["cars"].setdefault(e.entity_id, False)
            return False
        if self.message is not None:
            self.message["cars"][e.entity_id] = True
        if t < car.newest:
            self.counts["reordered_samples"] += 1
            self.settle()
        car.newest = max(car.newest, t)
        car.buffer[t] = e.values
        self._tick(ev.Tick(e.utc))
        return True

    def _position(self, e: ev.Position) -> bool:
        car, t = self._car(e.entity_id), self.t(e.utc)
        if not car.positions or t > car.positions[-1][0]:
            car.positions.append((t, e.x, e.y, e.z))
            return True
        return False

    def _lapdone(self, e: ev.LapDone) -> None:
        row = {"Driver": e.entity_id, "LapNumber": e.lap_number, **e.values,
               **{k: self.t(v) for k, v in e.times.items()}}
        if self.laps.get((e.entity_id, e.lap_number)) == row:
            return
        self.laps[(e.entity_id, e.lap_number)] = row
        self.changed["laps"].append(row)
        car = self._car(e.entity_id)
        if (row["Time"], e.lap_number + 1) not in car.lap_starts:
            car.lap_starts = sorted([*car.lap_starts, (row["Time"], e.lap_number + 1)])

    def _trackstatus(self, e: ev.TrackStatus) -> None:
        row = {"Time": self.t(e.utc), "Status": e.status, "Message": e.message}
        if row not in self.facts.track_status:
            self.facts.track_status.append(row)
            self.changed["track_status"].append(row)

    def _racecontrol(self, e: ev.RaceControl) -> None:
        row = {"Time": self.t(e.utc), "Date": datetime.fromtimestamp(e.utc, UTC).isoformat(), **e.row}
        self.chequered = self.chequered or row.get("Flag") == "CHEQUERED"
        if row not in self.facts.race_control_messages:
            self.facts.race_control_messages.append(row)
            self.changed["race_control"] = True

    def _missing(self, e: ev.Missing) -> None:
        if self.facts.missing.get(e.stream) != e.reason:
            self.facts.missing[e.stream] = e.reason
            self.changed["missing"] = True

    def _ended(self, e: ev.Ended) -> None:
        self.ended = self.ended or e

    # -- output --------------------------------------------------------------------------------------------
    def now(self) -> float:
        """The stream clock in session time: the newest message, moved on by the wall clock in a stall."""
        return self.t(max(self.clock, self.clock + self.wall() - self.wall_at_clock))

    def pump(self, final: bool = False) -> int:
        """Send what is due (everything when ``final``) and write new facts; returns the chunks sent."""
        if self.known is None or self.clock == -math.inf:
            return 0
        if self.session is None or self.new_entities:
            with self.db() as cur:
                if self.session is None:
                    self._register(cur)
                assert self.session is not None
                registry.add_entities(cur, self.session.session_id, self.new_entities)
                self.new_entities = []
        records = self._due_chunks(final)
        if records:
            self.stream.put(records)
        self._write_facts(final)
        self._check_feeds(final)
        return len(records)

    def _check_feeds(self, final: bool) -> None:
        """Feed gaps raised or cleared, written at once; every source's state in ``sessions.meta.feeds``
        (when a gap changed, every ``FEEDS_EVERY_S`` of wall time, and at the close)."""
        known, session, feeds = self.known, self.session, self.health
        if known is None or session is None or feeds is None:  # pump checks the feeds of a registered session only
            return
        start = known.start_time.timestamp()
        now = self.now() + start if self.stall_is_silence else self.clock
        running = self.ended is None and now >= start and not self.chequered
        found = [] if final else feeds.check(now, running=running)
        for d in found:
            (log.warning if d["evidence"]["state"] == "open" else log.info)(
                "feed gap %s: %s %s (%s)", d["evidence"]["state"], d["channel"], d["entity_id"] or "",
                d["evidence"]["reason"])
        for d in found:
            if d["severity"] == "critical" and d["evidence"]["state"] == "open":
                try:
                    self.on_gap(d)
                except Exception:  # an alert that cannot be sent never ends the session
                    log.exception("the alert on a critical feed gap could not be sent")
        wall = self.wall()
        if not (found or final or wall - self.health_written >= FEEDS_EVERY_S):
            return
        self.health_written = wall
        with self.db() as cur:
            detection_store.write_detections(cur, found)
            registry.update_session_meta(cur, session.session_id, {"feeds": feeds.state(now)})

    def _register(self, cur) -> None:
        k = self.known
        assert k is not None  # pump registers only a known session
        self.session = Session(k.session_id, k.source, k.start_time, F1_CHANNELS, tuple(self.entities.values()),
                               k.identity, {**k.meta, "live": {"state": "open"}}, profile="motorsport")
        self.new_entities = []
        if not registry.register_session(cur, self.session, SessionFacts(missing=dict(self.facts.missing)),
                                           RUN_ID):
            self._resume()

    def _resume(self) -> None:
        """The session was being followed before: continue its chunk numbers, stream its newest chunks again."""
        done: dict[str, list[chunks.Chunk]] = {}
        assert self.session is not None  # resumed on registration
        for key, data in sorted(self.raw.run_objects(self.session, RUN_ID).items()):
            c = chunks.decode(data)
            done.setdefault(c.entity_id, []).append(c)
            self.checksums[key] = hashlib.sha256(data).hexdigest()
        again = []
        for entity_id, parts in done.items():
            car = self._car(entity_id)
            car.seq, car.last_t = parts[-1].seq + 1, max(float(c.t[-1]) for c in parts)
            car.sent = {float(x) for c in parts for x in c.t}
            car.buffer = {t: v for t, v in car.buffer.items() if t not in car.sent}
            again += [(c.partition_key, chunks.encode(c)) for c in parts[-RESEND:]]
        if again:
            self.stream.put(again)
            self.counts["resent"] += len(again)

    def _due_chunks(self, final: bool) -> list[tuple[str, bytes]]:
        if not final and self.hold is not None and self.wall() < self.hold[1]:
            return []
        now, units = self.now(), {c.name: c.unit for c in F1_CHANNELS}
        assert self.session is not None  # pump registers the session first
        records = []
        for entity_id, car in self.cars.items():
            if not car.buffer or not (final or now - min(car.buffer) >= self.latency):
                continue
            late = sorted(t for t in car.buffer if t < car.last_t)
            if late:  # older than a chunk already sent: kept, in a chunk of their own (logged)
                self.counts["late_samples"] += len(late)
                log.warning("%d samples of %s came after their time's chunk had left (%.3f s to %.3f s): "
                            "sent in a chunk of their own", len(late), entity_id, late[0], late[-1])
            for part in ([late] if late else []) + [sorted(t for t in car.buffer if t > car.last_t)]:
                if not part:
                    continue
                t, values = self._samples(car, part)
                for c in chunks.split(self.session.session_id, entity_id, t, values, units, self.chunk_seconds,
                                      first_seq=car.seq):
                    c.run_id = RUN_ID
                    data = chunks.encode(c.validate(self.session.channel_map()))
                    self.raw.put_chunk(self.session, RUN_ID, c.key, data)
                    self.checksums[c.key] = hashlib.sha256(data).hexdigest()
                    records.append((c.partition_key, data))
                    car.seq = c.seq + 1
                car.sent.update(t.tolist())
                car.last_t = max(car.last_t, float(t[-1]))
                self.counts["samples"] += len(t)
            car.buffer = {}
        self.counts["chunks"] += len(records)
        return records

    def _samples(self, car: Car, times: list[float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The car's buffered samples at ``times`` (sorted) as columns, with positions, lap and distance (for
        late samples, those of the samples sent around them)."""
        t = np.array(times)
        rows = [car.buffer[x] for x in times]
        values = {name: np.array([r[name] for r in rows], dtype=np.float64) for name in rows[0]}
        if car.positions:
            p = np.array(car.positions)
            for i, name in enumerate(("X", "Y", "Z"), start=1):
                values[name] = np.interp(t, p[:, 0], p[:, i])
            car.positions = [q for q in car.positions if q[0] >= max(t[-1], car.last_t) - POSITION_KEEP_S]
        if t[-1] < car.last_t and car.track:
            track = np.array(car.track)
            at = np.clip(np.searchsorted(track[:, 0], t, side="right") - 1, 0, len(track) - 1)
            values["LapNumber"], values["Distance"] = track[at, 1], np.interp(t, track[:, 0], track[:, 2])
            return t, values
        laps, distance = np.empty(len(t)), np.empty(len(t))
        for i, (ti, speed) in enumerate(zip(t, values["Speed"])):
            while car.lap_starts and car.lap_starts[0][0] <= ti:
                _, car.lap = car.lap_starts.pop(0)
                car.distance, car.speed_t = 0.0, None
            if car.speed_t is not None:
                car.distance += (ti - car.speed_t[0]) * speed / 3.6
            car.speed_t = (ti, speed)
            laps[i], distance[i] = car.lap, car.distance
        values["LapNumber"], values["Distance"] = laps, np.minimum(distance, 20000.0)
        car.track += zip(t.tolist(), laps.tolist(), values["Distance"].tolist())
        if car.track[0][0] < t[-1] - 2 * TRACK_KEEP_S:  # kept for late samples: the last few minutes
            del car.track[:bisect.bisect_left(car.track, (t[-1] - TRACK_KEEP_S,))]
        return t, values

    def _write_facts(self, final: bool) -> None:
        new_laps, new_status = self.changed["laps"], self.changed["track_status"]
        if not (new_laps or new_status or self.changed["race_control"] or self.changed["missing"] or final):
            return
        self.facts.laps = sorted(self.laps.values(), key=lambda r: (r["Driver"], r["LapNumber"]))
        assert self.session is not None  # pump registers the session first
        found = detect_facts(self.session.session_id, self.facts, self.session.identity.get("session"))
        with self.db() as cur:
            registry.upsert_laps(cur, self.session.session_id, new_laps)
            registry.add_track_status(cur, self.session.session_id, new_status)
            if self.changed["race_control"]:
                registry.set_session_facts(cur, self.session.session_id, "race_control_messages",
                                             self.facts.race_control_messages)
            if final:
                detection_store.replace_fact_detections(cur, self.session.session_id, [d.to_row() for d in found],
                                                   [*STREAM_DETECTORS, health.DETECTOR])
            else:
                detection_store.write_detections(cur, [d.to_row() for d in found if d.kind not in WHEN_CLOSED])
            if self.changed["missing"] or final:
                registry.update_session_meta(cur, self.session.session_id, {"missing": self.facts.missing})
        self.changed = {"laps": [], "track_status": [], "race_control": False, "missing": False}

    def close(self, reason: str | None = None) -> dict:
        """Send everything left, settle the facts, commit the run and start the insights; idempotent."""
        if self.closed is not None:
            return self.closed
        reason = reason or (self.ended.reason if self.ended else "stream ended")
        self.pump(final=True)
        if self.session is None or self.health is None:  # never registered (the health comes with the start)
            self.closed = {"session_id": None, "reason": reason, **self.counts, "bad_messages": dict(self.bad)}
            return self.closed
        sid = self.session.session_id
        self.closed = {"session_id": sid, "reason": reason, "entities": sorted(self.entities),
                       "laps": len(self.laps), **self.counts, "bad_messages": dict(self.bad),
                       "feed_gaps": self.health.gaps()}
        manifest = {"schema_version": SCHEMA_VERSION, "session_id": sid, "source": self.session.source,
                    "profile": self.session.profile, "run_id": RUN_ID, "identity": self.session.identity,
                    "start_time": self.session.start_time.isoformat(),
                    "channels": [c.to_dict() for c in F1_CHANNELS], "live": self.closed,
                    "counts": {"entities": len(self.entities), "chunks": len(self.checksums),
                               "samples": self.counts["samples"], "laps": len(self.laps),
                               "track_status": len(self.facts.track_status)},
                    "missing": self.facts.missing, "checksums": dict(sorted(self.checksums.items()))}
        kept = replace(self.session, entities=tuple(self.entities.values()),
                       meta={**self.session.meta, "live": {"state": "closed"},
                             "feeds": self.health.state(self.clock)})
        self.closed["location"] = self.raw.commit_run(self.session, RUN_ID, manifest, record(kept, self.facts))
        with self.db() as cur:
            registry.update_session_meta(cur, sid, {"live": {"state": "closed", **self.closed},
                                                      "chunks": len(self.checksums)})
        self.on_close(sid)
        return self.closed


def follow(feed, adapter: Callable[[Any], list], stage: LiveIngest, *, poll: float = 0.2,
           idle: float | None = None, on_pump: Callable[[LiveIngest], None] = lambda stage: None) -> dict:
    """Messages of ``feed`` through ``adapter`` into ``stage`` until the session ends, the feed is finished
    or (with ``idle``) nothing came for ``idle`` seconds; then the stage closes. ``on_pump`` runs after each
    round (local mode drains the stream through analyze there). A reconnect of the feed (its ``connects``
    count grows) makes the stage settle before sending on. A message the adapter cannot read
    (``BadMessage``) is skipped and counted (``stage.bad``)."""
    heard, connects = time.monotonic(), getattr(feed, "connects", 0)
    try:
        while stage.ended is None:
            messages = feed.get(poll)
            if getattr(feed, "connects", 0) > connects:
                if connects:  # a reconnect (not the first connection): redelivery may come in any order
                    stage.settle()
                connects = feed.connects
            if messages is None:
                break
            if messages:
                heard = time.monotonic()
            elif idle is not None and time.monotonic() - heard > idle:
                break
            for m in messages:
                try:
                    events = adapter(m)
                except BadMessage as e:  # one message that cannot be read never ends the session
                    stage.skip(e)
                    continue
                stage.take(m[0] if isinstance(m, (list, tuple)) and m and isinstance(m[0], str) else None, events)
            stage.pump()
            on_pump(stage)
    finally:
        feed.stop()
    return stage.close()
