"""The field: every car's samples of a session, summed per ``BIN_M`` metres of lap distance.

Per bin: samples, samples with the brake on, and the sum of speeds. Sums only grow, so batches
add to them in any order (analyze adds each batch's new samples in the batch's transaction,
concurrent shards included). A batch judges its cars against the field as it stood before
the batch, so no car's decision depends on the order of cars inside a batch.
"""
from __future__ import annotations

import numpy as np

from apexflow.chunk import Chunk

BIN_M = 50.0
MIN_SAMPLES = 10  # a bin the field has passed fewer times than this is unknown


def bins(distance: np.ndarray) -> np.ndarray:
    """Lap distance (m) -> bin number (negative distances fall in bin 0)."""
    return (np.maximum(distance, 0) * (1 / BIN_M)).astype(np.int64)


class FieldProfile:
    """The field's sums per bin (a 3 x bins array), as read from the database or built from chunks."""

    def __init__(self, size: int = 0):
        self.sums = np.zeros((3, size))  # samples, braking, speed sum

    @classmethod
    def from_rows(cls, rows: list[tuple[int, float, float, float]]) -> "FieldProfile":
        field = cls(1 + max((r[0] for r in rows), default=-1))
        for b, *sums in rows:
            field.sums[:, b] = sums
        return field

    def rows(self) -> list[tuple[int, float, float, float]]:
        return [(int(b), *map(float, self.sums[:, b])) for b in np.flatnonzero(self.sums[0])]

    def add(self, chunk: Chunk) -> None:
        """Count a chunk's samples in (chunks without Distance, Brake and Speed count nothing)."""
        v = chunk.values
        if {"Distance", "Brake", "Speed"} <= v.keys():
            b = bins(v["Distance"])
            self._add(np.stack([np.bincount(b), np.bincount(b, weights=v["Brake"]),
                                np.bincount(b, weights=v["Speed"])]))

    def merge(self, other: "FieldProfile") -> None:
        """Add another profile's sums (what the database's upsert does with a batch's rows)."""
        self._add(other.sums)

    def _add(self, sums: np.ndarray) -> None:
        size = max(self.sums.shape[1], sums.shape[1])
        total = np.zeros((3, size))
        total[:, :self.sums.shape[1]] += self.sums
        total[:, :sums.shape[1]] += sums
        self.sums = total

    def at(self, b: int) -> tuple[float, float] | None:
        """(share of samples braking, mean speed) of the field at bin ``b``; None where it is unknown."""
        if b >= self.sums.shape[1] or self.sums[0, b] < MIN_SAMPLES:
            return None
        n, braking, speed = self.sums[:, b]
        return float(braking / n), float(speed / n)
