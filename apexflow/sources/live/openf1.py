"""OpenF1 real-time messages (MQTT topics ``v1/<endpoint>``, JSON documents) -> live events.

Each message is the document OpenF1's REST endpoint of the same name returns, plus ``_key`` (the document:
an update of a lap keeps its key) and ``_id`` (ever increasing). A message whose ``_key`` was seen with an
equal or later ``_id`` is a duplicate and dropped (MQTT QoS 1 delivers at least once).
``OpenF1.handle(topic, doc)`` maps:

- ``v1/sessions`` (and ``v1/meetings`` for the event name) -> the session, started at ``date_start``; the
  session ends once the stream passes ``date_end`` after a chequered flag (or an hour past ``date_end``);
  ``v1/drivers`` -> drivers.
- ``v1/car_data`` (speed, rpm, n_gear, throttle, brake 0/100, drs codes) -> car samples;
  ``v1/location`` (x, y, z in 1/10 m) -> positions.
- ``v1/laps`` -> a lap once its ``lap_duration`` is known (again on later updates), with ``v1/stints``
  (stint, compound, tyre age) and ``v1/pit`` (pit entry) folded in.
- ``v1/race_control`` -> race-control rows (FastF1's columns) and the track status they announce
  (safety car, VSC, red flag, track clear).

Messages of another session than the one followed are dropped; ``IGNORED`` topics, each with its reason.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime

from apexflow.contract import Entity
from apexflow.errors import BadMessage
from apexflow.sources.fastf1.events import session_id_of
from apexflow.sources.live import events as ev

SOURCE = "openf1"
TOPICS = ("v1/sessions", "v1/meetings", "v1/drivers", "v1/car_data", "v1/location", "v1/laps", "v1/stints",
          "v1/pit", "v1/race_control")
IGNORED = {"v1/position": "running order, derived from the laps", "v1/intervals": "gaps, derived from the laps",
           "v1/weather": "weather comes with the session's archive", "v1/team_radio": "audio",
           "v1/overtakes": "detected from the laps", "v1/session_result": "results come with the archive",
           "v1/starting_grid": "results come with the archive"}
KEYS_KEPT = 50_000  # per topic: far more than the messages that can arrive twice
LATE_END_S = 3600.0


def utc_seconds(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    except (AttributeError, TypeError, ValueError):
        raise BadMessage("bad_time", f"not an ISO 8601 date: {text!r}") from None


def track_status_of(row: dict) -> tuple[str, str] | None:
    """(FastF1 status code, message) announced by a race-control row, if any."""
    text, flag, scope = (row.get("Message") or "").upper(), row.get("Flag") or "", row.get("Scope") or ""
    if row.get("Category") == "SafetyCar":
        if "VIRTUAL" in text:
            return ("7", "VSCEnding") if "ENDING" in text else ("6", "VSCDeployed") if "DEPLOYED" in text else None
        return ("4", "SCDeployed") if "DEPLOYED" in text else None
    if flag == "RED":
        return "5", "Red"
    if flag in ("CLEAR", "GREEN") and scope == "Track":
        return "1", "AllClear"
    return None


class OpenF1:
    """Stateful mapping of OpenF1 messages onto live events, for one session (``session_key`` or the first)."""

    def __init__(self, session_key: int | None = None):
        self.session_key = session_key
        self.session: dict | None = None
        self.meeting_name: dict[int | None, str] = {}
        self.seen: dict[str, OrderedDict] = {}
        self.driver: dict[int, str] = {}
        self.laps: dict[tuple[int, int], dict] = {}
        self.stints: dict[int, list[dict]] = {}
        self.pits: dict[tuple[int, int], float] = {}
        self.chequered: float | None = None
        self.ended = False
        self.dropped = {"duplicate": 0, "other_session": 0}
        self.unknown: set[str] = set()

    def entity(self, number) -> str:
        return self.driver.get(int(number), str(number))

    def _fresh(self, topic: str, doc: dict) -> bool:
        key, ident = doc.get("_key"), doc.get("_id")
        if key is None or ident is None:
            return True
        seen = self.seen.setdefault(topic, OrderedDict())
        if key in seen and seen[key] >= ident:
            self.dropped["duplicate"] += 1
            return False
        seen[key] = ident
        seen.move_to_end(key)
        if len(seen) > KEYS_KEPT:
            seen.popitem(last=False)
        return True

    def take(self, message) -> list:
        """Events of one message as a feed gives it (``(topic, document)``); ``BadMessage`` if it is not one."""
        if isinstance(message, (list, tuple)) and len(message) >= 2 and isinstance(message[1], (bytes, str)):
            try:  # as the broker sends it: JSON text
                message = (message[0], json.loads(message[1]))
            except ValueError:
                raise BadMessage("undecodable_payload", f"{message[0]}: a payload that is not JSON") from None
        if not isinstance(message, (list, tuple)) or len(message) < 2 or not isinstance(message[0], str) \
                or not isinstance(message[1], dict):
            raise BadMessage("unparseable", f"not a (topic, document) message: {str(message)[:80]}")
        try:
            return self.handle(message[0], message[1])
        except BadMessage:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise BadMessage("malformed", f"{message[0]}: {type(e).__name__} {e}") from None

    def handle(self, topic: str, doc: dict) -> list:
        """Events of one message."""
        if topic == "v1/meetings":
            self.meeting_name[doc.get("meeting_key")] = doc.get("meeting_name", "")
            return []
        key = doc.get("session_key")
        if self.session_key is None and topic == "v1/sessions":
            self.session_key = key
        if key is not None and self.session_key is not None and key != self.session_key:
            self.dropped["other_session"] += 1
            return []
        if not self._fresh(topic, doc):
            return []
        out = [ev.Tick(utc_seconds(doc["date"]))] if doc.get("date") else []
        if topic in IGNORED:
            return out + self._maybe_end(out)
        method = getattr(self, "_" + topic.removeprefix("v1/"), None)
        if method is None:
            self.unknown.add(topic)
            return out
        return out + method(doc) + self._maybe_end(out)

    def _maybe_end(self, ticks: list) -> list:
        if self.ended or not ticks or self.session is None or not self.session.get("date_end"):
            return []
        end = utc_seconds(self.session["date_end"])
        t = ticks[0].utc
        if t > end and (self.chequered is not None or t > end + LATE_END_S):
            self.ended = True
            return [ev.Ended(t, "past the session's end" + (" after the chequered flag" if self.chequered else ""))]
        return []

    def _sessions(self, d: dict) -> list:
        first = self.session is None
        self.session = d
        if not first:
            return []
        start = datetime.fromisoformat(d["date_start"]).astimezone(UTC)
        event = self.meeting_name.get(d.get("meeting_key"), "")
        sid = session_id_of(d["year"], event, d["session_name"]) if event else f"openf1-{d['session_key']}"
        ident = {"year": d["year"], "event": event, "session": d["session_name"], "location": d.get("location"),
                 "country": d.get("country_name"), "session_key": d["session_key"], "meeting_key": d.get("meeting_key")}
        return [ev.SessionKnown(sid, SOURCE, start, ident, {"time_basis": "date_start"})]

    def _drivers(self, d: dict) -> list:
        number = int(d["driver_number"])
        code = d.get("name_acronym") or str(number)
        if self.driver.get(number) == code:
            return []
        self.driver[number] = code
        return [ev.Driver(Entity(code, d.get("full_name", ""), d.get("team_name", ""), {"driver_number": str(number)}))]

    def _car_data(self, d: dict) -> list:
        return [ev.car_sample(self.entity(d["driver_number"]), utc_seconds(d["date"]), speed=d["speed"],
                              rpm=d["rpm"], gear=d["n_gear"], throttle=d["throttle"], brake=d["brake"],
                              drs=d.get("drs"))]

    def _location(self, d: dict) -> list:
        return [ev.Position(self.entity(d["driver_number"]), utc_seconds(d["date"]), d["x"] / 10, d["y"] / 10,
                            d["z"] / 10)]

    def _laps(self, d: dict) -> list:
        if d.get("lap_duration") is None or not d.get("date_start"):
            return []
        self.laps[(int(d["driver_number"]), int(d["lap_number"]))] = d
        return [self._lap(int(d["driver_number"]), int(d["lap_number"]))]

    def _lap(self, number: int, n: int) -> ev.LapDone:
        d = self.laps[(number, n)]
        start = utc_seconds(d["date_start"])
        times = {"LapStartTime": start, "Time": start + d["lap_duration"]}
        if d.get("is_pit_out_lap"):
            times["PitOutTime"] = start
        if (number, n) in self.pits:
            times["PitInTime"] = self.pits[(number, n)]
        values = {"LapTime": d["lap_duration"], "Sector1Time": d.get("duration_sector_1"),
                  "Sector2Time": d.get("duration_sector_2"), "Sector3Time": d.get("duration_sector_3"),
                  "SpeedI1": d.get("i1_speed"), "SpeedI2": d.get("i2_speed"), "SpeedST": d.get("st_speed")}
        for s in self.stints.get(number, []):
            if s["lap_start"] <= n <= (s.get("lap_end") or n):
                values.update(Stint=s["stint_number"], Compound=s.get("compound"),
                              TyreLife=(s.get("tyre_age_at_start") or 0) + n - s["lap_start"] + 1)
        return ev.LapDone(self.entity(number), n, times, {k: v for k, v in values.items() if v is not None})

    def _again(self, number: int, laps) -> list:
        """Laps already given whose row a stint or pit message changes: given again."""
        return [self._lap(number, n) for n in laps if (number, n) in self.laps]

    def _stints(self, d: dict) -> list:
        number = int(d["driver_number"])
        stints = [s for s in self.stints.get(number, []) if s["stint_number"] != d["stint_number"]]
        self.stints[number] = sorted([*stints, d], key=lambda s: s["stint_number"])
        return self._again(number, range(d["lap_start"], (d.get("lap_end") or d["lap_start"]) + 1))

    def _pit(self, d: dict) -> list:
        number, n = int(d["driver_number"]), int(d["lap_number"])
        self.pits[(number, n)] = utc_seconds(d["date"])
        return self._again(number, [n])

    def _race_control(self, d: dict) -> list:
        t = utc_seconds(d["date"])
        row = {"Category": d.get("category"), "Message": d.get("message"), "Status": None, "Flag": d.get("flag"),
               "Scope": d.get("scope"), "Sector": d.get("sector"),
               "RacingNumber": None if d.get("driver_number") is None else str(d["driver_number"]),
               "Lap": d.get("lap_number")}
        if row["Flag"] == "CHEQUERED":
            self.chequered = t
        out = [ev.RaceControl(t, row)]
        status = track_status_of(row)
        return out + ([ev.TrackStatus(t, *status)] if status else [])
