"""The checker end to end: size-refused chunks are split and resent, warnings and conversions are reported."""

import json
from typing import Any

from offline.stack import OfflineStack


def detection_line(index: int, pad: int = 0) -> dict[str, Any]:
    return {
        "source-ref": f"s3://labelsync-demo-images/split/img-{index:04d}.jpg",
        "bb": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [{"class_id": 0, "top": 10, "left": 20, "width": 100, "height": 50}],
        },
        "bb-metadata": {
            "objects": [{"confidence": 0.9}],
            "class-map": {"0": "cat"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00",
            "job-name": "job" + "x" * pad,
        },
    }


def manifest(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def only_report(stack: OfflineStack) -> dict[str, Any]:
    reports = stack.reports()
    assert len(reports) == 1, reports
    return reports[0]


def stored_refs(stack: OfflineStack) -> set[str]:
    rek = stack.client("rekognition")
    project = rek.describe_projects(ProjectNames=["demo-project"])["ProjectDescriptions"][0]
    arn = next(d["DatasetArn"] for d in project["Datasets"] if d["DatasetType"] == "TRAIN")
    pages = rek.get_paginator("list_dataset_entries").paginate(DatasetArn=arn)
    return {json.loads(e)["source-ref"] for page in pages for e in page["DatasetEntries"]}


def test_chunk_refused_for_its_size_is_split_and_every_line_lands(stack: OfflineStack) -> None:
    lines = [detection_line(i, pad=200) for i in range(20)]
    body = manifest(lines)
    assert len(body) > 3 * 3000  # one planned chunk, refused, split twice over
    stack.service.faults.max_changes_bytes = 3000
    stack.drop("incoming/demo-project/train/big.jsonl", body)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED", execution
    report = only_report(stack)
    assert report["outcome"] == "SUCCEEDED" and report["counts"]["chunks"] == 1
    assert report["chunkSplits"] and report["chunkSplits"][0]["chunk"] == 0
    assert "split" in report["summary"]
    assert stored_refs(stack) == {line["source-ref"] for line in lines}
    sent = [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]
    assert len(sent) > 3


def test_other_validation_errors_are_not_mistaken_for_size(stack: OfflineStack) -> None:
    from labelsync.adapters.rekognition_datasets import is_size_refusal

    assert is_size_refusal(
        "ValidationException",
        "1 validation error detected: Value at 'changes.groundTruth' failed to satisfy constraint: "
        "Member must have length between 1 and 3000 bytes (got 9000 bytes).",
    )
    assert not is_size_refusal("ValidationException", "Value at 'datasetArn' failed to satisfy constraint")
    assert not is_size_refusal("InvalidParameterException", "groundTruth length")


def test_warnings_and_multilabel_conversions_are_reported(stack: OfflineStack) -> None:
    bad_box = detection_line(1)
    bad_box["bb"]["annotations"][0]["left"] = 600  # 600 + 100 > 640
    multilabel = {
        "source-ref": "s3://labelsync-demo-images/split/multi.jpg",
        "tags": [0, 1],
        "tags-metadata": {
            "class-map": {"0": "cat", "1": "dog"},
            "confidence-map": {"0": 0.9, "1": 0.8},
            "type": "groundtruth/image-classification-multilabel",
            "human-annotated": "yes",
            "creation-date": "2023-01-01T00:00:00",
            "job-name": "tags",
        },
    }
    stack.drop("incoming/demo-project/train/mixed.jsonl", manifest([detection_line(0), bad_box, multilabel]))
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    report = only_report(stack)
    counts = report["counts"]
    assert (counts["accepted"], counts["warned"], counts["converted"]) == (3, 1, 1)
    assert {w["line"] for w in report["warnings"]} == {2}
    warned = {w["code"] for w in report["warnings"]}
    assert "ERROR_INVALID_BOUNDING_BOX" in warned
    assert warned == {e["code"] for e in report["entryErrors"]}  # what the service flags later, said up front
    assert report["conversions"][0]["labels"] == ["cat", "dog"]
    assert "s3://labelsync-demo-images/split/multi.jpg" in stored_refs(stack)
    unsupported = [e for e in report["entryErrors"] if e["code"] == "ERROR_UNSUPPORTED_USE_CASE_TYPE"]
    assert unsupported == []  # converted before sending, so the service accepts it
