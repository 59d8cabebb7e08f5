"""Generic telemetry from a CSV or JSON Lines file: an entity column, a time column, numeric channels.

Columns:

- ``entity_col``: who produced the row (a car, a device); becomes ``entity_id``.
- ``time_col``: numbers (seconds since the session start, given by ``start_time``, default
  1970-01-01T00:00:00Z), durations (``0 days 00:01:02.5`` as pandas writes FastF1's
  ``SessionTime``, or ``01:02.5``) or ISO-8601 timestamps (the session starts at the earliest
  one; timestamps without a zone are UTC).
- every other column is a channel (or only ``channels``, if given). A header such as
  ``speed [km/h]`` or ``speed (km/h)`` names the channel ``speed`` with unit ``km/h``;
  ``units={"speed": "km/h"}`` does the same. Every cell of a channel must be a finite number
  (``true``/``false`` are 1/0) within float32's range (``FLOAT32_MAX``, about 3.4e38): channels
  travel as float32.

``profile="motorsport"`` reads a car's telemetry instead: the columns that carry car channels
(by ``mapping`` or recognised names, ``apexflow.sources.motorsport``) become the contract's F1
channels, in their units and conventions, empty cells are filled, and the session goes through
the car detectors. ``profile="auto"`` (the default) picks motorsport when ``mapping`` is given or
the columns are recognisably a car's (a speed and two of engine speed, gear, throttle, brake, DRS),
generic otherwise, and says why in the session's meta.

The whole file is read and checked before anything is returned: a malformed row (wrong
number of fields, empty or non-numeric cell, bad timestamp or entity, an entity repeating a
timestamp) is an error that gives its line number, and because ingest validates everything
before writing, nothing of a bad file is ever half-ingested. Rows may come in any order;
each entity's samples are sorted by time.
"""
from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from apexflow.contract import PROFILES, Channel, Entity, Session, SessionFacts, check_id
from apexflow.errors import ContractError
from apexflow.sources import motorsport

MAX_ERRORS = 20
FLOAT32_MAX = float(np.finfo(np.float32).max)
_UNIT_HEADER = re.compile(r"^\s*(.+?)\s*[\[(]\s*(.+?)\s*[\])]\s*$")
_DURATION = re.compile(r"^(?:(-?\d+) days? )?(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")
_BOOL = {"true": 1.0, "false": 0.0}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (the session, each entity's (times, values by channel)) as ``FileSource.load`` reads them
Loaded = tuple[Session, dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]]


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "file"


def _parse_time(value) -> float | datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return float(value)
    text = str(value).strip()
    try:
        f = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(f):
            raise ValueError("not a finite number")
        return f
    duration = _DURATION.match(text)
    if duration:
        days, hours, minutes, seconds = (float(x or 0) for x in duration.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _number(value, empty_ok: bool) -> float:
    """A cell as a finite number (``true``/``false`` are 1/0); empty or NaN is NaN where ``empty_ok``."""
    if isinstance(value, bool):
        return float(value)
    text = "" if value is None else str(value).strip()
    f = _BOOL.get(text.lower(), math.nan if not text or text.lower() == "nan" else None)
    if f is None:
        f = float(value)
    if math.isnan(f) and empty_ok:
        return f
    if not math.isfinite(f):
        raise ValueError("not a finite number")
    if abs(f) > FLOAT32_MAX:
        raise _Beyond(f"is beyond ±{FLOAT32_MAX:.8g}, the largest value a channel holds (channels are float32); "
                      "rescale the column, e.g. to another unit")
    return f


class _Beyond(ValueError):
    """A finite number that a float32 channel cannot hold."""


def _parse_start(value) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ContractError(f"start time {value!r} is not an ISO-8601 timestamp") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


class FileSource:
    """A CSV (``fmt="csv"``) or JSON Lines (``fmt="jsonl"``) telemetry file as a source."""

    def __init__(self, path, entity_col: str, time_col: str, fmt: str | None = None,
                 session_id: str | None = None, start_time=None, channels: list[str] | None = None,
                 units: dict[str, str] | None = None, profile: str = "auto", mapping: dict[str, str] | None = None):
        self.path = Path(path)
        if not self.path.is_file():  # checked first, so a request for a missing file starts nothing
            raise ContractError(f"{self.path}: no such file")
        if profile not in ("auto", *PROFILES):
            raise ContractError(f"profile must be auto or one of {', '.join(PROFILES)}, got {profile!r}")
        if mapping and profile == "generic":
            raise ContractError("--map names car channels: it needs --profile motorsport")
        if mapping and profile == "auto":
            profile = "motorsport"
        self.chosen = "" if profile == "auto" else "given"
        self.profile, self.mapping = profile, dict(mapping or {})
        if fmt is None:
            fmt = "jsonl" if self.path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
        if fmt not in ("csv", "jsonl"):
            raise ContractError(f"file format must be 'csv' or 'jsonl', got {fmt!r}")
        self.fmt, self.entity_col, self.time_col = fmt, entity_col, time_col
        self.session_id = session_id or f"{fmt}-{_slug(self.path.stem)}"
        check_id("session_id", self.session_id)
        self.start_time = _parse_start(start_time) if start_time else None
        self.wanted, self.units = (list(channels) if channels else None), dict(units or {})
        self._header: list[str] | None = None
        self._loaded: Loaded | None = None

    # -- reading
    def _rows(self) -> Iterator[tuple[int, dict | ValueError]]:
        """(line number, {column: raw value}) of every data row; header problems raise at once."""
        if self.fmt == "csv":
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                try:
                    header = next(reader)
                except StopIteration:
                    raise ContractError(f"{self.path}: the file is empty; it needs a header line") from None
                header = [h.strip() for h in header]
                if len(set(header)) != len(header):
                    raise ContractError(f"{self.path}:1: duplicate column names in {header}")
                self._header = header
                for fields in reader:
                    line = reader.line_num
                    if not fields or all(not x.strip() for x in fields):
                        continue
                    if len(fields) != len(header):
                        yield line, ValueError(f"has {len(fields)} fields, the header has {len(header)}")
                        continue
                    yield line, dict(zip(header, fields))
        else:
            self._header = None
            with self.path.open(encoding="utf-8") as f:
                for line, text in enumerate(f, 1):
                    if not text.strip():
                        continue
                    try:
                        row = json.loads(text)
                    except json.JSONDecodeError as e:
                        yield line, ValueError(f"is not valid JSON ({e.msg})")
                        continue
                    if not isinstance(row, dict):
                        yield line, ValueError("is not a JSON object")
                        continue
                    yield line, row

    def _channel_columns(self, first: dict) -> dict[str, tuple[str, str]]:
        """column -> (channel name, unit)."""
        columns = self._header if self._header is not None else list(first)
        for need in (self.entity_col, self.time_col):
            if need not in columns:
                raise ContractError(f"{self.path}: no column {need!r}; columns are {columns}")
        picked = self.wanted or [c for c in columns if c not in (self.entity_col, self.time_col)]
        for col in picked:
            if col not in columns:
                raise ContractError(f"{self.path}: no channel column {col!r}; columns are {columns}")
        if self.profile == "auto":
            car = motorsport.looks_like_a_car(picked)
            self.profile = "motorsport" if car else "generic"
            self.chosen = (f"auto: the columns carry a car's {', '.join(car)}" if car else
                           "auto: no car telemetry recognised in the columns")
        if self.profile == "motorsport":
            for col in self.mapping.keys() & {self.entity_col, self.time_col}:
                raise ContractError(f"{self.path}: --map {col}={self.mapping[col]}: {col!r} is the entity or time "
                                    "column, not a channel")
            named = motorsport.channels_of(picked, self.mapping, str(self.path))
            self.ignored = [c for c in picked if c not in named]
            return {col: (name, self._unit(col, name)[1]) for col, name in named.items()}
        out = {}
        for col in picked:
            name, unit = self._unit(col)
            try:
                Channel(name, unit)
            except ContractError as e:
                raise ContractError(f"{self.path}: column {col!r}: {e}") from None
            out[col] = (name, unit)
        if not out:
            raise ContractError(f"{self.path}: no channel columns besides {self.entity_col!r} and {self.time_col!r}")
        names = [n for n, _ in out.values()]
        if len(set(names)) != len(names):
            raise ContractError(f"{self.path}: two columns name the same channel: {names}")
        return out

    def _unit(self, col: str, name: str | None = None) -> tuple[str, str]:
        """(channel name, unit) of a column: from a ``name [unit]`` header, overridden by ``units``."""
        m = _UNIT_HEADER.match(col)
        header, unit = (m.group(1), m.group(2)) if m else (col.strip(), "")
        name = name or header
        return name, self.units.get(name, self.units.get(header, self.units.get(col, unit)))

    def load(self) -> Loaded:
        if self._loaded is not None:
            return self._loaded
        errors: list[str] = []
        per_entity: dict[str, list] = {}
        cols: dict[str, tuple[str, str]] | None = None
        kinds: set[type] = set()

        def err(line, msg):  # a huge cell is shown cut short
            errors.append(f"{self.path.name}:{line}: {msg if len(msg) <= 200 else msg[:197] + '...'}")

        for line, row in self._rows():
            if len(errors) >= MAX_ERRORS:  # every kind of bad row counts: reading stops, memory stays bounded
                break
            if isinstance(row, Exception):
                err(line, f"row {row}")
                continue
            if cols is None:
                cols = self._channel_columns(row)
            entity = row.get(self.entity_col)
            entity = "" if entity is None else str(entity).strip()
            try:
                check_id("entity_id", entity)
            except ContractError as e:
                err(line, f"column {self.entity_col!r}: {e}")
                continue
            raw_t = row.get(self.time_col)
            try:
                if raw_t is None or str(raw_t).strip() == "":
                    raise ValueError("is empty")
                t = _parse_time(raw_t)
            except (ValueError, TypeError) as e:
                err(line, f"column {self.time_col!r}: {raw_t!r} is not seconds or an ISO-8601 timestamp ({e})")
                continue
            kinds.add(type(t))
            values = []
            bad = False
            for col in cols:
                v = row.get(col)
                try:
                    f = _number(v, empty_ok=self.profile == "motorsport")
                except (ValueError, TypeError) as e:
                    err(line, f"column {col!r}: {v!r} {e if isinstance(e, _Beyond) else 'is not a finite number'}")
                    bad = True
                    break
                values.append(f)
            if not bad:
                per_entity.setdefault(entity, []).append((t, line, values))
        if cols is None and not errors:
            raise ContractError(f"{self.path}: no data rows")
        if len(kinds) > 1:
            errors.append(f"{self.path.name}: column {self.time_col!r} mixes numbers and timestamps; use one")
        if errors:
            raise ContractError(self._summary(errors))
        assert cols is not None  # the first good row set it, and no row at all raised above

        iso = kinds == {datetime}
        if iso:
            start = self.start_time or min(t for rows in per_entity.values() for t, _, _ in rows)
            start = start.astimezone(UTC)
        else:
            start = self.start_time or EPOCH
        series: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        for entity, rows in per_entity.items():
            ts = np.array([(t - start).total_seconds() if iso else t for t, _, _ in rows], dtype=np.float64)
            order = np.argsort(ts, kind="stable")
            ts = ts[order]
            matrix = np.array([v for _, _, v in rows], dtype=np.float64)[order]
            by_channel = {name: matrix[:, i] for i, (name, _) in enumerate(cols.values())}
            if self.profile == "motorsport":
                series[entity] = self._car(entity, ts, by_channel, dict(cols.values())["Speed"])
                continue
            dup = np.flatnonzero(np.diff(ts) == 0)
            for i in dup[:MAX_ERRORS - len(errors)]:
                a, b = rows[order[i]][1], rows[order[i + 1]][1]
                errors.append(f"{self.path.name}:{b}: entity {entity!r} already has a sample at "
                              f"t={ts[i]:.6g}s (line {a}); timestamps must be unique per entity")
            series[entity] = (ts, by_channel)
        if errors:
            raise ContractError(self._summary(errors))
        meta = {"start_time_known": bool(iso or self.start_time), "rows": sum(len(r) for r in per_entity.values()),
                "profile_chosen": self.chosen}
        if self.profile == "motorsport":
            channels = self._car_channels(series, cols, meta)
        else:
            channels = tuple(Channel(name, unit) for name, unit in cols.values())
        session = Session(self.session_id, self.fmt, start, channels,
                          tuple(Entity(e) for e in sorted(series)),
                          identity={"file": self.path.name, "format": self.fmt}, meta=meta, profile=self.profile)
        self._loaded = (session, series)
        return self._loaded

    def _car(self, entity: str, t: np.ndarray, values: dict, speed_unit: str) -> tuple[np.ndarray, dict]:
        """One car's samples in the motorsport profile: one per time, gaps filled, F1 conventions."""
        where = f"{self.path.name}: entity {entity!r}"
        t, values = motorsport.merge_same_times(t, values)
        keep = motorsport.within_car_data(t, values["Speed"])
        t, values = t[keep], {name: x[keep] for name, x in values.items()}
        return t, motorsport.car_values(t, motorsport.fill(t, values, where), speed_unit, where)

    def _car_channels(self, series: dict, cols: dict, meta: dict) -> tuple[Channel, ...]:
        """The F1 channels the cars have (a distance without laps that runs past one lap is left out)."""
        names = set().union(*(values for _, values in series.values()))
        if any(motorsport.past_one_lap(values) for _, values in series.values()):
            names.discard("Distance")
            for _, values in series.values():
                values.pop("Distance")
            meta["left_out"] = {"Distance": "runs past one lap and there is no LapNumber to restart it"}
        meta["columns"] = {col: name for col, (name, _) in cols.items()}
        meta["ignored_columns"] = self.ignored
        return tuple(c for c in motorsport.CHANNELS.values() if c.name in names)

    def _summary(self, errors: list[str]) -> str:
        more = f" (stopped after the first {MAX_ERRORS})" if len(errors) >= MAX_ERRORS else ""
        return f"{self.path}: {len(errors)} malformed row(s){more}; nothing was ingested:\n  " + "\n  ".join(errors)

    # -- the Source protocol
    def session(self) -> Session:
        return self.load()[0]

    def facts(self) -> SessionFacts:
        self.load()
        return SessionFacts()

    def samples(self) -> Iterator[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        session, series = self.load()
        for entity in sorted(series):
            t, values = series[entity]
            yield entity, t, values
