"""Building blocks shared by the generic detectors: exact streaming windows and event runs.

Every generic detector must give the same answer whatever the batch boundaries are, and
must be vectorised per chunk. Both follow from one rule: nothing depends on where a chunk
starts. Windows are aligned to the *absolute* sample index of the stream (kept in the
state), never to the chunk, so the baseline for sample ``i`` is always computed from the
same ``W`` earlier samples with the same arithmetic, and the state carries exactly the tail
those windows still need.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class BlockBaseline:
    """Robust baseline (median) of the previous ``m`` blocks of ``b`` samples.

    The baseline of a sample in block ``k`` (``k = index // b``) is computed from the
    samples of blocks ``k - m .. k - 1``: strictly earlier samples (no look-ahead), one
    window per block (cheap), identical for any split of the stream. Samples of the first
    ``m`` blocks have no baseline (warm-up). The noise scale comes from the deviations
    about the baseline.
    """

    def __init__(self, b: int, m: int):
        self.b, self.m, self.w = b, m, b * m

    def __call__(self, state: dict, x: np.ndarray):
        """``x``: rows x n (float64). Returns ``(pred, level, mad, mean_ad, j, valid)``.

        ``pred`` (rows x n) is each sample's baseline (0 where not ``valid``); ``level``,
        ``mad`` and ``mean_ad`` are rows x blocks; ``j[i]`` is the block column of sample
        ``i``. Updates ``state["n"]`` and ``state["tail"]``.
        """
        rows, n = x.shape
        n0 = int(state.get("n", 0))
        tail = state.get("tail")
        tail = np.asarray(tail, dtype=np.float64).reshape(rows, -1) if tail else np.empty((rows, 0))
        full = np.concatenate([tail, x], axis=1) if tail.shape[1] else x
        base = n0 - tail.shape[1]  # absolute index of full[:, 0]
        b, m, w = self.b, self.m, self.w
        blk0, blk1 = n0 // b, (n0 + n - 1) // b
        lo = max(blk0, m)
        pred = np.zeros((rows, n))
        if blk1 >= lo:
            s0 = (lo - m) * b - base
            seg = full[:, s0:(blk1 - m) * b - base + w]
            wins = sliding_window_view(seg, w, axis=1)[:, ::b]  # rows x blocks x w
            blk = np.arange(n0, n0 + n) // b
            valid = blk >= m
            j = np.where(valid, blk - lo, 0)
            level = np.median(wins, axis=2)
            dev = np.abs(wins - level[:, :, None])
            pred[:, valid] = level[:, j[valid]]
            mad = np.median(dev, axis=2)
            mean_ad = dev.mean(axis=2)
        else:
            level = mad = mean_ad = np.zeros((rows, 0))
            valid = np.zeros(n, dtype=bool)
            j = np.zeros(n, dtype=np.int64)
        keep_from = max(0, ((n0 + n) // b - m) * b - base)
        state["n"] = n0 + n
        state["tail"] = full[:, keep_from:].tolist()
        return pred, level, mad, mean_ad, j, valid


def robust_sigma(med: np.ndarray, mad: np.ndarray, mean_ad: np.ndarray) -> np.ndarray:
    """Noise scale from MAD, falling back to the mean absolute deviation for quantised data."""
    return np.maximum(np.maximum(1.4826 * mad, 1.2533 * mean_ad), 1e-9 * (1.0 + np.abs(med)))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a 1-D mask."""
    d = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def r(x: float, nd: int = 4) -> float:
    """JSON-friendly rounded Python float."""
    return round(float(x), nd)
