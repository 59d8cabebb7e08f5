"""Analyze: decoded chunks -> detectors (state per entity) -> one transaction per batch.

``Batch.add`` takes one stream record and raises ``ContractError`` for a record that
cannot be decoded or validated (the caller fails that record alone). ``Batch.commit`` runs
the detectors over each entity's good chunks of the batch, joined into as few calls as
possible (``chunk.join``), then writes chunk rows, detections and detector states together.
A chunk already stored is skipped, so re-delivery changes nothing.
"""
from __future__ import annotations

from apexflow import chunk as chunks
from apexflow.contract import ContractError
from apexflow.detect import STATE_VERSION, detectors_for
from apexflow.detect.base import Context
from apexflow.storage import repository
from apexflow.storage.db import transaction


def stats(c: chunks.Chunk) -> dict:
    return {name: [round(float(v.min()), 3), round(float(v.mean()), 3), round(float(v.max()), 3)]
            for name, v in c.values.items()}


class Batch:
    def __init__(self, conn, detectors: dict | None = None):
        """``detectors`` overrides the set chosen by each session's source (``detectors_for``)."""
        self.conn, self.detectors = conn, detectors
        self.sessions: dict[str, tuple | None] = {}  # session -> (source, channels)
        self.states: dict[tuple[str, str], list] = {}  # (session, entity) -> [state, last_seq]
        self.seen: set[tuple[str, str, int]] = set()
        self.pending: dict[tuple[str, str], list] = {}  # entity -> its good chunks, in stream order
        self.chunk_rows, self.detections = [], {}

    def add(self, data: bytes) -> str:
        """Check one record and queue it for detection; returns "processed" or "duplicate"."""
        c = chunks.decode(data)
        with self.conn.cursor() as cur:
            if c.session_id not in self.sessions:
                self.sessions[c.session_id] = repository.session_contract(cur, c.session_id)
            if self.sessions[c.session_id] is None:
                raise ContractError(f"chunk {c.session_id}/{c.key}: session {c.session_id!r} is not registered; "
                                    "ingest registers a session before streaming it")
            c.validate(self.sessions[c.session_id][1])
            key = (c.session_id, c.entity_id, c.seq)
            if key in self.seen or repository.processed_seqs(cur, c.session_id, c.entity_id, [c.seq]):
                return "duplicate"
            entity = (c.session_id, c.entity_id)
            if entity not in self.states:
                self.states[entity] = list(repository.load_state(cur, *entity, STATE_VERSION))
        self.seen.add(key)
        self.pending.setdefault(entity, []).append(c)
        self.chunk_rows.append((c.session_id, c.entity_id, c.seq, float(c.t[0]), float(c.t[-1]), c.n, stats(c)))
        return "processed"

    def _detect(self) -> None:
        for (session_id, entity_id), queued in self.pending.items():
            state = self.states[(session_id, entity_id)]
            source, channels = self.sessions[session_id]
            ctx = Context(session_id, entity_id, channels)
            detectors = self.detectors or detectors_for(source)
            for c in chunks.join(queued):
                for name, run in detectors.items():
                    for d in run(c, state[0].setdefault(name, {}), ctx):
                        self.detections[d.detection_id] = d.to_row()  # a later report of an event supersedes
                state[1] = max(state[1], c.seq)
        self.pending.clear()

    def commit(self) -> None:
        self._detect()
        with transaction(self.conn) as cur:
            repository.write_batch(cur, self.chunk_rows, list(self.detections.values()),
                                   [(s, e, STATE_VERSION, q, st) for (s, e), (st, q) in self.states.items()])
