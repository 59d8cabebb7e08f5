"""What cars do per ``BIN_M`` metres of lap distance: samples, samples with the brake on, and speeds.

One ``Profile`` serves twice. The incident detector keeps each car's own in its state; the
field's (every car of a session) is summed in the database: analyze adds each batch's new
samples in the batch's transaction, and sums only grow, so batches of different shards add in
any order. A batch judges its cars against the field as it stood before the batch, so no car's
verdict depends on the order of cars inside a batch. Speeds are summed in whole 0.01 km/h, so
every sum is exact and the same however the samples were split.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk

BIN_M = 50.0
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
    def from_rows(cls, rows: list[tuple[int, float, float, float]]) -> "Profile":
        sums = np.zeros((3, 1 + max((r[0] for r in rows), default=-1)))
        for b, *row in rows:
            sums[:, b] = row
        return cls(sums)

    def rows(self) -> list[tuple[int, float, float, float]]:
        """(bin, samples, braking, speed_cs) of every bin passed, in bin order."""
        return [(int(b), *map(float, self.sums[:, b])) for b in np.flatnonzero(self.sums[0])]

    @classmethod
    def from_state(cls, state: dict) -> "Profile":
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

    def merge(self, other: "Profile") -> None:
        """Add another profile's sums (what the database's upsert does with a batch's rows)."""
        a, b = self.sums, other.sums
        if a.shape[1] < b.shape[1]:
            a, b = b, a
        total = a.copy()
        total[:, :b.shape[1]] += b
        self.sums = total

    def at(self, b: int, min_samples: int = MIN_SAMPLES) -> tuple[float, float] | None:
        """(share of samples braking, mean speed in km/h) at bin ``b``; None below ``min_samples``."""
        if b >= self.sums.shape[1] or self.sums[0, b] < min_samples:
            return None
        n, braking, speed_cs = self.sums[:, b]
        return float(braking / n), float(speed_cs / n / 100.0)
