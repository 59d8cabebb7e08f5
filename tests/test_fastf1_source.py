"""The FastF1 adapter on real, frozen F1 timing (offline), plus its pure parts on hand-made data."""
from __future__ import annotations

import inspect
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from apexflow.contract import SCHEMA_VERSION
from apexflow.errors import ContractError
from apexflow.pipeline.ingest import ingest
from apexflow.sources import fastf1 as f1
from apexflow.sources import from_spec

# (year, event, session) -> (laps, pit-in laps, race-control messages or None), from the shared README
SHARED_SESSIONS = {
    (2019, "Italy", "Q"): (275, 92, 40),
    (2020, "Hungary", "FP2"): (109, 45, 13),
    (2020, "70th Anniversary", "FP2"): (535, 89, None),
    (2021, "Italy", "FP2"): (482, 90, 29),
    (2021, "Mexico", "Q"): (311, 97, 40),
    (2022, "Saudi Arabia", "Q"): (327, 91, None),
    (2022, "British", "FP1"): (80, 41, 19),
    (2023, "Azerbaijan", "Q"): (356, 101, 61),
    (2023, "Azerbaijan", "S"): (308, 5, None),
    (2023, "Azerbaijan", "SS"): (233, 41, 58),
    (2024, "Spain", "Q"): (257, 87, 19),
    (2024, "British", "FP1"): (459, 87, 20),
    (2024, "China", "SQ"): (218, 51, 62),
    (2025, "Miami", "S"): (331, 21, 107),
}


@pytest.fixture(scope="session")
def parsed_cache(tmp_path_factory):
    """One FastF1 parsed-data cache for the whole test run: each session is parsed once."""
    return tmp_path_factory.mktemp("fastf1-parsed")


@pytest.fixture
def offline(shared_cache, parsed_cache):
    f1.configure_cache(parsed_cache, shared_cache)
    return {"cache_dir": parsed_cache, "http_cache": shared_cache}


class Memory:
    """In-memory raw store, stream and registry, to run ``ingest`` without AWS or a database."""

    def __init__(self):
        self.runs, self.records, self.registered = {}, [], []

    def write_run(self, session, run_id, objects, manifest, record=None):
        self.runs[session.session_id] = (run_id, dict(objects), manifest)
        return f"memory://{session.session_id}/"

    def put(self, records):
        self.records += records

    def register(self, session, facts, run_id):
        self.registered.append((session.session_id, run_id, len(facts.laps)))
        return True


# --------------------------------------------------------------------------- FastF1 private API guard

def test_fastf1_cache_configure_still_takes_a_private_backend():
    """``configure_cache`` relies on ``Cache.configure(cache_dir=..., _backend=BaseCache)``; fail loudly if it moves."""
    from fastf1.req import Cache
    from requests_cache import BaseCache, FileCache

    params = inspect.signature(Cache.configure).parameters
    assert "_backend" in params and "cache_dir" in params, (
        f"FastF1 changed Cache.configure (now {inspect.signature(Cache.configure)}); "
        "update apexflow.sources.fastf1.cache.configure_cache")
    assert callable(getattr(Cache, "offline_mode", None)), "FastF1 dropped Cache.offline_mode"
    assert issubclass(FileCache, BaseCache)


def test_cache_dir_comes_from_the_environment_and_is_created(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "fastf1"
    monkeypatch.setenv("FASTF1_CACHE", str(target))
    monkeypatch.delenv("FASTF1_HTTP_CACHE", raising=False)
    assert f1.default_cache_dir() == target
    assert f1.configure_cache() == target and target.is_dir()


def test_missing_http_cache_folder_is_an_error(tmp_path):
    with pytest.raises(ContractError, match="does not exist"):
        f1.configure_cache(tmp_path / "c", tmp_path / "nowhere")


# --------------------------------------------------------------------------- strict matching

EVENTS_2021 = [
    {"RoundNumber": 2, "EventName": "Emilia Romagna Grand Prix", "Location": "Imola", "Country": "Italy"},
    {"RoundNumber": 14, "EventName": "Italian Grand Prix", "Location": "Monza", "Country": "Italy"},
    {"RoundNumber": 19, "EventName": "Mexico City Grand Prix", "Location": "Mexico City", "Country": "Mexico"},
    {"RoundNumber": 20, "EventName": "São Paulo Grand Prix", "Location": "São Paulo", "Country": "Brazil"},
    {"RoundNumber": 10, "EventName": "British Grand Prix", "Location": "Silverstone", "Country": "United Kingdom"},
    {"RoundNumber": 8, "EventName": "Styrian Grand Prix", "Location": "Spielberg", "Country": "Austria"},
    {"RoundNumber": 9, "EventName": "Austrian Grand Prix", "Location": "Spielberg", "Country": "Austria"},
]


@pytest.mark.parametrize("query, expected", [
    ("Italy", "Italian Grand Prix"), ("italian grand prix", "Italian Grand Prix"), ("Monza", "Italian Grand Prix"),
    ("Imola", "Emilia Romagna Grand Prix"), ("Mexico", "Mexico City Grand Prix"), ("sao paulo", "São Paulo Grand Prix"),
    ("British", "British Grand Prix"), ("Silverstone", "British Grand Prix"), ("14", "Italian Grand Prix"),
    ("Austria", "Austrian Grand Prix"), ("Styrian", "Styrian Grand Prix"),
])
def test_event_matching_is_strict_but_accepts_names_places_and_countries(query, expected):
    assert f1.match_event(EVENTS_2021, query, 2021)["EventName"] == expected


@pytest.mark.parametrize("query, message", [
    ("Atlantis", "no event matches 'Atlantis' in 2021; events: 2: Emilia Romagna"),
    ("Ital", "no event matches"),  # a prefix is not a word: no fuzzy guess
    ("Grand Prix", "ambiguous"), ("Spielberg", "ambiguous"), ("99", "no single event with round 99"),
])
def test_event_that_matches_nothing_or_several_is_an_error_listing_events(query, message):
    with pytest.raises(ContractError, match=message):
        f1.match_event(EVENTS_2021, query, 2021)


def test_session_matching_lists_the_event_sessions():
    sprint = {"EventName": "Miami Grand Prix", "year": 2025, "Session1": "Practice 1",
              "Session2": "Sprint Qualifying", "Session3": "Sprint", "Session4": "Qualifying", "Session5": "Race"}
    assert f1.match_session(sprint, "S") == "Sprint"
    assert f1.match_session(sprint, "sprint qualifying") == "Sprint Qualifying"
    assert f1.match_session(sprint, "5") == "Race"
    with pytest.raises(ContractError, match=r"no session 'FP2'; its sessions: Practice 1 \(FP1\), Sprint Qualifying"):
        f1.match_session(sprint, "FP2")
    old = {**sprint, "year": 2021, "Session2": "Qualifying", "Session3": "Practice 2", "Session4": "Sprint"}
    assert f1.match_session(old, "Sprint Qualifying") == "Sprint"  # FastF1's 2021-22 rename


def test_session_ids_are_lowercase_and_safe():
    assert f1.session_id_of(2025, "Miami Grand Prix", "Sprint") == "f1-2025-miami-grand-prix-s"
    assert f1.session_id_of(2024, "São Paulo Grand Prix", "Sprint Qualifying") == "f1-2024-sao-paulo-grand-prix-sq"


# --------------------------------------------------------------------------- car data -> samples

def _car(t, speed, drs=None):
    n = len(t)
    return pd.DataFrame({"SessionTime": pd.to_timedelta(t, unit="s"), "Speed": speed, "RPM": np.full(n, 11000.0),
                         "nGear": np.full(n, 7), "Throttle": np.full(n, 100.0), "Brake": np.zeros(n, bool),
                         "DRS": drs if drs is not None else np.full(n, 8)})


def test_car_samples_distance_laps_drs_position_and_duplicates():
    t = np.arange(0, 20, 0.25)
    t = np.insert(t, 5, t[5])  # a duplicated timestamp is dropped
    car = _car(t, np.full(len(t), 360.0), drs=np.where(t >= 15, 12, 8))
    pos = pd.DataFrame({"SessionTime": pd.to_timedelta([0.0, 20.0], unit="s"), "X": [0.0, 2000.0],
                        "Y": [10.0, 10.0], "Z": [1.0, 1.0]})
    laps = pd.DataFrame({"LapNumber": [1.0, 2.0], "LapStartTime": pd.to_timedelta([0.0, 10.0], unit="s"),
                         "Time": pd.to_timedelta([10.0, 20.0], unit="s"),
                         "LapTime": pd.to_timedelta([10.0, 10.0], unit="s")})
    ts, v = f1.car_samples(car, pos, laps)
    assert np.all(np.diff(ts) > 0) and len(ts) == 80
    at = {round(float(x), 2): i for i, x in enumerate(ts)}
    assert v["LapNumber"][at[9.75]] == 1 and v["LapNumber"][at[10.0]] == 2
    assert v["Distance"][at[9.75]] == pytest.approx(975.0)  # 100 m/s
    assert v["Distance"][at[10.0]] == pytest.approx(0.0) and v["Distance"][at[19.75]] == pytest.approx(975.0)
    assert v["DRS"][at[14.75]] == 0 and v["DRS"][at[15.0]] == 1
    assert v["X"][at[10.0]] == pytest.approx(100.0)  # 1/10 m -> m and v["Brake"].max() == 0


class _Stub:
    """Just enough of a loaded ``fastf1.core.Session`` for the adapter, with car data present."""

    def __init__(self):
        self.drivers = ["1", "44"]
        self.results = pd.DataFrame({"Abbreviation": ["VER", "HAM"], "FullName": ["Max Verstappen", "Lewis Hamilton"],
                                     "TeamName": ["Red Bull Racing", "Mercedes"], "DriverNumber": ["1", "44"],
                                     "Position": [1.0, 2.0]}, index=["1", "44"])
        lap = {"Driver": ["VER", "HAM"], "DriverNumber": ["1", "44"], "LapNumber": [1.0, 1.0],
               "LapStartTime": pd.to_timedelta([0, 0], unit="s"), "Time": pd.to_timedelta([90, 91], unit="s"),
               "LapTime": pd.to_timedelta([90, 91], unit="s"), "PitInTime": pd.to_timedelta([np.nan, 80], unit="s"),
               "Deleted": [False, True], "TrackStatus": ["1", "12"]}
        self.laps = pd.DataFrame(lap)
        t = np.arange(0, 60, 0.27)
        self.car_data = {"1": _car(t, np.full(len(t), 200.0)), "44": _car(t + 0.1, np.full(len(t), 210.0))}
        self.pos_data = {"1": pd.DataFrame({"SessionTime": pd.to_timedelta([0, 60], unit="s"), "X": [0.0, 1.0],
                                            "Y": [0.0, 1.0], "Z": [0.0, 0.0]})}
        self.t0_date = pd.Timestamp("2025-05-03 14:49:00")
        self.session_start_time = pd.Timedelta(seconds=600)
        self.date = pd.Timestamp("2025-05-03 15:00:00")
        self.track_status = pd.DataFrame({"Time": pd.to_timedelta([0.0], unit="s"), "Status": ["1"],
                                          "Message": ["AllClear"]})
        self.race_control_messages = pd.DataFrame({"Time": [pd.Timestamp("2025-05-03 14:50:00")],
                                                   "Message": ["GREEN LIGHT"], "Sector": [np.nan]})
        self.session_info = {"Meeting": {}}

    @property
    def weather_data(self):
        raise RuntimeError("not loaded")


EVENT_ROW = {"EventName": "Miami Grand Prix", "RoundNumber": 6, "Location": "Miami Gardens",
             "Country": "United States", "EventFormat": "sprint_qualifying"}


def _stub_source():
    src = f1.FastF1Source(2025, "Miami", "S")
    src._ff1, src._log = _Stub(), ["Failed to load weather data!"]
    src._build(EVENT_ROW, "Sprint")
    return src


def test_loaded_session_with_car_data_becomes_chunks():
    src = _stub_source()
    s, facts = src.session(), src.facts()
    assert s.session_id == "f1-2025-miami-grand-prix-s" and s.meta["time_basis"] == "t0_date"
    assert s.start_time.isoformat() == "2025-05-03T14:49:00+00:00"
    assert [c.name for c in s.channels] == ["Speed", "RPM", "nGear", "Throttle", "Brake", "DRS", "X", "Y", "Z",
                                            "Distance", "LapNumber"]
    assert facts.missing == {"weather": "no weather data; FastF1: Failed to load weather data!",
                             "position_data": "not available for HAM"}
    assert facts.race_control_messages[0]["Time"] == 60.0
    assert facts.laps[1]["PitInTime"] == 80.0 and facts.laps[0]["PitInTime"] is None
    assert facts.laps[1]["Deleted"] is True and facts.laps[0]["LapNumber"] == 1
    mem = Memory()
    result = ingest(src, mem, mem, mem.register)
    assert result.entities == 2 and result.chunks == 12 and result.samples == 2 * 223
    keys = [k for k, _ in mem.records]
    assert keys.count("f1-2025-miami-grand-prix-s/VER") == 6
    assert "X" not in __import__("apexflow.chunk", fromlist=["decode"]).decode(
        mem.runs[s.session_id][1]["HAM/00000000"]).values


def test_from_spec_builds_a_fastf1_source():
    src = from_spec({"source": "fastf1", "year": 2025, "event": "Miami", "session": "S"})
    assert isinstance(src, f1.FastF1Source) and src.event_query == "Miami"


# --------------------------------------------------------------------------- the 14 real sessions

@pytest.mark.parametrize("key", list(SHARED_SESSIONS), ids=[f"{y}-{e}-{s}" for y, e, s in SHARED_SESSIONS])
def test_every_shared_session_ingests_offline_with_fastf1s_numbers(key, offline):
    year, event, name = key
    laps_expected, pits_expected, rcm_expected = SHARED_SESSIONS[key]
    src = f1.FastF1Source(year, event, name, **offline)
    ff1 = src.load()
    session, facts = src.session(), src.facts()

    # FastF1's own numbers
    assert len(facts.laps) == len(ff1.laps) == laps_expected
    pits = sum(1 for lap in facts.laps if lap["PitInTime"] is not None)
    assert pits == int(ff1.laps["PitInTime"].notna().sum()) == pits_expected
    assert {e.meta["driver_number"] for e in session.entities} == {str(d) for d in ff1.drivers}
    entity_ids = {e.entity_id for e in session.entities}
    assert {lap["Driver"] for lap in facts.laps} <= entity_ids
    abbreviations = {a for a in ff1.results["Abbreviation"] if a}
    assert abbreviations <= entity_ids
    assert len(facts.laps[0]) >= 31 and set(facts.laps[0]) >= set(ff1.laps.columns)
    if rcm_expected is None:
        assert "race_control_messages" in facts.missing
    else:
        assert len(facts.race_control_messages) == rcm_expected

    # no car data in the frozen cache: recorded as missing, ingestion still registers the session
    assert "car_data" in facts.missing and "CarData" in facts.missing["car_data"]
    assert ("weather" in facts.missing) != bool(facts.weather)  # either rows or a reason, never silence
    assert session.session_id.startswith(f"f1-{year}-") and session.start_time.tzinfo is not None
    mem = Memory()
    result = ingest(src, mem, mem, mem.register)
    assert result.chunks == 0 and mem.records == []
    manifest = mem.runs[session.session_id][2]
    assert manifest["counts"]["laps"] == laps_expected
    assert "car_data" in manifest["missing"] and manifest["schema_version"] == SCHEMA_VERSION
    assert mem.registered == [(session.session_id, result.run_id, laps_expected)]


def test_unknown_event_or_session_lists_what_exists(offline):
    with pytest.raises(ContractError, match="no event matches 'Atlantis' in 2025.*Miami Grand Prix"):
        f1.FastF1Source(2025, "Atlantis", "R", **offline).session()
    with pytest.raises(ContractError, match=r"Miami Grand Prix has no session 'FP2'.*Sprint Qualifying \(SQ\)"):
        f1.FastF1Source(2025, "Miami", "FP2", **offline).session()
    with pytest.raises(ContractError, match=r"Azerbaijan Grand Prix has no session 'SQ'.*Sprint Shootout \(SS\)"):
        f1.FastF1Source(2023, "Azerbaijan", "SQ", **offline).session()


def test_the_clock_is_the_sessions_own_not_the_schedule(offline):
    """The 2025 Miami Sprint started 28 minutes late. Truth from FastF1's own data: race-control messages (stamped
    in UTC) land on the track-status changes (stamped in session time) they announce, and the session's start is
    after its scheduled date, by the delay."""
    src = f1.FastF1Source(2025, "Miami", "S", **offline)
    s, facts = src.session(), src.facts()
    assert s.meta["time_basis"] == "race-control messages"
    status_at = {"4": [], "5": [], "1": []}
    for row in facts.track_status:
        status_at.get(row["Status"], []).append(row["Time"])
    announced = {"SAFETY CAR DEPLOYED": "4", "RED FLAG": "5"}
    checked = 0
    for message in facts.race_control_messages:
        status = next((code for text, code in announced.items() if message["Message"].startswith(text)), None)
        if status:
            utc_seconds = (pd.Timestamp(message["Date"]) - pd.Timestamp(s.start_time)).total_seconds()
            assert min(abs(utc_seconds - t) for t in status_at[status]) < 5, message
            checked += 1
    assert checked >= 1
    started = s.start_time + timedelta(seconds=s.meta["session_start_time"])
    scheduled = pd.Timestamp(s.meta["scheduled_start"]).to_pydatetime()
    assert timedelta(minutes=27) < started - scheduled < timedelta(minutes=29)
    first_lap_start = min(lap["LapStartTime"] for lap in facts.laps if lap["LapStartTime"] is not None)
    assert first_lap_start == pytest.approx(s.meta["session_start_time"], abs=1.0)


def test_without_race_control_messages_the_clock_says_it_is_the_schedule(offline):
    s = f1.FastF1Source(2023, "Azerbaijan", "S", **offline).session()
    assert s.meta["time_basis"] == "scheduled start minus session_start_time"
