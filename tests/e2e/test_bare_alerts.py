"""When the report function fails too, the state machine publishes a bare alert itself: a short document
naming the run, the error and its cause (a Lambda error's message, never its stack trace), not the state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelsync.event_contract import RUN_FAILED
from offline.stack import OfflineStack

CLEAN = Path(__file__).resolve().parents[2] / "examples" / "manifests" / "pets-clean.jsonl"
SUBJECT = "Custom Labels sync FAILED (no report)"
TRACE_MARKS = ("stackTrace", "Traceback", 'File "', "errorType")


def crash(*functions: str) -> Any:
    def hook(function: str, event: Any) -> None:
        for name in functions:
            if function.endswith(name):
                raise RuntimeError(f"injected: {name} is down")

    return hook


def bare_alerts(stack: OfflineStack) -> list[dict[str, Any]]:
    messages = [m for m in stack.messages() if m.get("Subject") == SUBJECT]
    for message in messages:
        assert len(message["Message"]) < 2_000, message["Message"]
        assert not any(mark in message["Message"] for mark in TRACE_MARKS), message["Message"]
        assert message["MessageAttributes"]["kind"]["Value"] == "alert"
        assert message["MessageAttributes"]["outcome"]["Value"] == "FAILED"
    alerts = [json.loads(m["Message"]) for m in messages]
    # Each bare alert is also the run's completion event (EventWithoutReport), with the alert as detail.
    events = [e for e in stack.completion_events() if e["detail-type"] == RUN_FAILED]
    assert sorted(json.dumps(e["detail"], sort_keys=True) for e in events) == sorted(
        json.dumps(a, sort_keys=True) for a in alerts
    )
    return alerts


def test_a_lambda_failure_is_alerted_with_its_message_only(stack: OfflineStack) -> None:
    stack.runtime.crash_hooks.append(crash("TakeTurn", "ReportRun"))
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "FAILED" and execution["error"] == "ReportFailed"
    (alert,) = bare_alerts(stack)
    assert alert["outcome"] == "FAILED" and alert["kind"] == "alert" and alert["reportWritten"] is False
    assert alert["run"]["manifest"]["key"] == "incoming/demo-project/train/pets-clean.jsonl"
    assert alert["execution"] == execution["executionArn"]
    assert alert["failure"] == {"Error": "RuntimeError", "Cause": "injected: TakeTurn is down"}
    assert alert["reportError"] == {"Error": "RuntimeError"}


def test_a_failed_chunk_is_alerted_from_its_child_and_the_run(stack: OfflineStack) -> None:
    stack.runtime.crash_hooks.append(crash("ReportRun"))
    stack.service.faults.fail_next_update(message="ERROR_MANIFEST_TOO_MANY_LABELS: too many labels")
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "FAILED"
    alerts = bare_alerts(stack)
    (chunk,) = [a for a in alerts if "chunk" in a]
    assert chunk["chunk"] == 0 and chunk["execution"] == execution["executionArn"]
    assert chunk["failure"] == {"Error": "DatasetUpdateFailed", "Cause": "DescribeDataset returned UPDATE_FAILED"}
    (run,) = [a for a in alerts if "chunk" not in a]
    assert run["failure"]["Error"] == "States.ExceedToleratedFailureThreshold"


def test_a_rejection_whose_report_failed_is_a_failure_with_a_bare_alert(stack: OfflineStack) -> None:
    stack.runtime.crash_hooks.append(crash("ReportRun"))
    stack.drop("incoming/unknown-project/train/pets.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "FAILED" and execution["error"] == "ReportFailed"
    (alert,) = bare_alerts(stack)
    assert alert["failure"]["Error"] == "ManifestRejected" and alert["target"] is None
