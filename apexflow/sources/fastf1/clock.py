"""The session's own clock: the UTC instant of FastF1's session time zero, from the session's data, not its schedule.

A session that starts late (rain, a crash on the way to the grid, a red flag before the start) keeps its scheduled
date in FastF1's schedule, so ``scheduled start - session_start_time`` is early by the whole delay. The instant is
read instead, first that answers wins:

1. ``t0_date``: FastF1's own, from car or position samples (each stamped with both clocks);
2. the race-control stream: each message carries its UTC time and the stream its session time; the median of
   their differences (messages arrive within a second of being sent);
3. the schedule: the scheduled start minus ``session_start_time``, then the scheduled start (named as such, so a
   reader knows clock times may be early by a delay).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apexflow.sources.fastf1.convert import isna

if TYPE_CHECKING:
    import pandas as pd

_log = logging.getLogger(__name__)
SCHEDULE_BASES = ("scheduled start minus session_start_time", "scheduled start")


def session_zero(ff1, t0=None, start_offset=None) -> tuple[str, pd.Timestamp | None]:
    """(basis, UTC timestamp of session time zero); the timestamp is None when nothing knows it."""
    if t0 is not None and not isna(t0):
        return "t0_date", _utc(t0)
    from_messages = race_control_zero(ff1)
    if from_messages is not None:
        return "race-control messages", from_messages
    scheduled = ff1.date
    if isna(scheduled):
        return "none", None
    if start_offset is not None and not isna(start_offset):
        return SCHEDULE_BASES[0], _utc(scheduled) - start_offset
    return SCHEDULE_BASES[1], _utc(scheduled)


def race_control_zero(ff1) -> pd.Timestamp | None:
    """Session time zero from the race-control stream (UTC stamp minus stream time, median), or None."""
    import pandas as pd
    from fastf1 import _api  # the parsed messages drop the stream's session times; the raw stream keeps them

    try:
        stream = _api.fetch_page(ff1.api_path, "race_control_messages")
    except Exception as e:  # noqa: BLE001 - absent stream, offline cache without it: the next basis answers
        _log.info("no race-control stream for the session clock: %s", e)
        return None
    offsets = []
    for stamp, data in stream or ():
        messages = data.get("Messages", ()) if isinstance(data, dict) else ()
        for message in messages.values() if isinstance(messages, dict) else messages:
            if isinstance(message, dict) and message.get("Utc"):
                offsets.append(_utc(message["Utc"]) - pd.Timedelta(stamp))
    if not offsets:
        return None
    return pd.Series(offsets).median().round("ms")


def _utc(stamp) -> pd.Timestamp:
    import pandas as pd

    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
