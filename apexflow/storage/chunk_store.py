"""Writes of analyzed chunks: their rows and samples (COPY), the detectors' states, rejected records; and the
reads analyze makes for them (what is already processed, the states to resume). Every write is idempotent."""
from __future__ import annotations

import io

from psycopg2.extras import Json, execute_values

from apexflow.storage import samples


def write_samples(cur, data: bytes) -> None:
    """Copy samples in (``apexflow.storage.samples.copy_data``'s binary stream): only of chunks not stored before, which
    analyze's duplicate check in the same transaction guarantees."""
    cur.copy_expert(samples.COPY_SQL, io.BytesIO(data), size=1 << 20)


def processed(cur, keys: list[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
    """Which of these (session, entity, seq) chunks are stored already: one query for a whole batch."""
    if not keys:
        return set()
    sessions, entities, seqs = (list(x) for x in zip(*keys))
    cur.execute("SELECT c.session_id, c.entity_id, c.seq FROM telemetry_chunks c "
                "JOIN unnest(%s::text[], %s::text[], %s::int[]) AS k(session_id, entity_id, seq) "
                "USING (session_id, entity_id, seq)", (sessions, entities, seqs))
    return set(cur.fetchall())


def load_states(cur, entities: list[tuple[str, str]], state_version: int) -> dict[tuple[str, str], tuple[dict, int]]:
    """(detector state, last seq) per entity; empty state when none or of another version. One query."""
    out: dict[tuple[str, str], tuple[dict, int]] = {e: ({}, -1) for e in entities}
    if entities:
        sessions, ids = (list(x) for x in zip(*entities))
        cur.execute("SELECT p.session_id, p.entity_id, p.state, p.last_seq FROM processing_checkpoints p "
                    "JOIN unnest(%s::text[], %s::text[]) AS k(session_id, entity_id) USING (session_id, entity_id) "
                    "WHERE p.state_version = %s", (sessions, ids, state_version))
        out.update({(s, e): (state, last) for s, e, state, last in cur.fetchall()})
    return out


def write_chunks(cur, chunks: list[tuple], samples_copy: bytes | None = None) -> None:
    """Copy in chunk rows, (session, entity, seq, t_start, t_end, samples, stats as JSON text, arrival or None),
    and their samples (``write_samples``): only of chunks not stored before, which analyze's duplicate check in
    the same transaction guarantees (a chunk stored meanwhile by another transaction fails the copy on the
    primary key, and with it the batch)."""
    if chunks:
        text = "".join(f"{s}\t{e}\t{q}\t{a!r}\t{b!r}\t{n}\t{_copy_text(j)}\t{_NULL if t is None else t}\n"
                       for s, e, q, a, b, n, j, t in chunks)
        cur.copy_expert("COPY telemetry_chunks (session_id, entity_id, seq, t_start, t_end, n_samples, stats, "
                        "arrived_at) FROM STDIN", io.StringIO(text), size=1 << 20)
    if samples_copy is not None:
        write_samples(cur, samples_copy)


def write_states(cur, states: list[tuple]) -> None:
    """Store detector states, (session, entity, state version, last seq, state), replacing those before."""
    if states:
        execute_values(
            cur,
            "INSERT INTO processing_checkpoints (session_id, entity_id, state_version, last_seq, state) VALUES %s "
            "ON CONFLICT (session_id, entity_id) DO UPDATE SET state_version = EXCLUDED.state_version, "
            "last_seq = GREATEST(processing_checkpoints.last_seq, EXCLUDED.last_seq), state = EXCLUDED.state, "
            "updated_at = now()",
            [(s, e, v, q, Json(st)) for s, e, v, q, st in states], page_size=len(states),
        )


_NULL = "\\N"  # NULL in COPY's text format


def _copy_text(value: str) -> str:
    """A value for COPY's text format (session and entity ids need none: ``contract.check_id``)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def write_rejections(cur, records: list[tuple]) -> None:
    """Record refused stream records (record id, partition key, error, arrival); a re-delivery counts."""
    if records:
        execute_values(
            cur, "INSERT INTO rejected_records (record_id, partition_key, error, arrived_at) VALUES %s "
                 "ON CONFLICT (record_id) DO UPDATE SET error = EXCLUDED.error, last_seen = now(), "
                 "deliveries = rejected_records.deliveries + 1", records)
