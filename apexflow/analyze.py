"""Analyze: decoded chunks -> detectors (state per entity) -> one transaction per batch.

``Batch.add`` handles one stream record and raises ``ContractError`` for a record that
cannot be decoded or validated (the caller fails that record alone). ``Batch.commit``
writes the chunk rows, detections and detector states of every good record together.
A chunk already stored is skipped, so re-delivery changes nothing.
"""
from __future__ import annotations

import copy

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
        self.chunk_rows, self.detections = [], {}

    def add(self, data: bytes) -> str:
        """Analyze one record; returns "processed" or "duplicate"."""
        c = chunks.decode(data)
        with self.conn.cursor() as cur:
            if c.session_id not in self.sessions:
                self.sessions[c.session_id] = repository.session_contract(cur, c.session_id)
            if self.sessions[c.session_id] is None:
                raise ContractError(f"chunk {c.session_id}/{c.key}: session {c.session_id!r} is not registered; "
                                    "ingest registers a session before streaming it")
            source, channels = self.sessions[c.session_id]
            c.validate(channels)
            key = (c.session_id, c.entity_id, c.seq)
            if key in self.seen or repository.processed_seqs(cur, c.session_id, c.entity_id, [c.seq]):
                return "duplicate"
            entity = (c.session_id, c.entity_id)
            if entity not in self.states:
                self.states[entity] = list(repository.load_state(cur, *entity, STATE_VERSION))
        state = self.states[entity]
        ctx = Context(c.session_id, c.entity_id, channels)
        before = copy.deepcopy(state[0])
        try:
            detectors = self.detectors or detectors_for(source)
            found = [d for name, run in detectors.items() for d in run(c, state[0].setdefault(name, {}), ctx)]
        except Exception:
            state[0] = before  # a failed record leaves the entity's state as it was
            raise
        for d in found:
            self.detections[d.detection_id] = d.to_row()  # a later report of an event supersedes
        state[1] = max(state[1], c.seq)
        self.seen.add(key)
        self.chunk_rows.append((c.session_id, c.entity_id, c.seq, float(c.t[0]), float(c.t[-1]), c.n, stats(c)))
        return "processed"

    def commit(self) -> None:
        with transaction(self.conn) as cur:
            repository.write_batch(cur, self.chunk_rows, list(self.detections.values()),
                                   [(s, e, STATE_VERSION, q, st) for (s, e), (st, q) in self.states.items()])
