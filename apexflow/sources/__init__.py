"""Sources turn something outside into the telemetry contract (see ``apexflow.ingest.Source``)."""
from __future__ import annotations

from apexflow.contract import ContractError


def from_spec(spec: dict):
    """A source from a request such as ``{"source": "synthetic", "seed": 7, "laps": 6}``."""
    kind = spec.get("source")
    if kind == "synthetic":
        from apexflow.simulator import SyntheticRace

        return SyntheticRace(seed=int(spec.get("seed", 7)), laps=int(spec.get("laps", 6)))
    raise ContractError(f"unknown source {kind!r}; known sources: synthetic")
