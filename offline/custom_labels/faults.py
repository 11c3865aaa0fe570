"""Failures on demand, so tests can drive the pipeline down its error paths.

Two kinds, both per operation and changeable while the service runs:

- queued (count-based): `throttle(op, times)`, `server_error(op, times)`,
  `fail_next_update()`: consumed by the calls that follow, in order, before any rate;
- limits: `set_rate_limit(op, calls_per_second)`: calls past N within one second are throttled;
- rates (seeded): `set_rates(op, throttle=0.2, server_error=0.05, latency_seconds=0.5,
  update_failure=0.1, seed=7)`: every call of `op` draws from its own random stream, so a
  seed and a call order give the same faults every run. `op` "*" sets the rates of every
  operation without rates of its own.

`configure()` applies the same settings from a JSON document (the offline server's
`POST /_offline/faults`); `snapshot()` says what is set.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

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
        "DistributeDatasetEntries",
    }
)
ALL = "*"
DEFAULT_MAX_CHANGES_BYTES = 5_242_880  # GroundTruthBlob max in the service model
DEFAULT_UPDATE_FAILURE = "ERROR_INJECTED_FAILURE: the update failed (fault injected by the offline service)."
THROTTLE = "ThrottlingException"
SERVER_ERROR = "InternalServerError"
_ERROR_KINDS = {"throttle": THROTTLE, "server_error": SERVER_ERROR}


@dataclass(frozen=True)
class Rates:
    """Per-call probabilities (0..1) and an added latency in simulated seconds."""

    throttle: float = 0.0
    server_error: float = 0.0
    latency_seconds: float = 0.0
    update_failure: float = 0.0  # UpdateDatasetEntries only: the accepted update ends UPDATE_FAILED
    seed: int | str | None = None

    def __post_init__(self) -> None:
        for name in ("throttle", "server_error", "update_failure"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.throttle + self.server_error > 1.0:
            raise ValueError("throttle + server_error must not exceed 1")
        if self.latency_seconds < 0:
            raise ValueError("latency_seconds must be >= 0")


@dataclass(frozen=True)
class Decision:
    """What the current call suffers: a delay (simulated seconds), then maybe an error code."""

    latency_seconds: float = 0.0
    error: str | None = None


class FaultInjector:
    """Queued errors and seeded error rates per operation, forced update failures, the size limit."""

    def __init__(self, outside_update: Callable[[str, float], None]) -> None:
        self._lock = threading.Lock()
        self._begin_outside_update = outside_update
        self._errors: dict[str, deque[str]] = {}
        self._update_failures: deque[str] = deque()
        self._rates: dict[str, Rates] = {}
        self._streams: dict[str, random.Random] = {}
        self.injected: Counter[str] = Counter()  # "Operation/ErrorCode" -> faults injected so far
        self.max_changes_bytes = DEFAULT_MAX_CHANGES_BYTES
        self._limits: dict[str, float] = {}  # operation -> calls allowed per second
        self._calls: dict[str, deque[float]] = {}  # operation -> times of its recent calls (allowed ones)

    # -- count-based ---------------------------------------------------------------------------
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

    # -- rate-based ----------------------------------------------------------------------------
    def set_rates(
        self,
        operation: str,
        *,
        throttle: float = 0.0,
        server_error: float = 0.0,
        latency_seconds: float = 0.0,
        update_failure: float = 0.0,
        seed: int | str | None = None,
    ) -> None:
        """Every call of `operation` ("*": every operation without its own rates) fails at these rates.

        Each operation draws from its own stream seeded with (seed, operation); seed None
        draws unseeded. Setting all rates to 0 removes the operation's rates.
        """
        self._check_operation(operation, allow_all=True)
        rates = Rates(throttle, server_error, latency_seconds, update_failure, seed)
        if update_failure and operation not in (ALL, "UpdateDatasetEntries"):
            raise ValueError("update_failure applies to UpdateDatasetEntries only")
        with self._lock:
            if rates == Rates(seed=seed):
                self._rates.pop(operation, None)
            else:
                self._rates[operation] = rates
            for name in list(self._streams):
                if operation == ALL or name.split("/")[0] == operation:
                    del self._streams[name]

    def set_rate_limit(self, operation: str, calls_per_second: float | None) -> None:
        """Calls of `operation` ("*": each operation on its own) past `calls_per_second` within one
        second are throttled, as the service's per-account TPS quotas do; None removes the limit.
        The second is the service's: its simulated clock plus the latency it has injected so far, so a
        caller slowed by latency makes fewer calls a second, as it would on AWS."""
        self._check_operation(operation, allow_all=True)
        if calls_per_second is not None and calls_per_second <= 0:
            raise ValueError("calls_per_second must be > 0 (or None to remove the limit)")
        with self._lock:
            if calls_per_second is None:
                self._limits.pop(operation, None)
            else:
                self._limits[operation] = float(calls_per_second)

    def rates(self, operation: str) -> Rates:
        """The rates that apply to `operation` now."""
        with self._lock:
            return self._rates.get(operation) or self._rates.get(ALL) or Rates()

    def clear(self) -> None:
        """Forget queued faults, rates and counts, and restore the default size limit."""
        with self._lock:
            self._errors.clear()
            self._update_failures.clear()
            self._rates.clear()
            self._streams.clear()
            self.injected.clear()
            self.max_changes_bytes = DEFAULT_MAX_CHANGES_BYTES
            self._limits.clear()
            self._calls.clear()

    # -- as JSON (the offline server's /_offline/faults) -------------------------------------------
    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply a JSON document (see docs/offline-stack.md); ValueError names what is wrong.

        {"clear": true, "rates": {"UpdateDatasetEntries": {"throttle": 0.2, "seed": 7}},
         "limits": {"ListDatasetEntries": 5},
         "queue": [{"operation": "DescribeDataset", "error": "throttle", "times": 2}],
         "fail_next_update": "ERROR_...: message" | true, "max_changes_bytes": 1048576,
         "outside_update": {"dataset_arn": "arn:...", "seconds": 600}}
        """
        if not isinstance(settings, Mapping):
            raise ValueError("the fault settings must be a JSON object")
        known = {"clear", "rates", "limits", "queue", "fail_next_update", "max_changes_bytes", "outside_update"}
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        actions: list[Callable[[], None]] = []  # checked first, applied together
        if settings.get("clear"):
            actions.append(self.clear)
        for operation, rates in _mapping(settings.get("rates", {}), "rates").items():
            fields = _mapping(rates, f"rates.{operation}")
            extra = set(fields) - {"throttle", "server_error", "latency_seconds", "update_failure", "seed"}
            if extra:
                raise ValueError(f"unknown rate settings for {operation}: {sorted(extra)}")
            self._check_operation(operation, allow_all=True)
            kwargs = {name: _number(fields, name) for name in ("throttle", "server_error", "latency_seconds")}
            kwargs["update_failure"] = _number(fields, "update_failure")
            Rates(**kwargs, seed=fields.get("seed"))  # raises on bad values
            actions.append(partial(self.set_rates, operation, **kwargs, seed=fields.get("seed")))
        for operation, limit in _mapping(settings.get("limits", {}), "limits").items():
            self._check_operation(operation, allow_all=True)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0):
                raise ValueError(f"limits.{operation} must be a number of calls per second > 0, or null")
            actions.append(partial(self.set_rate_limit, operation, limit))
        queue = settings.get("queue", [])
        for item in queue if isinstance(queue, list) else [queue]:
            fields = _mapping(item, "queue[]")
            kind, operation, times = (
                fields.get("error", "throttle"),
                str(fields.get("operation")),
                fields.get("times", 1),
            )
            if kind not in _ERROR_KINDS:
                raise ValueError(f"queue[].error must be one of {sorted(_ERROR_KINDS)}")
            if isinstance(times, bool) or not isinstance(times, int) or times < 0:
                raise ValueError("queue[].times must be an integer >= 0")
            self._check_operation(operation)
            actions.append(partial(self._queue, operation, _ERROR_KINDS[kind], times))
        failure = settings.get("fail_next_update")
        if failure:
            actions.append(
                partial(self.fail_next_update, failure if isinstance(failure, str) else DEFAULT_UPDATE_FAILURE)
            )
        if "max_changes_bytes" in settings:
            limit = settings["max_changes_bytes"]
            limit = DEFAULT_MAX_CHANGES_BYTES if limit is None else limit
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError("max_changes_bytes must be a positive integer (or null for the default)")
            actions.append(partial(setattr, self, "max_changes_bytes", limit))
        outside = settings.get("outside_update")
        for item in outside if isinstance(outside, list) else [outside] if outside else []:
            fields = _mapping(item, "outside_update")
            actions.append(partial(self.outside_update, str(fields.get("dataset_arn")), _number(fields, "seconds")))
        for action in actions:
            action()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rates": {op: asdict(rates) for op, rates in sorted(self._rates.items())},
                "queue": {op: list(codes) for op, codes in sorted(self._errors.items()) if codes},
                "fail_next_update": list(self._update_failures),
                "max_changes_bytes": self.max_changes_bytes,
                "limits": dict(sorted(self._limits.items())),
                "injected": dict(sorted(self.injected.items())),
            }

    # -- consumed by the backend -----------------------------------------------------------
    def decide(self, operation: str, at: float | None = None) -> Decision:
        """What the current call of `operation` (made at service time `at`) suffers: a queued error first,
        then the rate limit, then the rates."""
        with self._lock:
            queue = self._errors.get(operation)
            rates = self._rates.get(operation) or self._rates.get(ALL)
            latency = rates.latency_seconds if rates is not None else 0.0
            error: str | None = None
            if queue:
                error = queue.popleft()
            elif at is not None and self._over_limit(operation, at):
                error = THROTTLE
            elif rates is not None and (rates.throttle or rates.server_error):
                draw = self._stream(operation, rates).random()
                if draw < rates.throttle:
                    error = THROTTLE
                elif draw < rates.throttle + rates.server_error:
                    error = SERVER_ERROR
            if error is not None:
                self.injected[f"{operation}/{error}"] += 1
            return Decision(latency, error)

    def _over_limit(self, operation: str, at: float) -> bool:
        limit = self._limits.get(operation, self._limits.get(ALL))
        if limit is None:
            return False
        calls = self._calls.setdefault(operation, deque())
        while calls and calls[0] <= at - 1.0:
            calls.popleft()
        if len(calls) >= limit:
            return True
        calls.append(at)
        return False

    def take_error(self, operation: str) -> str | None:
        """The error code the current call of `operation` must fail with, if any (no latency)."""
        return self.decide(operation).error

    def take_update_failure(self) -> str | None:
        with self._lock:
            failure: str | None = None
            rates = self._rates.get("UpdateDatasetEntries") or self._rates.get(ALL)
            if self._update_failures:
                failure = self._update_failures.popleft()
            elif rates is not None and rates.update_failure:
                stream = self._stream("UpdateDatasetEntries/update_failure", rates)
                failure = DEFAULT_UPDATE_FAILURE if stream.random() < rates.update_failure else None
            if failure is not None:
                self.injected["UpdateDatasetEntries/UPDATE_FAILED"] += 1
            return failure

    def _stream(self, name: str, rates: Rates) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            stream = random.Random(None if rates.seed is None else f"{rates.seed}:{name}")
            self._streams[name] = stream
        return stream

    @staticmethod
    def _check_operation(operation: str, *, allow_all: bool = False) -> None:
        if operation not in OPERATIONS and not (allow_all and operation == ALL):
            raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(OPERATIONS)}")

    def _queue(self, operation: str, code: str, times: int) -> None:
        self._check_operation(operation)
        if times < 0:
            raise ValueError("times must be >= 0")
        with self._lock:
            self._errors.setdefault(operation, deque()).extend([code] * times)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a JSON object")
    return value


def _number(fields: Mapping[str, Any], name: str) -> float:
    value = fields.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)
