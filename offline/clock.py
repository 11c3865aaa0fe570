"""Simulated time shared by the local services and the state machine engine.

Offline runs accelerate time: a 30 s dataset update and a 30 s Wait both take
30 * scale real seconds, so the schedule the pipeline sees is the real one.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Simulated seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Sleep for simulated seconds."""
        ...

    def to_real(self, seconds: float) -> float:
        """Real seconds that pass while `seconds` simulated seconds pass."""
        ...


class ScaledClock:
    """Simulated time running 1/scale times faster than wall time (scale=1.0 is real time)."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("scale must be > 0")
        self._lock = threading.Lock()
        self._scale = scale
        self._real_origin = time.monotonic()
        self._sim_origin = time.time()

    @property
    def scale(self) -> float:
        return self._scale

    def params(self) -> tuple[float, float, float]:
        """(scale, simulated origin, monotonic origin): enough for another process to read the same time
        (CLOCK_MONOTONIC is system-wide), e.g. a Lambda sandbox's worker (offline/lambda_sandbox.py)."""
        with self._lock:
            return self._scale, self._sim_origin, self._real_origin

    @classmethod
    def resumed(cls, scale: float, sim_origin: float, real_origin: float) -> ScaledClock:
        clock = cls(scale)
        clock._sim_origin, clock._real_origin = sim_origin, real_origin
        return clock

    def set_scale(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be > 0")
        with self._lock:
            self._sim_origin = self._now_locked()
            self._real_origin = time.monotonic()
            self._scale = scale

    def _now_locked(self) -> float:
        return self._sim_origin + (time.monotonic() - self._real_origin) / self._scale

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def to_real(self, seconds: float) -> float:
        return max(0.0, seconds) * self._scale

    def sleep(self, seconds: float) -> None:
        time.sleep(self.to_real(seconds))


class ManualClock:
    """Simulated time that moves only when told (tests: deterministic status transitions)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def to_real(self, seconds: float) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        self.t += seconds


SYSTEM_CLOCK = ScaledClock(1.0)
