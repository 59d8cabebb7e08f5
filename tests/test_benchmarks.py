"""The benchmarks that go through the real handler and database still run (on a short race)."""
import pytest

from benchmarks import analyze_batches, api_latency, skab


def test_analyze_batches_stores_every_sample_once_and_times_both_deliveries(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert analyze_batches.main(["--laps", "2", "--batch", "50"]) == 0  # raises if samples are lost or doubled
    report = capsys.readouterr().out
    assert "| first delivery |" in report and "| delivered again (all duplicates) |" in report
    assert "database: DATABASE_URL" in report


def test_api_latency_benchmark_times_every_route_over_http(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert api_latency.main(["--laps", "2", "--requests", "3"]) == 0  # raises if a route does not answer 200
    report = capsys.readouterr().out
    assert all(f"| `GET {route.format(s='/sessions/{id}', lap=2)}` |" in report for route in api_latency.ROUTES)


def test_skab_benchmark_meets_its_targets_on_the_real_pump_data():
    """The generic detectors on SKAB (real, labelled), at the fixed 0.5: F1 >= 0.80 with <= 10 % false alarms, NAB >= 35."""
    result = skab.evaluate()
    if result is None:
        pytest.skip(f"SKAB data not found under {skab.SKAB} (the shared data folder is absent)")
    assert len(result["files"]) == 34
    assert result["f1"] >= 0.80 and result["far"] <= 0.10 and result["nab"]["standard"] >= 35
