"""Streaming detectors. Each is ``run(chunk, state, ctx) -> [Detection]`` with JSON state kept per entity.

Two sets:

- ``DETECTORS``: the set the analyze path runs on F1 sessions (sources ``synthetic`` and
  ``fastf1``): the F1 telemetry detectors plus the generic detectors that add value there
  without flooding it (physical out-of-range values; dropouts are the ``dropout`` detector).
  Spikes, level shifts and change points are not in it: a racing car's speed *is* a
  sequence of level shifts, a detector tuned for any telemetry flags every braking zone.
- ``GENERIC``: the domain-free set (deviation, stuck, gaps, out-of-range) for any other
  source, and for ``apexflow detect FILE``.

``detectors_for(source)`` picks one by the session's source.
"""
from apexflow.detect import dropout, frozen, incident
from apexflow.detect.f1 import overlap, power
from apexflow.detect.generic import GENERIC, run_out_of_range

F1_SOURCES = frozenset({"synthetic", "fastf1"})

DETECTORS = {m.NAME: m.run for m in (incident, frozen, dropout, power, overlap)}
DETECTORS["out_of_range"] = run_out_of_range
STATE_VERSION = 6  # bump when any detector's state layout changes; old state is then discarded


def detectors_for(source: str | None) -> dict:
    """The detector set for a session of this source (F1 set for F1 sources, generic otherwise)."""
    return DETECTORS if source in F1_SOURCES else GENERIC


__all__ = ["DETECTORS", "GENERIC", "STATE_VERSION", "detectors_for"]
