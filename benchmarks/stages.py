"""Wall time attributed to pipeline stages by wrapping the callables that do each stage's work, for one run.

``Stages.attach(targets)`` replaces each ``(owner, attribute)`` by a timed wrapper (undone on exit); a call on the
main thread charges the time until it returns to its stage, less the time of stages nested inside it, so the
stages (plus ``other``, what no wrapper covers) add up to the measured total. Generator functions are charged
per ``next()``. Calls on other threads (S3 uploads of a pool, Step Functions' executions) are not charged
separately: the main-thread call waiting for them carries their wall time. Production code is left untouched.
"""
from __future__ import annotations

import functools
import inspect
import threading
import time
from contextlib import ExitStack, contextmanager
from unittest import mock

OTHER = "other"


class Stages:
    def __init__(self, clock=time.perf_counter):
        self.clock, self.seconds, self.calls = clock, {OTHER: 0.0}, {}
        self.missing: list[str] = []
        self._stack: list[str] = []
        self._main = threading.get_ident()
        self._last: float | None = None

    def wrap(self, stage: str, fn):
        """``fn`` charging its wall time to ``stage`` (exclusive of nested stages)."""
        self.seconds.setdefault(stage, 0.0)
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def each(*args, **kwargs):
                it = fn(*args, **kwargs)
                while True:
                    with self.charged(stage):
                        try:
                            item = next(it)
                        except StopIteration:
                            return
                    yield item
            return each

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.charged(stage):
                return fn(*args, **kwargs)
        return timed

    @contextmanager
    def charged(self, stage: str):
        if threading.get_ident() != self._main or self._last is None:
            yield
            return
        self._switch()
        self._stack.append(stage)
        self.calls[stage] = self.calls.get(stage, 0) + 1
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def _switch(self) -> None:
        now = self.clock()
        stage = self._stack[-1] if self._stack else OTHER
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now

    @contextmanager
    def attach(self, targets: dict[str, list[tuple[object, str]]]):
        """Wrap every ``(owner, attribute)`` of each stage for the ``with`` block, timing from its start; a
        target that does not exist (renamed code) is listed in ``missing`` rather than failing the run."""
        with ExitStack() as stack:
            for stage, pairs in targets.items():
                for owner, name in pairs:
                    original = inspect.getattr_static(owner, name, None)
                    if original is None:
                        self.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
                        continue
                    fn = original.__func__ if isinstance(original, staticmethod) else original
                    wrapped = self.wrap(stage, fn)
                    if isinstance(original, staticmethod):
                        wrapped = staticmethod(wrapped)
                    stack.enter_context(mock.patch.object(owner, name, wrapped))
            self._main = threading.get_ident()
            self._last = self.clock()
            try:
                yield self
            finally:
                self._switch()
                self._last = None

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
