"""The main job: `apexflow demo` end to end, its detections against the injected ground truth."""
import pytest

from apexflow_local import demo
from apexflow_local.cli import main


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def result(module_dsn, reports):
    return demo.run(seed=7, laps=6, dsn=module_dsn, reports=reports)


def test_demo_finds_exactly_what_was_injected(result, reports):
    scored = {kind: s for kind, s in result["score"].items() if s["injected"]}
    assert set(scored) == {"incident", "frozen_sensor", "dropout", "power_loss", "slow_puncture",
                           "throttle_brake_overlap"}
    for kind, s in scored.items():
        if kind != "incident":  # see the next test
            assert (s["found"], s["missed"], s["false_alarms"]) == (s["injected"], 0, 0), (kind, s)
    assert result["score"]["pit_stop"]["false_alarms"] == 20  # unscored kinds: every car pits once
    overview = result["overview"]
    assert len(overview["entities"]) == 20
    assert overview["samples"] == result["ingest"]["samples"] > 40_000
    assert result["dead_letters"] == 0
    text = demo.report(result)
    assert "frozen_sensor" in text and "session summary" in text
    insights = result["insights"]["insights"]
    assert [i["scope"] for i in insights[:2]] == ["session", "driver"] and len(insights) >= 21
    assert {i["status"] for i in insights} == {"ok"} and "session summary" in text
    assert result["report"] == str(reports / "sim-s7-l6.html") and f"session report: {result['report']}" in text
    assert "<title>2024 Synthetic Grand Prix Race" in (reports / "sim-s7-l6.html").read_text()


def test_demo_finds_every_injected_incident(result):
    s = result["score"]["incident"]
    assert (s["found"], s["missed"], s["false_alarms"]) == (s["injected"], 0, 0)


def test_demo_command_prints_the_summary(dsn, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--seed", "5", "--laps", "3"]) == 0
    out = capsys.readouterr().out
    assert "ApexFlow demo: Synthetic Grand Prix (seed 5)" in out and "frozen_sensor" in out
    page = tmp_path / ".apexflow" / "reports" / "sim-s5-l3.html"
    assert f"session report: {page}" in out and page.stat().st_size > 1_000_000
    assert "insights for sim-s5-l3" in out and "Winner: " in out
