"""The story items of a shared real session, from FastF1's own data only (results, race-control messages, laps),
and whether a summary states each as an engineer would read it. Used by ``tests/test_insights_story.py`` and
``benchmarks/story_items.py``; never built from the project's own facts or output.

Items: the winner, each change of the car placed first (against the pole-sitter on the first lap), each retirement
and non-starter, each penalty, each red flag, safety car and VSC and, where race control named cars in an incident
within five minutes of it, its cause; in qualifying pole and who was out in each part; in practice the fastest.
"""
from __future__ import annotations

import re

SESSIONS = [(2019, "Italy", "Q"), (2020, "Hungary", "FP2"), (2020, "70th Anniversary", "FP2"), (2021, "Italy", "FP2"),
            (2021, "Mexico", "Q"), (2022, "Saudi Arabia", "Q"), (2022, "British", "FP1"), (2023, "Azerbaijan", "Q"),
            (2023, "Azerbaijan", "S"), (2023, "Azerbaijan", "SS"), (2024, "Spain", "Q"), (2024, "British", "FP1"),
            (2024, "China", "SQ"), (2025, "Miami", "S")]
FINISHED = re.compile(r"^(Finished|Lapped|\+\d+ Laps?)$")
_CODE = re.compile(r"\((\w{3})\)")
NOT_A_CAUSE = ("PIT", "IMPEDING", "TRACK LIMITS", "FALSE START", "PROCEDURE", "UNSAFE RELEASE", "DELTA")


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
        for _, row in laps[laps["Position"] == 1].sort_values("LapNumber").iterrows():
            if row["Driver"] != prev:
                items.append(("lead", row["Driver"], int(row["LapNumber"])))
            prev = row["Driver"]
        for _, r in res.iterrows():
            if not FINISHED.match(str(r["Status"])):
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
        fastest = laps.pick_fastest()
        items.append(("fastest", fastest["Driver"] or str(fastest["DriverNumber"])))  # no codes: the car number
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
        return any_line(rest[0], pattern=rf"{rest[0]} (wins|won)|Winner: {rest[0]}\b")
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
