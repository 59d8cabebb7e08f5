"""The story a session summary tells, against truth built here from FastF1's own data (results, race-control
messages, laps) for each of the 14 shared real sessions: every leader change, penalty, neutralisation and its
cause, retirement, pole and elimination is stated, and nothing contradicts the data (the winner, pole, who
retired, who led when; no "wins" outside a race; drivers by code; nobody "at risk" after the flag)."""
from __future__ import annotations

import logging
import re

import psycopg2
import pytest

from apexflow.insights.facts import build, for_scope
from apexflow.insights.offline import OfflineProvider
from apexflow.insights.story import tell

SESSIONS = [(2019, "Italy", "Q"), (2020, "Hungary", "FP2"), (2020, "70th Anniversary", "FP2"), (2021, "Italy", "FP2"),
            (2021, "Mexico", "Q"), (2022, "Saudi Arabia", "Q"), (2022, "British", "FP1"), (2023, "Azerbaijan", "Q"),
            (2023, "Azerbaijan", "S"), (2023, "Azerbaijan", "SS"), (2024, "Spain", "Q"), (2024, "British", "FP1"),
            (2024, "China", "SQ"), (2025, "Miami", "S")]
_FINISHED = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$")
_CODE = re.compile(r"\((\w{3})\)")
NOT_A_CAUSE = ("PIT", "IMPEDING", "TRACK LIMITS", "FALSE START", "PROCEDURE", "UNSAFE RELEASE", "DELTA")
_loaded: dict = {}


def story_of(key, shared_cache, tmp_path_factory, pg_server):
    """(FastF1 session, facts, summary sentences, rendered session record) of one shared session, once per run."""
    if key not in _loaded:
        from conftest import fresh_database

        from apexflow.ingest import register
        from apexflow.query import insight_runs
        from apexflow.sources.fastf1 import FastF1Source
        from apexflow.storage.db import transaction

        logging.getLogger("fastf1").setLevel(logging.ERROR)
        src = FastF1Source(*key, cache_dir=tmp_path_factory.mktemp("ff1"), http_cache=shared_cache, telemetry=False)
        with fresh_database(pg_server) as dsn, psycopg2.connect(dsn) as conn:
            with transaction(conn) as cur:
                register(cur, src.session(), src.facts(), "story")
            with conn.cursor() as cur:
                facts = build(insight_runs.insight_inputs(cur, src.session().session_id))
        body = OfflineProvider().write("session", for_scope(facts, "session")).body
        _loaded[key] = (src.load(), facts, tell(facts), body)
    return _loaded[key]


def truth(ff1) -> list[tuple]:
    """The story items of a session, from FastF1's own tables only."""
    res, laps = ff1.results, ff1.laps
    try:
        rcm = ff1.race_control_messages
    except Exception:  # noqa: BLE001 - not in the frozen cache for this session
        rcm = None
    msgs = [] if rcm is None else [(r["Time"], " ".join(str(r["Message"]).upper().split()), r.get("Category"))
                                   for _, r in rcm.iterrows()]
    msgs = [m for m in msgs if not re.search(r"\bF[23]\b", m[1])]
    items = []
    if ff1.name in ("Race", "Sprint"):
        items.append(("winner", res[res["Position"] == 1]["Abbreviation"].iloc[0]))
        pole = res[res["GridPosition"] == 1]["Abbreviation"]
        prev = pole.iloc[0] if len(pole) else None
        for n, row in laps[laps["Position"] == 1].sort_values("LapNumber").iterrows():
            if row["Driver"] != prev:
                items.append(("lead", row["Driver"], int(row["LapNumber"])))
            prev = row["Driver"]
        for _, r in res.iterrows():
            if not _FINISHED.match(str(r["Status"])):
                items.append(("retired" if r["Laps"] > 0 else "dns", r["Abbreviation"]))
    elif ff1.name in ("Qualifying", "Sprint Shootout", "Sprint Qualifying"):
        items.append(("pole", res[res["Position"] == 1]["Abbreviation"].iloc[0]))
        part = "SQ" if ff1.name.startswith("Sprint") else "Q"
        for _, r in res.iterrows():
            if r["Q2"] != r["Q2"]:
                items.append(("out", r["Abbreviation"], f"{part}1"))
            elif r["Q3"] != r["Q3"]:
                items.append(("out", r["Abbreviation"], f"{part}2"))
    else:
        items.append(("fastest", laps.pick_fastest()["Driver"]))
    for t, text, category in msgs:
        if "PENALTY FOR CAR" in text and "SERVED" not in text:
            items += [("penalty", code) for code in _CODE.findall(text)]
        deployed = ("red flag" if text == "RED FLAG" else "virtual safety car" if category == "SafetyCar"
                    and "VIRTUAL" in text and "DEPLOYED" in text else "safety car" if category == "SafetyCar"
                    and "DEPLOYED" in text else None)
        if deployed:
            items.append(("neutralisation", deployed))
            causes = [_CODE.findall(m) for s, m, _ in msgs if 0 <= (s - t).total_seconds() <= 300
                      and ("INCIDENT INVOLVING" in m or "STOPPED" in m) and not any(w in m for w in NOT_A_CAUSE)]
            if causes:
                items.append(("cause", deployed, tuple(sorted({c for cs in causes for c in cs}))))
    return list(dict.fromkeys(items))


def stated(item: tuple, lines: list[str]) -> bool:
    """Whether a sentence of the summary states ``item``, as an engineer would read it."""
    kind, *rest = item

    def any_line(*words, pattern=None):
        return any(all(w in line for w in words) and (pattern is None or re.search(pattern, line)) for line in lines)

    if kind == "winner":
        return any_line(rest[0], pattern=rf"{rest[0]} (wins|won)")
    if kind == "lead":
        code, lap = rest
        return any_line(code, "lead", pattern=rf"lap {lap}\b|at the start") or any_line(
            code, pattern=rf"{code} led lap {lap}\b")
    if kind == "retired":
        return any_line(rest[0], "retired")
    if kind == "dns":
        return any_line(rest[0], "Did not start")
    if kind == "penalty":
        return any_line(rest[0], "penalty")
    if kind == "neutralisation":
        word = {"red flag": r"red flag|red-flagged"}.get(rest[0], rf"\b{rest[0]}\b")
        return any_line(pattern=word) if rest[0] != "safety car" else any_line(pattern=r"(?<!virtual )safety car")
    if kind == "cause":
        word = {"red flag": r"red flag|red-flagged"}.get(rest[0], rest[0])
        return any(re.search(word, line) and any(c in line for c in rest[1]) for line in lines)
    if kind == "pole":
        return any_line(rest[0], "pole")
    if kind == "out":
        return any(line.startswith(f"Out in {rest[1]}:") and rest[0] in line for line in lines)
    if kind == "fastest":
        return any_line(rest[0], pattern=r"topped the timesheet|fastest")
    raise AssertionError(kind)


def ids(keys):
    return [f"{y}-{e}-{s}" for y, e, s in keys]


@pytest.mark.parametrize("key", SESSIONS, ids=ids(SESSIONS))
def test_the_summary_states_every_story_item_of_the_session(key, shared_cache, tmp_path_factory, pg_server):
    ff1, _facts, _sentences, body = story_of(key, shared_cache, tmp_path_factory, pg_server)
    lines = [body.headline, *body.race_story]
    items = truth(ff1)
    assert items
    missing = [item for item in items if not stated(item, lines)]
    assert not missing, (missing, lines)


@pytest.mark.parametrize("key", SESSIONS, ids=ids(SESSIONS))
def test_the_summary_states_nothing_the_data_contradicts(key, shared_cache, tmp_path_factory, pg_server):
    ff1, facts, sentences, body = story_of(key, shared_cache, tmp_path_factory, pg_server)
    res = ff1.results
    text = "\n".join([body.headline, *body.race_story, *body.strategy])
    codes = {r["Abbreviation"] or r["DriverNumber"] for _, r in res.iterrows()}  # no codes at all: car numbers
    if not any(res["Abbreviation"]):
        assert re.search(r"\bcar \d+ (fastest|topped)", text) and not re.search(r"(^|: )\d+ (fastest|topped)\b", text)
        assert not re.search(r"^\s*\d+ stint", text, re.MULTILINE)
    race = ff1.name in ("Race", "Sprint")
    if not race:
        assert not re.search(r"\bwins?\b|\bwon\b", text)  # qualifying and practice have no winner
    else:
        winner = res[res["Position"] == 1]["Abbreviation"].iloc[0]
        assert set(re.findall(r"(\w{3}) (?:wins|won)\b", text)) == {winner}
        retired = {r["Abbreviation"] for _, r in res.iterrows() if not _FINISHED.match(str(r["Status"]))}
        assert set(re.findall(r"(\w{3}) retired\b", text)) <= retired
        leaders = {(r["Driver"], int(r["LapNumber"])) for _, r in ff1.laps[ff1.laps["Position"] == 1].iterrows()}
        for code, lap in re.findall(r"(\w{3}) (?:took|inherited) the lead(?: from \w{3})? on lap (\d+)", text):
            assert (code, int(lap)) in leaders
        assert "ran to the flag" not in text
    assert "None" not in text and not re.search(r"Fastest lap: \d", text)
    if ff1.name in ("Qualifying", "Sprint Shootout", "Sprint Qualifying"):
        pole = res[res["Position"] == 1]["Abbreviation"].iloc[0]
        assert set(re.findall(r"(\w{3}) took pole", text)) == {pole}
    assert body.cars_at_risk == [] and facts["strategy"]["at_risk"] == []  # the session is over
    for s in sentences:  # every sentence claims what it says, about a driver of the session, from a real fact
        assert s["claims"], s["text"]
        for c in s["claims"]:
            assert c["subject"] is None or c["subject"] in codes
            fact = resolve(facts, c["fact"])
            who = {fact.get("driver"), fact.get("winner"), fact.get("pole"), *(fact.get("drivers") or [])} \
                if isinstance(fact, dict) else set()
            assert c["subject"] is None or c["subject"] in who or c["kind"] == "cause", (c, fact)
            assert c["lap"] is None or c["lap"] == fact.get("lap", fact.get("from_lap", c["lap"])), (c, fact)


def resolve(facts: dict, path: str):
    node = facts
    for part in re.findall(r"[^.\[\]]+", path):
        node = node[int(part)] if part.isdigit() else node[part]
    return node

