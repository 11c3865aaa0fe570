"""The run report: one JSON document per run, and the SNS message cut from it.

Schema `labelsync.report/v1` is documented in docs/report-schema.md. The full report goes
to S3; the message carries the counts and the first N items of each list and must stay
under SNS's 256 KB cap, so lists are cut until it fits and the cut is flagged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelsync.domain.entry_errors import EntryError

SCHEMA = "labelsync.report/v1"
SNS_MESSAGE_BUDGET = 240_000  # bytes; SNS allows 262,144 including attributes

SUCCEEDED = "SUCCEEDED"
SUCCEEDED_WITH_ERRORS = "SUCCEEDED_WITH_ERRORS"
FAILED = "FAILED"
REJECTED = "REJECTED"
ALERT_OUTCOMES = frozenset({FAILED, REJECTED})

_LISTS = ("entryErrors", "rejectedLines", "supersededLines", "warnings", "conversions")


@dataclass(frozen=True)
class Failure:
    stage: str
    error: str
    cause: str
    chunk: int | None = None
    status_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "error": self.error,
            "cause": self.cause,
            "chunk": self.chunk,
            "statusMessage": self.status_message,
        }


def failure_from_state(state: Mapping[str, Any]) -> Failure:
    """Describe where and why a run failed, from the state the state machine hands over."""
    raw = state.get("failure") or {}
    error = str(raw.get("Error", "Unknown"))
    cause = raw.get("Cause", "")
    if isinstance(cause, str):
        try:  # Lambda errors arrive as a JSON string with errorMessage/errorType
            parsed = json.loads(cause)
            if isinstance(parsed, dict) and "errorMessage" in parsed:
                cause = str(parsed["errorMessage"])
        except json.JSONDecodeError:
            pass
    description = raw.get("description") or {}
    status_message = description.get("StatusMessage") if isinstance(description, dict) else None
    chunk = state.get("chunk")
    if chunk is not None:
        stage = "apply-chunk"
    elif "dataset" not in state:
        stage = "resolve-dataset"
    elif error.startswith("DatasetCreation"):
        stage = "create-dataset"
    else:
        stage = "report"
    return Failure(stage, error, str(cause), chunk if isinstance(chunk, int) else None, status_message)


def decide_outcome(requested: str, *, entry_errors: int, rejected_lines: int) -> str:
    if requested == "COMPLETED":
        return SUCCEEDED_WITH_ERRORS if entry_errors or rejected_lines else SUCCEEDED
    if requested in (FAILED, REJECTED):
        return requested
    raise ValueError(f"unknown outcome {requested!r}")


def summary_line(report: Mapping[str, Any]) -> str:
    counts = report["counts"]
    target = report.get("target") or {}
    where = f"{target.get('project')}/{target.get('datasetType')}" if target else "no dataset"
    head = f"{report['outcome']}: {report['manifest']['key']} -> {where}"
    tail = (
        f"{counts.get('linesRead', 0)} lines read, {counts.get('accepted', 0)} accepted, "
        f"{counts.get('rejected', 0)} rejected, {counts.get('superseded', 0)} superseded, "
        f"{counts.get('entriesWithErrors', 0)} with errors"
    )
    if counts.get("warned") or counts.get("converted"):
        tail += f", {counts.get('warned', 0)} with warnings, {counts.get('converted', 0)} converted"
    if report.get("chunkSplits"):
        tail += f"; {len(report['chunkSplits'])} chunk(s) split after a size rejection"
    if report.get("rejection"):
        tail += f"; rejected: {report['rejection']['message']}"
    if report.get("failure"):
        failure = report["failure"]
        chunk = f" at chunk {failure['chunk']}" if failure.get("chunk") is not None else ""
        detail = failure.get("statusMessage") or failure.get("cause")
        tail += f"; failed in {failure['stage']}{chunk}: {failure['error']}: {detail}"
    return f"{head} ({tail})"


def build_report(
    *,
    requested: str,
    execution_id: str,
    plan: Mapping[str, Any],
    dataset_arn: str | None,
    entry_errors: Sequence[EntryError],
    rejected_lines: Sequence[Mapping[str, Any]],
    superseded_lines: Sequence[Mapping[str, Any]],
    failure: Failure | None,
    report_uri: str,
) -> dict[str, Any]:
    counts = dict(plan.get("counts") or {})
    counts["entriesWithErrors"] = len({e.source_ref for e in entry_errors})
    counts["entryErrors"] = len(entry_errors)
    outcome = decide_outcome(requested, entry_errors=len(entry_errors), rejected_lines=int(counts.get("rejected", 0)))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "outcome": outcome,
        "manifest": plan.get("manifest"),
        "target": plan.get("target"),
        "datasetArn": dataset_arn,
        "execution": execution_id,
        "counts": counts,
        "rejection": plan.get("rejection"),
        "failure": failure.as_dict() if failure else None,
        "entryErrors": [e.as_dict() for e in entry_errors],
        "rejectedLines": list(rejected_lines),
        "supersededLines": list(superseded_lines),
        "warnings": list(plan.get("warnings") or []),
        "warningCodes": dict(plan.get("warningCodes") or {}),
        "conversions": list(plan.get("conversions") or []),
        "chunkSplits": list(plan.get("splits") or []),
        "warningsUri": plan.get("warningsUri"),
        "conversionsUri": plan.get("conversionsUri"),
        "reportUri": report_uri,
    }
    report["summary"] = summary_line(report)
    return report


def message_from_report(report: Mapping[str, Any], *, max_items: int, budget: int = SNS_MESSAGE_BUDGET) -> str:
    """The SNS message: the report with each list cut to `max_items`, then cut further to fit `budget`."""
    limit = max_items
    cut_in_plan = {
        "warnings": len(report.get("warnings") or []) < int((report.get("counts") or {}).get("warnings", 0)),
        "conversions": len(report.get("conversions") or []) < int((report.get("counts") or {}).get("converted", 0)),
    }
    while True:
        message = dict(report)
        truncated = {}
        for name in _LISTS:
            items = report.get(name) or []
            message[name] = items[:limit]
            truncated[name] = len(items) > limit or cut_in_plan.get(name, False)
        message["truncated"] = truncated
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode("utf-8")) <= budget or limit == 0:
            return text
        limit //= 2


def message_attributes(report: Mapping[str, Any]) -> dict[str, str]:
    target = report.get("target") or {}
    return {
        "outcome": str(report["outcome"]),
        "kind": "alert" if report["outcome"] in ALERT_OUTCOMES else "report",
        "project": str(target.get("project") or "-"),
        "datasetType": str(target.get("datasetType") or "-"),
    }
