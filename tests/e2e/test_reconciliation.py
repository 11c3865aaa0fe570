"""Reconciliation end to end: every line accounted for, and an image the service loses is an alert."""

import json
from pathlib import Path
from typing import Any

import pytest

from offline.custom_labels.dataset import Dataset
from offline.custom_labels.entry_rules import CheckedEntry
from offline.stack import OfflineStack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
CLEAN = EXAMPLES / "pets-clean.jsonl"
PROBLEMS = EXAMPLES / "pets-with-problems.jsonl"
LOST = "s3://labelsync-demo-images/pets/img-0003.jpg"


def only_report(stack: OfflineStack) -> dict[str, Any]:
    reports = stack.reports()
    assert len(reports) == 1, reports
    return reports[0]


def classification(index: int, label: str | None = None) -> bytes:
    line = {
        "source-ref": f"s3://labelsync-demo-images/many/img-{index:04d}.jpg",
        "animal": index % 2,
        "animal-metadata": {
            "confidence": 1,
            "class-name": label or ["cat", "dog"][index % 2],
            "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00",
            "type": "groundtruth/image-classification",
            "job-name": "pets",
        },
    }
    return json.dumps(line).encode() + b"\n"


def list_calls(stack: OfflineStack) -> int:
    return len([c for c in stack.service.calls if c.operation == "ListDatasetEntries"])


def test_a_normal_run_accounts_for_every_line_and_finds_every_image(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/test/pets-with-problems.jsonl", PROBLEMS)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    report = only_report(stack)
    assert report["outcome"] == "SUCCEEDED_WITH_ERRORS"
    assert report["reconciliation"] == {
        "linesRead": 12,
        "accounted": {
            "blank": 0,
            "rejected": 2,
            "superseded": 1,
            "supersededByNewer": 0,
            "unchanged": 0,
            "applied": 9,
            "notApplied": 0,
        },
        "balanced": True,
        "checked": True,
        "missingFromDataset": 0,
        "missingSample": [],
    }
    assert json.loads(execution["output"])["reconciliation"]["balanced"] is True


def test_listing_reads_every_page_and_stops_once_the_manifests_images_are_seen_or_looks_few_up(
    stack: OfflineStack,
) -> None:
    stack.drop("incoming/demo-project/train/many.jsonl", b"".join(classification(i) for i in range(250)))
    stack.wait_until_idle()
    first = list_calls(stack)
    assert first == 1 + 3  # entries with errors (one page), then all 250 entries (three pages)
    # Relabelling the first two images (sent again: delta sync leaves out only unchanged lines): two images
    # sent are looked up one by one (SourceRefContains) instead of listing the dataset.
    stack.drop("incoming/demo-project/train/again.jsonl", classification(0, "fox") + classification(1, "fox"))
    stack.wait_until_idle()
    assert list_calls(stack) - first == 1 + 2
    reports = stack.reports()
    assert [r["outcome"] for r in reports] == ["SUCCEEDED", "SUCCEEDED"]
    assert [r["reconciliation"]["missingFromDataset"] for r in reports] == [0, 0]
    assert reports[0]["reconciliation"]["accounted"]["applied"] == 250


def test_an_image_the_service_loses_is_reported_as_a_failed_alert(
    stack: OfflineStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied = Dataset._apply

    def apply_and_lose_one(self: Dataset, changes: list[CheckedEntry], *limits_and_removals: Any) -> str | None:
        failure = applied(self, changes, *limits_and_removals)
        if failure is None and self.entries.pop(LOST, None) is not None:
            self.order = list(self.entries.values())
        return failure

    monkeypatch.setattr(Dataset, "_apply", apply_and_lose_one)
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    # The report step published the alert and returned normally; the state machine then fails the run.
    assert execution["status"] == "FAILED" and execution["error"] == "ReconciliationFailed"
    (report_call,) = [i for i in stack.runtime.invocations if i.function.endswith("ReportRun") and i.source == "sync"]
    assert report_call.result["outcome"] == "FAILED" and report_call.result["failure"]["stage"] == "reconcile"
    report = only_report(stack)
    assert report["outcome"] == "FAILED"
    assert report["failure"]["stage"] == "reconcile"
    assert report["failure"]["error"] == "ERROR_ENTRIES_MISSING_AFTER_UPDATE"
    assert report["reconciliation"]["missingFromDataset"] == 1
    assert report["reconciliation"]["missingSample"] == [LOST]
    assert report["reconciliation"]["balanced"] is True and report["reconciliation"]["checked"] is True
    attributes = stack.messages()[0]["MessageAttributes"]
    assert attributes["kind"]["Value"] == "alert" and attributes["outcome"]["Value"] == "FAILED"
    assert "failed in reconcile" in report["summary"]
