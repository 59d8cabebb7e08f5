"""Replay pacing: send a session's chunks as fast as possible, or at N x real time.

Chunks leave in stream order (``apexflow.pipeline.ingest`` sorts them by start time, then entity),
so each car's own order and the interleaving of cars by timestamp are preserved. With a
``speed``, the chunk whose first sample is at session time ``t`` goes out at wall time
``start + (t - t_first) / speed``, where ``start`` is when the first chunk was sent and
``t_first`` its session time: ``speed=1`` is live pace, ``speed=10`` ten times faster,
``speed=None`` no waiting at all (the default for historical sessions). Chunks due at the
same moment (already due when reached) go out together in one call.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from apexflow import chunk as chunks
from apexflow.errors import ContractError

T = TypeVar("T")


def check_speed(speed: float | None) -> float | None:
    if speed is None:
        return None
    speed = float(speed)
    if not math.isfinite(speed) or speed <= 0:
        raise ContractError(f"replay speed must be a positive number (1 = live pace), got {speed}")
    return speed


class Pacer:
    """Decides how long to wait before an item at session time ``t``; keeps its start across calls."""

    def __init__(self, speed: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.speed, self.clock, self.sleep = check_speed(speed), clock, sleep
        self.origin: tuple[float, float] | None = None  # (wall start, session t of the first item)

    def delay(self, t: float) -> float:
        """Seconds until session time ``t`` is due (the first item starts the clock and is due now)."""
        if self.speed is None:
            return 0.0
        if self.origin is None:
            self.origin = (self.clock(), t)
        wall0, t0 = self.origin
        return wall0 + (t - t0) / self.speed - self.clock()


def paced(items: Iterable[T], t_of: Callable[[T], float], pacer: Pacer) -> Iterator[list[T]]:
    """Groups of consecutive items, each yielded once all its items are due (order never changes)."""
    group: list[T] = []
    for item in items:
        t = t_of(item)
        if pacer.delay(t) > 0:
            if group:
                yield group
                group = []
            wait = pacer.delay(t)  # again: sending the last group took time
            if wait > 0:
                pacer.sleep(wait)
        group.append(item)
    if group:
        yield group


def chunk_start(data: bytes) -> float:
    """Session time of a chunk's first sample, read from its encoded bytes."""
    return float(chunks.decode(data).t[0])


class PacedStream:
    """Wraps a stream (``put(records)``) so that records go out at their session time / speed.

    Records are ``(partition key, chunk bytes)`` in stream order; their time is read from the
    chunk itself, so the wrapper fits ``apexflow.pipeline.ingest.ingest`` unchanged. ``speed=None``
    passes batches straight through.
    """

    def __init__(self, stream, speed: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.stream, self.pacer = stream, Pacer(speed, clock, sleep)

    def put(self, records: list[tuple[str, bytes]]) -> None:
        if self.pacer.speed is None:
            self.stream.put(records)
            return
        for group in paced(records, lambda r: chunk_start(r[1]), self.pacer):
            self.stream.put(group)
