"""``apexflow detect FILE.csv``: the generic detectors on a plain time-series file, one channel or many.

The file is read as a stream and fed, a block of rows at a time, to the same streaming
detectors the pipeline runs (``apexflow.detect.generic``): the novelty score over all value
columns jointly, a stuck value and out-of-range values per column, and gaps in the time
column. Every row's score depends only on that row and the rows before it, and the
detectors give identical results for any split of the stream (``--block 1`` is row by
row), so the output is what an online system would have said at that moment: per row the
score in [0, 1] (an anomaly likelihood: 0.5 is a one-in-a-million moment for this series; 0
while the detectors warm up), the alarm (1 on the row where an anomaly is raised, 0 while it
stays raised: the novelty score's alarm rules, ``apexflow.detect.generic.likelihood``, over the
row score), the channels that drove it when it is 0.5 or more, and the flagged windows.

Timestamps may be ISO-8601 (``2024-05-01T12:00:00Z``, offsets allowed), ``YYYY-MM-DD
HH:MM:SS`` (taken as UTC) or numeric seconds; sampling may be irregular. A row earlier than
the row before it (a repeated hour, a late sample) is scored where it stands and counted, with
the first line, in ``out_of_order``; ``sort=True`` sorts a shuffled file first, in memory. A
row with an empty or non-numeric value, or repeating the previous row's timestamp, is passed
through with score 0 and not fed to the detectors; the result counts every such row by reason,
with the first lines. A bad timestamp is an error naming its line.

Input is a file (gzip read transparently, whatever its name) or ``-`` for standard input.
Outputs (``out``, ``windows``) onto a regular file or a new path are written to a temporary
file renamed over the target only once the whole input has been read: a failed run leaves no
partial output and never touches an existing one. A character device or a FIFO (``/dev/null``,
a pipe) is written in place, as ``cp`` or ``tee`` would; a folder, a missing folder or any
other kind of file is refused before anything is read, as is an output that is the input or
the other output.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import gzip
import io
import json
import math
import os
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

import numpy as np

from apexflow.detect.generic import gaps, likelihood, novelty, out_of_range, stuck
from apexflow.errors import ContractError

DATA_QUALITY_CAP = 0.45  # a gap or a stuck value is a warning below the alarm line (its window says what it is)


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
        dt = dt.replace(tzinfo=UTC)
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

    def update(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[dict], np.ndarray]:
        """``x``: channels x rows. Scores (one per row, in [0, 1]), the driving channel of each row
        (an index into ``channels``), the events reported by this block, and the alarms (1 on the row
        where an anomaly of any detector is raised: the novelty score's alarm rules over the row score)."""
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
        scores = np.clip(scores, 0.0, 1.0)
        n0 = st.get("rows", 0)
        st["rows"] = n0 + len(t)
        return scores, driver, events, likelihood.alarms(st.setdefault("alarm", {}), scores, n0)


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

    def header(self, fh) -> Iterator[list[str]]:
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
                self.skip("empty value" if not text.strip() else "not a number", line)
                return None
            if not math.isfinite(v):
                self.skip("not a finite number", line)
                return None
            values.append(v)
        return values

    def skip(self, reason: str, line: int) -> None:
        entry = self.skipped.setdefault(reason, {"rows": 0, "first_lines": []})
        entry["rows"] += 1
        if len(entry["first_lines"]) < 5:
            entry["first_lines"].append(line)


def _target(path: str, flag: str) -> tuple[Path, os.stat_result | None]:
    """Where ``flag`` writes: the resolved path and its status (None: a new file), or a one-line refusal."""
    given = Path(path)
    try:
        st = given.stat()  # through symlinks: /dev/stdout is the pipe or terminal behind it
    except FileNotFoundError:
        target = given.resolve()
        if not target.parent.is_dir():
            raise ContractError(f"{flag} {path}: the folder {target.parent} does not exist; create it first, "
                                "or name a file in an existing folder") from None
        return target, None
    if stat.S_ISDIR(st.st_mode):
        raise ContractError(f"{flag} {path} is a folder; name a file (e.g. {Path(path) / 'scores.csv'})")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return given, st  # written in place, by the name given
    if not stat.S_ISREG(st.st_mode):
        raise ContractError(f"{flag} {path} is neither a regular file, a character device nor a FIFO; "
                            "name a file")
    return given.resolve(), st  # a symlink's target is replaced, the link kept


def _same(a: tuple[Path, os.stat_result | None], b: tuple[Path, os.stat_result | None]) -> bool:
    if a[1] is not None and b[1] is not None:
        return (a[1].st_dev, a[1].st_ino) == (b[1].st_dev, b[1].st_ino)
    return a[0] == b[0]


def check_paths(path: str, out: str | None, windows: str | None) -> dict[str, tuple]:
    """Refuse, before anything is read, an input that is no file and outputs that would damage the input, each
    other, or a folder: the outputs' targets by flag."""
    if path != "-":
        src = Path(path)
        if src.is_dir():
            raise ContractError(f"{path} is a folder; give the CSV file inside it (or - for standard input)")
        if not src.exists():
            raise ContractError(f"{path}: no such file")
    names = dict(names_of(out, windows))
    targets = {flag: _target(name, flag) for flag, name in names.items()}
    if path != "-":
        source = (src.resolve(), src.stat())
        for flag, target in targets.items():
            if _same(target, source):
                raise ContractError(f"{flag} {names[flag]} is the input file; write the "
                                    f"{'scores' if flag == '--out' else 'windows'} to another file")
    if len(targets) == 2 and _same(targets["--out"], targets["--windows"]) and not (
            targets["--out"][1] is not None and stat.S_ISCHR(targets["--out"][1].st_mode)):
        raise ContractError(f"--out and --windows name the same file ({out}); give each its own")
    return targets


class _Output:
    """A text output: a temporary file renamed over a regular file or a new path on ``commit``; a character
    device or a FIFO written in place (a rename would replace the device with a file)."""

    def __init__(self, target: tuple[Path, os.stat_result | None], flag: str):
        path, st = target
        self.path, self.flag, self.tmp = path, flag, None
        try:
            if st is not None and not stat.S_ISREG(st.st_mode):
                self.fh = open(path, "w", newline="")  # noqa: SIM115 - held open until commit() or abort()
                return
            fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~umask)
            self.fh = os.fdopen(fd, "w", newline="")
        except OSError as e:
            self.abort()
            raise ContractError(f"{flag} {path}: cannot write ({e.strerror})") from None

    def commit(self) -> None:
        try:
            self.fh.close()
            if self.tmp:
                os.replace(self.tmp, self.path)
                self.tmp = None
        except OSError as e:
            raise ContractError(f"{self.flag} {self.path}: cannot write ({e.strerror})") from None

    def abort(self) -> None:
        fh = getattr(self, "fh", None)
        if fh is not None and not fh.closed:
            with contextlib.suppress(OSError):
                fh.close()
        if self.tmp:
            os.unlink(self.tmp)
            self.tmp = None


def _open_input(path: str):
    """The input as text: a file or standard input, gzip-compressed or not (told by its first bytes)."""
    raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - the caller closes it
    try:
        peekable = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
        stream: IO[bytes] | gzip.GzipFile = peekable
        if peekable.peek(2)[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=peekable, mode="rb")
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    except OSError as e:
        raw.close()
        raise ContractError(f"{path}: cannot read ({e.strerror})") from None


def names_of(out: str | None, windows: str | None) -> list[tuple[str, str]]:
    return [(f, n) for f, n in (("--out", out), ("--windows", windows)) if n]


def check_range(vmin: float, vmax: float) -> None:
    if math.isnan(vmin) or math.isnan(vmax):
        raise ContractError("--min and --max must be numbers, not nan")
    if vmin > vmax:
        raise ContractError(f"--min {vmin:g} is above --max {vmax:g}; swap them")


def detect_file(path: str, time_col: str, value_col: str | list[str], out: str | None = None, block: int = 4096,
                vmin: float = -math.inf, vmax: float = math.inf, delimiter: str = ",", sort: bool = False,
                windows: str | None = None, forecast: bool = False) -> dict:
    """Run the generic detectors over a CSV file (``-``: standard input; gzip read as is); write per-row scores
    to ``out`` and the flagged windows as JSON to ``windows``; return counts and windows.

    ``value_col``: one column, a comma-separated list, a list, or ``"all"`` (every column but the time).
    ``forecast``: also the time left before each channel crosses its limit (``vmin``/``vmax``, else its learnt
    range), per row (``time_to_limit``) and as ``approaching_limit`` windows (``apexflow.strategy.limit``)."""
    if block < 1:
        raise ContractError(f"--block must be at least 1, got {block}")
    check_range(vmin, vmax)
    targets = check_paths(path, out, windows)
    cols = value_col if isinstance(value_col, list) else [c.strip() for c in value_col.split(",") if c.strip()]
    rows = _Rows("standard input" if path == "-" else path, time_col, cols, delimiter_of(delimiter))
    outputs: list[_Output] = []
    try:
        with _open_input(path) as fh:
            reader = rows.header(fh)
            det = SeriesDetector(rows.value_cols, vmin, vmax)
            limits = LimitWatch(rows.value_cols, vmin, vmax) if forecast else None
            stream = rows.read(reader)
            if sort:
                stream = iter(sorted(stream, key=lambda r: r[3]))
            scores = _Output(targets["--out"], "--out") if out else None
            outputs += [scores] if scores else []
            result = _run(det, rows, stream, block, csv.writer(scores.fh) if scores else None, limits)
        if windows:
            outputs.append(_Output(targets["--windows"], "--windows"))
            json.dump(result["windows"], outputs[-1].fh, indent=1, default=str)
        for o in outputs:
            o.commit()
    except UnicodeDecodeError as e:
        raise ContractError(f"{rows.path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ContractError(f"{rows.path}: a damaged or truncated gzip file ({e or 'ends early'})") from None
    except OSError as e:  # a full disk or device, a closed pipe; an unreadable input
        if e.errno in (errno.ENOSPC, errno.EPIPE, errno.EDQUOT, errno.EFBIG):
            raise ContractError(f"cannot write {' and '.join(f'{f} {n}' for f, n in names_of(out, windows))} "
                                f"({e.strerror}); nothing complete was written") from None
        raise ContractError(f"{rows.path}: cannot read ({e.strerror})") from None
    finally:
        for o in outputs:
            o.abort()
    result["skipped"] = rows.skipped
    result["channels"] = rows.value_cols
    return result


class LimitWatch:
    """Time to a limit for every channel, row by row: the earliest crossing ahead, and a warning window when a
    channel's crossing comes nearer than the span of the trend it is extrapolated from."""

    def __init__(self, channels: list[str], vmin: float, vmax: float, window: int = 20):
        from apexflow.strategy.limit import LimitForecaster

        given = math.isfinite(vmin) or math.isfinite(vmax)
        self.channels = channels
        self.warned: set[str] = set()
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
        writer.writerow([rows.time_col, *rows.value_cols, "score", "alarm", "channels"]
                        + (["time_to_limit"] if limits else []))
    events: list[dict] = []
    stamps: dict[float, str] = {}
    n_rows = n_flagged = n_alarms = 0
    last_t = -math.inf
    late_rows, first_late = 0, None  # rows earlier than the row before them, and the first one's line
    pending: list[tuple] = []
    names = rows.value_cols

    def flush():
        nonlocal n_flagged, n_alarms
        good = [(p[3], p[4]) for p in pending if p[4] is not None]
        scores = drivers = alarms = iter(())
        if good:
            sc, drv, ev, al = det.update(np.array([g[0] for g in good]), np.array([g[1] for g in good]).T)
            events.extend(ev)
            scores, drivers, alarms = iter(sc.tolist()), iter(drv.tolist()), iter(al.tolist())
        for _, ts, texts, t, vals in pending:
            s, d, a = (next(scores), next(drivers), next(alarms)) if vals is not None else (0.0, None, 0)
            n_flagged += s >= 0.5
            n_alarms += a
            left = None
            if limits is not None and vals is not None:
                left, ev = limits.update(t, vals)
                events.extend(ev)
            if writer:
                writer.writerow([ts, *texts, f"{s:.4f}", a, names[d] if s >= 0.5 and d is not None else ""]
                                + ([f"{left:.3f}" if left is not None else ""] if limits else []))
        pending.clear()

    for line, ts, texts, t, vals in stream:
        n_rows += 1
        if vals is not None and t < last_t:  # scored where it stands, and reported
            late_rows += 1
            first_late = first_late or line
        elif vals is not None and t == last_t:
            rows.skip("repeats the previous timestamp", line)
            vals = None
        if vals is not None:
            last_t = t
            stamps[t] = ts
        pending.append((line, ts, texts, t, vals))
        if len(pending) >= block:
            flush()
    flush()
    windows = [{"kind": e["kind"], "start": stamps.get(e["t_start"], e["t_start"]),
                "end": stamps.get(e["t_end"], e["t_end"]), "score": round(float(e["score"]), 3),
                "channel": e.get("channel"), "evidence": e.get("evidence", {})} for e in fold(events)]
    return {"rows": n_rows, "rows_scored_over_0_5": int(n_flagged), "alarms": int(n_alarms),
            "out_of_order": {"rows": late_rows, "first_line": first_late}, "windows": windows}


def report(result: dict, out: str | None) -> str:
    skipped = sum(v["rows"] for v in result["skipped"].values())
    lines = [f"rows {result['rows']}   channels {len(result['channels'])}   skipped {skipped}   "
             f"rows with score >= 0.5 {result['rows_scored_over_0_5']}   alarms {result['alarms']}   "
             f"flagged windows {len(result['windows'])}"]
    late = result["out_of_order"]
    if late["rows"]:
        lines.append(f"  {late['rows']} rows earlier than the row before them (first: line {late['first_line']}): "
                     "scored in file order; pass --sort if the file is shuffled")
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
