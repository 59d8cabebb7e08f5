"""``SyntheticRace``: a deterministic F1 race with known anomalies, in the contract's shapes."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

from apexflow.contract import F1_CHANNELS, TRACK_STATUS, Entity, Session, SessionFacts
from apexflow.simulator import physics
from apexflow.simulator.anomalies import freeze, plan_anomalies
from apexflow.simulator.drive import Drive, drive, lap_start_point
from apexflow.simulator.pedals import overlap
from apexflow.simulator.plan import make_plan
from apexflow.simulator.sensors import sensor_noise
from apexflow.simulator.track import build_track

START_TIME = datetime(2024, 7, 7, 14, 0, tzinfo=UTC)
POINTS = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)
SC_LEAD_S = 3.0  # the safety car is called this long before the leader starts the first SC lap
JITTER = 0.2  # sample clock jitter, fraction of a period


class SyntheticRace:
    """A race on the synthetic circuit: ``session()``, ``facts()``, ``samples()``, ``ground_truth()``."""

    def __init__(self, seed: int = 7, laps: int = 6, cars: int = 20, hz: float = 4.0):
        if not 1 <= laps <= 200 or not 1 <= cars <= 20 or not 0.5 <= hz <= 100:
            raise ValueError(f"need 1 <= laps <= 200, 1 <= cars <= 20, 0.5 <= hz <= 100; got {laps}, {cars}, {hz}")
        self.seed, self.laps, self.hz = seed, laps, float(hz)
        self.track = build_track()
        rng = np.random.default_rng(seed)
        self.plan = make_plan(rng, laps, cars, self.hz)
        self._sensors = plan_anomalies(rng, self.plan)

    # The drives are deterministic given the plan: computed when first needed (``session()`` needs none of them).
    @cached_property
    def _drs(self) -> list[np.ndarray]:
        no_drs = np.zeros(self.laps + 1, bool)
        return self._drs_laps([drive(self.track, self.plan, c, no_drs) for c in self.plan.cars])

    @cached_property
    def _timing(self) -> list[dict]:
        return [self._summary(self._drive(k)) for k in range(len(self.plan.cars))]

    @cached_property
    def _status(self) -> list[tuple[float, str]]:
        return self._track_status()

    @cached_property
    def _truth(self) -> list[dict]:
        return self._ground_truth()

    # -- public API ----------------------------------------------------------------------------

    def session(self) -> Session:
        entities = tuple(Entity(c.code, c.name, c.team, {"driver_number": c.number}) for c in self.plan.cars)
        return Session(
            f"sim-s{self.seed}-l{self.laps}", "synthetic", START_TIME, F1_CHANNELS, entities,
            identity={"year": START_TIME.year, "event": "Synthetic Grand Prix", "session": "Race", "seed": self.seed},
            meta={"track_length_m": self.track.length, "hz": self.hz, "laps": self.laps},
        )

    def facts(self) -> SessionFacts:
        return SessionFacts(
            laps=self._lap_rows(), track_status=[{"Time": t, "Status": s, "Message": TRACK_STATUS[s]}
                                                 for t, s in self._status],
            race_control_messages=self._race_control(), results=self._results(),
            missing={"weather": "synthetic session has no weather"},
        )

    def samples(self) -> Iterator[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        """Per car: (entity_id, t, {channel: float32 column}) over the whole race."""
        for k, car in enumerate(self.plan.cars):
            t, values = self._car_samples(k, self._drive(k))
            yield car.code, t, values

    def ground_truth(self) -> list[dict]:
        return [dict(a, details=dict(a["details"])) for a in self._truth]

    # -- driving -------------------------------------------------------------------------------

    def _drive(self, k: int) -> Drive:
        return drive(self.track, self.plan, self.plan.cars[k], self._drs[k])

    def _drs_laps(self, drives: list[Drive]) -> list[np.ndarray]:
        """DRS from lap 3, not under the safety car or on the restart lap, within 1 s at the line."""
        laps = self.laps
        allowed = np.arange(laps + 1) >= 3
        if self.plan.sc:
            allowed[self.plan.sc[0] : self.plan.sc[1] + 2] = False
        cross = np.array([d.lap_start[2 : laps + 1] for d in drives]).ravel()
        order = np.argsort(cross, kind="stable")
        gap: np.ndarray = np.full(len(cross), np.inf)
        gap[order[1:]] = np.diff(cross[order])
        gap = gap.reshape(len(drives), laps - 1) if laps > 1 else gap.reshape(len(drives), 0)
        out = []
        for row in gap:
            ok = allowed.copy()
            ok[2 : laps + 1] &= row < 1.0
            out.append(ok)
        return out

    @staticmethod
    def _summary(d: Drive) -> dict:
        return {"lap_start": d.lap_start, "sectors": d.sector_start, "pit_in": d.pit_in, "pit_out": d.pit_out,
                "incidents": d.incidents}

    def _car_samples(self, k: int, d: Drive) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        car, tr, laps = self.plan.cars[k], self.track, self.laps
        finish = d.lap_start[laps + 1]
        rng = np.random.default_rng([self.seed, k])
        n = int((finish - car.phase) * self.hz) + 1
        t = car.phase + (np.arange(n) + rng.uniform(-JITTER, JITTER, n)) / self.hz
        keep = t <= finish
        for s in self._sensors_of(k, "dropout"):
            keep &= (t < s["t_start"]) | (t > s["t_end"])
        t = t[keep]
        r = np.interp(t, d.t, d.i * tr.ds)
        v = np.interp(t, d.t, d.v)
        point = d.i[np.clip(np.searchsorted(d.t, t, side="right") - 1, 0, len(d.i) - 1)]
        lap = np.clip(np.floor((r - d.grid_pts * tr.ds) / tr.length).astype(int) + 1, 1, laps)
        distance = np.maximum(r - lap_start_point(d.grid_pts, tr.n, lap) * tr.ds, 0.0)
        x, y, z = tr.position(r - d.grid_pts * tr.ds)
        speed = v * 3.6
        stopped = speed < 0.5
        gears = physics.gear(speed)
        rpm = physics.rpm(speed, gears)
        if car.power_loss:
            rpm = np.where(lap >= car.power_loss[0], np.minimum(rpm, self._rpm_cap(car)), rpm)
        state = d.state[point]
        throttle = np.where(state == 1, 100.0, np.where(state == 2, 0.0, physics.part_throttle(v)))
        brake = (state == 2) | stopped
        throttle = overlap(np.random.default_rng([self.seed, k, 2]), t, brake & ~stopped, speed,
                           np.where(stopped, 0.0, throttle))
        for inc in d.incidents:  # the car snaps before the driver reacts: speed goes, no pedal asked for it
            snap = (t >= inc["t_start"]) & (t < inc["t_start"] + inc["snap_s"])
            brake &= ~snap
            throttle = np.where(snap, 0.0, throttle)
        speed, rpm, throttle, x, y, z = sensor_noise(np.random.default_rng([self.seed, k, 1]), speed, rpm,
                                                     throttle, x, y, z)
        values = {
            "Speed": speed, "RPM": rpm, "nGear": gears, "Throttle": throttle,
            "Brake": brake.astype(float), "DRS": d.drs[point].astype(float),
            "X": x, "Y": y, "Z": z, "Distance": distance, "LapNumber": lap,
        }
        for s in self._sensors_of(k, "frozen_sensor"):
            values[s["channel"]] = freeze(t, values[s["channel"]], s["t_start"], s["t_end"])
        for s in self._sensors_of(k, "throttle_brake_overlap"):  # the brake pedal sticks on: the car drives on
            values["Brake"] = np.where((t >= s["t_start"]) & (t <= s["t_end"]), 1.0, values["Brake"])
        return t, {c.name: np.asarray(values[c.name], dtype=np.float32) for c in F1_CHANNELS}

    @staticmethod
    def _rpm_cap(car) -> float:
        return physics.SHIFT_RPM * car.power_loss[1]

    def _sensors_of(self, k: int, kind: str) -> list[dict]:
        code = self.plan.cars[k].code
        return [a for a in self._truth if a["kind"] == kind and a["entity_id"] == code]

    # -- facts ---------------------------------------------------------------------------------

    def _track_status(self) -> list[tuple[float, str]]:
        status = [(0.0, "1")]
        if self.plan.sc:
            a, b = self.plan.sc
            status.append((self._leader_time(a) - SC_LEAD_S, "4"))
            status.append((self._leader_time(b + 1), "1"))
        return status

    def _status_during(self, start: float, end: float) -> str:
        codes = [s for t, s in self._status if t <= start][-1:] + [s for t, s in self._status if start < t < end]
        return "".join(c for i, c in enumerate(codes) if i == 0 or c != codes[i - 1])

    def _lap_rows(self) -> list[dict]:
        laps = self.laps
        ends = np.array([x["lap_start"][2:] for x in self._timing])  # (cars, laps): time each lap ends
        position = np.argsort(np.argsort(ends, axis=0, kind="stable"), axis=0) + 1
        rows = []
        for k, (car, x) in enumerate(zip(self.plan.cars, self._timing)):
            for lap in range(1, laps + 1):
                start, end = float(x["lap_start"][lap]), float(x["lap_start"][lap + 1])
                s2, s3 = (float(v) for v in x["sectors"][lap])
                rows.append({
                    "Driver": car.code, "DriverNumber": car.number, "Team": car.team, "LapNumber": lap,
                    "LapStartTime": start, "Time": end, "LapTime": end - start,
                    "Sector1Time": s2 - start, "Sector2Time": s3 - s2, "Sector3Time": end - s3,
                    "Stint": car.stint(lap), "Compound": car.compound(lap), "TyreLife": car.tyre_life(lap),
                    "PitInTime": x["pit_in"] if lap == car.pit_lap else None,
                    "PitOutTime": x["pit_out"] if car.pit_lap and lap == car.pit_lap + 1 else None,
                    "TrackStatus": self._status_during(start, end), "Position": int(position[k, lap - 1]),
                    "Deleted": False, "IsAccurate": lap > 1 and lap not in car.pit_laps(),
                })
        return rows

    def _leader_time(self, lap: int) -> float:
        """When the first car starts ``lap`` (``laps + 1``: takes the flag)."""
        return float(min(x["lap_start"][lap] for x in self._timing))

    def _race_control(self) -> list[dict]:
        def msg(t, category, message, lap, status=None, flag=None):
            return {"Time": float(t), "Category": category, "Message": message, "Status": status, "Flag": flag,
                    "Scope": "Track" if flag else None, "Sector": None, "RacingNumber": None, "Lap": lap}
        out = []
        if self.laps >= 3:
            out.append(msg(self._leader_time(3), "Drs", "DRS ENABLED", 3, "ENABLED"))
        if self.plan.sc:
            a, b = self.plan.sc
            deployed, clear = self._status[1][0], self._status[2][0]
            out += [msg(deployed, "SafetyCar", "SAFETY CAR DEPLOYED", a - 1, "DEPLOYED"),
                    msg(deployed, "Drs", "DRS DISABLED", a - 1, "DISABLED"),
                    msg(self._leader_time(b), "SafetyCar", "SAFETY CAR IN THIS LAP", b, "IN THIS LAP"),
                    msg(clear, "Flag", "TRACK CLEAR", b + 1, flag="CLEAR")]
            if b + 2 <= self.laps:
                out.append(msg(self._leader_time(b + 2), "Drs", "DRS ENABLED", b + 2, "ENABLED"))
        out.append(msg(self._leader_time(self.laps + 1), "Flag", "CHEQUERED FLAG", self.laps, flag="CHEQUERED"))
        return sorted(out, key=lambda m: m["Time"])

    def _results(self) -> list[dict]:
        finish = np.array([x["lap_start"][self.laps + 1] for x in self._timing])
        rows = []
        for pos, k in enumerate(np.argsort(finish, kind="stable"), start=1):
            car = self.plan.cars[k]
            rows.append({
                "DriverNumber": car.number, "Driver": car.code, "Abbreviation": car.code, "FullName": car.name,
                "TeamName": car.team, "Position": pos, "ClassifiedPosition": str(pos), "GridPosition": car.grid + 1,
                "Time": float(finish[k] if pos == 1 else finish[k] - finish.min()), "Status": "Finished",
                "Points": POINTS[pos - 1] if pos <= len(POINTS) else 0, "Laps": self.laps,
            })
        return rows

    def _ground_truth(self) -> list[dict]:
        out = []
        for car, x in zip(self.plan.cars, self._timing):
            finish = float(x["lap_start"][self.laps + 1])
            for inc in x["incidents"]:
                out.append(self._anomaly("incident", car.code, inc["t_start"], inc["t_end"], inc["lap"], "Speed", {
                    k: inc[k] for k in ("distance_m", "speed_before_kmh", "min_speed_kmh", "time_lost_s")}))
            if car.power_loss:
                lap, factor = car.power_loss
                out.append(self._anomaly("power_loss", car.code, x["lap_start"][lap], finish, lap, "Speed", {
                    "top_speed_factor": factor, "rpm_cap": self._rpm_cap(car)}))
            hit = np.flatnonzero(car.extra_s)
            if len(hit):
                out.append(self._anomaly("slow_puncture", car.code, x["lap_start"][hit[0]], x["pit_in"], int(hit[0]),
                                         None, {"pit_lap": car.pit_lap,
                                                "extra_lap_time_s": [float(e) for e in car.extra_s[hit]]}))
        for s in self._sensors:
            car, x = self.plan.cars[s["car"]], self._timing[s["car"]]
            start, end = x["lap_start"][s["lap"]], x["lap_start"][s["lap"] + 1]
            t0 = start + s["u"] * max(0.0, s.get("within_s", end - start) - s["seconds"])
            out.append(self._anomaly(s["kind"], car.code, t0, t0 + s["seconds"], s["lap"], s["channel"],
                                     {"seconds": s["seconds"]}))
        return sorted(out, key=lambda a: (a["t_start"], a["entity_id"]))

    @staticmethod
    def _anomaly(kind, entity_id, t_start, t_end, lap, channel, details) -> dict:
        return {"kind": kind, "entity_id": entity_id, "t_start": float(t_start), "t_end": float(t_end),
                "lap": int(lap), "channel": channel, "details": details}
