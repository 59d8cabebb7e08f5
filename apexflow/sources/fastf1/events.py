"""Events and sessions: strict matching of what the user asked for against FastF1's schedule.

FastF1's fuzzy matching is never used, so a typo is an error that lists the season's events, not a
different race.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import UTC

from apexflow.errors import ContractError
from apexflow.sources.fastf1.cache import configure_cache
from apexflow.sources.fastf1.convert import isna

# Session names FastF1 uses, with the short codes accepted on the command line.
SESSION_CODES = {
    "Practice 1": "FP1", "Practice 2": "FP2", "Practice 3": "FP3", "Qualifying": "Q",
    "Sprint": "S", "Sprint Shootout": "SS", "Sprint Qualifying": "SQ", "Race": "R",
}


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
        raise ContractError(f"no event given; events{where}: {listing}", "event")
    if q.isdigit():
        found = [e for e in events if int(e["RoundNumber"]) == int(q)]
        if len(found) == 1:
            return found[0]
        raise ContractError(f"no single event with round {q}{where}; events: {listing}", "event")
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
            raise ContractError(f"event {q!r} is ambiguous{where}: it matches {names}; use the full event name",
                                "event")
    found = [e for e in events if _words(e["Country"]) == words]
    if len(found) > 1:
        stem = "".join(words)
        named = [e for e in found if _common_prefix(stem, "".join(_words(e["EventName"])[:1])) >= 3]
        if len(named) == 1:
            return named[0]
        names = ", ".join(e["EventName"] for e in found)
        raise ContractError(f"event {q!r} is ambiguous{where}: {names} are all in {found[0]['Country']}; "
                            "use the event name", "event")
    if found:
        return found[0]
    raise ContractError(f"no event matches {q!r}{where}; events: {listing}", "event")


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
        raise ContractError(f"{event['EventName']} has no session {q!r}; its sessions: {listing}", "session")
    return name


def schedule(year: int, cache_dir=None, http_cache=None) -> list[dict]:
    """FastF1's event schedule of ``year`` as plain rows (see ``apexflow.pipeline.schedule``)."""
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
            row[f"Session{i}DateUtc"] = (None if date is None or isna(date)
                                         else date.to_pydatetime().replace(tzinfo=UTC))
        rows.append(row)
    return rows


def slug(text: str) -> str:
    return "-".join(_words(text))


def session_id_of(year: int, event_name: str, session_name: str) -> str:
    code = SESSION_CODES.get(session_name) or slug(session_name)
    return f"f1-{int(year)}-{slug(event_name)}-{code.lower()}"
