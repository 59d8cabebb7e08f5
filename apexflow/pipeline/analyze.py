"""Analyze: decoded chunks -> detectors (state per entity) -> one transaction per batch.

``Batch.add`` takes one stream record and raises ``ContractError`` for a record that
cannot be decoded or validated (the caller fails that record alone, and may ``reject`` it: kept
with its error for the pipeline-health dashboard); a chunk of a run that is no longer its session's
current one (a re-ingest replaced it while the record was in the stream) is dropped and counted as
``stale``. ``Batch.commit`` holds the sessions' runs steady (a re-ingest waits for it), drops the
chunks already stored (one query for the batch, so re-delivery changes nothing), joins each car's
chunks once, runs ``detect`` on them, then writes, one statement per table and batch, chunk rows (a
COPY), the samples of car-telemetry sessions (``apexflow.storage.samples``, one binary COPY), detections,
detector states, the field's new sums, and the race events of the reporting schema.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

import numpy as np

from apexflow import chunk as chunks
from apexflow.detect import STATE_VERSION, detectors_for
from apexflow.detect.base import Context
from apexflow.detect.field import Minutes, Profile, Timeline, minute
from apexflow.errors import ContractError
from apexflow.storage import repository, samples
from apexflow.storage.db import transaction


def stats(c: chunks.Chunk) -> list[str]:
    """Each part's (``chunk.join``) summary as its chunk row stores it: JSON of per channel [min, mean, max],
    rounded to 3 decimals. One numpy call per statistic for all parts."""
    parts = c.parts or [c]
    m, starts = c.matrix(), np.cumsum([0] + [p.n for p in parts[:-1]])
    counts = np.array([p.n for p in parts], dtype=np.float64)
    mean = np.add.reduceat(m, starts, axis=1, dtype=np.float64) / counts
    summary = np.round(np.stack([np.minimum.reduceat(m, starts, axis=1), mean,
                                 np.maximum.reduceat(m, starts, axis=1)], axis=2), 3)  # channel x part x 3
    template = _template(tuple(c.values))
    return [template % tuple(row) for row in summary.transpose(1, 0, 2).reshape(len(parts), -1).tolist()]


@lru_cache(maxsize=64)
def _template(names: tuple[str, ...]) -> str:
    """``{"name": [min, mean, max], ...}`` with a ``%r`` per number (a float's repr is its JSON)."""
    return "{" + ", ".join(json.dumps(n).replace("%", "%%") + ": [%r, %r, %r]" for n in names) + "}"


def batch_fields(joined: dict[tuple[str, str], list[chunks.Chunk]]) -> dict[str, Minutes]:
    """What a batch's new samples add to each session's field, minute by minute."""
    added: dict[str, Minutes] = {}
    for (session_id, _), parts in joined.items():
        for c in parts:
            added.setdefault(session_id, Minutes()).add_chunk(c)
    return added


def detect(fresh: dict[tuple[str, str], list[chunks.Chunk]], states: dict[tuple[str, str], dict],
           contracts: dict[str, tuple], fields: dict[str, Timeline | Profile], detectors: dict | None = None
           ) -> tuple[dict[str, dict], dict[str, Minutes]]:
    """Each entity's new chunks, joined into as few calls as possible (``chunk.join``), through its
    session's detectors (``detectors`` overrides them), against the field stored before (``fields``: a
    ``Timeline``, or a ``Profile`` of what came before) plus what the batch itself brings of every car,
    each sample against the minutes before its own (``detect.field``).

    ``states`` (per entity) are updated in place. Returns the detections by id (a later report of an
    event supersedes) and what the batch adds to each session's field.
    """
    joined = {e: chunks.join(parts) for e, parts in fresh.items()}
    added = batch_fields(joined)
    judged = {s: _merged(fields.get(s), field) for s, field in added.items()}
    found: dict[str, dict] = {}
    for (session_id, entity_id), parts in joined.items():
        profile, channels = contracts[session_id][:2]
        ctx = Context(session_id, entity_id, channels, judged.get(session_id, fields.get(session_id)))
        state = states.setdefault((session_id, entity_id), {})
        for c in parts:
            for name, run in (detectors or detectors_for(profile)).items():
                for d in run(c, state.setdefault(name, {}), ctx):
                    found[d.detection_id] = d.to_row()
    return found, added


def _merged(before: Timeline | Profile | None, added: Minutes) -> Timeline:
    return before.plus(added) if isinstance(before, Timeline) else Timeline(before, added)


def _minutes(joined: dict[tuple[str, str], list[chunks.Chunk]]) -> dict[str, tuple[int, int]]:
    """Per session, the first and last minute of session time of a batch's samples."""
    spans: dict[str, tuple[int, int]] = {}
    for (session_id, _), parts in joined.items():
        first, last = minute(min(c.t[0] for c in parts)), minute(max(c.t[-1] for c in parts))
        a, b = spans.get(session_id, (first, last))
        spans[session_id] = min(a, first), max(b, last)
    return spans


class Batch:
    def __init__(self, conn, detectors: dict | None = None):
        """``detectors`` overrides the set chosen by each session's profile (``detectors_for``)."""
        self.conn, self.detectors = conn, detectors
        self.sessions: dict[str, tuple | None] = {}  # session -> (profile, channels, run, entities)
        self.pending: dict[tuple[str, str], list] = {}  # entity -> its good chunks, in stream order
        self.arrived: dict[tuple[str, str, int], datetime] = {}  # chunk -> when it reached the stream
        self.rejected: list[tuple] = []
        self.stale = 0

    def add(self, data: bytes, arrived: datetime | None = None) -> None:
        """Check one record (that reached the stream at ``arrived``) and queue it."""
        c = chunks.decode(data)
        if c.session_id not in self.sessions:
            with self.conn.cursor() as cur:
                self.sessions[c.session_id] = repository.session_contract(cur, c.session_id)
        if self.sessions[c.session_id] is None:
            raise ContractError(f"chunk {c.session_id}/{c.key}: session {c.session_id!r} is not registered; "
                                "ingest registers a session before streaming it")
        _, channels, run, entities = self.sessions[c.session_id]
        if not c.run_id:
            raise ContractError(f"chunk {c.session_id}/{c.key} names no ingestion run (schema version 1), so "
                                "it cannot be told from a replaced run's; re-ingest the session")
        if c.run_id != run:
            self.stale += 1
            return
        if c.entity_id not in entities:
            raise ContractError(f"chunk {c.session_id}/{c.key}: entity {c.entity_id!r} is not one the session "
                                "declares; a source declares every entity before ingest registers the session")
        c.validate(channels)
        self.pending.setdefault((c.session_id, c.entity_id), []).append(c)
        self.arrived[(c.session_id, c.entity_id, c.seq)] = arrived

    def reject(self, record_id: str, partition_key: str, error: str, arrived: datetime | None = None) -> None:
        """Keep a record that ``add`` refused, with its error; written at ``commit``."""
        self.rejected.append((record_id, partition_key, error, arrived))

    def commit(self) -> dict[str, int]:
        """Detect over the queued chunks and store everything in one transaction; counts chunks
        ``processed``, ``duplicate`` (delivered before, or twice in this batch) and ``stale`` (of a replaced run)."""
        fresh: dict[tuple[str, str], list] = {}
        with transaction(self.conn) as cur:
            runs = repository.lock_runs(cur, list({s for s, _ in self.pending}))
            for entity in list(self.pending):
                parts = self.pending[entity]
                self.pending[entity] = [c for c in parts if c.run_id == runs.get(entity[0], (None,))[0]]
                self.stale += len(parts) - len(self.pending[entity])
            queued = sum(len(parts) for parts in self.pending.values())
            seen = repository.processed(cur, [(*e, c.seq) for e, parts in self.pending.items() for c in parts])
            for entity, parts in self.pending.items():
                for c in parts:
                    if (*entity, c.seq) not in seen:
                        seen.add((*entity, c.seq))
                        fresh.setdefault(entity, []).append(c)
            joined = {e: chunks.join(parts) for e, parts in fresh.items()}
            loaded = repository.load_states(cur, list(joined), STATE_VERSION)
            states = {e: state for e, (state, _) in loaded.items()}
            fields = {s: Timeline(Profile.from_rows(base), Minutes.from_rows(rows)) for s, (base, rows) in
                      repository.field_profile(cur, _minutes(joined)).items()}
            cars = [c for parts in joined.values() for c in parts if self.sessions[c.session_id][0] == "motorsport"]
            starts = {c.session_id: runs[c.session_id][1] for c in cars}
            rows = [(p.session_id, p.entity_id, p.seq, float(p.t[0]), float(p.t[-1]), p.n, summary,
                     self.arrived.get((p.session_id, p.entity_id, p.seq)))
                    for parts in joined.values() for c in parts for p, summary in zip(c.parts or [c], stats(c))]
            found, added = detect(joined, states, self.sessions, fields, self.detectors)
            repository.write_chunks(cur, rows, samples.copy_data(cars, starts) if cars else None)
            repository.write_detections(cur, list(found.values()))
            repository.write_states(cur, [(*e, STATE_VERSION, max(loaded[e][1], fresh[e][-1].seq), states[e])
                                          for e in fresh])
            for session_id, field in added.items():
                repository.add_field_profile(cur, session_id, field.rows())
            repository.refresh_race_events(cur, {d["session_id"] for d in found.values()})
            repository.write_rejections(cur, self.rejected)
        self.pending.clear()
        self.arrived.clear()
        self.rejected.clear()
        outcome = {"processed": len(rows), "duplicate": queued - len(rows), "stale": self.stale}
        self.stale = 0
        return outcome
