"""The strategy backtest of one shared real session, pinned: a change of the models' behaviour fails here."""
import pytest
from conftest import SHARED_CACHE

from benchmarks.strategy_backtest import backtest, load, summary


@pytest.fixture(scope="module")
def baku():
    if not SHARED_CACHE.is_dir():
        pytest.skip(f"frozen FastF1 responses not found at {SHARED_CACHE} (the shared data folder is absent)")
    session_id, rows = load(2023, "Azerbaijan", "S", http_cache=SHARED_CACHE)
    assert session_id == "f1-2023-azerbaijan-grand-prix-s"
    return rows, backtest(rows)


def test_backtest_scores_only_real_green_flag_stops(baku):
    rows, scores = baku
    green_stops = [(r.driver, r.lap_number) for r in rows if r.pit_in and r.regime == "green"]
    assert green_stops == [("NOR", 10), ("OCO", 12)]  # TSU (laps 1, 2) and OCO (lap 3) stopped under VSC or SC
    assert scores["green_stops"] == len(green_stops) == 2
    out_positions = sorted(next(x.position for x in rows if x.driver == d and x.lap_number == n + 1)
                           for d, n in green_stops)
    assert sorted(actual for _, actual, _, _ in scores["rejoins"]) == out_positions


def test_backtest_of_the_2023_baku_sprint_is_pinned(baku):
    _, scores = baku
    s = summary(scores)
    assert [(p, a) for p, a, _, _ in scores["rejoins"]] == [(18, 18), (18, 18)]
    assert [c for _, _, c, _ in scores["rejoins"]] == pytest.approx([0.827, 0.986], abs=1e-3)
    assert [(p, real) for p, real, _ in scores["stops"]] == [(8, 10), (10, 12)]
    assert s["laps scored"] == 174 and s["undercut attempts"] == 0
    assert s["next-lap MAE"] == pytest.approx(0.512, abs=1e-3)
    assert s["last-lap MAE"] == pytest.approx(0.527, abs=1e-3)
    assert s["stint-median MAE"] == pytest.approx(0.804, abs=1e-3)
    assert s["80% interval coverage"] == pytest.approx(145 / 174, abs=1e-9)
    assert (s["stints"], s["stints with a cliff"], s["flat stints with a cliff forecast"]) == (20, 0, 0)
