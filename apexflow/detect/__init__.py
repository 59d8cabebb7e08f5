"""Streaming detectors. Each is ``run(chunk, state, ctx) -> [Detection]`` with JSON state kept per entity."""
from apexflow.detect import dropout, frozen, incident

DETECTORS = {m.NAME: m.run for m in (incident, frozen, dropout)}
STATE_VERSION = 1  # bump when any detector's state layout changes; old state is then discarded
