"""Analyze: decoded chunks -> detectors (state per entity) -> one transaction per batch.

``Batch.add`` takes one stream record and raises ``ContractError`` for a record that
cannot be decoded or validated (the caller fails that record alone). ``Batch.commit`` drops
the chunks already stored (one query per entity, so re-delivery changes nothing), runs the
detectors over each entity's new chunks of the batch joined into as few calls as possible
(``chunk.join``), then writes chunk rows, detections and detector states together.
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
        self.pending: dict[tuple[str, str], list] = {}  # entity -> its good chunks, in stream order

    def add(self, data: bytes) -> None:
        """Check one record and queue it."""
        c = chunks.decode(data)
        if c.session_id not in self.sessions:
            with self.conn.cursor() as cur:
                self.sessions[c.session_id] = repository.session_contract(cur, c.session_id)
        if self.sessions[c.session_id] is None:
            raise ContractError(f"chunk {c.session_id}/{c.key}: session {c.session_id!r} is not registered; "
                                "ingest registers a session before streaming it")
        c.validate(self.sessions[c.session_id][1])
        self.pending.setdefault((c.session_id, c.entity_id), []).append(c)

    def commit(self) -> dict[str, int]:
        """Detect over the queued chunks and store everything in one transaction; counts chunks
        ``processed`` and ``duplicate`` (delivered before, or twice in this batch)."""
        rows, detections, states = [], {}, []
        queued = sum(len(q) for q in self.pending.values())
        with transaction(self.conn) as cur:
            for (session_id, entity_id), parts in self.pending.items():
                seen = repository.processed_seqs(cur, session_id, entity_id, [c.seq for c in parts])
                fresh = []
                for c in parts:
                    if c.seq not in seen:
                        seen.add(c.seq)
                        fresh.append(c)
                if not fresh:
                    continue
                state, last_seq = repository.load_state(cur, session_id, entity_id, STATE_VERSION)
                source, channels = self.sessions[session_id]
                ctx = Context(session_id, entity_id, channels)
                detectors = self.detectors or detectors_for(source)
                for c in chunks.join(fresh):
                    for name, run in detectors.items():
                        for d in run(c, state.setdefault(name, {}), ctx):
                            detections[d.detection_id] = d.to_row()  # a later report of an event supersedes
                rows += [(c.session_id, c.entity_id, c.seq, float(c.t[0]), float(c.t[-1]), c.n, stats(c))
                         for c in fresh]
                states.append((session_id, entity_id, STATE_VERSION, max(last_seq, fresh[-1].seq), state))
            repository.write_batch(cur, rows, list(detections.values()), states)
        self.pending.clear()
        return {"processed": len(rows), "duplicate": queued - len(rows)}
