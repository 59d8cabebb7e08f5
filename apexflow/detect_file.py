"""``apexflow detect FILE.csv``: the generic detectors on a plain time-series file, one channel or many.

The file is read as a stream and fed, a block of rows at a time, to the same streaming
detectors the pipeline runs (``apexflow.detect.generic``): the novelty score over all value
columns jointly, a stuck value and out-of-range values per column, and gaps in the time
column. Every row's score depends only on that row and the rows before it, and the
detectors give identical results for any split of the stream (``--block 1`` is row by
row), so the output is what an online system would have said at that moment: one score in
[0, 1] per row (0 while the detectors warm up), the channels that drove it when it is 0.5
or more, and the flagged windows.

Timestamps may be ISO-8601 (``2024-05-01T12:00:00Z``, offsets allowed), ``YYYY-MM-DD
HH:MM:SS`` (taken as UTC) or numeric seconds; sampling may be irregular, but rows must come
in time order (``sort=True`` sorts them first, in memory). A row with an empty or
non-numeric value, or repeating the previous row's timestamp, is passed through with score
0 and not fed to the detectors; the result counts every such row by reason, with the first
lines. A bad timestamp is an error naming its line. Scores are written to a temporary file
renamed over ``out`` only once the whole input has been read: a failed run leaves no
partial output and never touches an existing one.
"""
from __future__ import annotations

import codecs
import csv
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from apexflow.contract import ContractError
from apexflow.detect.generic import gaps, novelty, out_of_range, stuck

DATA_QUALITY_CAP = 0.6  # a gap or a stuck value is a warning in the row score (its window says what it is)


def parse_time(text: str) -> float:
    """Seconds: numeric as is, ISO-8601 / ``YYYY-MM-DD HH:MM:SS`` as seconds since the Unix epoch (UTC if naive)."""
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(v):
            raise ContractError(f"timestamp {text!r} is not finite")
        return v
    try:
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        raise ContractError(f"timestamp {text!r} is neither numeric seconds, ISO-8601 nor "
                            "'YYYY-MM-DD HH:MM:SS'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def delimiter_of(text: str) -> str:
    """``--delimiter`` as typed: one character, an escape such as ``\\t``, or ``tab``."""
    d = "\t" if text.lower() == "tab" else codecs.decode(text, "unicode_escape") if "\\" in text else text
    if len(d) != 1:
        raise ContractError(f"--delimiter must be one character (or \\t, tab), got {text!r}")
    return d


@dataclass
class SeriesDetector:
    """All generic detectors on one series of one or more channels, fed block by block; keeps its state."""

    channels: list[str] = field(default_factory=lambda: ["value"])
    vmin: float = -math.inf
    vmax: float = math.inf
    state: dict = field(default_factory=dict)

    def update(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        """``x``: channels x rows. Scores (one per row, in [0, 1]), the driving channel of each row
        (an index into ``channels``) and the events reported by this block."""
        t = np.asarray(t, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64).reshape(len(self.channels), len(t))
        names, st = self.channels, self.state
        events, sc = novelty.process(st.setdefault("novelty", {}), t, x, names, want_scores=True)
        scores, driver = sc["score"], sc["driver"]
        ev, s_stuck = stuck.process(st.setdefault("stuck", {}), t, x, names, want_scores=True)
        events += ev
        ev, s_gap = gaps.process(st.setdefault("gaps", {}), t, want_scores=True)
        events += ev
        quality = np.minimum(np.maximum(s_stuck.max(axis=0), s_gap), DATA_QUALITY_CAP)
        driver = np.where(quality > scores, np.argmax(s_stuck, axis=0), driver)
        scores = np.maximum(scores, quality)
        if math.isfinite(self.vmin) or math.isfinite(self.vmax):
            rows = len(names)
            ev, s_range = out_of_range.process(st.setdefault("range", {}), t, x, names, np.full(rows, self.vmin),
                                               np.full(rows, self.vmax), want_scores=True)
            events += ev
            driver = np.where(s_range.max(axis=0) > scores, np.argmax(s_range, axis=0), driver)
            scores = np.maximum(scores, s_range.max(axis=0))
        return np.clip(scores, 0.0, 1.0), driver, events


def fold(events: list[dict]) -> list[dict]:
    """Later reports of the same event (same kind, channel and start) supersede earlier ones."""
    out: dict[tuple, dict] = {}
    for e in events:
        out[(e["kind"], e.get("channel"), e["t_start"])] = e
    return sorted(out.values(), key=lambda e: (e["t_start"], e["kind"]))


@dataclass
class _Rows:
    """The input's rows as (line, timestamp text, value texts, seconds, values or None)."""

    path: str
    time_col: str
    value_cols: list[str]
    delimiter: str
    skipped: dict = field(default_factory=dict)

    def header(self, fh) -> csv.reader:
        reader = csv.reader(fh, delimiter=self.delimiter)
        names = next(reader, None)
        if names is None:
            raise ContractError(f"{self.path}: the file is empty; it needs a header row")
        names = [n.strip() for n in names]
        if self.value_cols == ["all"]:
            self.value_cols = [n for n in names if n != self.time_col]
        missing = [c for c in (self.time_col, *self.value_cols) if c not in names]
        if missing:
            raise ContractError(f"{self.path}: no column {missing[0]!r}; the file has {names}"
                                + ("" if self.delimiter != "," or len(names) > 1 else
                                   " (one column: is the delimiter ','? see --delimiter)"))
        if not self.value_cols:
            raise ContractError(f"{self.path}: no value column besides {self.time_col!r}")
        self.cols = [names.index(c) for c in (self.time_col, *self.value_cols)]
        return reader

    def read(self, reader):
        for row in reader:
            line = reader.line_num
            if not row or row == [""]:
                continue
            if len(row) <= max(self.cols):
                raise ContractError(f"{self.path}, line {line}: {len(row)} fields, the header has more; "
                                    "is the file truncated or the delimiter wrong?")
            ts = row[self.cols[0]]
            try:
                t = parse_time(ts)
            except ContractError as e:
                raise ContractError(f"{self.path}, line {line}: {e}") from None
            texts = [row[i] for i in self.cols[1:]]
            yield line, ts, texts, t, self._values(line, texts)

    def _values(self, line: int, texts: list[str]) -> list[float] | None:
        values = []
        for text in texts:
            try:
                v = float(text)
            except ValueError:
                return self.skip("empty value" if not text.strip() else "not a number", line)
            if not math.isfinite(v):
                return self.skip("not a finite number", line)
            values.append(v)
        return values

    def skip(self, reason: str, line: int) -> None:
        entry = self.skipped.setdefault(reason, {"rows": 0, "first_lines": []})
        entry["rows"] += 1
        if len(entry["first_lines"]) < 5:
            entry["first_lines"].append(line)
        return None


def detect_file(path: str, time_col: str, value_col: str | list[str], out: str | None = None, block: int = 4096,
                vmin: float = -math.inf, vmax: float = math.inf, delimiter: str = ",", sort: bool = False,
                forecast: bool = False) -> dict:
    """Run the generic detectors over a CSV file; write per-row scores to ``out``; return counts and windows.

    ``value_col``: one column, a comma-separated list, a list, or ``"all"`` (every column but the time).
    ``forecast``: also the time left before each channel crosses its limit (``vmin``/``vmax``, else its learnt
    range), per row (``time_to_limit``) and as ``approaching_limit`` windows (``apexflow.strategy.limit``)."""
    if block < 1:
        raise ContractError(f"--block must be at least 1, got {block}")
    src = Path(path)
    if not src.is_file():
        raise ContractError(f"{path}: no such file")
    if out and Path(out).resolve() == src.resolve():
        raise ContractError(f"--out {out} is the input file; write the scores to another file")
    cols = value_col if isinstance(value_col, list) else [c.strip() for c in value_col.split(",") if c.strip()]
    rows = _Rows(path, time_col, cols, delimiter_of(delimiter))
    tmp = None
    try:
        with open(src, newline="", encoding="utf-8-sig") as fh:
            reader = rows.header(fh)
            det = SeriesDetector(rows.value_cols, vmin, vmax)
            limits = LimitWatch(rows.value_cols, vmin, vmax) if forecast else None
            stream = rows.read(reader)
            if sort:
                stream = iter(sorted(stream, key=lambda r: r[3]))
            if out:
                fd, tmp = tempfile.mkstemp(prefix=".apexflow-", suffix=".csv", dir=Path(out).resolve().parent)
                with os.fdopen(fd, "w", newline="") as fh_out:
                    result = _run(det, rows, stream, block, csv.writer(fh_out), limits)
                os.replace(tmp, out)
                tmp = None
            else:
                result = _run(det, rows, stream, block, None, limits)
    except UnicodeDecodeError as e:
        raise ContractError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    finally:
        if tmp:
            os.unlink(tmp)
    result["skipped"] = rows.skipped
    result["channels"] = rows.value_cols
    return result


class LimitWatch:
    """Time to a limit for every channel, row by row: the earliest crossing ahead, and a warning window when a
    channel's crossing comes nearer than the span of the trend it is extrapolated from."""

    def __init__(self, channels: list[str], vmin: float, vmax: float, window: int = 20):
        from apexflow.strategy.limit import LimitForecaster

        given = math.isfinite(vmin) or math.isfinite(vmax)
        self.channels, self.warned = channels, set()
        self.watch = [LimitForecaster(upper=vmax if math.isfinite(vmax) else None,
                                      lower=vmin if math.isfinite(vmin) else None, window=window) if given
                      else LimitForecaster(window=window) for _ in channels]

    def update(self, t: float, values) -> tuple[float | None, list[dict]]:
        soonest, events = None, []
        for name, watch, v in zip(self.channels, self.watch, values):
            f = watch.update(t, float(v))
            if f is None or f.eta > watch.span:
                self.warned.discard(name)
                continue
            soonest = f.eta if soonest is None else min(soonest, f.eta)
            if name not in self.warned:
                self.warned.add(name)
                events.append({"kind": "approaching_limit", "t_start": t, "t_end": t + f.eta, "channel": name,
                               "score": 0.5, "evidence": {"limit": f.limit, "seconds_left": round(f.eta, 3),
                                                          "low": round(f.low, 3), "high": round(f.high, 3)}})
        return soonest, events


def _run(det: SeriesDetector, rows: _Rows, stream, block: int, writer, limits: LimitWatch | None = None) -> dict:
    if writer:
        writer.writerow([rows.time_col, *rows.value_cols, "score", "channels"] + (["time_to_limit"] if limits else []))
    events: list[dict] = []
    stamps: dict[float, str] = {}
    n_rows = n_flagged = 0
    last_t, last_line = -math.inf, 0
    pending: list[tuple] = []
    names = rows.value_cols

    def flush():
        nonlocal n_flagged
        good = [(p[3], p[4]) for p in pending if p[4] is not None]
        scores = drivers = iter(())
        if good:
            sc, drv, ev = det.update(np.array([g[0] for g in good]), np.array([g[1] for g in good]).T)
            events.extend(ev)
            scores, drivers = iter(sc.tolist()), iter(drv.tolist())
        for _, ts, texts, t, vals in pending:
            s, d = (next(scores), next(drivers)) if vals is not None else (0.0, None)
            n_flagged += s >= 0.5
            left = None
            if limits is not None and vals is not None:
                left, ev = limits.update(t, vals)
                events.extend(ev)
            if writer:
                writer.writerow([ts, *texts, f"{s:.4f}", names[d] if s >= 0.5 and d is not None else ""]
                                + ([f"{left:.3f}" if left is not None else ""] if limits else []))
        pending.clear()

    for line, ts, texts, t, vals in stream:
        n_rows += 1
        if t < last_t:
            raise ContractError(f"{rows.path}, line {line}: timestamp {ts!r} is before the previous row's "
                                f"(line {last_line}); sort the file by time, or pass --sort")
        if vals is not None and t == last_t:
            vals = rows.skip("repeats the previous timestamp", line)
        if vals is not None:
            last_t, last_line = t, line
            stamps[t] = ts
        pending.append((line, ts, texts, t, vals))
        if len(pending) >= block:
            flush()
    flush()
    windows = [{"kind": e["kind"], "start": stamps.get(e["t_start"], e["t_start"]),
                "end": stamps.get(e["t_end"], e["t_end"]), "score": round(float(e["score"]), 3),
                "channel": e.get("channel"), "evidence": e.get("evidence", {})} for e in fold(events)]
    return {"rows": n_rows, "rows_scored_over_0_5": int(n_flagged), "windows": windows}


def report(result: dict, out: str | None) -> str:
    skipped = sum(v["rows"] for v in result["skipped"].values())
    lines = [f"rows {result['rows']}   channels {len(result['channels'])}   skipped {skipped}   "
             f"rows with score >= 0.5 {result['rows_scored_over_0_5']}   flagged windows {len(result['windows'])}"]
    for reason, v in result["skipped"].items():
        lines.append(f"  skipped {v['rows']} rows: {reason} (lines {', '.join(map(str, v['first_lines']))}"
                     f"{', ...' if v['rows'] > len(v['first_lines']) else ''})")
    if out:
        lines.append(f"scores written to {out}")
    if result["windows"]:
        lines.append(f"{'kind':<16}{'start':<28}{'end':<28}{'score':>6}  channels")
        for w in result["windows"]:
            chans = w["evidence"].get("channels") or ([w["channel"]] if w.get("channel") else [])
            lines.append(f"{w['kind']:<16}{str(w['start']):<28}{str(w['end']):<28}{w['score']:>6.2f}  "
                         f"{', '.join(chans)}")
    return "\n".join(lines)
