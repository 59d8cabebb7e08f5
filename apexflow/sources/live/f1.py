"""F1 live timing (the SignalR stream FastF1's ``fastf1.livetiming`` client records) -> live events.

A message is ``[topic, data, utc]`` as the stream sends it and FastF1's client writes it, one per line;
``data`` is a dict, or for the compressed topics (``CarData.z``, ``Position.z``) base64 of raw-deflate
JSON (FastF1's ``_api.parse``). ``F1LiveTiming.handle`` maps one message onto ``events``:

- ``SessionInfo`` -> the session (id as the FastF1 source names it, start = scheduled start in UTC);
  ``DriverList`` -> drivers; ``SessionStatus`` ``Finalised``/``Ends`` -> the end.
- ``CarData.z`` -> car samples (channels 0 RPM, 2 Speed, 3 nGear, 4 Throttle, 5 Brake, 45 DRS; DRS codes
  10-14 open, brake on above 0, throttle capped at 100); ``Position.z`` -> positions (1/10 m -> m).
- ``TimingData`` -> a lap when a driver's ``NumberOfLaps`` grows (``LastLapTime``, sector times,
  speed traps, pit in/out); ``TimingAppData`` -> the stint, compound and tyre age of those laps.
- ``TrackStatus`` -> track status; ``RaceControlMessages`` -> race-control rows.

``IGNORED`` topics are read and dropped, each with its reason. Car data and positions need an F1 TV
subscription token: without one the stream carries timing only, and ``Missing`` says so.
"""
from __future__ import annotations

import ast
import base64
import binascii
import json
import zlib
from datetime import UTC, datetime, timedelta

from apexflow.contract import Entity
from apexflow.errors import BadMessage
from apexflow.sources.fastf1.events import session_id_of
from apexflow.sources.live import events as ev

SOURCE = "f1live"
TOPICS = ("SessionInfo", "SessionStatus", "DriverList", "CarData.z", "Position.z", "TimingData", "TimingAppData",
          "TrackStatus", "RaceControlMessages")
IGNORED = {
    "Heartbeat": "keep-alive (its time still moves the stream clock)",
    "ExtrapolatedClock": "the remaining-time display", "LapCount": "the leader's lap counter (laps come per driver)",
    "TimingStats": "personal bests, derived from the laps", "TopThree": "the TV graphic",
    "WeatherData": "weather comes with the session's archive", "TeamRadio": "audio", "AudioStreams": "audio",
    "ContentStreams": "video and text links", "SessionData": "repeats SessionStatus and LapCount",
    "RcmSeries": "repeats RaceControlMessages",
}
SUBSCRIBE = (*TOPICS, *IGNORED)
END_STATUSES = ("Finalised", "Ends")
NO_TOKEN = ("the F1 live timing stream sends CarData.z and Position.z only to an F1 TV subscriber; "
            "no token configured (store one in the F1 token secret)")


def utc_seconds(text: str) -> float:
    """``2024-07-07T14:00:01.1234567Z`` (any number of decimals, Z optional) -> POSIX seconds."""
    try:
        date, _, frac = text.rstrip("Z").partition(".")
        if frac and not frac.isdigit():
            raise ValueError(frac)
        t = datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()
    except (AttributeError, TypeError, ValueError):
        raise BadMessage("bad_time", f"not a UTC time stamp: {text!r}") from None
    return t + (float("0." + frac) if frac else 0.0)


def inflate(data: str) -> dict:
    """A ``.z`` payload: base64 of raw-deflate JSON (FastF1's ``_api.parse(..., zipped=True)``)."""
    try:
        doc = json.loads(zlib.decompress(base64.b64decode(data.strip('"'), validate=True), -zlib.MAX_WBITS)
                         .decode("utf-8-sig"))
    except (AttributeError, binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as e:
        raise BadMessage("undecodable_payload", f"a .z payload that is not base64 of deflated JSON ({e})") from None
    if not isinstance(doc, dict):
        raise BadMessage("undecodable_payload", f"a .z payload that holds {type(doc).__name__}, not an object")
    return doc


def deflate(doc: dict) -> str:
    """The inverse of ``inflate`` (for recorded streams)."""
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return base64.b64encode(c.compress(json.dumps(doc, separators=(",", ":")).encode()) + c.flush()).decode()


def parse_line(line: str) -> list:
    """One recorded line (Python repr, as FastF1's client writes it) -> ``[topic, data, utc]``."""
    try:
        return list(ast.literal_eval(line.strip()))
    except (ValueError, SyntaxError):  # FastF1's own repair of the stream's not-quite-JSON
        return json.loads(line.replace("'", '"').replace("True", "true").replace("False", "false"))


def lap_seconds(text) -> float | None:
    """``1:32.123`` / ``32.123`` -> seconds; empty -> None."""
    if text in (None, ""):
        return None
    minutes, _, seconds = str(text).rpartition(":")
    try:
        value = (float(minutes) * 60 if minutes else 0.0) + float(seconds)
    except ValueError:
        raise BadMessage("bad_value", f"not a lap or sector time: {text!r}") from None
    if not 0 <= value < 86400:
        raise BadMessage("bad_value", f"a lap or sector time out of range: {text!r}")
    return value


def gmt_offset(text: str) -> timedelta:
    """``01:00:00`` / ``-04:00:00`` -> the local time's offset from UTC."""
    hours, minutes, seconds = (int(x) for x in text.lstrip("+-").split(":"))
    return (-1 if text.startswith("-") else 1) * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _items(value) -> list:
    """The stream sends collections as dicts keyed by index or as lists."""
    return list(value.values()) if isinstance(value, dict) else list(value or [])


class F1LiveTiming:
    """Stateful mapping of F1 live-timing messages onto live events."""

    def __init__(self, token: bool = True):
        self.start: datetime | None = None
        self.driver: dict[str, str] = {}  # car number -> entity id
        self.laps: dict[str, dict] = {}  # car number -> the lap in progress
        self.stint: dict[str, dict] = {}
        self.unknown: set[str] = set()
        self.token = token
        self.told_missing = False
        self.started: float | None = None  # when the session status went to Started: lap 1 begins

    def entity(self, number: str) -> str:
        return self.driver.get(str(number), str(number))

    def take(self, message) -> list:
        """Events of one message as a feed gives it (``[topic, data, utc]``); ``BadMessage`` if it is not one."""
        if not isinstance(message, (list, tuple)) or len(message) != 3 or not isinstance(message[0], str):
            raise BadMessage("unparseable", f"not a [topic, data, utc] message: {str(message)[:80]}")
        return self.handle(*message)

    def handle(self, topic: str, data, utc: str | None) -> list:
        """Events of one message (``utc`` empty for the snapshot sent on subscribing); ``BadMessage`` when it
        cannot be read (the adapter's state is as before for the payload's decoding and time stamps)."""
        if topic.endswith(".z") and isinstance(data, str):
            data = inflate(data)
        elif isinstance(data, str):
            try:
                data = json.loads(data) if data else {}
            except ValueError:
                raise BadMessage("undecodable_payload", f"{topic}: a payload that is not JSON") from None
        if not isinstance(data, dict):
            raise BadMessage("malformed", f"{topic}: a payload that is {type(data).__name__}, not an object")
        t = utc_seconds(utc) if utc else None
        out = [] if t is None else [ev.Tick(t)]
        if topic in IGNORED:
            return out
        method = getattr(self, "_" + topic.replace(".z", "").lower(), None)
        if method is None:
            self.unknown.add(topic)
            return out
        try:
            return out + method(data, t)
        except BadMessage:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise BadMessage("malformed", f"{topic}: {type(e).__name__} {e}") from None

    def _sessioninfo(self, d: dict, t) -> list:
        self.start = (datetime.fromisoformat(d["StartDate"]) - gmt_offset(d.get("GmtOffset", "00:00:00"))
                      ).replace(tzinfo=UTC)
        meeting = d.get("Meeting", {})
        ident = {"year": self.start.year, "event": meeting.get("Name", ""), "session": d.get("Name", ""),
                 "location": meeting.get("Location", ""), "country": meeting.get("Country", {}).get("Name", ""),
                 "session_key": d.get("Key"), "meeting_key": meeting.get("Key")}
        known = ev.SessionKnown(session_id_of(self.start.year, ident["event"], ident["session"]), SOURCE, self.start,
                                ident, {"time_basis": "scheduled start", "path": d.get("Path", "")})
        out: list[object] = [known]
        if not self.token and not self.told_missing:
            self.told_missing = True
            out += [ev.Missing("car_data", NO_TOKEN), ev.Missing("position_data", NO_TOKEN)]
        return out

    def _sessionstatus(self, d: dict, t) -> list:
        status = d.get("Status", "")
        if status == "Started" and self.started is None:
            self.started = t
        return [ev.Ended(t, f"session status {status}")] if status in END_STATUSES and t is not None else []

    def _driverlist(self, d: dict, t) -> list:
        out = []
        for number, info in d.items():
            if not isinstance(info, dict) or not info.get("Tla") or number in self.driver:
                continue
            self.driver[number] = info["Tla"]
            out.append(ev.Driver(Entity(info["Tla"], info.get("FullName", ""), info.get("TeamName", ""),
                                        {"driver_number": number})))
        return out

    def _cardata(self, d: dict, t) -> list:
        out = []
        for entry in d.get("Entries", []):
            at = utc_seconds(entry["Utc"])
            for number, car in entry.get("Cars", {}).items():
                ch = car.get("Channels", {})
                if {"0", "2", "3", "4", "5"} <= ch.keys():  # DRS (45) is no longer sent from 2026
                    out.append(ev.car_sample(self.entity(number), at, rpm=ch["0"], speed=ch["2"], gear=ch["3"],
                                             throttle=ch["4"], brake=ch["5"], drs=ch.get("45", 0)))
        return out

    def _position(self, d: dict, t) -> list:
        out = []
        for sample in d.get("Position", []):
            at = utc_seconds(sample["Timestamp"])
            for number, p in sample.get("Entries", {}).items():
                if {"X", "Y", "Z"} <= p.keys():
                    out.append(ev.Position(self.entity(number), at, p["X"] / 10, p["Y"] / 10, p["Z"] / 10))
        return out

    def _timingdata(self, d: dict, t) -> list:
        out = []
        for number, line in d.get("Lines", {}).items():
            lap = self.laps.setdefault(number, {"done": 0, "values": {}, "times": {}})
            if line.get("InPit") is True and t is not None:
                lap["times"]["PitInTime"] = t
            if line.get("PitOut") is True and t is not None:
                lap["times"]["PitOutTime"] = t
            for i, sector in enumerate(_items(line.get("Sectors")) if isinstance(line.get("Sectors"), list)
                                       else [line.get("Sectors", {}).get(str(k), {}) for k in range(3)]):
                value = lap_seconds(sector.get("Value")) if isinstance(sector, dict) else None
                if value is not None:
                    lap["values"][f"Sector{i + 1}Time"] = value
                    if t is not None:
                        lap["times"][f"Sector{i + 1}SessionTime"] = t
            for trap, speed in (line.get("Speeds") or {}).items():
                if isinstance(speed, dict) and speed.get("Value"):
                    lap["values"][f"Speed{trap}"] = float(speed["Value"])
            if (last := (line.get("LastLapTime") or {}).get("Value")) not in (None, ""):
                lap["values"]["LapTime"] = lap_seconds(last)
            n = line.get("NumberOfLaps")
            if isinstance(n, int) and n > lap["done"] and t is not None:
                out.append(self._lap_done(number, lap, n, t))
        return out

    def _lap_done(self, number: str, lap: dict, n: int, t: float):
        stint = self.stint.get(number, {})
        values = {**lap["values"], "Stint": stint.get("Stint"), "Compound": stint.get("Compound"),
                  "TyreLife": stint.get("TotalLaps"), "FreshTyre": stint.get("New")}
        times = {**lap["times"], "Time": t}
        if lap.get("start", self.started) is not None:
            times["LapStartTime"] = lap.get("start", self.started)
        lap.update(done=n, start=t, values={}, times={})
        return ev.LapDone(self.entity(number), n, times, {k: v for k, v in values.items() if v is not None})

    def _timingappdata(self, d: dict, t) -> list:
        for number, line in d.get("Lines", {}).items():
            stints = line.get("Stints")
            pairs = (enumerate(stints) if isinstance(stints, list)
                     else ((int(k), v) for k, v in (stints or {}).items()))
            for index, stint in pairs:
                current = self.stint.setdefault(number, {})
                if current.get("Stint") != index + 1:
                    current.clear()
                    current["Stint"] = index + 1
                for key in ("Compound", "TotalLaps"):
                    if key in stint:
                        current[key] = stint[key]
                if "New" in stint:
                    current["New"] = str(stint["New"]).lower() == "true"
        return []

    def _trackstatus(self, d: dict, t) -> list:
        return [ev.TrackStatus(t, str(d["Status"]), d.get("Message", ""))] if t is not None and "Status" in d else []

    def _racecontrolmessages(self, d: dict, t) -> list:
        out = []
        for m in _items(d.get("Messages")):
            row = {k: m.get(k) for k in ("Category", "Message", "Status", "Flag", "Scope", "Sector",
                                          "RacingNumber", "Lap")}
            out.append(ev.RaceControl(utc_seconds(m["Utc"]), row))
        return out
