"""The seeded race plan: who drives, how fast, when they pit, when the safety car comes.

Every random draw of a race happens here, in a fixed order, from one generator, so a
seed fixes the whole race.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DRIVERS = (
    ("VER", "1", "Max Verstappen", "Red Bull Racing"), ("PER", "11", "Sergio Perez", "Red Bull Racing"),
    ("HAM", "44", "Lewis Hamilton", "Mercedes"), ("RUS", "63", "George Russell", "Mercedes"),
    ("LEC", "16", "Charles Leclerc", "Ferrari"), ("SAI", "55", "Carlos Sainz", "Ferrari"),
    ("NOR", "4", "Lando Norris", "McLaren"), ("PIA", "81", "Oscar Piastri", "McLaren"),
    ("ALO", "14", "Fernando Alonso", "Aston Martin"), ("STR", "18", "Lance Stroll", "Aston Martin"),
    ("GAS", "10", "Pierre Gasly", "Alpine"), ("OCO", "31", "Esteban Ocon", "Alpine"),
    ("ALB", "23", "Alexander Albon", "Williams"), ("SAR", "2", "Logan Sargeant", "Williams"),
    ("TSU", "22", "Yuki Tsunoda", "RB"), ("RIC", "3", "Daniel Ricciardo", "RB"),
    ("BOT", "77", "Valtteri Bottas", "Kick Sauber"), ("ZHO", "24", "Zhou Guanyu", "Kick Sauber"),
    ("HUL", "27", "Nico Hulkenberg", "Haas F1 Team"), ("MAG", "20", "Kevin Magnussen", "Haas F1 Team"),
)

# Compound: (lap-time offset s, degradation s per lap of tyre life)
COMPOUNDS = {"SOFT": (-0.6, 0.09), "MEDIUM": (0.0, 0.05), "HARD": (0.5, 0.03)}
FUEL_S_PER_LAP = 0.035  # lap-time cost of each remaining lap of fuel
NOMINAL_LAP_S = 78.0
SC_PACE = 0.6


@dataclass
class CarPlan:
    code: str
    number: str
    name: str
    team: str
    grid: int  # 0 = pole
    pace: float  # performance factor, ~1 +- 1%
    noise: np.ndarray  # per-lap pace noise, index = lap number
    pit_lap: int | None  # in-lap; the out-lap is pit_lap + 1
    compounds: tuple[str, str]
    stop_s: float  # stationary time in the box
    phase: float  # offset of this car's sample clock, s
    extra_s: np.ndarray  # extra lap time per lap (slow puncture), index = lap number
    power_loss: tuple[int, float] | None = None  # (from lap, top-speed factor)
    incidents: list[dict] = field(default_factory=list)  # {"lap", "u", "decel", "v_min", "roll_m", "recover"}

    def stint(self, lap: int) -> int:
        return 1 if self.pit_lap is None or lap <= self.pit_lap else 2

    def tyre_life(self, lap: int) -> int:
        return lap if self.pit_lap is None or lap <= self.pit_lap else lap - self.pit_lap

    def compound(self, lap: int) -> str:
        return self.compounds[self.stint(lap) - 1]

    def pit_laps(self) -> set[int]:
        return set() if self.pit_lap is None else {self.pit_lap, self.pit_lap + 1}


@dataclass
class RacePlan:
    laps: int
    hz: float
    cars: list[CarPlan]
    sc: tuple[int, int] | None  # first and last safety-car lap

    def sc_laps(self) -> set[int]:
        return set() if self.sc is None else set(range(self.sc[0], self.sc[1] + 1))

    def clean(self, car: CarPlan, lap: int) -> bool:
        """A racing lap: not lap 1, not under the safety car, not in or out of the pits."""
        return lap >= 2 and lap not in self.sc_laps() and lap not in car.pit_laps()

    def grip(self, car: CarPlan) -> np.ndarray:
        """Speed multiplier per lap (index = lap number) from car, tyres, fuel and lap-to-lap noise."""
        m = np.ones(self.laps + 1)
        for lap in range(1, self.laps + 1):
            offset, deg = COMPOUNDS[car.compound(lap)]
            extra = offset + deg * (car.tyre_life(lap) - 1) + FUEL_S_PER_LAP * (self.laps - lap) + car.extra_s[lap]
            m[lap] = car.pace * (1 + car.noise[lap]) / (1 + extra / NOMINAL_LAP_S)
        return m


def _sc_window(rng: np.random.Generator, laps: int) -> tuple[int, int] | None:
    """A 2-3 lap safety car that leaves room for a 3-lap slow puncture before a pit stop."""
    if laps < 4:
        return None
    n = 2 if laps < 20 else int(rng.integers(2, 4))
    lo, hi = 2, laps - n + 1
    if laps >= 20:
        lo, hi = max(2, laps // 6), laps - n - laps // 6
    starts = [a for a in range(lo, hi + 1) if laps < 6 or any(
        all(lap < a or lap >= a + n for lap in range(q, q + 3)) for q in range(2, laps - 2))]
    a = int(rng.choice(starts))
    return a, a + n - 1


def make_plan(rng: np.random.Generator, laps: int, cars: int, hz: float) -> RacePlan:
    pace = 1 + rng.uniform(-0.01, 0.01, cars)
    grid = np.argsort(np.argsort(-(pace + rng.normal(0, 0.003, cars))))
    sc = _sc_window(rng, laps)
    lo, hi = max(2, round(0.4 * laps)), max(2, min(laps - 1, round(0.6 * laps)))
    plans = []
    for i in range(cars):
        start = str(rng.choice(["SOFT", "MEDIUM", "MEDIUM", "HARD"]))
        second = "HARD" if start != "HARD" else "MEDIUM"
        code, number, name, team = DRIVERS[i]
        plans.append(CarPlan(
            code, number, name, team, int(grid[i]), float(pace[i]), rng.normal(0, 6e-4, laps + 1),
            int(rng.integers(lo, hi + 1)) if laps >= 3 else None, (start, second),
            float(rng.uniform(2.0, 3.0)), float(rng.uniform(0.25, 0.75) / hz), np.zeros(laps + 1),
        ))
    return RacePlan(laps, hz, plans, sc)
