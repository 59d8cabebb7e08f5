"""The main job: `apexflow demo` end to end, its detections against the injected ground truth."""
from apexflow.cli import main
from apexflow_aws.local import demo


def test_demo_finds_exactly_what_was_injected(dsn):
    result = demo.run(seed=7, laps=6, dsn=dsn)
    scored = {kind: s for kind, s in result["score"].items() if s["injected"]}
    assert set(scored) == {"incident", "frozen_sensor", "dropout", "power_loss", "slow_puncture",
                           "throttle_brake_overlap"}
    for kind, s in scored.items():
        assert (s["found"], s["missed"], s["false_alarms"]) == (s["injected"], 0, 0), (kind, s)
    assert result["score"]["pit_stop"]["false_alarms"] == 20  # unscored kinds: every car pits once
    overview = result["overview"]
    assert len(overview["entities"]) == 20
    assert overview["samples"] == result["ingest"]["samples"] > 40_000
    assert result["dead_letters"] == 0
    text = demo.report(result)
    assert "frozen_sensor" in text and "session summary" in text
    assert len(result["insights"]) == 21 and result["insights"][0]["driver"] is None


def test_demo_command_prints_the_summary(dsn, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", dsn)
    assert main(["demo", "--seed", "5", "--laps", "3"]) == 0
    out = capsys.readouterr().out
    assert "ApexFlow demo: Synthetic Grand Prix (seed 5)" in out and "frozen_sensor" in out
