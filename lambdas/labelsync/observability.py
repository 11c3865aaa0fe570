"""Powertools Logger, Tracer and Metrics shared by the handlers (one function = one handler per process).

Service name, log level and metrics namespace come from the function's environment
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_NAMESPACE: infra/function_specs.py).
Metrics carry the default `service` dimension; infra/constructs/monitoring.py graphs and alarms on
exactly these names. Offline (POWERTOOLS_METRICS_DISABLED=true) nothing is recorded at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])

# Metric names (CloudWatch namespace from POWERTOOLS_METRICS_NAMESPACE, dimension service=<service name>).
LINES_READ = "LinesRead"
LINES_ACCEPTED = "LinesAccepted"
LINES_REJECTED = "LinesRejected"
LINES_SUPERSEDED = "LinesSuperseded"
LINES_WARNED = "LinesWarned"
CHUNKS = "Chunks"
BYTES_ACCEPTED = "BytesAccepted"
CHUNKS_SENT = "ChunksSent"
BYTES_SENT = "BytesSent"
RUNS_SUCCEEDED = "RunsSucceeded"
RUNS_FAILED = "RunsFailed"
RUNS_REJECTED = "RunsRejected"
ENTRIES_WITH_ERRORS = "EntriesWithErrors"
DESCRIBE_POLLS = "DescribePolls"
UPDATE_SECONDS = "UpdateWaitSeconds"

# plan counts key (labelsync.plan/v1 "counts") -> metric; missing keys count 0 (LinesWarned until warnings exist).
PLAN_COUNT_METRICS = {
    "linesRead": (LINES_READ, MetricUnit.Count),
    "accepted": (LINES_ACCEPTED, MetricUnit.Count),
    "rejected": (LINES_REJECTED, MetricUnit.Count),
    "superseded": (LINES_SUPERSEDED, MetricUnit.Count),
    "warned": (LINES_WARNED, MetricUnit.Count),
    "chunks": (CHUNKS, MetricUnit.Count),
    "bytesAccepted": (BYTES_ACCEPTED, MetricUnit.Bytes),
}
RUN_OUTCOME_METRICS = {
    "SUCCEEDED": RUNS_SUCCEEDED,
    "SUCCEEDED_WITH_ERRORS": RUNS_SUCCEEDED,
    "FAILED": RUNS_FAILED,
    "REJECTED": RUNS_REJECTED,
}


def metrics_disabled() -> bool:
    """Powertools' own switch; checked before recording so a disabled process never accumulates values."""
    return os.getenv("POWERTOOLS_METRICS_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on")


def count(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    if not metrics_disabled():
        metrics.add_metric(name=name, unit=unit, value=value)


def count_plan(counts: Mapping[str, Any]) -> None:
    for key, (name, unit) in PLAN_COUNT_METRICS.items():
        count(name, _number(counts.get(key, 0)), unit)


def log_metrics(handler: Handler) -> Handler:
    """Like Metrics.log_metrics (flush after every invocation, also on error), minus its empty-set warning."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics_disabled():
                metrics.clear_metrics()
            elif metrics.metric_set:
                metrics.flush_metrics()

    return wrapper  # type: ignore[return-value]


def correlate(*, execution: Any = None, manifest: Any = None, **keys: Any) -> None:
    """Correlation id = the execution (named after the manifest's object version); both go on every line."""
    if execution:
        logger.set_correlation_id(str(execution))
    logger.append_keys(execution=execution, manifest=manifest, **keys)


def manifest_uri(run: Mapping[str, Any] | None) -> str | None:
    """s3://bucket/key of the run's manifest, from the run object the plan step put in the state."""
    manifest = (run or {}).get("manifest") or {}
    if not isinstance(manifest, Mapping) or not manifest.get("key"):
        return None
    return f"s3://{manifest.get('bucket', '')}/{manifest['key']}"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
