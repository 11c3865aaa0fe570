"""Replace mode on the offline stack: a manifest under `replace/` becomes the whole dataset. Entries it does
not hold are removed (the dataset is backed up, deleted and created again from the manifest), within the
removal guard; a failed rebuild puts the old entries back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offline.stack import OfflineConfig, OfflineStack
from tests.e2e.test_delta_sync import LINES, line, manifest, sent_lines, stored

UPDATE = "incoming/demo-project/train/{name}.jsonl"
REPLACE = "incoming/demo-project/train/replace/{name}.jsonl"
FORCE = "incoming/demo-project/train/replace/force/{name}.jsonl"


@pytest.fixture
def stack() -> Iterator[OfflineStack]:
    with OfflineStack(OfflineConfig(time_scale=0.001)) as running:
        running.create_project("demo-project", ["TRAIN"])
        yield running


def drop(stack: OfflineStack, key: str, body: bytes) -> dict[str, Any]:
    stack.drop(key, body)
    stack.wait_until_idle()
    return stack.reports()[-1]


def train_dataset(stack: OfflineStack) -> dict[str, Any]:
    (project,) = stack.client("rekognition").describe_projects(ProjectNames=["demo-project"])["ProjectDescriptions"]
    (dataset,) = [d for d in project["Datasets"] if d["DatasetType"] == "TRAIN"]
    return dict(dataset)


def read(stack: OfflineStack, uri: str) -> list[str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [text for text in body.splitlines() if text]


def refs(items: list[dict[str, Any]]) -> set[str]:
    return {item["source-ref"] for item in items}


def test_a_replace_removes_the_entries_the_manifest_does_not_hold(stack: OfflineStack) -> None:
    first = drop(stack, UPDATE.format(name="pets"), manifest(LINES))
    old_arn = first["datasetArn"]
    kept = LINES[4:]  # 4 of 40 removed: 10%, under the 20% guard
    added = [line(100, "owl"), line(101, "owl")]
    report = drop(stack, REPLACE.format(name="pets-curated"), manifest(kept + added))

    assert report["outcome"] == "SUCCEEDED", report["failure"]
    reconciliation = report["reconciliation"]
    assert reconciliation["balanced"] and reconciliation["checked"] and reconciliation["missingFromDataset"] == 0
    replaced = report["replace"]
    assert (replaced["removed"], replaced["datasetEntries"], replaced["rebuild"]) == (4, 40, True)
    assert replaced["previousDatasetArn"] == old_arn and report["datasetArn"] == replaced["datasetArn"] != old_arn
    assert set(stored(stack, report["datasetArn"])) == refs(kept + added)
    assert {json.loads(text) for text in read(stack, replaced["removedUri"])} == refs(LINES[:4])
    assert set(replaced["removedSample"]) == refs(LINES[:4])
    backup = [json.loads(text) for text in read(stack, replaced["backupUri"])]
    assert refs(backup) == refs(LINES) and not any("cl-metadata" in item for item in backup)
    assert (
        stack.service.calls_of("DeleteDataset")
        and not stack.client("rekognition").list_dataset_entries(
            DatasetArn=report["datasetArn"], SourceRefContains="00000.jpg"
        )["DatasetEntries"]
    )
    assert "replace: 4 of 40 entries removed" in report["summary"]
    assert any("Replace: 4 of 40 entries removed" in body for body in stack.emails().values())
    # The index follows the new dataset: the same lines dropped as an update compare with it, not a listing.
    before = sent_lines(stack)
    update = drop(stack, UPDATE.format(name="pets-curated"), manifest(kept + added))
    assert update["delta"]["source"] == "index" and update["counts"]["unchanged"] == 38
    assert report["delta"]["index"].startswith("updated: 38 entries")
    # And the same replace again removes nothing and sends nothing.
    again = drop(stack, REPLACE.format(name="pets-curated-again"), manifest(kept + added))
    assert again["outcome"] == "SUCCEEDED" and again["replace"]["removed"] == 0 and not again["replace"]["rebuild"]
    assert sent_lines(stack) == before and again["counts"]["unchanged"] == 38
    assert len(stack.service.calls_of("DeleteDataset")) == 1


def test_the_guard_refuses_a_replace_that_removes_half_the_dataset_and_force_lifts_it(stack: OfflineStack) -> None:
    first = drop(stack, UPDATE.format(name="pets"), manifest(LINES))
    half = LINES[:20]
    refused = drop(stack, REPLACE.format(name="pets-half"), manifest(half))

    assert refused["outcome"] == "FAILED"
    failure = refused["failure"]
    assert (failure["stage"], failure["error"]) == ("replace", "ReplaceRefusedError")
    assert "remove 20 of the dataset's 40 entries (50.0%), more than the 20%" in failure["cause"]
    assert "incoming/demo-project/train/replace/force/" in failure["cause"]
    assert refused["replace"]["refused"] and refused["replace"]["removed"] == 20
    assert train_dataset(stack)["DatasetArn"] == first["datasetArn"]  # nothing was changed
    assert len(stored(stack, first["datasetArn"])) == 40 and not stack.service.calls_of("DeleteDataset")

    forced = drop(stack, FORCE.format(name="pets-half"), manifest(half))
    assert forced["outcome"] == "SUCCEEDED" and forced["replace"]["removed"] == 20
    assert set(stored(stack, forced["datasetArn"])) == refs(half)


def test_a_replace_that_removes_nothing_is_an_update(stack: OfflineStack) -> None:
    first = drop(stack, UPDATE.format(name="pets"), manifest(LINES))
    before = sent_lines(stack)
    edited = [*LINES[:9], line(9, "lynx"), *LINES[10:], line(200)]
    report = drop(stack, REPLACE.format(name="pets-all"), manifest(edited))
    assert report["outcome"] == "SUCCEEDED" and report["datasetArn"] == first["datasetArn"]
    assert report["replace"]["removed"] == 0 and not report["replace"]["rebuild"]
    assert sent_lines(stack) - before == 2 and not stack.service.calls_of("DeleteDataset")
    assert "nothing to remove" in report["summary"]


def test_a_rebuild_that_fails_puts_the_old_entries_back_and_says_so(stack: OfflineStack) -> None:
    """The new manifest's images are not in S3: CreateDataset ends CREATE_FAILED (over 20% of its images
    unusable). The failed dataset is deleted and the old one created again from the backup."""
    first = drop(stack, UPDATE.format(name="pets"), manifest(LINES))
    missing = [{**line(i), "source-ref": f"s3://delta-images/missing/{i:05d}.jpg"} for i in range(300, 320)]
    with stack.images.paused():
        report = drop(stack, FORCE.format(name="pets-broken"), manifest(missing))

    assert report["outcome"] == "FAILED"
    failure = report["failure"]
    assert (failure["stage"], failure["error"]) == ("replace", "ReplaceFailedError")
    assert "undone" in failure["cause"] and "CREATE_FAILED" in failure["cause"]
    assert "restored from the backup" in failure["cause"] and "nothing was removed" in failure["cause"]
    restored = train_dataset(stack)
    assert restored["DatasetArn"] != first["datasetArn"] and restored["Status"] == "CREATE_COMPLETE"
    assert set(stored(stack, restored["DatasetArn"])) == refs(LINES)
    assert report["replace"]["restoredDatasetArn"] == restored["DatasetArn"] == report["datasetArn"]


def test_a_rebuild_survives_throttling_past_the_sdk_retries(stack: OfflineStack) -> None:
    """Each of DeleteDataset and CreateDataset throttled more times than botocore retries: the state
    machine's Retry (ServiceThrottledError) carries the step on, and nothing is done twice."""
    drop(stack, UPDATE.format(name="pets"), manifest(LINES))
    stack.service.faults.throttle("DeleteDataset", times=8)
    stack.service.faults.throttle("CreateDataset", times=8)
    report = drop(stack, REPLACE.format(name="pets-curated"), manifest(LINES[4:]))
    assert report["outcome"] == "SUCCEEDED", report["failure"]
    assert report["replace"]["removed"] == 4 and set(stored(stack, report["datasetArn"])) == refs(LINES[4:])
    throttled = [i for i in stack.runtime.invocations if i.function.endswith("ReplaceDataset") and i.error]
    assert throttled and {(i.error or {}).get("errorType") for i in throttled} == {"ServiceThrottledError"}
    (project,) = stack.client("rekognition").describe_projects(ProjectNames=["demo-project"])["ProjectDescriptions"]
    assert len(project["Datasets"]) == 1  # one TRAIN dataset, created once


def test_a_project_whose_policy_says_replace_treats_every_file_in_the_dataset_folder_as_one() -> None:
    """`"replace": true` in the allow-list: a curated export dropped in the dataset folder itself (where a
    labeling route or an existing upload job writes) makes the dataset equal to it, guard included."""
    config = OfflineConfig(time_scale=0.001)
    config.projects = {"curated-project": {"datasetTypes": ["TRAIN"], "replace": True}}
    key = "incoming/curated-project/train/{name}.jsonl"
    with OfflineStack(config) as stack:
        stack.create_project("curated-project", ["TRAIN"])
        first = drop(stack, key.format(name="export-1"), manifest(LINES))
        assert first["outcome"] == "SUCCEEDED" and first["target"]["mode"] == "replace"
        assert first["replace"]["removed"] == 0 and not first["replace"]["rebuild"]  # a new dataset: nothing to remove

        second = drop(stack, key.format(name="export-2"), manifest(LINES[4:]))
        assert second["outcome"] == "SUCCEEDED", second["failure"]
        assert (second["replace"]["removed"], second["replace"]["rebuild"]) == (4, True)
        assert set(stored(stack, second["datasetArn"])) == refs(LINES[4:])

        refused = drop(stack, key.format(name="export-3"), manifest(LINES[4:10]))
        assert refused["outcome"] == "FAILED" and refused["failure"]["error"] == "ReplaceRefusedError"
        assert "incoming/curated-project/train/replace/force/" in refused["failure"]["cause"]
        assert set(stored(stack, second["datasetArn"])) == refs(LINES[4:])  # the guard left it as it was
