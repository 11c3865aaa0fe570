"""The time the use cases read (epoch seconds), in one place.

On AWS it is the wall clock. The offline stack runs the handlers in-process against a
service and a state machine on a simulated clock, and points `now` at that clock, so
update durations and ticket ages are measured in the same time as the service's
timestamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

now: Callable[[], float] = time.time
