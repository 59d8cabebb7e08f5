"""The strategy engine: every model, updated lap by lap, and the pit wall's predictions after each lap."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from apexflow.strategy.cliff import StintPace
from apexflow.strategy.laps import GREEN, SC, VSC, LapRow
from apexflow.strategy.pace import NEUTRAL, TRAFFIC_GAP, PaceModel
from apexflow.strategy.pit_loss import PitLossModel
from apexflow.strategy.plans import LIFE, Tyre, advise, plans, stop_odds
from apexflow.strategy.rejoin import Arrival, rejoin

DRY = ("SOFT", "MEDIUM", "HARD")
WET = ("INTERMEDIATE", "WET")
QUICK = 1.07  # a lap this much slower than the lap's quickest says nothing of pace (FastF1's quick laps)
REACH = 3.0  # s: a car this close ahead is in undercut range
_SEVERITY = {GREEN: 0, VSC: 1, SC: 2}


@dataclass
class CarPrediction:
    """What the pit wall sees for one car after a lap: all times in seconds."""

    driver: str
    lap: int
    position: int | None
    compound: str | None
    tyre_age: int | None
    next_lap: float | None
    next_lap_low: float | None
    next_lap_high: float | None
    pit_loss: float
    rejoin_position: int | None
    rejoin_probability: float | None
    rejoin_ahead: str | None
    gap_ahead: float | None
    rejoin_behind: str | None
    gap_behind: float | None
    undercut_on: str | None
    undercut_gain: float | None
    threat_from: str | None
    threat_gain: float | None
    cliff_in_laps: float | None
    cliff_low: float | None
    cliff_high: float | None
    stop_lap: int | None
    stop_probability: float | None
    no_stop_probability: float
    stops: int
    window_from: int | None
    window_to: int | None
    next_compound: str | None
    reason: str
    rejoin_probabilities: dict[int, float] = field(default_factory=dict)
    stop_probabilities: dict[int, float] = field(default_factory=dict)

    def record(self) -> dict:
        return asdict(self)


def _shown(probabilities: dict[int, float]) -> dict[int, float]:
    """Probabilities of half a percent or more, to three decimals."""
    return {k: round(v, 3) for k, v in probabilities.items() if v >= 0.005}


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


class StrategyEngine:
    """Feed ``update`` each completed lap's rows (every car's lap ``n``); ask ``predictions`` after it.

    ``total_laps`` is the scheduled distance; ``mandatory_stop`` the dry-race rule of two dry compounds.
    """

    def __init__(self, total_laps: int, *, mandatory_stop: bool = False, pit_prior: float | None = None):
        self.total_laps, self.mandatory = total_laps, mandatory_stop
        self.pace = PaceModel()
        self.pit = PitLossModel(prior_green=pit_prior, prior_weight=1.0) if pit_prior else PitLossModel()
        self.history: dict[str, list[LapRow]] = {}
        self.times: dict[int, dict[str, float]] = {}  # lap -> driver -> time at the line
        self.stints: dict[tuple[str, int], StintPace] = {}
        self.stops: list[tuple[int, str]] = []  # (in-lap, driver)
        self.lap = 0

    # -- updating
    def traffic(self, driver: str, lap: int) -> bool:
        """A car within ``TRAFFIC_GAP`` ahead at the line when ``lap`` began."""
        at_line = self.times.get(lap - 1, {})
        mine = at_line.get(driver)
        if mine is None:
            return False
        ahead = [t for d, t in at_line.items() if d != driver and t < mine]
        return bool(ahead) and mine - max(ahead) < TRAFFIC_GAP

    def restart(self, prev: LapRow | None, median: float | None) -> bool:
        """The lap after a neutralised one (safety car, VSC, or a lap the whole field ran > 10 % slower than its
        quickest so far, this one's ``median`` included) is a restart: tyres and brakes still cold, no measure of
        racing pace."""
        if prev is None or prev.regime != GREEN:
            return True
        before = self.pace.lap_medians.get(prev.lap_number)
        best = min([*self.pace.lap_medians.values(), median or float("inf")])
        return before is not None and before > NEUTRAL * best

    def update(self, rows: list[LapRow]) -> None:
        """Take one completed lap of every car (any order); refreshes every model."""
        for row in rows:
            if row.time is not None:
                self.times.setdefault(row.lap_number, {})[row.driver] = row.time
        trend, traffic_cost = self.pace.coefficient("trend"), self.pace.coefficient("traffic")
        timed = sorted(r.lap_time for r in rows if r.racing and r.lap_time is not None)
        median = timed[len(timed) // 2] if timed else None
        restarts = {r.driver: self.restart(self.history[r.driver][-1] if self.history.get(r.driver) else None,
                                           median) for r in rows}
        for row in rows:
            hist = self.history.setdefault(row.driver, [])
            prev = hist[-1] if hist else None
            hist.append(row)
            if row.pit_in:
                self.stops.append((row.lap_number, row.driver))
            if prev is not None and prev.pit_in and row.pit_out and prev.lap_time and row.lap_time:
                pace_in = self.pace.predict(row.driver, prev.lap_number, compound=prev.compound or "",
                                            age=prev.tyre_life or 1, stint=prev.stint).mean
                pace_out = self.pace.predict(row.driver, row.lap_number, compound=row.compound or "",
                                             age=row.tyre_life or 1, stint=row.stint).mean
                regime = max(prev.regime, row.regime, key=_SEVERITY.__getitem__)
                self.pit.observe(regime, prev.lap_time, row.lap_time, pace_in, pace_out)
            if (row.racing and row.lap_time is not None and median is not None and row.stint is not None
                    and row.compound and row.lap_time <= QUICK * timed[0] and not restarts[row.driver]):
                busy = self.traffic(row.driver, row.lap_number)
                self.pace.observe(row.driver, row.stint, row.compound, row.lap_number, row.tyre_life or 1, busy,
                                  row.lap_time, median)
                net = row.lap_time - trend * row.lap_number - traffic_cost * busy
                self.stints.setdefault((row.driver, row.stint), StintPace()).laps.append(
                    (row.lap_number, float(row.tyre_life or 1), net))
        self.pace.refresh()
        self.lap = max([self.lap] + [r.lap_number for r in rows])

    # -- forecasting pieces
    def running(self) -> list[LapRow]:
        """Each car still in the session: its latest lap, in running order."""
        last = [h[-1] for h in self.history.values() if h and h[-1].lap_number >= self.lap - 1 and h[-1].time]
        return sorted(last, key=lambda r: (-r.lap_number, r.time))

    def lap_mean(self, row: LapRow, ahead: int = 1, *, compound: str | None = None, age: float | None = None,
                 new_stint: bool = False) -> float:
        """Predicted time of the car's lap ``row.lap_number + ahead`` (on its tyre, or a fresh ``compound``)."""
        stint = (row.stint or 1) + 1 if new_stint else row.stint
        compound = compound or row.compound or ""
        age = age if age is not None else (row.tyre_life or 1) + ahead
        return self.pace.predict(row.driver, row.lap_number + ahead, compound=compound, age=age,
                                 stint=stint).mean

    def fresh_compounds(self, row: LapRow) -> list[str]:
        """The compounds a stop could fit: the dry ones on a dry track, else what the session has run."""
        seen = set(self.pace.stint_compound.values())
        if row.compound in DRY:
            used = {r.compound for r in self.history[row.driver] if r.compound in DRY}
            must = self.mandatory and len(used) < 2
            return [c for c in DRY if not (must and c in used)]
        return sorted(seen | {row.compound or ""} - {""})

    def car_plans(self, row: LapRow, pit_loss: float):
        compound = row.compound or ""
        level = self.pace.level(row.driver, row.stint, compound)
        if level is None:
            return None, None
        trend = self.pace.coefficient("trend")
        cliff = self.stints.get((row.driver, row.stint)) if row.stint is not None else None
        forecast = cliff.forecast() if cliff else None
        age = float(row.tyre_life or 1)
        life = age + forecast.eta if forecast else LIFE.get(compound, 30)
        current = Tyre(compound, level, self.pace.coefficient("deg", compound), life)
        fresh = []
        for c in self.fresh_compounds(row):
            lv = self.pace.level(row.driver, (row.stint or 1) + 1, c)
            if lv is not None:
                fresh.append(Tyre(c, lv, self.pace.coefficient("deg", c), LIFE.get(c, 30)))
        used = {r.compound for r in self.history[row.driver] if r.compound in DRY}
        must = self.mandatory and compound in DRY and len(used) < 2
        return plans(row.lap_number, self.total_laps, current, age, fresh, trend, pit_loss, must), forecast

    def undercut_gain(self, attacker: LapRow, defender: LapRow, *, response: int = 1,
                      fresh_attacker: str | None = None, fresh_defender: str | None = None) -> float:
        """Seconds the attacker gains on the defender by stopping at the end of the next lap while the defender
        stops ``response`` laps later (pit losses cancel): positive = undercut works, negative = overcut."""
        fa = fresh_attacker or self._best_fresh(attacker)
        fd = fresh_defender or self._best_fresh(defender)
        a = self.lap_mean(attacker, 1) + sum(self.lap_mean(attacker, 1 + k, compound=fa, age=k, new_stint=True)
                                             for k in range(1, response + 2))
        d = sum(self.lap_mean(defender, k) for k in range(1, response + 2)) + \
            self.lap_mean(defender, response + 2, compound=fd, age=1, new_stint=True)
        return d - a

    def _best_fresh(self, row: LapRow) -> str:
        options = self.fresh_compounds(row) or [row.compound or ""]
        return min(options, key=lambda c: self.pace.level(row.driver, (row.stint or 1) + 1, c) or math.inf)

    def switched(self, car: LapRow, cars: list[LapRow]) -> float:
        """Share of the other running cars now on the other kind of tyre (wet / dry) than ``car``, having run
        ``car``'s kind earlier: a crossover under way."""
        wet = car.compound in WET
        others = [o for o in cars if o.driver != car.driver]
        moved = [o for o in others if (o.compound in WET) != wet
                 and any((r.compound in WET) == wet for r in self.history[o.driver] if r.compound)]
        return len(moved) / len(others) if others else 0.0

    # -- the pit wall
    def predictions(self) -> list[CarPrediction]:
        cars = self.running()
        if not cars:
            return []
        regime = max((c.regime for c in cars), key=_SEVERITY.__getitem__)
        loss = self.pit.estimate(regime)
        sigma = self.pace.half_width() / 1.2816
        horizon = max(c.lap_number for c in cars) + 2
        at_line = {c.driver: c.time for c in cars if c.time is not None}  # every running car has its time
        made = {}
        for c in cars:
            p, forecast = self.car_plans(c, loss.mean)
            recent = {d for k, d in self.stops if k >= self.lap - 1 and d != c.driver}
            near = [o.driver for o in cars
                    if o.driver != c.driver and abs((o.position or 99) - (c.position or 99)) <= 3]
            cover = sum(d in recent for d in near) / len(near) if near else 0.0
            made[c.driver] = (p, forecast, stop_odds(p, cover, self.switched(c, cars)) if p else None,
                              advise(p) if p else None)
        arrivals = {}
        for c in cars:
            k = horizon - c.lap_number
            mean = at_line[c.driver] + sum(self.lap_mean(c, i) for i in range(1, k + 1))
            odds = made[c.driver][2]
            stop = sum(v for lap, v in odds.probabilities.items() if lap < horizon) if odds else 0.0
            sd = sigma * math.sqrt(k)
            arrivals[c.driver] = Arrival(c.driver, ((1 - stop, mean, sd), (stop, mean + loss.mean,
                                                                               math.hypot(sd, loss.sd)))
                                         if stop > 1e-3 else ((1.0, mean, sd),))
        out = []
        for i, c in enumerate(cars):
            p, forecast, odds, advice = made[c.driver]
            nxt = self.pace.predict(c.driver, c.lap_number + 1, compound=c.compound or "", age=(c.tyre_life or 1) + 1,
                                    traffic=self.traffic(c.driver, c.lap_number + 1), stint=c.stint)
            fresh = self._best_fresh(c)
            k = horizon - c.lap_number
            mine = (at_line[c.driver] + self.lap_mean(c, 1) + loss.mean
                    + sum(self.lap_mean(c, 1 + j, compound=fresh, age=j, new_stint=True) for j in range(1, k)))
            rj = rejoin((mine, math.hypot(sigma * math.sqrt(k), loss.sd)),
                        [a for d, a in arrivals.items() if d != c.driver]) if math.isfinite(mine) and not c.pit_in \
                else None
            ahead = cars[i - 1] if i > 0 and cars[i - 1].lap_number == c.lap_number else None
            behind = cars[i + 1] if i + 1 < len(cars) and cars[i + 1].lap_number == c.lap_number else None
            on = ahead if ahead and at_line[c.driver] - at_line[ahead.driver] <= REACH else None
            threat = behind if behind and at_line[behind.driver] - at_line[c.driver] <= REACH else None
            gain = self.undercut_gain(c, on) if on else None
            tgain = self.undercut_gain(threat, c) if threat else None
            out.append(CarPrediction(
                driver=c.driver, lap=c.lap_number, position=c.position, compound=c.compound,
                tyre_age=int(c.tyre_life) if c.tyre_life else None, next_lap=_num(nxt.mean),
                next_lap_low=_num(nxt.low), next_lap_high=_num(nxt.high), pit_loss=round(loss.mean, 3),
                rejoin_position=rj.position if rj else None,
                rejoin_probability=round(rj.chance(rj.position), 3) if rj else None,
                rejoin_ahead=rj.ahead if rj else None, gap_ahead=_num(rj.gap_ahead) if rj else None,
                rejoin_behind=rj.behind if rj else None, gap_behind=_num(rj.gap_behind) if rj else None,
                undercut_on=on.driver if on else None, undercut_gain=_num(gain),
                threat_from=threat.driver if threat else None, threat_gain=_num(tgain),
                cliff_in_laps=_num(forecast.eta) if forecast else None,
                cliff_low=_num(forecast.low) if forecast else None,
                cliff_high=_num(forecast.high) if forecast else None,
                stop_lap=odds.lap if odds else None,
                stop_probability=round(odds.probabilities[odds.lap], 3) if odds and odds.lap is not None else None,
                no_stop_probability=round(odds.no_stop, 3) if odds else 1.0,
                stops=advice.stops if advice else 0,
                window_from=advice.window[0] if advice and advice.window else None,
                window_to=advice.window[1] if advice and advice.window else None,
                next_compound=advice.compound if advice else None,
                reason=self.reason(c, advice, rj, on, gain, loss.mean),
                rejoin_probabilities=_shown(rj.probabilities if rj else {}),
                stop_probabilities=_shown(odds.probabilities if odds else {})))
        return out

    def reason(self, c: LapRow, advice, rj, on: LapRow | None, gain: float | None, loss: float) -> str:
        left = self.total_laps - c.lap_number
        if c.pit_in:
            return f"stopping: in the pit lane after lap {c.lap_number}"
        if advice is None:
            return "no racing laps yet to judge the pace"
        if advice.stops == 0:
            return f"stay out: fresh tyres would not repay a {loss:.1f} s stop in the {left} laps left"
        lo, hi = advice.window
        when = f"lap {lo}" if lo == hi else f"lap {lo}-{hi}"
        what = f"pit on {when}" + (f" for {advice.compound}" if advice.compound else "")
        if advice.stops == 2:
            what = f"two stops, the first on {when}"
        bits = []
        if rj and lo == c.lap_number + 1:
            bits.append(f"rejoins P{rj.position}" + (f" behind {rj.ahead}" if rj.ahead else " in the lead"))
        if on and gain is not None:
            word = "undercut" if gain > 0 else "overcut"
            bits.append(f"{word} worth {abs(gain):.1f} s on {on.driver}")
        if not bits:
            bits.append(f"fresh tyres repay the {loss:.1f} s stop by {advice.saving:.1f} s"
                        if math.isfinite(advice.saving) else f"a stop costs {loss:.1f} s")
        return f"{what}: {', '.join(bits)}"
