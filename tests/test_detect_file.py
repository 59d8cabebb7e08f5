"""``apexflow detect FILE.csv``: time series in, one score and alarm per row (and the channels behind it) and
windows out."""
from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from apexflow.detect.generic import novelty
from apexflow.errors import ContractError
from apexflow.pipeline.detect_file import SeriesDetector, delimiter_of, detect_file, parse_time
from apexflow_local.cli import main


def write_series(path, stamps, values, time_col="timestamp", value_col="value", delimiter=",", bom=False):
    columns = values if isinstance(values, dict) else {value_col: values}
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow([time_col, *columns])
        w.writerows(zip(stamps, *columns.values()))


def machine_series(n=3000, seed=1):
    """A noisy daily-ish pattern with a spike, a level shift and a stuck stretch; irregular 5-minute sampling."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    secs = np.cumsum(rng.uniform(240, 360, n))
    secs[n * 11 // 15:] += 6 * 3600  # a six-hour outage
    x = 50 + 10 * np.sin(2 * np.pi * secs / 86400) + rng.normal(0, 1, n)
    x[n * 4 // 15] += 25  # spike
    x[n // 2:] += 15  # level shift
    x[n * 19 // 30:n * 19 // 30 + 60] = x[n * 19 // 30]  # stuck
    stamps = [(t0 + timedelta(seconds=float(s))).strftime("%Y-%m-%d %H:%M:%S") for s in secs]
    return stamps, x, secs


def scores_of(path):
    return np.array([float(r["score"]) for r in csv.DictReader(open(path))])


def alarms_of(path):
    return np.flatnonzero([r["alarm"] == "1" for r in csv.DictReader(open(path))])


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
    scores = scores_of(out)
    assert len(scores) == len(stamps) == result["rows"]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (scores[:novelty.WARMUP] == 0).all()  # warming up
    found = {(w["kind"], w["start"]) for w in result["windows"]}
    anomalies = [stamps.index(w["start"]) for w in result["windows"] if w["kind"] == "anomaly"]
    assert anomalies[0] == 800 and 1500 <= anomalies[1] <= 1505 and len(anomalies) == 2  # one window each
    assert ("frozen_sensor", stamps[1900]) in found and ("dropout", stamps[2199]) in found
    assert scores[800] >= 0.5 and scores[1500:1510].max() >= 0.5 and 0.4 <= scores[2200] < 0.5  # a dropout: a warning
    raised = alarms_of(out)
    assert list(raised[:2]) == anomalies and result["alarms"] == len(raised)  # the alarm column: the same events
    quiet = np.r_[300:790, 830:1480]
    assert (scores[quiet] < 0.5).all() and not np.isin(raised, quiet).any()  # clean stretches stay quiet


@pytest.mark.slow
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
    full, _, _, alarm = SeriesDetector().update(secs, x)
    for cut in (150, 400, 801):
        part, _, _, part_alarm = SeriesDetector().update(secs[:cut], x[:cut])
        assert np.array_equal(part, full[:cut]) and np.array_equal(part_alarm, alarm[:cut])


def test_many_columns_scored_jointly_with_the_channel_behind_each_flag(tmp_path, capsys):
    rng = np.random.default_rng(7)
    n = 2000
    values = {"temp": 60 + rng.normal(0, 0.5, n), "vibration": 1 + 0.2 * np.sin(np.arange(n) / 9),
              "current": 12 + rng.normal(0, 0.2, n)}
    values["vibration"][1500] += 3.0
    src, out = tmp_path / "rig.csv", tmp_path / "o.csv"
    write_series(src, [f"{i * 10}" for i in range(n)], values, time_col="t")
    for spec in ("temp,vibration,current", "all"):
        assert main(["detect", str(src), "--time-col", "t", "--value-col", spec, "--out", str(out)]) == 0
        rows = list(csv.DictReader(open(out)))
        assert list(rows[0]) == ["t", "temp", "vibration", "current", "score", "alarm", "channels"]
        assert float(rows[1500]["score"]) >= 0.5 and rows[1500]["channels"] == "vibration"
        assert rows[1500]["alarm"] == "1"
        assert all(r["channels"] == "" for r in rows if float(r["score"]) < 0.5)
    assert "channels 3" in capsys.readouterr().out


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
    assert "empty value (lines 12)" in text and "not a number (lines 13)" in text
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 600 and rows[10]["score"] == "0.0000" and float(rows[400]["score"]) == 1.0


def test_cli_reports_a_missing_column(tmp_path, capsys):
    src = tmp_path / "s.csv"
    write_series(src, ["1", "2"], ["1", "2"])
    assert main(["detect", str(src), "--time-col", "time", "--value-col", "value"]) == 2
    assert "no column 'time'" in capsys.readouterr().err


def test_a_missing_input_leaves_an_existing_output_alone(tmp_path, capsys):
    out = tmp_path / "o.csv"
    out.write_text("keep me\n")
    assert main(["detect", str(tmp_path / "nope.csv"), "--time-col", "t", "--value-col", "v", "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err and out.read_text() == "keep me\n"


def test_the_output_may_not_be_the_input(tmp_path, capsys):
    src = tmp_path / "s.csv"
    write_series(src, ["1", "2"], ["1", "2"])
    before = src.read_text()
    assert main(["detect", str(src), "--time-col", "timestamp", "--value-col", "value", "--out", str(src)]) == 2
    assert "is the input file" in capsys.readouterr().err and src.read_text() == before


def test_a_bad_timestamp_names_its_line_and_writes_nothing(tmp_path, capsys):
    stamps = [str(i) for i in range(20_000)]
    stamps[14_999] = "noon"
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, stamps, np.ones(20_000))
    out.write_text("old scores\n")
    assert main(["detect", str(src), "--time-col", "timestamp", "--value-col", "value", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 15001" in err and "'noon'" in err
    assert out.read_text() == "old scores\n" and len(list(tmp_path.iterdir())) == 2  # no temp file left


def test_tabs_and_a_byte_order_mark(tmp_path):
    src = tmp_path / "s.tsv"
    write_series(src, [str(i) for i in range(400)], np.sin(np.arange(400) / 5), delimiter="\t", bom=True)
    assert delimiter_of("\\t") == delimiter_of("tab") == "\t"
    result = detect_file(str(src), "timestamp", "value", delimiter="\\t")
    assert result["rows"] == 400 and not result["skipped"]
    with pytest.raises(ContractError, match="one character"):
        delimiter_of(";;")


def test_rows_out_of_order_are_scored_in_file_order_and_reported(tmp_path, capsys):
    """A repeated hour (clocks going back) is neither refused nor reordered: scored as it comes, counted."""
    stamps, x, _ = machine_series(n=1500, seed=5)
    stamps = stamps[:600] + stamps[588:600] + stamps[600:]  # the last 12 rows repeated, as a clock turned back
    x = np.r_[x[:600], x[588:600], x[600:]]
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, stamps, x)
    args = ["detect", str(src), "--time-col", "timestamp", "--value-col", "value", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "1 rows earlier than the row before them (first: line 602)" in text and "--sort" in text
    rows = list(csv.DictReader(open(out)))
    assert [r["timestamp"] for r in rows] == stamps  # the file's order, every row scored
    assert (scores_of(out)[500:740] < 0.5).all()  # a stretch seen again, an hour back: no alarm
    assert alarms_of(out)[0] == 400  # the spike before it


def test_a_shuffled_file_is_sorted_on_request_and_repeats_reported(tmp_path, capsys):
    rng = np.random.default_rng(2)
    t = rng.permutation(1000).astype(float)
    t[5] = t[4]  # a repeat, once sorted
    src = tmp_path / "s.csv"
    write_series(src, [f"{v:.0f}" for v in t], rng.normal(0, 1, 1000))
    args = ["detect", str(src), "--time-col", "timestamp", "--value-col", "value"]
    assert main(args) == 0
    assert "rows earlier than the row before them" in capsys.readouterr().out
    assert main([*args, "--sort"]) == 0
    text = capsys.readouterr().out
    assert "rows 1000" in text and "repeats the previous timestamp" in text and "earlier than" not in text


def _series(tmp_path, n=400, name="s.csv"):
    src = tmp_path / name
    write_series(src, [str(i) for i in range(n)], np.sin(np.arange(n) / 5))
    return src


DETECT = ["--time-col", "timestamp", "--value-col", "value"]


def _one_line_error(capsys, *parts):
    err = capsys.readouterr().err
    assert err.startswith("apexflow: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for p in parts:
        assert p in err, err


def test_a_fifo_or_a_character_device_is_written_in_place_never_replaced(tmp_path, capsys):
    """A rename onto /dev/null would replace the device with a file: devices and FIFOs are written through."""
    import os
    import stat
    import threading

    src = _series(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()), daemon=True)
    reader.start()
    assert main(["detect", str(src), *DETECT, "--out", str(fifo)]) == 0
    reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got[0].startswith("timestamp,value,score,alarm,channels\n")
    assert got[0].count("\n") == 401
    if os.geteuid() != 0:
        pytest.skip("making a character device of one's own needs root")
    null, full = tmp_path / "null", tmp_path / "full"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    assert main(["detect", str(src), *DETECT, "--out", str(null), "--windows", str(null)]) == 0
    assert stat.S_ISCHR(os.stat(null).st_mode)
    capsys.readouterr()
    assert main(["detect", str(src), *DETECT, "--out", str(full)]) == 2
    _one_line_error(capsys, "No space left on device")
    assert stat.S_ISCHR(os.stat(full).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == [
        "full", "null", "pipe", "s.csv"]


def test_windows_may_be_neither_the_input_nor_the_scores(tmp_path, capsys):
    import os

    src = _series(tmp_path)
    before = src.read_text()
    assert main(["detect", str(src), *DETECT, "--windows", str(src)]) == 2
    _one_line_error(capsys, "--windows", "is the input file")
    link = tmp_path / "hard-link.csv"
    os.link(src, link)  # the same file by another name
    assert main(["detect", str(src), *DETECT, "--windows", str(link)]) == 2
    _one_line_error(capsys, "is the input file")
    assert main(["detect", str(src), *DETECT, "--out", str(link)]) == 2
    _one_line_error(capsys, "is the input file")
    both = tmp_path / "sub" / ".." / "o.csv"
    (tmp_path / "sub").mkdir()
    assert main(["detect", str(src), *DETECT, "--out", str(tmp_path / "o.csv"), "--windows", str(both)]) == 2
    _one_line_error(capsys, "--out and --windows name the same file")
    assert src.read_text() == before and not (tmp_path / "o.csv").exists()
    assert main(["detect", str(src), *DETECT, "--out", str(tmp_path / "o.csv"), "--windows",
                 str(tmp_path / "w.json")]) == 0
    import json
    assert isinstance(json.loads((tmp_path / "w.json").read_text()), list)


def test_outputs_into_a_missing_folder_or_onto_a_folder_are_one_line_errors(tmp_path, capsys):
    src = _series(tmp_path)
    for flag in ("--out", "--windows"):
        assert main(["detect", str(src), *DETECT, flag, str(tmp_path / "nope" / "o.csv")]) == 2
        _one_line_error(capsys, flag, "does not exist")
        assert main(["detect", str(src), *DETECT, flag, str(tmp_path)]) == 2
        _one_line_error(capsys, flag, "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


@pytest.mark.parametrize("bounds, message", [
    (["--min", "100", "--max", "0"], "--min 100 is above --max 0"), (["--min", "nan"], "not nan"),
    (["--max", "nan"], "not nan")])
def test_impossible_bounds_are_refused(tmp_path, capsys, bounds, message):
    assert main(["detect", str(_series(tmp_path)), *DETECT, *bounds]) == 2
    _one_line_error(capsys, message)


def test_a_folder_as_input_says_it_is_a_folder(tmp_path, capsys):
    assert main(["detect", str(tmp_path), *DETECT]) == 2
    _one_line_error(capsys, "is a folder")


def test_gzip_is_read_as_is_and_a_damaged_one_is_named(tmp_path, capsys):
    import gzip

    src = _series(tmp_path)
    packed = tmp_path / "s.data"  # the content decides, not the name
    packed.write_bytes(gzip.compress(src.read_bytes()))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["detect", str(src), *DETECT, "--out", str(a)]) == 0
    assert main(["detect", str(packed), *DETECT, "--out", str(b)]) == 0
    assert a.read_text() == b.read_text() and a.read_text().count("\n") == 401
    packed.write_bytes(gzip.compress(src.read_bytes())[:-200])
    assert main(["detect", str(packed), *DETECT, "--out", str(b)]) == 2
    _one_line_error(capsys, "truncated gzip")
    assert b.read_text() == a.read_text()


def test_a_dash_reads_standard_input(tmp_path, capsys, monkeypatch):
    import io
    import sys

    src = _series(tmp_path)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["detect", str(src), *DETECT, "--out", str(a)]) == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(src.read_bytes()))))
    assert main(["detect", "-", *DETECT, "--out", str(b)]) == 0
    assert a.read_text() == b.read_text() and "rows 400" in capsys.readouterr().out


def test_an_existing_output_keeps_its_permissions(tmp_path):
    import os

    src, out = _series(tmp_path), tmp_path / "o.csv"
    out.write_text("old\n")
    out.chmod(0o644)
    detect_file(str(src), "timestamp", "value", out=str(out))
    assert os.stat(out).st_mode & 0o777 == 0o644 and out.read_text().count("\n") == 401


def test_a_symlinked_output_replaces_its_target_and_keeps_the_link(tmp_path):
    src, real, link = _series(tmp_path), tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old\n")
    link.symlink_to(real)
    detect_file(str(src), "timestamp", "value", out=str(link))
    assert link.is_symlink() and real.read_text().count("\n") == 401
