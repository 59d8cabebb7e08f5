"""``FastF1Source``: one F1 session loaded by FastF1, presented as an ``apexflow.pipeline.ingest.Source``."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from apexflow.contract import F1_CHANNELS, Entity, Session, SessionFacts
from apexflow.errors import ContractError
from apexflow.sources.fastf1.cache import configure_cache
from apexflow.sources.fastf1.car_data import CAR_CHANNELS, POS_CHANNELS, car_samples
from apexflow.sources.fastf1.clock import session_zero
from apexflow.sources.fastf1.convert import py, rows_of
from apexflow.sources.fastf1.events import match_event, match_session, session_id_of

SOURCE = "fastf1"
FIRST_SEASON = 1950


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
        last = datetime.now(UTC).year + 1
        if not FIRST_SEASON <= self.year <= last:  # refused before FastF1 asks the network about it
            raise ContractError(f"year {self.year} has no F1 season: give a year from {FIRST_SEASON} to {last}")
        self.cache_dir, self.http_cache, self.telemetry = cache_dir, http_cache, telemetry
        self._ff1: Any = None  # the loaded FastF1 session (untyped)
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
            raise ContractError(f"cannot load the {self.year} F1 schedule: {e}", "year") from None
        if not len(sched):
            raise ContractError(f"FastF1 has no F1 schedule for {self.year}", "year")
        rows = [{"RoundNumber": int(r["RoundNumber"]), "EventName": r["EventName"], "Location": r["Location"],
                 "Country": r["Country"], "_idx": i} for i, (_, r) in enumerate(sched.iterrows())]
        row = match_event(rows, self.event_query, self.year)
        event = sched.iloc[row["_idx"]]
        info = {**{f"Session{i}": event.get(f"Session{i}") for i in range(1, 6)},
                "EventName": event["EventName"], "year": self.year}
        return event, match_session(info, self.session_query)

    def request(self) -> dict:
        """The session this request names, from the schedule alone: its id and FastF1's event and session names."""
        event, name = self.resolve()
        return {"session_id": session_id_of(self.year, str(event["EventName"]), name), "year": self.year,
                "event": str(event["EventName"]), "session": name}

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

        # time basis: UTC instant of FastF1 session time 0, from the session's own data (a delay is not shifted)
        start_offset = self._get(ff1, "session_start_time")
        scheduled = ff1.date
        basis, start = session_zero(ff1, self._get(ff1, "t0_date"), start_offset)
        if start is None:
            raise ContractError(f"{event['EventName']} {name} {self.year}: FastF1 knows no start time")
        import pandas as pd

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
        return self._built()[0]

    def facts(self) -> SessionFacts:
        return self._built()[1]

    def _built(self) -> tuple[Session, SessionFacts]:
        self.load()
        assert self._session is not None and self._facts is not None  # load() builds both or raises
        return self._session, self._facts

    def samples(self) -> Iterator[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        declared = {c.name for c in self.session().channels}
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
