"""Car telemetry samples as rows for the ``samples`` table, encoded for PostgreSQL's binary COPY.

Analyze writes every sample of a car-telemetry (``motorsport``) session's chunks in its batch's
transaction; generic telemetry stays in S3 and the chunk rows. The encoding is numpy throughout
(one structured array per chunk), so writing costs the copy, not Python.
"""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from apexflow.chunk import Chunk, join

# samples column -> (F1 channel, binary type): FastF1's names in lower case
COLUMNS = {
    "lap_number": ("LapNumber", ">i2"), "distance": ("Distance", ">f4"), "speed": ("Speed", ">f4"),
    "rpm": ("RPM", ">f4"), "n_gear": ("nGear", ">i2"), "throttle": ("Throttle", ">f4"), "brake": ("Brake", ">i2"),
    "drs": ("DRS", ">i2"), "x": ("X", ">f4"), "y": ("Y", ">f4"), "z": ("Z", ">f4"),
}
COPY_SQL = f"COPY samples (session_id, entity_id, time, {', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT binary)"
HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], ">i4").tobytes()
TRAILER = np.array([-1], ">i2").tobytes()
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's timestamps count microseconds from here


def copy_data(chunks: list[Chunk], starts: dict[str, datetime]) -> bytes:
    """The binary COPY stream (``COPY_SQL``) of these chunks' samples; ``starts`` holds each session's start.
    Each car's consecutive chunks are encoded as one."""
    cars: dict[tuple[str, str], list[Chunk]] = {}
    for c in chunks:
        cars.setdefault((c.session_id, c.entity_id), []).append(c)
    parts = [HEADER]
    for c in (joined for car in cars.values() for joined in join(car)):
        parts.append(_rows(c, int((starts[c.session_id] - _EPOCH).total_seconds() * 1_000_000)))
    parts.append(TRAILER)
    return b"".join(parts)


def _rows(c: Chunk, start_us: int) -> bytes:
    session, entity = c.session_id.encode(), c.entity_id.encode()
    fields = [("n", ">i2"), ("ls", ">i4"), ("s", f"S{len(session)}"), ("le", ">i4"), ("e", f"S{len(entity)}"),
              ("lt", ">i4"), ("t", ">i8")]
    for column, (channel, kind) in COLUMNS.items():
        fields.append((f"l_{column}", ">i4"))
        if channel in c.values:
            fields.append((column, kind))
    rows = np.empty(c.n, dtype=fields)
    rows["n"], rows["ls"], rows["s"] = 3 + len(COLUMNS), len(session), session
    rows["le"], rows["e"] = len(entity), entity
    rows["lt"], rows["t"] = 8, start_us + np.round(c.t * 1e6).astype(np.int64)
    for column, (channel, kind) in COLUMNS.items():
        present = channel in c.values
        rows[f"l_{column}"] = np.dtype(kind).itemsize if present else -1
        if present:
            values = c.values[channel]
            rows[column] = np.rint(values) if kind == ">i2" else values
    return rows.tobytes()
