"""The benchmarks that go through the real handler and database still run (on a short race)."""
import pytest

from benchmarks import analyze_batches, api_latency, insight_tokens, samples_write, skab


def test_analyze_batches_stores_every_sample_once_and_times_both_deliveries(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert analyze_batches.main(["--laps", "2", "--batch", "50"]) == 0  # raises if samples are lost or doubled
    report = capsys.readouterr().out
    assert "| first delivery |" in report and "| delivered again (all duplicates) |" in report
    assert "database: DATABASE_URL" in report
    peak = float(report.split("Peak memory, one event of 50 records")[1].split("): ")[1].split(" MB")[0])
    assert 20 < peak < 256  # a fresh interpreter's handler call, measured, within the target


def test_api_latency_benchmark_times_every_route_over_http(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert api_latency.main(["--laps", "2", "--requests", "3"]) == 0  # raises if a route does not answer 200
    report = capsys.readouterr().out
    assert all(f"| `GET {route.format(s='/sessions/{id}', lap=2)}` |" in report for route in api_latency.ROUTES)


def test_samples_write_copies_every_sample_and_times_encoding_and_copy(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert samples_write.main(["--laps", "2", "--batch", "200"]) == 0  # raises if a sample is lost or doubled
    report = capsys.readouterr().out
    assert "| encode (numpy, binary COPY format) |" in report and "| COPY into the session's partition" in report


def test_insight_tokens_counts_every_prompt_of_a_race_within_the_budget(pg_server, monkeypatch, capsys):
    monkeypatch.setattr(insight_tokens, "SHARED", insight_tokens.SHARED / "absent")  # the synthetic race only
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert insight_tokens.main(["--laps", "8"]) == 0  # 1 if the worst case would pass the run's budget
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| synthetic race"))
    assert row.split(" | ")[1:3] == ["20", "21"]  # 20 drivers: their summaries and the session's


def test_skab_benchmark_meets_its_targets_on_the_real_pump_data():
    """The generic detectors on SKAB (real, labelled), at the fixed 0.5: F1 >= 0.80 with <= 10 % false alarms,
    NAB >= 35."""
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
