"""The robust statistics the lap-level detectors share."""
from __future__ import annotations

import numpy as np


def robust_sigma(x) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of normal noise, outliers ignored."""
    x = np.asarray(x, dtype=float)
    return 1.4826 * float(np.median(np.abs(x - np.median(x)))) if len(x) else 0.0


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Robust line: median of pairwise slopes, intercept through the median residual."""
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    keep = dx != 0
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep])) if keep.any() else 0.0
    return slope, float(np.median(y - slope * x))
