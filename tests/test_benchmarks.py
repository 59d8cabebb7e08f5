"""The benchmarks that go through the real handler and database still run (on a short race)."""
import pytest

from benchmarks import analyze_batches, skab


def test_analyze_batches_stores_every_sample_once_and_times_both_deliveries(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert analyze_batches.main(["--laps", "2", "--batch", "50"]) == 0  # raises if samples are lost or doubled
    report = capsys.readouterr().out
    assert "| first delivery |" in report and "| delivered again (all duplicates) |" in report
    assert "database: DATABASE_URL" in report



def test_skab_benchmark_meets_its_targets_on_the_real_pump_data():
    """The generic detectors on SKAB (real, labelled), at the fixed 0.5: F1 >= 0.80 with <= 10 % false alarms, NAB >= 35."""
    result = skab.evaluate()
    if result is None:
        pytest.skip(f"SKAB data not found under {skab.SKAB} (the shared data folder is absent)")
    assert len(result["files"]) == 34
    assert result["f1"] >= 0.80 and result["far"] <= 0.10 and result["nab"]["standard"] >= 35


def test_load_benchmark_reconciles_every_session_and_reports_the_lag(pg_server, monkeypatch, capsys):
    from benchmarks import load

    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert load.main(["--sessions", "2", "--laps", "1", "--speed", "100", "--shards", "2"]) == 0  # raises if not
    out = capsys.readouterr().out
    assert "every session's chunks and samples in the database equal its source's" in out and "| seconds |" in out
