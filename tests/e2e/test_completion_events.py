"""Every run ends with one completion event on the default bus, for machines, beside the SNS report for
people: Completed / Rejected / Failed, the report's summary as detail, and what a rule can match on."""

from __future__ import annotations

import json
from typing import Any

from labelsync.domain.completion_event import SCHEMA
from labelsync.event_contract import RUN_COMPLETED, RUN_FAILED, RUN_REJECTED, SOURCE
from offline.stack import OfflineStack
from tests.e2e.test_pipeline import CLEAN, PROBLEMS


def one_event_per_report(stack: OfflineStack) -> list[dict[str, Any]]:
    """The events, checked against the reports: one each, the same outcome, counts and S3 link."""
    reports = {r["execution"]: r for r in stack.reports()}
    events = stack.completion_events()
    assert sorted(e["detail"]["execution"] for e in events) == sorted(reports)
    for event in events:
        report, detail = reports[event["detail"]["execution"]], event["detail"]
        assert event["source"] == SOURCE and detail["schema"] == SCHEMA
        assert (detail["outcome"], detail["counts"], detail["reportUri"]) == (
            report["outcome"],
            report["counts"],
            report["reportUri"],
        )
        assert len(json.dumps(event)) < 16_000  # the summary, never the lists
    return events


def test_a_clean_run_completes_with_its_verdict_and_dataset(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    stack.wait_until_idle()
    (event,) = one_event_per_report(stack)
    assert event["detail-type"] == RUN_COMPLETED
    detail = event["detail"]
    assert (detail["verdict"], detail["kind"], detail["project"], detail["datasetType"]) == (
        "READY",
        "report",
        "demo-project",
        "TRAIN",
    )
    assert event["resources"] == [detail["datasetArn"]] and detail["datasetArn"].endswith(detail["datasetArn"][-13:])
    assert detail["manifest"]["key"] == "incoming/demo-project/train/pets-clean.jsonl"


def test_flagged_rejected_and_failed_runs_each_end_with_their_event(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/problems.jsonl", PROBLEMS)
    stack.wait_until_idle()
    stack.drop("incoming/nobody/train/pets.jsonl", CLEAN)  # a project not in the allow-list
    stack.wait_until_idle()
    stack.service.faults.fail_next_update(message="ERROR_MANIFEST_TOO_MANY_LABELS: too many labels")
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    stack.wait_until_idle()
    events = {e["detail"]["manifest"]["key"]: e for e in one_event_per_report(stack)}
    flagged = events["incoming/demo-project/train/problems.jsonl"]
    assert flagged["detail-type"] == RUN_COMPLETED and flagged["detail"]["outcome"] == "SUCCEEDED_WITH_ERRORS"
    assert flagged["detail"]["counts"]["entriesWithErrors"] > 0
    rejected = events["incoming/nobody/train/pets.jsonl"]
    assert rejected["detail-type"] == RUN_REJECTED and rejected["detail"]["kind"] == "alert"
    assert rejected["detail"]["rejection"]["code"] and rejected["resources"] == []
    failed = events["incoming/demo-project/train/pets-clean.jsonl"]
    assert failed["detail-type"] == RUN_FAILED and failed["detail"]["failure"]["stage"] == "apply-chunk"
    assert "too many labels" in failed["detail"]["failure"]["statusMessage"]
