"""Deterministic synthetic F1 race with injected, known anomalies."""
from apexflow.simulator.race import SyntheticRace

__all__ = ["SyntheticRace"]
