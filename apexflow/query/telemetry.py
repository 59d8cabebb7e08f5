"""Telemetry of one driver: which raw chunks cover a lap or time window, and their samples thinned to a budget.

The database knows each chunk's time span (``telemetry_chunks``); the samples themselves stay in the raw
store, which the caller reads (``Plan.keys``) and hands back decoded to ``samples``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from apexflow.chunk import Chunk, chunk_key
from apexflow.errors import NotFound, QueryError
from apexflow.query.sessions import driver as require_driver

if TYPE_CHECKING:
    from apexflow.chunk import Chunk

DEFAULT_POINTS, MAX_POINTS = 1000, 10_000
MAX_CHUNKS = 1200  # about 3 h of one car at 10 s a chunk: a race with its red flags


class Channel(BaseModel):
    name: str
    unit: str


class Telemetry(BaseModel):
    driver: str
    t_from: float | None
    t_to: float | None
    samples: int  # in the window, before thinning
    channels: list[Channel]
    t: list[float]
    values: dict[str, list[float | None]]  # None where a chunk did not carry the channel


@dataclass(frozen=True)
class Plan:
    source: str
    driver: str
    t_from: float | None
    t_to: float | None
    channels: list[dict]
    keys: list[str]


def plan(cur, session_id: str, driver: str, *, lap: int | None = None, t_from: float | None = None,
         t_to: float | None = None, channels: list[str] | None = None) -> Plan:
    """What to read for one driver's lap (or time window) and channels; errors name the parameter at fault."""

    require_driver(cur, session_id, driver)
    if lap is not None:
        if t_from is not None or t_to is not None:
            raise QueryError("lap", "give lap or t_from/t_to, not both")
        t_from, t_to = _lap_window(cur, session_id, driver, lap)
    if t_from is not None and t_to is not None and t_from > t_to:
        raise QueryError("t_to", f"t_to={t_to} is before t_from={t_from}")
    cur.execute("SELECT source, channels FROM sessions WHERE session_id = %s", (session_id,))
    source, declared = cur.fetchone()
    chosen = declared
    if channels:
        known = {c["name"]: c for c in declared}
        unknown = [c for c in channels if c not in known]
        if unknown:
            raise QueryError("channels", f"no channel {', '.join(unknown)} in this session; its channels: "
                                         f"{', '.join(known)}")
        chosen = [known[c] for c in dict.fromkeys(channels)]
    cur.execute("SELECT seq FROM telemetry_chunks WHERE session_id = %s AND entity_id = %s "
                "AND (%s::float8 IS NULL OR t_end >= %s) AND (%s::float8 IS NULL OR t_start <= %s) ORDER BY seq",
                (session_id, driver, t_from, t_from, t_to, t_to))
    seqs = [seq for (seq,) in cur.fetchall()]
    if len(seqs) > MAX_CHUNKS:
        raise QueryError("t_from", f"the window spans {len(seqs)} chunks (at most {MAX_CHUNKS}); "
                                   "narrow it with lap or t_from/t_to")
    return Plan(source, driver, t_from, t_to, [{"name": c["name"], "unit": c["unit"]} for c in chosen],
                [chunk_key(driver, s) for s in seqs])


def _lap_window(cur, session_id: str, driver: str, lap: int) -> tuple[float, float]:
    cur.execute("SELECT lap_start, lap_start + lap_time FROM laps WHERE session_id = %s AND entity_id = %s "
                "AND lap_number = %s", (session_id, driver, lap))
    found = cur.fetchone()
    if found is None or None in found:
        raise NotFound("lap", f"{driver} has no timed lap {lap} in session {session_id!r}")
    return found


def samples(plan: Plan, chunks: list[Chunk], points: int = DEFAULT_POINTS) -> dict:
    """The window's samples of the plan's channels, thinned to ``points`` evenly spaced ones (first and last kept)."""
    import numpy as np

    chunks = sorted(chunks, key=lambda c: c.seq)
    names = [c["name"] for c in plan.channels]
    t = np.concatenate([c.t for c in chunks]) if chunks else np.empty(0)
    keep = np.ones(len(t), bool)
    if plan.t_from is not None:
        keep &= t >= plan.t_from
    if plan.t_to is not None:
        keep &= t <= plan.t_to
    n = int(keep.sum())
    index = np.flatnonzero(keep)
    if n > points:
        index = index[np.unique(np.linspace(0, n - 1, points).round().astype(int))]
    values = {name: np.concatenate([c.values[name] if name in c.values else np.full(c.n, np.nan, np.float32)
                                    for c in chunks])[index] if chunks else np.empty(0) for name in names}
    return {"driver": plan.driver, "t_from": plan.t_from, "t_to": plan.t_to, "samples": n,
            "channels": plan.channels, "t": np.round(t[index], 3).tolist(),
            "values": {k: [None if x != x else x for x in np.round(v.astype(np.float64), 3).tolist()]
                       for k, v in values.items()}}


def rows(body: dict) -> list[dict]:
    """A telemetry answer as one row per sample: ``t`` and each channel."""
    columns = body["values"]
    return [{"t": t, **{name: values[i] for name, values in columns.items()}} for i, t in enumerate(body["t"])]
