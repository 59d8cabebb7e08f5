"""What cars do per ``BIN_M`` metres of lap distance: samples, samples with the brake on, and speeds.

One ``Profile`` serves twice. The incident detector keeps each car's own in its state. The field's
(every car of a session) is also kept per minute of session time (``Minutes``) and summed in the
database: analyze adds each batch's new samples in the batch's transaction, and sums only grow, so
batches of different shards add in any order. A sample is judged against the field of the minutes
before its own (``Timeline``): what the database holds plus what its batch brings, so neither the order
of cars in a batch, nor whether the field's samples came in the same batch or an earlier one, nor what
happened later (a whole race in one batch, a safety car after) changes its verdict. Speeds are summed in
whole 0.01 km/h, so every sum is exact and the same however the samples were split.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk

BIN_M = 50.0
MINUTE_S = 60.0  # the field's time resolution
MIN_SAMPLES = 10  # a bin the field has passed fewer times than this is unknown
KEYS = ("samples", "braking", "speed_cs")


def bins(distance: np.ndarray) -> np.ndarray:
    """Lap distance (m) -> bin number (negative distances fall in bin 0)."""
    return (np.maximum(distance, 0) * (1 / BIN_M)).astype(np.int64)


class Profile:
    """Sums per bin as a 3 x bins array (``KEYS``), from the database's rows or a detector's state."""

    def __init__(self, sums: np.ndarray | None = None):
        self.sums = np.zeros((3, 0)) if sums is None else sums

    @classmethod
    def from_rows(cls, rows: list[tuple[int, float, float, float]]) -> Profile:
        sums = np.zeros((3, 1 + max((r[0] for r in rows), default=-1)))
        for b, *row in rows:
            sums[:, b] = row
        return cls(sums)

    def rows(self) -> list[tuple[int, float, float, float]]:
        """(bin, samples, braking, speed_cs) of every bin passed, in bin order."""
        s = self.sums
        return [(int(b), float(s[0, b]), float(s[1, b]), float(s[2, b])) for b in np.flatnonzero(s[0])]

    @classmethod
    def from_state(cls, state: dict) -> Profile:
        lists = [state.get(k, []) for k in KEYS]
        return cls(np.array(lists, dtype=np.float64).reshape(3, -1))

    def save(self, state: dict) -> None:
        state.update(zip(KEYS, self.sums.tolist()))

    def add(self, b: np.ndarray, brake: np.ndarray, speed: np.ndarray) -> None:
        """Count samples in: their bins, brake (0/1) and speed (km/h)."""
        if len(b):
            self.merge(Profile(np.stack([np.bincount(b), np.bincount(b, weights=brake),
                                         np.bincount(b, weights=np.round(speed * 100.0))])))

    def add_chunk(self, chunk: Chunk) -> None:
        """Count a chunk's samples in (chunks without Distance, Brake and Speed count nothing)."""
        v = chunk.values
        if {"Distance", "Brake", "Speed"} <= v.keys():
            self.add(bins(v["Distance"]), v["Brake"], v["Speed"])

    def merge(self, other: Profile) -> None:
        """Add another profile's sums (what the database's upsert does with a batch's rows)."""
        a, b = self.sums, other.sums
        if a.shape[1] < b.shape[1]:
            a, b = b, a
        total = a.copy()
        total[:, :b.shape[1]] += b
        self.sums = total

    def at(self, b: int, min_samples: int = MIN_SAMPLES, t: float | None = None) -> tuple[float, float] | None:
        """(share of samples braking, mean speed in km/h) at bin ``b``; None below ``min_samples``. The same at
        any time ``t``."""
        if b >= self.sums.shape[1]:
            return None
        return _mean(self.sums[:, b], min_samples)


def _mean(sums: np.ndarray, min_samples: int) -> tuple[float, float] | None:
    n, braking, speed_cs = sums
    return None if n < min_samples else (float(braking / n), float(speed_cs / n / 100.0))


def minute(t: float) -> int:
    """The minute of session time ``t`` (s) falls in."""
    return int(np.floor(t / MINUTE_S))


class Minutes:
    """A ``Profile`` per minute of session time: a minutes x 3 x bins array from minute ``first`` on."""

    def __init__(self, first: int = 0, sums: np.ndarray | None = None):
        self.first, self.by_minute = first, np.zeros((0, 3, 0)) if sums is None else sums

    @property
    def sums(self) -> np.ndarray:
        """Every minute together, as a ``Profile``'s sums (so a ``Profile`` merges it)."""
        return self.by_minute.sum(axis=0)

    def add_chunk(self, chunk: Chunk) -> None:
        """Count a chunk's samples in (chunks without Distance, Brake and Speed count nothing)."""
        v = chunk.values
        if not {"Distance", "Brake", "Speed"} <= v.keys():
            return
        m, b = np.floor(chunk.t * (1 / MINUTE_S)).astype(np.int64), bins(v["Distance"])
        first, width = int(m[0]), int(b.max()) + 1
        cell = (m - first) * width + b
        size = (int(m[-1]) - first + 1) * width
        sums = np.stack([np.bincount(cell, minlength=size), np.bincount(cell, v["Brake"], size),
                         np.bincount(cell, np.round(v["Speed"] * 100.0), size)])
        self.merge(Minutes(first, sums.reshape(3, -1, width).transpose(1, 0, 2)))

    def merge(self, other: Minutes) -> None:
        """Add another's sums (what the database's upsert does with a batch's rows)."""
        if not other.by_minute.size:
            return
        if not self.by_minute.size:
            self.first, self.by_minute = other.first, other.by_minute.copy()
            return
        first = min(self.first, other.first)
        end = max(self.first + len(self.by_minute), other.first + len(other.by_minute))
        total = np.zeros((end - first, 3, max(self.by_minute.shape[2], other.by_minute.shape[2])))
        for part in (self, other):
            m, _, w = part.by_minute.shape
            total[part.first - first:part.first - first + m, :, :w] += part.by_minute
        self.first, self.by_minute = first, total

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, float, float, float]]) -> Minutes:
        out = cls()
        if rows:
            first = min(r[0] for r in rows)
            sums = np.zeros((1 + max(r[0] for r in rows) - first, 3, 1 + max(r[1] for r in rows)))
            for m, b, *row in rows:
                sums[m - first, :, b] = row
            out.first, out.by_minute = first, sums
        return out

    def rows(self) -> list[tuple[int, int, float, float, float]]:
        """(minute, bin, samples, braking, speed_cs) of every bin passed in each minute."""
        m, b = np.nonzero(self.by_minute[:, 0, :])
        values = self.by_minute[m, :, b].tolist()
        return [(self.first + i, j, *v) for i, j, v in zip(m.tolist(), b.tolist(), values)]


class Timeline:
    """The field as it stood at each minute: ``base`` (every minute before ``minutes``) plus ``minutes``'s
    sums of the minutes before the one asked about."""

    def __init__(self, base: Profile | None, minutes: Minutes):
        self.base, self.minutes = base if base is not None else Profile(), minutes
        self.first, by_minute = minutes.first, minutes.by_minute
        width = max(self.base.sums.shape[1], by_minute.shape[2] if by_minute.size else 0)
        self.before = np.zeros((len(by_minute) + 1, 3, width))  # [i]: the base plus minutes first .. first + i - 1
        self.before[:, :, :self.base.sums.shape[1]] += self.base.sums
        if by_minute.size:
            self.before[1:, :, :by_minute.shape[2]] += np.cumsum(by_minute, axis=0)

    def plus(self, minutes: Minutes) -> Timeline:
        """This field with more minutes' sums added (a batch's own samples)."""
        total = Minutes()
        total.merge(self.minutes)
        total.merge(minutes)
        return Timeline(self.base, total)

    def at(self, b: int, min_samples: int = MIN_SAMPLES, t: float | None = None) -> tuple[float, float] | None:
        """As ``Profile.at``, for the field of the minutes before ``t``'s (all of it when ``t`` is None)."""
        i = len(self.before) - 1 if t is None else min(max(minute(t) - self.first, 0), len(self.before) - 1)
        return None if b >= self.before.shape[2] else _mean(self.before[i, :, b], min_samples)
