"""Sensor noise: real channels never repeat a value exactly while the car moves.

Gaussian measurement noise on the continuous channels, kept inside physical limits;
pedals at their stops (0 % or 100 % throttle) stay exactly there, as real pedals do.
"""
from __future__ import annotations

import numpy as np

SPEED_SD = 0.4  # km/h
RPM_SD = 30.0  # 1/min
THROTTLE_SD = 0.8  # %
POSITION_SD = 0.05  # m


def sensor_noise(rng: np.random.Generator, speed, rpm, throttle, x, y, z):
    n = len(speed)
    moving = speed > 0.5
    speed = np.where(moving, np.maximum(speed + rng.normal(0, SPEED_SD, n), 0.6), speed)
    rpm = rpm + rng.normal(0, RPM_SD, n)
    partial = (throttle > 0) & (throttle < 100)
    throttle = np.where(partial, np.clip(throttle + rng.normal(0, THROTTLE_SD, n), 0.5, 99.5), throttle)
    x, y, z = (c + rng.normal(0, POSITION_SD, n) for c in (x, y, z))
    return speed, rpm, throttle, x, y, z
