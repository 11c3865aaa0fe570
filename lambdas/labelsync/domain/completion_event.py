"""The completion event every run ends with, for machines: one EventBridge event on the default bus.

People read the SNS report; automation (start training when a dataset is READY) subscribes to
these with an EventBridge rule. The detail is the report's summary, never its lists, so it stays
far below EventBridge's 256 KB entry limit whatever the manifest held. The state machine's bare
alerts (the report step itself failed) send the same source and the FAILED detail-type, with the
short alert as detail (statemachine/pipeline.asl.json, `EventWithoutReport`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelsync.domain.report import REJECTED, SUCCEEDED, SUCCEEDED_WITH_ERRORS, message_attributes
from labelsync.event_contract import RUN_COMPLETED, RUN_FAILED, RUN_REJECTED

SCHEMA = "labelsync.event/v1"
MAX_TEXT = 2000  # characters of any free text in the detail (a summary, a failure's cause)


def detail_type(outcome: str) -> str:
    """Completed: the update was applied (read `verdict` and `outcome` for how usable it is)."""
    if outcome in (SUCCEEDED, SUCCEEDED_WITH_ERRORS):
        return RUN_COMPLETED
    return RUN_REJECTED if outcome == REJECTED else RUN_FAILED


def completion_event(report: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The detail-type and detail of the run's event, from its report."""
    attributes = message_attributes(report)
    failure = report.get("failure") or {}
    rejection = report.get("rejection") or {}
    detail = {
        "schema": SCHEMA,
        "outcome": report["outcome"],
        "verdict": None if attributes["verdict"] == "-" else attributes["verdict"],
        "kind": attributes["kind"],
        "project": (report.get("target") or {}).get("project"),
        "datasetType": (report.get("target") or {}).get("datasetType"),
        "datasetArn": report.get("datasetArn"),
        "manifest": report.get("manifest"),
        "execution": report.get("execution"),
        "summary": _cut(report.get("summary")),
        "counts": dict(report.get("counts") or {}),
        "readiness": _readiness(report.get("readiness")),
        "failure": {key: _cut(value) if isinstance(value, str) else value for key, value in failure.items()}
        if failure
        else None,
        "rejection": {"code": rejection.get("code"), "message": _cut(rejection.get("message"))} if rejection else None,
        "reportUri": report.get("reportUri"),
    }
    return detail_type(str(report["outcome"])), detail


def _readiness(readiness: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not readiness:
        return None
    return {k: v for k, v in readiness.items() if k != "reason"} | {"reason": _cut(readiness.get("reason"))}


def _cut(text: Any) -> str | None:
    if text is None:
        return None
    value = str(text)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 30] + f"... ({len(value):,} characters)"
