"""How long a handler that works in bounded steps may go on: half of its invocation's time."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.domain.dataset_scan import TIME_SHARE


def half_time_left(context: LambdaContext) -> Callable[[], bool]:
    """True while less than TIME_SHARE of this invocation's time is used (Lambda gives no timeout, only what is left)."""
    at_start = context.get_remaining_time_in_millis()
    floor = at_start * (1 - TIME_SHARE)
    return lambda: context.get_remaining_time_in_millis() > floor
