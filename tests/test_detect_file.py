"""``apexflow detect FILE.csv``: plain time series in, one score per row and flagged windows out."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from apexflow.cli import main
from apexflow.contract import ContractError
from apexflow.detect_file import SeriesDetector, detect_file, parse_time


def write_series(path, stamps, values, time_col="timestamp", value_col="value"):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([time_col, value_col])
        w.writerows(zip(stamps, values))


def machine_series(n=3000, seed=1):
    """A noisy daily-ish pattern with a spike, a level shift and a stuck stretch; irregular 5-minute sampling."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    secs = np.cumsum(rng.uniform(240, 360, n))
    secs[n * 11 // 15:] += 6 * 3600  # a six-hour outage
    x = 50 + 10 * np.sin(2 * np.pi * secs / 86400) + rng.normal(0, 1, n)
    x[n * 4 // 15] += 25  # spike
    x[n // 2:] += 15  # level shift
    x[n * 19 // 30:n * 19 // 30 + 60] = x[n * 19 // 30]  # stuck
    stamps = [(t0 + timedelta(seconds=float(s))).strftime("%Y-%m-%d %H:%M:%S") for s in secs]
    return stamps, x, secs


def test_parse_time_formats():
    assert parse_time("12.5") == 12.5
    assert parse_time("1970-01-01 00:01:00") == 60.0
    assert parse_time("1970-01-01T00:01:00Z") == 60.0
    assert parse_time("1970-01-01T01:01:00+01:00") == 60.0
    with pytest.raises(ContractError):
        parse_time("yesterday")


def test_scores_every_row_and_flags_the_windows(tmp_path):
    stamps, x, _ = machine_series()
    src, out = tmp_path / "series.csv", tmp_path / "scores.csv"
    write_series(src, stamps, x)
    result = detect_file(str(src), "timestamp", "value", out=str(out))
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == len(stamps) == result["rows"]
    scores = np.array([float(r["score"]) for r in rows])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (scores[:96] == 0).all()  # warming up
    kinds = {(w["kind"], w["start"]) for w in result["windows"]}
    assert ("spike", stamps[800]) in kinds
    assert any(k == "level_shift" and stamps[1500] <= s <= stamps[1510] for k, s in kinds)
    assert any(k == "change_point" and stamps[1490] <= s <= stamps[1510] for k, s in kinds)
    assert any(k == "frozen_sensor" and s == stamps[1900] for k, s in kinds)
    assert ("dropout", stamps[2199]) in kinds
    assert scores[800] >= 0.9 and scores[2200] >= 0.9
    quiet = np.r_[100:790, 830:1480]
    assert (scores[quiet] < 0.5).mean() > 0.99  # clean stretches stay quiet


def test_row_by_row_equals_blocks(tmp_path):
    stamps, x, _ = machine_series(n=1200, seed=3)
    src = tmp_path / "s.csv"
    write_series(src, stamps, x)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    ra = detect_file(str(src), "timestamp", "value", out=str(a), block=1)
    rb = detect_file(str(src), "timestamp", "value", out=str(b), block=5000)
    assert a.read_text() == b.read_text()
    assert ra["windows"] == rb["windows"]


def test_no_look_ahead():
    """A row's score does not change when later rows are appended."""
    _, x, secs = machine_series(n=1000, seed=4)
    full, _ = SeriesDetector().update(secs, x)
    for cut in (150, 400, 801):
        part, _ = SeriesDetector().update(secs[:cut], x[:cut])
        assert np.array_equal(part, full[:cut])


def test_cli_numeric_seconds_bad_rows_and_range(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.5, 1.5, 600))
    x = rng.normal(20, 1, 600)
    x[400] = 120.0
    vals = [f"{v:.3f}" for v in x]
    vals[10] = ""
    vals[11] = "n/a"
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, [f"{s:.3f}" for s in t], vals, "T", "V")
    assert main(["detect", str(src), "--time-col", "T", "--value-col", "V", "--out", str(out), "--max", "100"]) == 0
    text = capsys.readouterr().out
    assert "rows 600" in text and "skipped 2" in text and "out_of_range" in text
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 600 and rows[10]["score"] == "0.0000" and float(rows[400]["score"]) == 1.0


def test_cli_reports_a_missing_column(tmp_path, capsys):
    src = tmp_path / "s.csv"
    write_series(src, ["1", "2"], ["1", "2"])
    assert main(["detect", str(src), "--time-col", "time", "--value-col", "value"]) == 2
    assert "no column 'time'" in capsys.readouterr().err
