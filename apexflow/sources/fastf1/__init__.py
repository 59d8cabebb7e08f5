"""F1 sessions through FastF1's own loading code -> the telemetry contract.

``FastF1Source(year, event, session)`` (``source.py``) loads one session (laps, car data, position
data, weather, track status, race-control messages, results) and presents it as an
``apexflow.pipeline.ingest.Source``:

- ``session_id``: ``f1-{year}-{event name}-{session code}``, e.g. ``f1-2025-miami-grand-prix-s``.
- entities: one per driver, ``entity_id`` = the driver's abbreviation (``VER``); the car
  number where FastF1 has no driver list (some 2020 sessions).
- time: every ``t`` is FastF1's *session time* (``Time``, ``SessionTime``, ``LapStartTime``...)
  in seconds. ``start_time`` is the UTC instant of session time 0: ``Session.t0_date`` when
  FastF1 could compute it (it needs car data), else the scheduled session start (UTC) minus
  ``Session.session_start_time`` (the session time at which the session status went to
  "Started"). ``Session.meta["time_basis"]`` says which one was used.
- facts: laps with every FastF1 lap column, track status, race-control messages, results
  and weather, all keyed by FastF1's column names, times as float seconds (``None`` for NaT)
  (``convert.py``).
- missing streams (no car data, no weather, no messages...) do not stop ingestion: they are
  listed in ``facts.missing`` with FastF1's own reason, and go into the session manifest.

The rest, by concern: ``cache.py`` (the only place that touches FastF1's cache set-up),
``events.py`` (strict event and session matching, the schedule), ``car_data.py`` (car and
position data -> samples).
"""
from apexflow.sources.fastf1.cache import configure_cache, default_cache_dir
from apexflow.sources.fastf1.car_data import car_samples
from apexflow.sources.fastf1.events import match_event, match_session, schedule, session_id_of
from apexflow.sources.fastf1.source import FastF1Source

__all__ = ["FastF1Source", "car_samples", "configure_cache", "default_cache_dir", "match_event", "match_session",
           "schedule", "session_id_of"]
