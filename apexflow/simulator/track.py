"""The synthetic circuit: a closed ~5 km centreline and the cornering limit along it.

The layout is a list of straights and arcs of known radius (a hairpin, a chicane,
slow, medium and fast corners, two long straights). Curvature is smoothed over
~30 m (corner entries and exits ramp like real transitions) and two straights are
lengthened just enough to close the loop. The car holds a lateral acceleration of
``A_MECH + B_AERO * v**2`` (grip plus downforce): ~2.5 g in the hairpin, 4-5 g in
fast corners, and corners wider than ``1 / B_AERO`` are flat out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

A_MECH = 19.0  # m/s^2, lateral grip without downforce
B_AERO = 0.0045  # 1/m, downforce term
V_TOP = 335 / 3.6  # m/s, top speed of a nominal car

# (length m, 0, 0) for a straight, (0, turn deg, radius m) for an arc; left turns positive.
# The line is at the start of the first straight; the last one is the run to the line.
_LAYOUT = [
    (700, 0, 0), (0, 90, 30), (320, 0, 0), (0, -45, 90), (0, 45, 90), (300, 0, 0), (0, -70, 80),
    (250, 0, 0), (0, 160, 18), (1000, 0, 0), (0, -40, 25), (0, 40, 25), (300, 0, 0), (0, 40, 110),
    (300, 0, 0), (0, 50, 260), (300, 0, 0), (0, 40, 55), (0, -30, 70), (150, 0, 0), (0, 80, 45),
    (550, 0, 0),
]
_STRETCH = (9, 16)  # straights whose lengths close the loop
DRS_STRAIGHTS = (0, 9)  # layout straights with a DRS zone (main and back straight)
PIT_ENTRY_M, PIT_EXIT_M, PIT_BOX_M = 330.0, 240.0, 150.0  # entry and box before the line, exit after


@dataclass(frozen=True)
class Track:
    length: float  # m
    ds: float  # m between points
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    v_corner: np.ndarray  # m/s, cornering limit at each point (inf where flat out)
    drs: np.ndarray  # bool, inside a DRS zone
    sectors: tuple[int, int]  # point indices where sectors 2 and 3 start

    @property
    def n(self) -> int:
        return len(self.x)

    def position(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, Z (m) at track distances ``s`` (m; wraps around the lap)."""
        grid = np.arange(self.n + 1) * self.ds
        s = np.mod(s, self.length)
        return tuple(np.interp(s, grid, np.append(a, a[0])) for a in (self.x, self.y, self.z))


def _curvature(layout, ds: float) -> tuple[np.ndarray, np.ndarray]:
    """Curvature per point and the layout segment each point belongs to."""
    kappa, segment = [], []
    for i, (length, turn, radius) in enumerate(layout):
        if radius:
            length = np.radians(abs(turn)) * radius
        m = max(1, int(round(length / ds)))
        kappa.append(np.full(m, np.sign(turn) / radius if radius else 0.0))
        segment.append(np.full(m, i))
    return np.concatenate(kappa), np.concatenate(segment)


def _trace(kappa: np.ndarray, ds: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed curvature -> (n, 2) points; heading 0 = east at the line."""
    w = max(3, int(30 / ds))
    kappa = np.convolve(np.concatenate([kappa[-w:], kappa, kappa[:w]]), np.ones(w) / w, "same")[w:-w]
    heading = np.concatenate([[0.0], np.cumsum(kappa[:-1] * ds)])
    steps = np.column_stack([np.cos(heading), np.sin(heading)]) * ds
    return np.cumsum(steps, axis=0) - steps[0], kappa  # point 0 at the origin


def build_track(ds: float = 2.0) -> Track:
    layout = [list(seg) for seg in _LAYOUT]
    for _ in range(3):  # straights keep their heading, so the gap is linear in their lengths
        kappa, segment = _curvature(layout, ds)
        xy, _ = _trace(kappa, ds)
        gap = 2 * xy[-1] - xy[-2]  # where the next step after the last point lands
        dirs = np.array([xy[np.argmax(segment == k) + 1] - xy[np.argmax(segment == k)] for k in _STRETCH]).T / ds
        extra = np.linalg.solve(dirs, -gap)
        for k, e in zip(_STRETCH, extra):
            layout[k][0] += e
    kappa, segment = _curvature(layout, ds)
    xy, kappa = _trace(kappa, ds)
    n = len(kappa)
    xy -= np.outer(np.arange(n) / n, 2 * xy[-1] - xy[-2])  # spread the sub-metre residue
    radius = 1.0 / np.maximum(np.abs(kappa), 1e-9)
    denom = 1.0 - B_AERO * radius
    v_corner = np.where(denom > 0, np.sqrt(A_MECH * radius / np.maximum(denom, 1e-9)), np.inf)
    v_corner = np.where(v_corner > 1.2 * V_TOP, np.inf, v_corner)
    frac = np.arange(n) / n
    z = 18 + 9 * np.sin(2 * np.pi * frac + 0.6) + 3.5 * np.sin(6 * np.pi * frac + 1.9)
    drs = np.isin(segment, DRS_STRAIGHTS) & np.isinf(v_corner)
    drs &= np.isinf(np.roll(v_corner, -60))  # close ~120 m before the braking zone ahead
    drs &= ~((frac > 1 - PIT_ENTRY_M / (n * ds)) | (frac < 0.02))  # open only after the line area
    return Track(n * ds, ds, xy[:, 0], xy[:, 1], z, v_corner, drs, (n // 3, 2 * n // 3))
