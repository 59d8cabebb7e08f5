"""F1 sessions through FastF1's own loading code -> the telemetry contract.

``FastF1Source(year, event, session)`` loads one session (laps, car data, position data,
weather, track status, race-control messages, results) and presents it as an
``apexflow.ingest.Source``:

- ``session_id``: ``f1-{year}-{event name}-{session code}``, e.g. ``f1-2025-miami-grand-prix-s``.
- entities: one per driver, ``entity_id`` = the driver's abbreviation (``VER``); the car
  number where FastF1 has no driver list (some 2020 sessions).
- time: every ``t`` is FastF1's *session time* (``Time``, ``SessionTime``, ``LapStartTime``...)
  in seconds. ``start_time`` is the UTC instant of session time 0: ``Session.t0_date`` when
  FastF1 could compute it (it needs car data), else the scheduled session start (UTC) minus
  ``Session.session_start_time`` (the session time at which the session status went to
  "Started"). ``Session.meta["time_basis"]`` says which one was used.
- facts: laps with every FastF1 lap column, track status, race-control messages, results
  and weather, all keyed by FastF1's column names, times as float seconds (``None`` for NaT).
- missing streams (no car data, no weather, no messages...) do not stop ingestion: they are
  listed in ``facts.missing`` with FastF1's own reason, and go into the session manifest.

Events are matched strictly (``find_event``); FastF1's fuzzy matching is never used, so a
typo is an error that lists the season's events, not a different race.

Caches: ``configure_cache`` is the only place that touches FastF1's cache set-up. The parsed
data cache lives in ``FASTF1_CACHE`` (default ``<system temp>/fastf1``, i.e. ``/tmp/fastf1`` in
Lambda), created if absent. ``FASTF1_HTTP_CACHE`` (or ``http_cache=``) points at a frozen folder
of HTTP responses in ``requests-cache`` file format; when set, FastF1 runs offline from it.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from apexflow.contract import F1_CHANNELS, ContractError, Entity, Session, SessionFacts

SOURCE = "fastf1"

# Session names FastF1 uses, with the short codes accepted on the command line.
SESSION_CODES = {
    "Practice 1": "FP1", "Practice 2": "FP2", "Practice 3": "FP3", "Qualifying": "Q",
    "Sprint": "S", "Sprint Shootout": "SS", "Sprint Qualifying": "SQ", "Race": "R",
}
CAR_CHANNELS = ("Speed", "RPM", "nGear", "Throttle", "Brake", "DRS", "Distance", "LapNumber")
POS_CHANNELS = ("X", "Y", "Z")

_configured: tuple | None = None


# --------------------------------------------------------------------------- caches

def default_cache_dir() -> Path:
    return Path(os.environ.get("FASTF1_CACHE") or Path(tempfile.gettempdir()) / "fastf1")


def configure_cache(cache_dir: str | os.PathLike | None = None,
                    http_cache: str | os.PathLike | None = None) -> Path:
    """Point FastF1 at its parsed-data cache (created if absent) and, optionally, a frozen HTTP cache.

    With ``http_cache`` (or ``FASTF1_HTTP_CACHE``) FastF1 reads HTTP responses only from that
    folder and never goes to the network. This is the single use of FastF1's private
    ``Cache.configure(_backend=...)`` argument in the project (see tests/test_fastf1_source.py).
    """
    global _configured
    from fastf1.req import Cache

    path = Path(cache_dir) if cache_dir else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    http_cache = http_cache or os.environ.get("FASTF1_HTTP_CACHE") or None
    key = (str(path.resolve()), str(http_cache) if http_cache else None)
    if key == _configured:
        return path
    if http_cache:
        from requests_cache import FileCache

        if not Path(http_cache).is_dir():
            raise ContractError(f"FastF1 HTTP cache folder {http_cache} does not exist")
        Cache.configure(cache_dir=str(path), _backend=FileCache(str(http_cache)))
        Cache.offline_mode(True)
    else:
        Cache.configure(cache_dir=str(path))
        Cache.offline_mode(False)
    _configured = key
    return path


# --------------------------------------------------------------------------- event / session lookup

def _words(text) -> list[str]:
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", text.lower())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def match_event(events: list[dict], query: str | int, year: int | None = None) -> dict:
    """The one event ``query`` names, strictly; ``ContractError`` listing the events otherwise.

    ``events`` are schedule rows with ``RoundNumber``, ``EventName``, ``Location``, ``Country``.
    Rules, first that yields exactly one event wins (case and accents ignored, whole words only):

    1. a round number (``6``);
    2. the full event name (``Miami Grand Prix``);
    3. whole words of the event name (``Miami``, ``70th Anniversary``, ``British``);
    4. whole words of the location (``Monza``, ``Mexico City``);
    5. the country (``Italy``); where a country has several events, the one whose name starts
       like the country (``Italy`` -> ``Italian Grand Prix``, ``Spain`` -> ``Spanish``) if exactly one does.

    Several events at one rule is an ambiguity error, never a guess.
    """
    where = f" in {year}" if year else ""
    listing = "; ".join(f"{int(e['RoundNumber'])}: {e['EventName']} ({e['Location']}, {e['Country']})"
                        for e in events)
    q = str(query).strip()
    if not q:
        raise ContractError(f"no event given; events{where}: {listing}")
    if q.isdigit():
        found = [e for e in events if int(e["RoundNumber"]) == int(q)]
        if len(found) == 1:
            return found[0]
        raise ContractError(f"no single event with round {q}{where}; events: {listing}")
    words = _words(q)
    tiers = [
        [e for e in events if _words(e["EventName"]) == words],
        [e for e in events if _contains(_words(e["EventName"]), words)],
        [e for e in events if _contains(_words(e["Location"]), words)],
    ]
    for found in tiers:
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(e["EventName"] for e in found)
            raise ContractError(f"event {q!r} is ambiguous{where}: it matches {names}; use the full event name")
    found = [e for e in events if _words(e["Country"]) == words]
    if len(found) > 1:
        stem = "".join(words)
        named = [e for e in found if _common_prefix(stem, "".join(_words(e["EventName"])[:1])) >= 3]
        if len(named) == 1:
            return named[0]
        names = ", ".join(e["EventName"] for e in found)
        raise ContractError(f"event {q!r} is ambiguous{where}: {names} are all in {found[0]['Country']}; "
                            "use the event name")
    if found:
        return found[0]
    raise ContractError(f"no event matches {q!r}{where}; events: {listing}")


def event_sessions(event) -> list[str]:
    return [event[f"Session{i}"] for i in range(1, 6) if event.get(f"Session{i}")]


def match_session(event, query: str | int) -> str:
    """FastF1's session name for ``query`` (``S``, ``sprint``, ``FP1``, ``3``) or an error listing the event's."""
    sessions = event_sessions(event)
    listing = ", ".join(f"{s} ({SESSION_CODES.get(s, '?')})" for s in sessions)
    q = str(query).strip()
    name = None
    if q.isdigit() and 1 <= int(q) <= len(sessions):
        name = sessions[int(q) - 1]
    else:
        by_code = {code: s for s, code in SESSION_CODES.items()}
        name = next((s for s in SESSION_CODES if s.casefold() == q.casefold()), None) or by_code.get(q.upper())
        # FastF1 renamed 2021-2022 "Sprint Qualifying" to "Sprint"; accept the old name there
        if name == "Sprint Qualifying" and "Sprint Qualifying" not in sessions and "Sprint" in sessions \
                and int(event.get("year", 0) or 0) in (2021, 2022):
            name = "Sprint"
    if name not in sessions:
        raise ContractError(f"{event['EventName']} has no session {q!r}; its sessions: {listing}")
    return name


def schedule(year: int, cache_dir=None, http_cache=None) -> list[dict]:
    """FastF1's event schedule of ``year`` as plain rows (see ``apexflow.schedule``)."""
    import fastf1

    configure_cache(cache_dir, http_cache)
    df = fastf1.get_event_schedule(int(year))
    rows = []
    for _, e in df.iterrows():
        if str(e["EventFormat"]) == "testing":
            continue
        row = {"year": int(year), "RoundNumber": int(e["RoundNumber"]), "EventName": str(e["EventName"]),
               "Location": str(e["Location"]), "Country": str(e["Country"]),
               "EventFormat": str(e["EventFormat"])}
        for i in range(1, 6):
            name = e.get(f"Session{i}")
            date = e.get(f"Session{i}DateUtc")
            row[f"Session{i}"] = str(name) if isinstance(name, str) and name else ""
            row[f"Session{i}DateUtc"] = (None if date is None or _isna(date)
                                         else date.to_pydatetime().replace(tzinfo=timezone.utc))
        rows.append(row)
    return rows


def slug(text: str) -> str:
    return "-".join(_words(text))


def session_id_of(year: int, event_name: str, session_name: str) -> str:
    code = SESSION_CODES.get(session_name) or slug(session_name)
    return f"f1-{int(year)}-{slug(event_name)}-{code.lower()}"


# --------------------------------------------------------------------------- value conversion

def _isna(v) -> bool:
    try:
        import pandas as pd

        r = pd.isna(v)
        return bool(r) if np.ndim(r) == 0 else False
    except (TypeError, ValueError):
        return False


def py(v):
    """A JSON-safe Python scalar from a pandas/numpy value: timedeltas as seconds, NaN/NaT as None."""
    import pandas as pd

    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (pd.Timedelta, np.timedelta64, timedelta)):
        return None if _isna(v) else pd.Timedelta(v).total_seconds()
    if isinstance(v, (pd.Timestamp, np.datetime64, datetime)):
        if _isna(v):
            return None
        ts = pd.Timestamp(v)
        return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if _isna(v):
        return None
    return str(v)


_INT_COLUMNS = {"LapNumber", "Stint", "Position", "GridPosition", "Lap", "Laps"}


def rows_of(df, entity_of: dict | None = None, driver_col: str = "DriverNumber") -> list[dict]:
    """DataFrame -> rows of JSON-safe scalars; ``Driver`` set to the entity id when ``entity_of`` is given."""
    out = []
    for rec in df.to_dict("records"):
        row = {str(k): py(v) for k, v in rec.items()}
        for k in _INT_COLUMNS & row.keys():
            if isinstance(row[k], float) and row[k].is_integer():
                row[k] = int(row[k])
        if entity_of is not None:
            row["Driver"] = entity_of.get(str(row.get(driver_col)), row.get("Driver"))
        out.append(row)
    return out


def _seconds(series) -> np.ndarray:
    return series.dt.total_seconds().to_numpy(dtype=np.float64)


def lap_starts(laps) -> tuple[np.ndarray, np.ndarray]:
    """(lap start session seconds, lap numbers) of one driver's laps, sorted; laps without a start are skipped."""
    start = laps["LapStartTime"]
    fallback = laps["Time"] - laps["LapTime"]
    start = start.where(start.notna(), fallback)
    s = _seconds(start)
    n = laps["LapNumber"].to_numpy(dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(n)
    order = np.argsort(s[ok], kind="stable")
    return s[ok][order], n[ok][order]


def car_samples(car, pos=None, laps=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One driver's FastF1 car data (+ position data, + laps) -> (t, channels) on the car-data clock.

    ``t`` is ``SessionTime`` in seconds, strictly increasing (duplicates dropped). Brake and DRS
    become 0/1 (DRS codes 10, 12 and 14 mean the flap is open). X/Y/Z are interpolated from the
    position stream onto the car-data timestamps. ``Distance`` is integrated from speed and
    restarts at every lap start; ``LapNumber`` is the lap in progress (0 before the first).
    """
    t = _seconds(car["SessionTime"])
    cols = {"Speed": car["Speed"], "RPM": car["RPM"], "nGear": car["nGear"], "Throttle": car["Throttle"],
            "Brake": car["Brake"].astype(float), "DRS": (car["DRS"].astype(float) >= 10).astype(float)}
    values = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    ok = np.isfinite(t)
    for v in values.values():
        ok &= np.isfinite(v)
    t = t[ok]
    values = {k: v[ok] for k, v in values.items()}
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    t = t[keep]
    values = {k: v[order][keep] for k, v in values.items()}
    if pos is not None and len(pos):
        pt = _seconds(pos["SessionTime"])
        p_order = np.argsort(pt, kind="stable")
        for name in POS_CHANNELS:
            pv = pos[name].to_numpy(dtype=np.float64)[p_order]
            good = np.isfinite(pt[p_order]) & np.isfinite(pv)
            if good.any():
                values[name] = np.interp(t, pt[p_order][good], pv[good])
    starts, numbers = (lap_starts(laps) if laps is not None and len(laps) else (np.zeros(0), np.zeros(0)))
    idx = np.searchsorted(starts, t, side="right") - 1  # lap in progress, -1 before the first
    values["LapNumber"] = np.where(idx >= 0, numbers[np.clip(idx, 0, None)] if len(numbers) else 0, 0)
    step = np.diff(t, prepend=t[0] if len(t) else 0.0) * values["Speed"] / 3.6
    total = np.cumsum(step)
    if len(starts) and len(t):
        first = np.searchsorted(t, starts)  # first sample of each lap
        before = total[np.clip(first, 0, len(t) - 1)]  # distance at the lap's first sample
        values["Distance"] = np.where(idx >= 0, total - before[np.clip(idx, 0, None)], total)
    else:
        values["Distance"] = total
    return t, values


# --------------------------------------------------------------------------- the source

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


_REASON_WORDS = {
    "car_data": ("CarData", "Car telemetry", "telemetry"),
    "position_data": ("Position", "position data", "telemetry"),
    "weather": ("Weather", "weather"),
    "race_control_messages": ("RaceControlMessages", "race control"),
    "track_status": ("TrackStatus", "track status"),
    "laps": ("TimingData", "TimingAppData", "timing data", "lap"),
    "session_info": ("SessionInfo", "session info"),
    "results": ("DriverList", "result", "driver list"),
}


class FastF1Source:
    """One F1 session as a telemetry source. Nothing is loaded until first use."""

    def __init__(self, year: int, event: str | int, session: str | int, *,
                 cache_dir: str | os.PathLike | None = None, http_cache: str | os.PathLike | None = None,
                 telemetry: bool = True):
        self.year, self.event_query, self.session_query = int(year), event, session
        self.cache_dir, self.http_cache, self.telemetry = cache_dir, http_cache, telemetry
        self._ff1 = None
        self._session: Session | None = None
        self._facts: SessionFacts | None = None
        self._entity_of: dict[str, str] = {}

    # -- loading
    def resolve(self):
        """(FastF1 Event, session name), strictly matched; raises ``ContractError`` listing what exists."""
        import fastf1

        configure_cache(self.cache_dir, self.http_cache)
        try:
            sched = fastf1.get_event_schedule(self.year)  # with testing: the frozen cache has that request
            sched = sched[sched["EventFormat"] != "testing"]
        except Exception as e:  # noqa: BLE001 - FastF1 raises plain ValueError/HTTP errors here
            raise ContractError(f"cannot load the {self.year} F1 schedule: {e}") from None
        if not len(sched):
            raise ContractError(f"FastF1 has no F1 schedule for {self.year}")
        rows = [{"RoundNumber": int(r["RoundNumber"]), "EventName": r["EventName"], "Location": r["Location"],
                 "Country": r["Country"], "_idx": i} for i, (_, r) in enumerate(sched.iterrows())]
        row = match_event(rows, self.event_query, self.year)
        event = sched.iloc[row["_idx"]]
        info = {**{f"Session{i}": event.get(f"Session{i}") for i in range(1, 6)},
                "EventName": event["EventName"], "year": self.year}
        return event, match_session(info, self.session_query)

    def load(self):
        if self._ff1 is not None:
            return self._ff1
        event, name = self.resolve()
        ff1 = event.get_session(name)
        capture = _Capture()
        root = logging.getLogger("fastf1")
        level = root.level
        root.addHandler(capture)
        if root.getEffectiveLevel() > logging.WARNING:  # the reasons for missing streams are warnings
            root.setLevel(logging.WARNING)
        try:
            ff1.load(laps=True, telemetry=self.telemetry, weather=True, messages=True)
        finally:
            root.removeHandler(capture)
            root.setLevel(level)
        self._ff1, self._log = ff1, capture.messages
        self._build(event, name)
        return ff1

    def _why(self, stream: str, fallback: str) -> str:
        words = _REASON_WORDS.get(stream, ())
        said = []
        for m in self._log:
            if any(w in m for w in words) and m not in said:
                said.append(m)
        detail = " / ".join(said[:4])
        return f"{fallback}; FastF1: {detail}" if detail else fallback

    @staticmethod
    def _get(ff1, attr):
        try:
            return getattr(ff1, attr)
        except Exception:  # noqa: BLE001 - DataNotLoadedError and friends: the stream is absent
            return None

    def _build(self, event, name: str) -> None:
        ff1 = self._ff1
        missing: dict[str, str] = {}
        results = self._get(ff1, "results")
        numbers = [str(d) for d in (ff1.drivers or [])]
        entities, entity_of = [], {}
        for num in numbers:
            r = results.loc[num] if results is not None and num in results.index else None
            abbr = str(r["Abbreviation"]).strip() if r is not None and isinstance(r["Abbreviation"], str) else ""
            eid = abbr or num
            entity_of[num] = eid
            entities.append(Entity(eid, name=(str(r["FullName"]) if r is not None and py(r["FullName"]) else ""),
                                   team=(str(r["TeamName"]) if r is not None and py(r["TeamName"]) else ""),
                                   meta={"driver_number": num}))
        if numbers and not any(entity_of[n] != n for n in numbers):
            missing["driver_info"] = self._why("results", "no driver list: entities are car numbers")
        self._entity_of = entity_of

        laps = self._get(ff1, "laps")
        if laps is None:
            missing["laps"] = self._why("laps", "no lap timing data")
            lap_rows = []
        else:
            lap_rows = rows_of(laps, entity_of)
        info = self._get(ff1, "session_info")
        if info is None:
            missing["session_info"] = self._why("session_info", "no session info")

        car = self._get(ff1, "car_data") or {}
        pos = self._get(ff1, "pos_data") or {}
        if not self.telemetry:
            missing["car_data"] = missing["position_data"] = "not requested (telemetry=False)"
        else:
            for stream, have in (("car_data", car), ("position_data", pos)):
                if not have:
                    missing[stream] = self._why(stream, "not available for this session")
                elif set(numbers) - set(have):
                    lacking = sorted(entity_of[n] for n in set(numbers) - set(have))
                    missing[stream] = f"not available for {', '.join(lacking)}"
        self._car, self._pos, self._laps_df = car, pos, laps

        # time basis: UTC instant of FastF1 session time 0
        t0 = self._get(ff1, "t0_date")
        start_offset = self._get(ff1, "session_start_time")
        scheduled = ff1.date
        if t0 is not None and not _isna(t0):
            basis, start = "t0_date", t0
        elif start_offset is not None and not _isna(start_offset) and not _isna(scheduled):
            basis, start = "scheduled start minus session_start_time", scheduled - start_offset
        elif not _isna(scheduled):
            basis, start = "scheduled start", scheduled
        else:
            raise ContractError(f"{event['EventName']} {name} {self.year}: FastF1 knows no start time")
        import pandas as pd

        start = pd.Timestamp(start)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        start_dt = start.to_pydatetime()

        track = self._get(ff1, "track_status")
        if track is None or not len(track):
            missing["track_status"] = self._why("track_status", "no track status data")
            track_rows = []
        else:
            track_rows = [{"Time": py(r["Time"]), "Status": str(r["Status"]), "Message": str(r["Message"] or "")}
                          for r in track.to_dict("records")]
        rcm = self._get(ff1, "race_control_messages")
        rcm_rows = []
        if rcm is None:
            missing["race_control_messages"] = self._why("race_control_messages", "no race-control messages")
        else:
            for r in rows_of(rcm):
                stamp = r.get("Time")
                r["Date"] = stamp
                r["Time"] = ((pd.Timestamp(stamp) - start).total_seconds() if stamp else None)
                rcm_rows.append(r)
        weather = self._get(ff1, "weather_data")
        if weather is None or not len(weather):
            missing["weather"] = self._why("weather", "no weather data")
            weather_rows = []
        else:
            weather_rows = rows_of(weather)
        result_rows = rows_of(results, entity_of) if results is not None else []

        channels = []
        if car:
            channels += [c for c in F1_CHANNELS if c.name in CAR_CHANNELS]
        if pos and car:
            channels += [c for c in F1_CHANNELS if c.name in POS_CHANNELS]
        ident = {"year": self.year, "event": str(event["EventName"]), "session": name,
                 "round": int(event["RoundNumber"]), "location": str(event["Location"]),
                 "country": str(event["Country"]), "event_format": str(event["EventFormat"])}
        meta = {"time_basis": basis, "scheduled_start": py(scheduled),
                "session_start_time": py(start_offset), "fastf1_version": _fastf1_version()}
        self._session = Session(session_id_of(self.year, str(event["EventName"]), name), SOURCE, start_dt,
                                tuple(sorted(channels, key=lambda c: [x.name for x in F1_CHANNELS].index(c.name))),
                                tuple(entities), ident, meta)
        self._facts = SessionFacts(laps=lap_rows, track_status=track_rows, race_control_messages=rcm_rows,
                                   results=result_rows, weather=weather_rows, missing=missing)
        if not lap_rows and not car:
            raise ContractError(f"{self._session.session_id}: FastF1 loaded neither laps nor car data; "
                                f"missing: {missing}")

    # -- the Source protocol
    def session(self) -> Session:
        self.load()
        return self._session

    def facts(self) -> SessionFacts:
        self.load()
        return self._facts

    def samples(self) -> Iterator[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        self.load()
        declared = {c.name for c in self._session.channels}
        for num, eid in self._entity_of.items():
            car = self._car.get(num)
            if car is None or not len(car):
                continue
            laps = None
            if self._laps_df is not None:
                laps = self._laps_df[self._laps_df["DriverNumber"].astype(str) == num]
            t, values = car_samples(car, self._pos.get(num), laps)
            if len(t):
                yield eid, t, {k: v for k, v in values.items() if k in declared}


def _fastf1_version() -> str:
    import fastf1

    return fastf1.__version__
