"""``apexflow detect FILE.csv``: the generic detectors on a plain time-series file.

The file is read as a stream and fed to the same streaming detectors the pipeline runs
(``apexflow.detect.generic``), a block of rows at a time. Every row's score depends only
on that row and the rows before it (the detectors give identical results for any split
of the stream, row by row included: ``--block 1`` shows it), so the output is what an
online system would have said at that moment. Each row gets one anomaly score in [0, 1]
(0 while the detectors warm up), and the flagged windows are listed.

Timestamps may be ISO-8601 (``2024-05-01T12:00:00Z``, offsets allowed), ``YYYY-MM-DD
HH:MM:SS`` (taken as UTC) or numeric seconds; sampling may be irregular. Rows whose value
is empty or not a number are passed through with score 0 and not fed to the detectors.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from apexflow.contract import ContractError
from apexflow.detect.generic import deviation, gaps, out_of_range, stuck


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


@dataclass
class SeriesDetector:
    """All generic detectors on one numeric series, fed block by block; keeps its state between blocks."""

    vmin: float = -math.inf
    vmax: float = math.inf
    channel: str = "value"
    state: dict = field(default_factory=dict)

    def update(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Scores (one per sample, in [0, 1]) and the events reported by this block."""
        t = np.asarray(t, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)[None, :]
        names = [self.channel]
        st = self.state
        events: list[dict] = []
        ev, score = deviation.process(st.setdefault("deviation", {}), t, x, names, want_scores=True)
        events += ev
        scores = score[0]
        ev, score = stuck.process(st.setdefault("stuck", {}), t, x, names, want_scores=True)
        events += ev
        scores = np.maximum(scores, score[0])
        ev, score = gaps.process(st.setdefault("gaps", {}), t, want_scores=True)
        events += ev
        scores = np.maximum(scores, score)
        if math.isfinite(self.vmin) or math.isfinite(self.vmax):
            ev, score = out_of_range.process(st.setdefault("range", {}), t, x, names, np.array([self.vmin]),
                                             np.array([self.vmax]), want_scores=True)
            events += ev
            scores = np.maximum(scores, score[0])
        return np.clip(scores, 0.0, 1.0), events


def fold(events: list[dict]) -> list[dict]:
    """Later reports of the same event (same kind, channel and start) supersede earlier ones."""
    out: dict[tuple, dict] = {}
    for e in events:
        out[(e["kind"], e.get("channel"), e["t_start"])] = e
    return sorted(out.values(), key=lambda e: (e["t_start"], e["kind"]))


def detect_file(path: str, time_col: str, value_col: str, out: str | None = None, block: int = 4096,
                vmin: float = -math.inf, vmax: float = math.inf, delimiter: str = ",") -> dict:
    """Run the generic detectors over a CSV file; write per-row scores to ``out``; return rows and windows."""
    if block < 1:
        raise ContractError(f"--block must be at least 1, got {block}")
    det = SeriesDetector(vmin, vmax, channel=value_col if value_col.isidentifier() else "value")
    events: list[dict] = []
    stamps: dict[float, str] = {}
    n_rows = n_skipped = n_flagged = 0
    last_t = -math.inf
    writer = None
    fh_out = open(out, "w", newline="") if out else None
    try:
        if fh_out:
            writer = csv.writer(fh_out)
            writer.writerow([time_col, value_col, "score"])
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            missing = [c for c in (time_col, value_col) if c not in (reader.fieldnames or [])]
            if missing:
                raise ContractError(f"{path}: no column {missing[0]!r}; the file has {reader.fieldnames}")
            pending: list[tuple[str, str, float, float | None]] = []

            def flush():
                nonlocal n_flagged
                good = [(tt, vv) for _, _, tt, vv in pending if vv is not None]
                scores = iter(())
                if good:
                    arr = np.array(good, dtype=np.float64)
                    sc, ev = det.update(arr[:, 0], arr[:, 1])
                    events.extend(ev)
                    scores = iter(sc.tolist())
                for ts, vs, _, vv in pending:
                    s = next(scores) if vv is not None else 0.0
                    n_flagged += s >= 0.5
                    if writer:
                        writer.writerow([ts, vs, f"{s:.4f}"])
                pending.clear()

            for row in reader:
                n_rows += 1
                ts, vs = row[time_col], row[value_col]
                t = parse_time(ts)
                try:
                    v = float(vs)
                    if not math.isfinite(v):
                        v = None
                except (TypeError, ValueError):
                    v = None
                if v is not None and t <= last_t:
                    v = None  # not after the previous sample: a stream cannot take it
                if v is None:
                    n_skipped += 1
                else:
                    last_t = t
                    stamps[t] = ts
                pending.append((ts, vs, t, v))
                if len(pending) >= block:
                    flush()
            flush()
    finally:
        if fh_out:
            fh_out.close()
    windows = [{"kind": e["kind"], "start": stamps.get(e["t_start"], e["t_start"]),
                "end": stamps.get(e["t_end"], e["t_end"]), "score": round(float(e["score"]), 3),
                "evidence": e.get("evidence", {})} for e in fold(events)]
    return {"rows": n_rows, "skipped": n_skipped, "rows_scored_over_0_5": int(n_flagged), "windows": windows}


def report(result: dict, out: str | None) -> str:
    lines = [f"rows {result['rows']}   skipped {result['skipped']}   rows with score >= 0.5 "
             f"{result['rows_scored_over_0_5']}   flagged windows {len(result['windows'])}"]
    if out:
        lines.append(f"scores written to {out}")
    if result["windows"]:
        lines.append(f"{'kind':<14}{'start':<28}{'end':<28}{'score':>6}")
        for w in result["windows"]:
            lines.append(f"{w['kind']:<14}{str(w['start']):<28}{str(w['end']):<28}{w['score']:>6.2f}")
    return "\n".join(lines)
