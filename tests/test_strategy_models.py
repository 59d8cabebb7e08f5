"""Strategy models on hand-made cases whose answers are known exactly."""
import math

import pytest

from apexflow.strategy import LapRow, LimitForecaster, StrategyEngine, regime, time_to_limit
from apexflow.strategy.cliff import CLIFF, StintPace, cliff_lap
from apexflow.strategy.pace import DEG_PRIOR, TREND_PRIOR, PaceModel
from apexflow.strategy.pit_loss import STOP_SD, TRACK_SD, PitLossModel
from apexflow.strategy.plans import TEMPER, Tyre, advise, plans, stop_odds
from apexflow.strategy.rejoin import Arrival, positions, rejoin

TREND, DEG = TREND_PRIOR[0], DEG_PRIOR["MEDIUM"][0]  # data that agree with the priors fit exactly


def lap_time(level, lap, age):
    return level + TREND * lap + DEG * age


def race(levels: dict[str, tuple[float, float, float]], laps: int, stops=()) -> list[list[LapRow]]:
    """Cars running exactly ``lap_time`` on MEDIUM tyres; levels: driver -> (level, start age, start time)."""
    out, time = [], {d: start for d, (_, _, start) in levels.items()}
    for n in range(1, laps + 1):
        rows = []
        for d, (level, age0, _) in levels.items():
            t = lap_time(level, n, age0 + n)
            time[d] += t
            rows.append(LapRow(d, n, time[d], t, 1, "MEDIUM", age0 + n, False, False, "1", None))
        rows.sort(key=lambda r: r.time)
        out.append([LapRow(**{**r.__dict__, "position": i + 1}) for i, r in enumerate(rows)])
    return out


def test_track_status_regimes():
    assert [regime(s) for s in ("1", "12", "2", "4", "24", "6", "67", "", None)] == \
        ["green", "green", "green", "sc", "sc", "vsc", "vsc", "green", "green"]


def test_pace_model_fits_exact_laps_exactly():
    model = PaceModel()
    levels = {"AAA": (90.0, 0), "BBB": (90.7, 12), "CCC": (91.3, 5)}
    for n in range(2, 12):
        for d, (level, age0) in levels.items():
            model.observe(d, 1, "MEDIUM", n, age0 + n, False, lap_time(level, n, age0 + n))
        model.refresh()
    for d, (level, age0) in levels.items():
        f = model.predict(d, 12, compound="MEDIUM", age=age0 + 12, stint=1)
        assert f.mean == pytest.approx(lap_time(level, 12, age0 + 12), abs=1e-4)
        assert f.low == pytest.approx(f.mean, abs=1e-4)  # no error so far: the 80 % interval has closed


def test_pace_model_learns_degradation_the_priors_did_not_expect():
    model, deg = PaceModel(), 0.25
    for n in range(2, 20):
        for k in range(10):  # ten cars whose tyres differ in age by two laps each
            model.observe(f"C{k}", 1, "SOFT", n, 2 * k + n, False, 95.0 + TREND * n + deg * (2 * k + n))
        model.refresh()
    learnt = model.coefficient("deg", "SOFT")
    assert abs(learnt - deg) < abs(DEG_PRIOR["SOFT"][0] - deg) / 2  # most of the way from the prior


def test_pace_model_interval_is_the_quantile_of_its_own_errors():
    model = PaceModel()
    for n in range(2, 40):
        noise = 0.5 if n % 2 else -0.5  # every one-lap-ahead error is about half a second
        model.observe("AAA", 1, "MEDIUM", n, n, False, lap_time(90.0, n, n) + noise)
        model.refresh()
    f = model.predict("AAA", 40, compound="MEDIUM", age=40, stint=1)
    assert 0.4 < f.high - f.mean < 1.2


def test_pit_loss_learnt_from_stops_and_shrunk_to_the_prior():
    model = PitLossModel(prior_green=22.0)
    assert model.observe("green", 110.0, 112.0, 95.0, 107.0) == pytest.approx(20.0)
    model.observe("green", 111.0, 111.0, 95.0, 103.0)  # 24 s
    est = model.estimate("green")
    w = (STOP_SD / TRACK_SD) ** 2  # a generic prior is worth this much of one stop
    assert est.mean == pytest.approx((22.0 * w + 20.0 + 24.0) / (w + 2)) and est.stops == 2
    track = PitLossModel(prior_green=30.0, prior_weight=1.0)  # a prior from the same track: as good as a stop
    track.observe("green", 110.0, 112.0, 95.0, 107.0)
    assert track.estimate("green").mean == pytest.approx(25.0)
    assert model.estimate("vsc").mean == pytest.approx(est.mean * 0.6)  # no VSC stop yet: follows green
    model.observe("green", 180.0, 200.0, 95.0, 95.0)  # a 190 s repair is no pit loss
    assert model.estimate("green").stops == 2


def test_rejoin_positions_and_gaps_when_times_are_certain():
    others = [Arrival("AAA", ((1.0, 95.0, 0.0),)), Arrival("BBB", ((1.0, 99.0, 0.0),)),
              Arrival("CCC", ((1.0, 101.0, 0.0),))]
    r = rejoin((100.0, 0.0), others)
    assert (r.position, r.probabilities, r.ahead, r.gap_ahead, r.behind, r.gap_behind) == \
        (3, {3: 1.0}, "BBB", 1.0, "CCC", 1.0)


def test_rejoin_probabilities_are_exact_for_even_chances():
    assert positions([0.5, 0.5]) == [0.25, 0.5, 0.25]
    r = rejoin((100.0, 1.0), [Arrival("AAA", ((1.0, 100.0, 0.0),)), Arrival("BBB", ((1.0, 100.0, 0.0),))])
    assert r.probabilities == pytest.approx({1: 0.25, 2: 0.5, 3: 0.25})
    # a rival that stops with probability one half, costing 20 s, is ahead half the time
    mix = Arrival("CCC", ((0.5, 90.0, 0.0), (0.5, 110.0, 0.0)))
    assert rejoin((100.0, 0.0), [mix]).probabilities == pytest.approx({1: 0.5, 2: 0.5})


def test_time_to_limit_on_a_straight_line():
    f = time_to_limit([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], upper=20.0)
    assert (f.eta, f.low, f.high, f.limit) == (pytest.approx(5.0), pytest.approx(5.0), pytest.approx(5.0), 20.0)
    down = time_to_limit([0, 1, 2, 3], [10, 9, 8, 7], lower=4.0)
    assert down.eta == pytest.approx(3.0)
    assert time_to_limit([0, 1, 2, 3], [10, 9, 8, 7], upper=20.0) is None  # drifting away from it
    assert time_to_limit([0, 1, 2, 3, 4, 5], [5, 5.2, 4.9, 5.1, 4.8, 5.1], upper=6.0) is None  # flat


def test_time_to_limit_interval_widens_with_noise_and_warns_within_horizon():
    ts = list(range(10))
    vs = [t + (0.3 if t % 2 else -0.3) for t in ts]
    f = time_to_limit(ts, vs, upper=19.0, horizon=15)
    assert f.low < f.eta < f.high and f.warning
    assert not time_to_limit(ts, vs, upper=40.0, horizon=15).warning


def test_limit_forecaster_learns_the_range_then_forecasts():
    fc = LimitForecaster(learn=10, window=5, spread=3.0)
    for t in range(10):
        assert fc.update(t, 50.0 + (1 if t % 2 else -1)) is None  # learning: mean 50, sd ~1.05
    assert fc.upper == pytest.approx(50 + 3 * math.sqrt(10 / 9), rel=1e-6)
    out = [fc.update(10 + t, 50.0 + 0.5 * t) for t in range(5)]
    assert out[-1] is not None and out[-1].eta == pytest.approx((fc.upper - 52.0) / 0.5)


def test_cliff_found_and_forecast_on_a_stint_that_falls_off():
    # on its line (0.05 s per lap of age) for five laps, then 0.11 s more each lap: above 1.0 s from lap 15
    laps = [(n, float(n), 100.0 + 0.05 * n + (0.11 * (n - 5) if n > 5 else 0.0)) for n in range(1, 20)]
    assert cliff_lap(laps) == 15
    assert StintPace(laps[:9]).forecast() is None  # four laps off the line are too few to say
    assert StintPace(laps[:10]).forecast() is None  # one lap half a second off its line is not yet a fall-off
    f = StintPace(laps[:11]).forecast()  # excess 0.22 .. 0.66 over the last five laps: 1.0 is 0.34 / 0.11 away
    assert f.eta == pytest.approx(0.34 / 0.11, abs=1e-6) and f.warning
    assert f.low < f.eta < f.high  # the slope's smallest credible error keeps an interval open
    flat = [(n, float(n), 100.0 + 0.05 * n + (0.1 if n % 2 else -0.1)) for n in range(1, 20)]
    assert cliff_lap(flat) is None
    assert all(StintPace(flat[:k]).forecast() is None for k in range(3, 20))
    assert CLIFF == 1.0


def test_plans_pick_the_stop_lap_that_balances_the_stints():
    tyre = Tyre("MEDIUM", 100.0, 1.0, 1e9)
    p = plans(0, 10, tyre, 0.0, [tyre], 0.0, 10.0)
    assert p.none == pytest.approx(1055.0)  # sum of 100 + age for ages 1..10
    assert p.one[4] == pytest.approx(1040.0)  # stop after lap 5: 15 + 10 + 15
    assert p.two == pytest.approx(1042.0) and p.two_laps in ((3, 6), (3, 7), (4, 7))  # (3, 3, 4) laps + 2 stops
    advice = advise(p)
    assert (advice.stops, advice.window, advice.compound) == (1, (4, 6), "MEDIUM")
    odds = stop_odds(p)
    assert odds.lap == 5
    assert odds.probabilities[4] / odds.probabilities[5] == pytest.approx(math.exp(-1 / TEMPER), rel=1e-3)
    assert odds.no_stop == pytest.approx(odds.probabilities[5] * math.exp(-15 / TEMPER), rel=1e-2)


def test_plans_respect_the_mandatory_stop_and_a_short_race_end():
    tyre = Tyre("MEDIUM", 100.0, 0.01, 1e9)
    assert advise(plans(0, 10, tyre, 0.0, [tyre], 0.0, 20.0)).stops == 0  # flat tyres: a stop never pays
    assert advise(plans(0, 10, tyre, 0.0, [tyre], 0.0, 20.0, mandatory=True)).stops == 1


def test_engine_rejoin_and_undercut_on_an_exact_race():
    # all run exactly the model's line; BBB starts 30.86 s behind AAA on tyres 4 laps older (0.24 s a lap slower),
    # CCC 50 s behind on the same tyres: after lap 20 BBB is 35.66 s behind AAA, CCC 50 s
    laps = race({"AAA": (100.0, 0, 0.0), "BBB": (100.0, 4, 30.86), "CCC": (100.0, 0, 50.0)}, 20)
    engine = StrategyEngine(23, pit_prior=40.0)
    for rows in laps:
        engine.update(rows)
    out = {p.driver: p for p in engine.predictions()}
    a = out["AAA"]
    # AAA stops at the end of lap 21 (40 s) and runs lap 22 on new SOFTs (the quickest: the prior puts them 0.5 s
    # ahead of MEDIUM, wearing 0.10 s a lap: 0.46 s quicker at age 1). BBB loses 0.24 s on lap 21 and
    # DEG * 25 + 0.46 on lap 22, so AAA comes out 40 - 35.66 - 0.24 - 1.96 = 2.14 s behind BBB; CCC loses
    # DEG * 21 + 0.46 on lap 22 to AAA's new tyres: AAA is 50 - 40 + 1.72 = 11.72 s ahead of it
    assert (a.rejoin_position, a.rejoin_ahead, a.rejoin_behind) == (2, "BBB", "CCC")
    assert a.gap_ahead == pytest.approx(2.14, abs=1e-3) and a.gap_behind == pytest.approx(11.72, abs=1e-3)
    assert out["AAA"].next_lap == pytest.approx(lap_time(100, 21, 21), abs=1e-3)
    # the only doubt is the pit loss (sd 3 s with no stop seen): P2 = P(loss > 37.86) * P(loss < 51.72)
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert a.rejoin_probability == pytest.approx(phi(2.14 / 3) * phi(11.72 / 3), abs=2e-3)
    b_row, a_row = engine.history["BBB"][-1], engine.history["AAA"][-1]
    gain = engine.undercut_gain(b_row, a_row, fresh_attacker="MEDIUM", fresh_defender="MEDIUM")
    # attacker BBB: lap 21 old (age 25), laps 22-23 new (age 1, 2); defender AAA: laps 21-22 old (21, 22), 23 new
    attacker = lap_time(100, 21, 25) + lap_time(100, 22, 1) + lap_time(100, 23, 2)
    defender = lap_time(100, 21, 21) + lap_time(100, 22, 22) + lap_time(100, 23, 1)
    assert gain == pytest.approx(defender - attacker, abs=1e-3)
    assert out["BBB"].undercut_on is None  # 35 s back: out of reach


def test_detect_file_forecasts_the_time_left_before_a_limit(tmp_path):
    """``apexflow detect --forecast``: a temperature rising 1.25 a second from 50 at t = 60 s toward --max 100 (a
    crossing at t = 100 s) is warned of before it crosses, with the time left; a flat channel never is."""
    from apexflow.pipeline.detect_file import detect_file

    src = tmp_path / "rig.csv"
    rows = ["t,temp,flow"] + [f"{t},{50 + (1.25 * (t - 60) if t > 60 else 0) + (0.05 if t % 2 else -0.05)},"
                              f"{10 + (0.05 if t % 2 else -0.05)}" for t in range(0, 100)]
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    result = detect_file(str(src), "t", "temp,flow", out=str(out), vmax=100.0, forecast=True)
    warned = [w for w in result["windows"] if w["kind"] == "approaching_limit"]
    assert [w["channel"] for w in warned] == ["temp"]
    first = warned[0]
    assert 60 < float(first["start"]) < 100  # warned before the crossing
    assert float(first["start"]) + first["evidence"]["seconds_left"] == pytest.approx(100.0, abs=2.0)
    lines = out.read_text().splitlines()
    assert lines[0] == "t,temp,flow,score,alarm,channels,time_to_limit"
    last = lines[-1].split(",")  # t = 99: at 98.75, 1 s left at 1.25 a second
    assert float(last[-1]) == pytest.approx(1.0, abs=0.1)


def test_live_strategy_gives_what_the_lap_by_lap_replay_gives_whatever_the_arrival_order():
    """Laps arriving car by car in time order (a lapped car's lap n after the leader's n + 1) complete each lap
    once; the predictions equal those of the replay by lap number."""
    from apexflow.strategy import by_lap
    from apexflow.strategy.live import LiveStrategy

    laps = race({"AAA": (100.0, 0, 0.0), "BBB": (100.0, 4, 30.86), "CCC": (110.0, 0, 50.0)}, 12)
    rows = sorted((r for lap in laps for r in lap), key=lambda r: r.time)
    assert any(a.lap_number > b.lap_number for a, b in zip(rows, rows[1:]))  # CCC is lapped: arrivals interleave
    fastf1 = [{"Driver": r.driver, "LapNumber": r.lap_number, "Time": r.time, "LapTime": r.lap_time,
               "Stint": r.stint, "Compound": r.compound, "TyreLife": r.tyre_life, "TrackStatus": "1",
               "Position": r.position} for r in rows]
    live, seen = LiveStrategy(20), []
    for i in range(len(fastf1)):
        seen += live.feed(fastf1[: i + 1])  # the whole session so far, as a live stage holds it
    engine = StrategyEngine(20)
    replay = []
    for n, lap_rows in by_lap([r for lap in laps for r in lap]).items():
        engine.update(lap_rows)
        replay.append((n, engine.predictions()))
    assert [n for n, _ in seen] == list(range(1, 13))
    assert [(n, [p.record() for p in ps]) for n, ps in seen] == [(n, [p.record() for p in ps]) for n, ps in replay]
    # CCC stops after lap 4: lap 5 is complete only once a car has done lap 7
    partial, kept = LiveStrategy(20), [r for r in fastf1 if r["Driver"] != "CCC" or r["LapNumber"] < 5]
    for i in range(len(kept)):
        if any(n == 5 for n, _ in partial.feed(kept[: i + 1])):
            break
    assert kept[i]["LapNumber"] == 7 and all(r["LapNumber"] < 7 for r in kept[:i])
