"""The benchmarks that go through the real handler and database still run (on a short race)."""
from benchmarks import analyze_batches


def test_analyze_batches_stores_every_sample_once_and_times_both_deliveries(pg_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", pg_server)
    assert analyze_batches.main(["--laps", "2", "--batch", "50"]) == 0  # raises if samples are lost or doubled
    report = capsys.readouterr().out
    assert "| first delivery |" in report and "| delivered again (all duplicates) |" in report
    assert "database: DATABASE_URL" in report
