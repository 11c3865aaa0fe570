"""Training readiness end to end: a run whose lines cannot train is never reported as plain SUCCEEDED.

Each test drops a manifest on the offline stack (real definition, real handlers, the strict local
service) and reads the report the SNS subscriber receives.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offline.stack import OfflineConfig, OfflineStack
from tests.e2e.test_checker_pipeline import detection_line, manifest, only_report


def updates(stack: OfflineStack) -> int:
    return sum(1 for c in stack.service.calls if c.operation == "UpdateDatasetEntries")


def oversized(index: int) -> dict[str, Any]:
    """A Ground Truth line whose image is 3509x4963 px: over the service's 4,096 px limit."""
    line = detection_line(index)
    line["bb"]["image_size"] = [{"width": 3509, "height": 4963, "depth": 3}]
    return line


def classification(index: int, label: str) -> dict[str, Any]:
    return {
        "source-ref": f"s3://labelsync-demo-images/labels/img-{index:04d}.jpg",
        "kind": 0,
        "kind-metadata": {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00",
        },
    }


@pytest.fixture
def refusing() -> Iterator[OfflineStack]:
    with OfflineStack(OfflineConfig(time_scale=0.001, refuse_unusable=True)) as running:
        running.create_project("demo-project", ["TRAIN"])
        yield running


def test_all_oversized_images_are_unusable_and_never_a_plain_success(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/huge.jsonl", manifest([oversized(i) for i in range(12)]))
    stack.wait_until_idle()
    report = only_report(stack)
    assert report["outcome"] == "SUCCEEDED_WITH_ERRORS" and report["outcome"] != "SUCCEEDED"
    readiness = report["readiness"]
    assert readiness["verdict"] == "UNUSABLE" and readiness["usable"] == 0
    assert "UNUSABLE" in report["summary"]
    predicted = {"ERROR_INVALID_IMAGE_DIMENSION": 12, "ERROR_NO_VALID_LABEL_ATTRIBUTES": 12}
    assert report["codes"]["serviceErrors"] == predicted
    # the service agrees: every entry is flagged with the codes the plan predicted
    assert report["counts"]["entriesWithErrors"] == 12
    assert {e["code"] for e in report["entryErrors"]} == set(predicted)
    (message,) = stack.messages()
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes["verdict"] == "UNUSABLE" and attributes["kind"] == "alert"
    assert attributes["outcome"] == "SUCCEEDED_WITH_ERRORS"  # still filterable by outcome


def test_refuse_unusable_rejects_before_anything_is_sent(refusing: OfflineStack) -> None:
    refusing.drop("incoming/demo-project/train/huge.jsonl", manifest([oversized(i) for i in range(12)]))
    refusing.wait_until_idle()
    report = only_report(refusing)
    assert report["outcome"] == "REJECTED"
    assert report["rejection"]["code"] == "ERROR_MANIFEST_UNUSABLE_FOR_TRAINING"
    assert "refuseUnusable" in report["rejection"]["message"]
    assert updates(refusing) == 0
    (email,) = refusing.emails().values()
    assert "REJECTED" in email and "ERROR_MANIFEST_UNUSABLE_FOR_TRAINING" in email


def test_refuse_unusable_still_sends_a_usable_manifest(refusing: OfflineStack) -> None:
    lines = [detection_line(i) for i in range(9)] + [oversized(9)]  # 10% unusable: DEGRADED, not refused
    refusing.drop("incoming/demo-project/train/mostly.jsonl", manifest(lines))
    refusing.wait_until_idle()
    report = only_report(refusing)
    assert report["readiness"]["verdict"] == "DEGRADED" and report["outcome"] == "SUCCEEDED_WITH_ERRORS"
    assert updates(refusing) == 1


def test_empty_annotations_are_service_warnings_not_errors(stack: OfflineStack) -> None:
    empty = detection_line(1)
    empty["bb"]["annotations"] = []
    empty["bb-metadata"]["objects"] = []
    stack.drop("incoming/demo-project/train/empty.jsonl", manifest([detection_line(0), empty]))
    stack.wait_until_idle()
    report = only_report(stack)
    predicted = {(w["line"], w["code"], w["level"]) for w in report["warnings"]}
    assert (2, "WARNING_NO_ANNOTATIONS", "warning") in predicted
    assert (2, "WARNING_NO_ATTRIBUTE_ANNOTATIONS", "warning") in predicted
    assert report["codes"]["serviceWarnings"]["WARNING_NO_ANNOTATIONS"] == 1
    assert report["counts"]["entriesWithErrors"] == 0
    assert {e["code"] for e in report["entryWarnings"]} == {
        "WARNING_NO_ANNOTATIONS",
        "WARNING_NO_ATTRIBUTE_ANNOTATIONS",
    }
    readiness = report["readiness"]
    assert (readiness["usable"], readiness["ignored"]) == (1, 1)


def test_three_hundred_labels_are_refused_before_sending(stack: OfflineStack) -> None:
    lines = [classification(i, f"label-{i:03d}") for i in range(300)]
    stack.drop("incoming/demo-project/train/labels.jsonl", manifest(lines))
    stack.wait_until_idle()
    report = only_report(stack)
    assert report["outcome"] == "REJECTED"
    assert report["rejection"]["code"] == "ERROR_MANIFEST_TOO_MANY_LABELS"
    assert "300" in report["rejection"]["message"] and "250" in report["rejection"]["message"]
    assert updates(stack) == 0


def test_labels_already_in_the_dataset_count_toward_the_limit(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/first.jsonl", manifest([classification(i, f"a-{i}") for i in range(200)]))
    stack.wait_until_idle()
    assert only_report(stack)["outcome"] == "SUCCEEDED"
    sent = updates(stack)
    second = [classification(1000 + i, f"b-{i}") for i in range(60)]  # 200 + 60 > 250
    stack.drop("incoming/demo-project/train/second.jsonl", manifest(second))
    stack.wait_until_idle()
    report = stack.reports()[-1]
    assert report["outcome"] == "FAILED"
    assert report["failure"]["stage"] == "resolve-dataset"
    assert "ERROR_MANIFEST_TOO_MANY_LABELS" in json.dumps(report["failure"])
    assert updates(stack) == sent  # nothing of the second manifest was sent


def test_images_in_two_buckets_are_refused_before_sending(stack: OfflineStack) -> None:
    """The local service fails such an update (ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS); the plan refuses it first."""
    lines = [detection_line(i) for i in range(6)]
    lines[4]["source-ref"] = "s3://another-bucket/split/img-0004.jpg"
    stack.drop("incoming/demo-project/train/two-buckets.jsonl", manifest(lines))
    stack.wait_until_idle()
    report = only_report(stack)
    assert report["outcome"] == "REJECTED"
    assert report["rejection"]["code"] == "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
    assert "line 5's in 'another-bucket'" in report["rejection"]["message"]
    assert updates(stack) == 0
