"""Streaming detectors. Each is ``run(chunk, state, ctx) -> [Detection]`` with JSON state kept per entity.

Two sets:

- ``DETECTORS``: the car set, for sessions of the ``motorsport`` profile (F1 sessions, synthetic
  races, car telemetry files ingested with ``--profile motorsport``): the F1 telemetry detectors
  plus the generic detectors that add value there without flooding it (physical out-of-range
  values; dropouts are the ``dropout`` detector). The generic novelty score is not in it: the car
  detectors say in racing terms what it would only flag less precisely.
- ``GENERIC``: the domain-free set (novelty, stuck, gaps, out-of-range) for sessions of the
  ``generic`` profile, and for ``apexflow detect FILE``.

``detectors_for(profile)`` picks one by the session's profile (``contract.Session.profile``).
"""
from apexflow.detect import dropout, frozen, incident
from apexflow.detect.f1 import overlap, power
from apexflow.detect.generic import GENERIC, run_out_of_range

DETECTORS = {m.NAME: m.run for m in (incident, frozen, dropout, power, overlap)}
DETECTORS["out_of_range"] = run_out_of_range
STATE_VERSION = 6  # bump when any detector's state layout changes; old state is then discarded


def detectors_for(profile: str | None) -> dict:
    """The detector set of a session's profile: the car set for ``motorsport``, the generic set otherwise."""
    return DETECTORS if profile == "motorsport" else GENERIC


__all__ = ["DETECTORS", "GENERIC", "STATE_VERSION", "detectors_for"]
