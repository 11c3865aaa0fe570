"""Failures on demand, so tests can drive the pipeline down its error paths.

Faults are queued per operation and consumed by the calls that follow, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

OPERATIONS = frozenset(
    {
        "CreateProject",
        "DescribeProjects",
        "DeleteProject",
        "CreateDataset",
        "DescribeDataset",
        "UpdateDatasetEntries",
        "ListDatasetEntries",
        "ListDatasetLabels",
        "DeleteDataset",
    }
)
DEFAULT_MAX_CHANGES_BYTES = 5_242_880  # GroundTruthBlob max in the service model
DEFAULT_UPDATE_FAILURE = "ERROR_INJECTED_FAILURE: the update failed (fault injected by the offline service)."
THROTTLE = "ThrottlingException"
SERVER_ERROR = "InternalServerError"


class FaultInjector:
    """Queued errors per operation, one forced update failure, outside updates, the size limit."""

    def __init__(self, outside_update: Callable[[str, float], None]) -> None:
        self._lock = threading.Lock()
        self._begin_outside_update = outside_update
        self._errors: dict[str, deque[str]] = {}
        self._update_failures: deque[str] = deque()
        self.max_changes_bytes = DEFAULT_MAX_CHANGES_BYTES

    def throttle(self, operation: str, times: int = 1) -> None:
        """The next `times` calls of `operation` raise ThrottlingException (HTTP 400)."""
        self._queue(operation, THROTTLE, times)

    def server_error(self, operation: str, times: int = 1) -> None:
        """The next `times` calls of `operation` raise InternalServerError (HTTP 500)."""
        self._queue(operation, SERVER_ERROR, times)

    def fail_next_update(self, message: str = DEFAULT_UPDATE_FAILURE) -> None:
        """The next accepted UpdateDatasetEntries ends in UPDATE_FAILED with `message`, nothing applied."""
        with self._lock:
            self._update_failures.append(message)

    def outside_update(self, dataset_arn: str, seconds: float) -> None:
        """The dataset is UPDATE_IN_PROGRESS for `seconds` simulated seconds, as if another client updated it."""
        self._begin_outside_update(dataset_arn, seconds)

    def clear(self) -> None:
        """Forget queued faults and restore the default size limit."""
        with self._lock:
            self._errors.clear()
            self._update_failures.clear()
            self.max_changes_bytes = DEFAULT_MAX_CHANGES_BYTES

    # -- consumed by the backend -----------------------------------------------------------
    def take_error(self, operation: str) -> str | None:
        """The error code the current call of `operation` must fail with, if any."""
        with self._lock:
            queue = self._errors.get(operation)
            return queue.popleft() if queue else None

    def take_update_failure(self) -> str | None:
        with self._lock:
            return self._update_failures.popleft() if self._update_failures else None

    def _queue(self, operation: str, code: str, times: int) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(OPERATIONS)}")
        if times < 0:
            raise ValueError("times must be >= 0")
        with self._lock:
            self._errors.setdefault(operation, deque()).extend([code] * times)
