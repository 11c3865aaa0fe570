"""How long an invocation takes as AWS would bill it, when some of its waiting is simulated.

The handler's own work and real sleeps (botocore's retry backoff) take real seconds. Latency the
local dataset service adds is simulated: it sleeps only clock.to_real(latency). So the service
charges the rest (latency minus the real sleep) to the invocation running now, and an invocation's
duration is its real seconds plus its charge: what the Lambda timeout and the handler's
`get_remaining_time_in_millis()` count. Invocations run one at a time (the runtime's lock), so
"the invocation running now" is well defined; a call made outside any invocation charges nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_meter: Callable[[float], None] | None = None


def begin(meter: Callable[[float], None]) -> None:
    global _meter
    with _lock:
        _meter = meter


def end() -> None:
    global _meter
    with _lock:
        _meter = None


def charge(seconds: float) -> None:
    """Add simulated seconds to the invocation running now (if any)."""
    with _lock:
        meter = _meter
    if meter is not None and seconds > 0:
        meter(seconds)
