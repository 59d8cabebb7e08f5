"""Sources turn something outside into the telemetry contract (see ``apexflow.pipeline.ingest.Source``)."""
from __future__ import annotations

from apexflow.errors import ContractError


def from_spec(spec: dict):
    """A source from a request such as ``{"source": "synthetic", "seed": 7, "laps": 6}``."""
    kind = spec.get("source")
    if kind == "synthetic":
        from apexflow.simulator import SyntheticRace

        return SyntheticRace(seed=int(spec.get("seed", 7)), laps=int(spec.get("laps", 6)))
    if kind == "fastf1":
        from apexflow.sources.fastf1 import FastF1Source

        for key in ("year", "event", "session"):
            if spec.get(key) in (None, ""):
                raise ContractError(f"a fastf1 request needs 'year', 'event' and 'session'; {key!r} is missing")
        return FastF1Source(int(spec["year"]), spec["event"], spec["session"],
                            telemetry=bool(spec.get("telemetry", True)))
    if kind in ("csv", "jsonl"):
        from apexflow.sources.csv_source import FileSource

        for key in ("path", "entity_col", "time_col"):
            if not spec.get(key):
                raise ContractError(f"a {kind} request needs 'path', 'entity_col' and 'time_col'; {key!r} is missing")
        return FileSource(spec["path"], entity_col=spec["entity_col"], time_col=spec["time_col"],
                          fmt=kind if kind == "jsonl" else spec.get("format"), session_id=spec.get("session_id"),
                          start_time=spec.get("start_time"), channels=spec.get("channels"),
                          units=spec.get("units"), profile=spec.get("profile") or "auto", mapping=spec.get("map"))
    raise ContractError(f"unknown source {kind!r}; known sources: synthetic, fastf1, csv, jsonl")
