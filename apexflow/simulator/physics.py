"""Car physics: the fastest speed profile under caps, and the drivetrain channels.

Acceleration is ``A0 * (1 - v**2 / V_TERM**2)`` (traction falling off with drag)
and braking ``B0 * (1 + v**2 / B_AERO)`` (more downforce, harder braking: ~3 g slow,
~5.5 g from top speed). Both have closed forms in a transformed speed, so the forward
and backward passes are running minima (``np.minimum.accumulate``), not Python loops.
"""
from __future__ import annotations

import numpy as np

V_TERM = 110.0  # m/s, speed where drag would eat all the power
U_TERM = V_TERM**2
A0 = 11.0  # m/s^2, launch acceleration
B0 = 28.0  # m/s^2, braking at low speed
B_AERO = 8700.0  # m^2/s^2, braking doubles at sqrt(B_AERO) m/s
BRAKE_BELOW = -2.0  # m/s^2, decelerations harder than this are braking (Brake = 1)

# Gear bands (km/h where each gear tops out at SHIFT_RPM) and the engine range.
GEAR_TOP = np.array([100, 135, 165, 195, 228, 262, 298, 352], dtype=float)
SHIFT_RPM = 12000.0
IDLE_RPM = 4200.0


def speed_profile(cap: np.ndarray, grip: np.ndarray, ds: float) -> np.ndarray:
    """Fastest speeds (m/s) at points ``ds`` apart that respect ``cap`` (m/s) and the limits.

    ``grip`` per point scales the launch acceleration and the braking.
    """
    u = np.minimum(cap, 0.999 * V_TERM) ** 2
    # forward: w = -ln(U - u) grows by at most 2 * A0 * grip * ds / U per step
    climb = np.cumsum(2 * A0 * grip * ds / U_TERM)
    w = climb + np.minimum.accumulate(-np.log(U_TERM - u) - climb)
    forward = U_TERM - np.exp(-w)
    # backward: z = ln(B + u) falls by at most 2 * B0 * grip * ds / B per step going forward
    fall = np.cumsum(2 * B0 * grip * ds / B_AERO)
    z = np.minimum.accumulate((np.log(B_AERO + u) + fall)[::-1])[::-1] - fall
    backward = np.exp(z) - B_AERO
    return np.minimum(np.sqrt(np.clip(np.minimum(forward, backward), 0.0, None)), cap)  # exact 0 where capped


def acceleration(v: np.ndarray, ds: float) -> np.ndarray:
    """Longitudinal acceleration (m/s^2) from each point to the next (last repeats)."""
    a = np.diff(v**2) / (2 * ds)
    return np.append(a, a[-1])


def full_throttle_accel(v: np.ndarray, grip: np.ndarray) -> np.ndarray:
    return A0 * grip * (1 - v**2 / U_TERM)


def gear(speed_kmh: np.ndarray) -> np.ndarray:
    """Gear 1..8 from speed bands; 0 (neutral) when stationary."""
    g = np.minimum(np.searchsorted(GEAR_TOP, speed_kmh), 7) + 1
    return np.where(speed_kmh < 0.5, 0, g)


def rpm(speed_kmh: np.ndarray, gears: np.ndarray) -> np.ndarray:
    ratio = SHIFT_RPM / GEAR_TOP[np.maximum(gears, 1) - 1]
    return np.maximum(speed_kmh * ratio, IDLE_RPM)


def part_throttle(v: np.ndarray) -> np.ndarray:
    """Throttle (%) holding a speed against drag: light in slow corners, near full at speed."""
    return np.clip(15 + 85 * (v / V_TERM) ** 2, 0, 100)
