"""Ingest: a source's session -> chunks -> raw store (durable copy) + stream, and the session registered.

Order of effects, so a failure at any step leaves no mixed state and a re-run repairs it:
1. every chunk is validated, then encoded naming its run (bad data stops here, nothing written);
2. the raw store writes the run's chunks and the session with its facts (``record``), then its manifest (the
   commit point), then drops older runs;
3. the session and its facts are registered in the database (a new run replaces the old one's rows);
4. chunks go to the stream in time order across entities (each entity's own order kept).

The run id is a digest of the content, so re-ingesting identical data is a no-op downstream; every
chunk names its run, so analyze drops records of a run that a re-ingest has replaced. ``reprocess`` rebuilds
a session's database state from its raw run alone, along the same steps 3 and 4.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from apexflow import chunk as chunks
from apexflow.contract import SCHEMA_VERSION, Channel, Entity, Session, SessionFacts, check_id
from apexflow.detect.f1.laps import detect_facts
from apexflow.errors import ContractError
from apexflow.storage import detection_store, registry


class Source(Protocol):
    def session(self) -> Session: ...
    def facts(self) -> SessionFacts: ...
    def samples(self) -> Iterator[tuple[str, np.ndarray, dict[str, np.ndarray]]]: ...


class RawStore(Protocol):
    def write_run(self, session: Session, run_id: str, chunks: dict[str, bytes], manifest: dict,
                  record: dict | None = None) -> str:
        """Store the run's chunks (by key, in stream order), ``record`` and the manifest, replacing older runs;
        return where it went."""

    def read_run(self, session_id: str) -> tuple[dict, dict, list[bytes]]:
        """(manifest, record, every chunk) of the session's current run."""


class Stream(Protocol):
    def put(self, records: list[tuple[str, bytes]]) -> None:
        """Deliver (partition key, data) records in order, or raise."""


@dataclass
class IngestResult:
    session: Session
    run_id: str
    entities: int
    chunks: int
    samples: int
    bytes: int
    location: str
    registered: bool


def encode_session(source: Source, chunk_seconds: float = 10.0) -> tuple[Session, SessionFacts, str, list]:
    """The source's session, facts, run id and every chunk, validated and stamped with the run, as
    (t_start, entity, Chunk, bytes) in stream order."""
    session = source.session()
    channels = session.channel_map()
    units = {name: ch.unit for name, ch in channels.items()}
    known = {e.entity_id for e in session.entities}
    parts = []
    for entity_id, t, values in source.samples():
        if entity_id not in known:
            raise chunks.ContractError(f"samples for entity {entity_id!r}, which the session does not declare")
        for c in chunks.split(session.session_id, entity_id, t, values, units, chunk_seconds):
            parts.append((float(c.t[0]), entity_id, c.validate(channels)))
    parts.sort(key=lambda item: (item[0], item[1]))
    facts = source.facts()
    run_id = run_id_of(session, facts, [c for _, _, c in parts])
    encoded = []
    for t0, entity_id, c in parts:
        c.run_id = run_id
        encoded.append((t0, entity_id, c, chunks.encode(c)))
    return session, facts, run_id, encoded


def manifest(session: Session, facts: SessionFacts, run_id: str, encoded: list) -> dict:
    entities: dict[str, dict] = {}
    for _, entity_id, c, _data in encoded:
        e = entities.setdefault(entity_id, {"chunks": 0, "samples": 0})
        e["chunks"] += 1
        e["samples"] += c.n
    return {
        "schema_version": SCHEMA_VERSION,
        "session_id": session.session_id,
        "source": session.source,
        "profile": session.profile,
        "run_id": run_id,
        "identity": session.identity,
        "start_time": session.start_time.isoformat(),
        "channels": [c.to_dict() for c in session.channels],
        "entities": entities,
        "counts": {"entities": len(session.entities), "chunks": len(encoded),
                   "samples": sum(c.n for _, _, c, _ in encoded), "laps": len(facts.laps),
                   "track_status": len(facts.track_status)},
        "missing": facts.missing,
        "checksums": {c.key: hashlib.sha256(data).hexdigest() for _, _, c, data in encoded},
    }


def run_id_of(session: Session, facts: SessionFacts, parts: list[chunks.Chunk]) -> str:
    """A digest of the content (session, facts, every chunk's samples): identical data, identical run."""
    h = hashlib.sha256(session.session_id.encode())
    h.update(json.dumps([facts.laps, facts.track_status], default=str, sort_keys=True).encode())
    for c in parts:
        h.update(json.dumps([c.entity_id, c.seq, c.units]).encode())
        h.update(np.ascontiguousarray(c.t, "<f8").tobytes())
        h.update(np.ascontiguousarray(c.matrix(), "<f4").tobytes())
    return h.hexdigest()[:16]


def ingest(source: Source, raw: RawStore, stream: Stream, register: Callable[[Session, SessionFacts, str], bool],
           chunk_seconds: float = 10.0, batch: int = 500,
           progress: Callable[[Iterable], Iterable] | None = None) -> IngestResult:
    """Run one ingestion; ``register`` records the session in the database (``register`` below, in a
    transaction); ``progress`` may wrap the stream's batches (a progress bar)."""
    session, facts, run_id, encoded = encode_session(source, chunk_seconds)
    doc = manifest(session, facts, run_id, encoded)
    if hasattr(source, "ground_truth"):  # synthetic sources say what they injected
        doc["ground_truth"] = source.ground_truth()
    objects = {c.key: data for _, _, c, data in encoded}
    session.meta = {**session.meta, "chunks": len(encoded)}  # analysis is complete when all are analyzed
    location = raw.write_run(session, run_id, objects, doc, record(session, facts))
    registered = register(session, facts, run_id)
    _stream(stream, encoded, batch, progress)
    return IngestResult(session, run_id, len(session.entities), len(encoded), doc["counts"]["samples"],
                        sum(len(d) for d in objects.values()), location, registered)


def reprocess(raw: RawStore, stream: Stream, db: Callable[[], AbstractContextManager], session_id: str,
              batch: int = 500, progress: Callable[[Iterable], Iterable] | None = None) -> IngestResult:
    """Rebuild a session's database state from its current raw run: every chunk read and checked first (a
    missing or damaged one stops here, nothing changed), then in one transaction (``db()`` yields its cursor)
    the session deleted and registered again, then the chunks streamed as ingest streamed them."""
    check_id("session_id", session_id)
    doc, rec, blobs = raw.read_run(session_id)
    session, facts = from_record(rec)
    parts = []
    for data in blobs:
        c = chunks.decode(data)
        if c.run_id != doc["run_id"] or c.session_id != session_id:
            raise ContractError(f"chunk {c.key} of the raw run {doc['run_id']} of {session_id!r} names session "
                                f"{c.session_id!r}, run {c.run_id!r}: the raw store is inconsistent; ingest again")
        parts.append((float(c.t[0]), c.entity_id, c, data))
    parts.sort(key=lambda item: (item[0], item[1]))
    with db() as cur:
        registry.delete_session(cur, session_id)
        register(cur, session, facts, doc["run_id"])
    _stream(stream, parts, batch, progress)
    return IngestResult(session, doc["run_id"], len(session.entities), len(parts), sum(c.n for _, _, c, _ in parts),
                        sum(len(d) for d in blobs), doc["chunk_prefix"], True)


def _stream(stream: Stream, encoded: list, batch: int, progress) -> None:
    records = [(c.partition_key, data) for _, _, c, data in encoded]
    batches = range(0, len(records), batch)
    for i in progress(batches) if progress else batches:
        stream.put(records[i:i + batch])


def record(session: Session, facts: SessionFacts) -> dict:
    """The session and its facts as registered (JSON-ready): what reprocessing registers again."""
    return {"session": {"session_id": session.session_id, "source": session.source,
                        "start_time": session.start_time.isoformat(), "profile": session.profile,
                        "channels": [c.to_dict() for c in session.channels],
                        "entities": [{"entity_id": e.entity_id, "name": e.name, "team": e.team, "meta": e.meta}
                                     for e in session.entities],
                        "identity": session.identity, "meta": session.meta},
            "facts": {k: getattr(facts, k) for k in ("laps", "track_status", "race_control_messages", "results",
                                                     "weather", "missing")}}


def from_record(doc: dict) -> tuple[Session, SessionFacts]:
    s = doc["session"]
    session = Session(s["session_id"], s["source"], datetime.fromisoformat(s["start_time"]),
                      tuple(Channel.from_dict(c) for c in s["channels"]), tuple(Entity(**e) for e in s["entities"]),
                      s["identity"], s["meta"], s["profile"])
    return session, SessionFacts(**doc["facts"])


def register(cur, session: Session, facts: SessionFacts, run_id: str) -> bool:
    """Record the session and its facts, with what the lap-level detectors find in them (once per run), and
    its facts in the reporting schema."""
    if not registry.register_session(cur, session, facts, run_id):
        return False
    found = detect_facts(session.session_id, facts, session.identity.get("session"))
    detection_store.write_detections(cur, [d.to_row() for d in found])
    detection_store.refresh_reporting(cur, session.session_id)
    return True
