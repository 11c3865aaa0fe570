"""Delta sync on the offline stack: a re-dropped manifest sends only the lines that differ from what the
dataset holds, and a change made outside the pipeline is never mistaken for unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offline.stack import OfflineConfig, OfflineStack

KEY = "incoming/demo-project/train/{name}.jsonl"


def line(index: int, label: str = "cat", **extra: Any) -> dict[str, Any]:
    return {
        "source-ref": f"s3://delta-images/pets/{index:05d}.jpg",
        "animal": 1,
        "animal-metadata": {
            "class-name": label,
            "confidence": 1,
            "human-annotated": "yes",
            "creation-date": "2026-12-01T10:00:00.000",
            "type": "groundtruth/image-classification",
            "job-name": "labeling-job/pets",
        },
        **extra,
    }


def manifest(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in lines).encode()


def sent_lines(stack: OfflineStack) -> int:
    """Lines sent with UpdateDatasetEntries so far (the local service's own record of the calls)."""
    return sum(record.lines for record in stack.service.updates)


def stored(stack: OfflineStack, dataset_arn: str) -> dict[str, str]:
    """The dataset's entries by source-ref, as ListDatasetEntries returns them."""
    pages = stack.client("rekognition").get_paginator("list_dataset_entries").paginate(DatasetArn=dataset_arn)
    return {json.loads(e)["source-ref"]: e for page in pages for e in page["DatasetEntries"]}


def run(stack: OfflineStack, name: str, body: bytes) -> dict[str, Any]:
    stack.drop(KEY.format(name=name), body)
    stack.wait_until_idle()
    report = stack.reports()[-1]
    assert report["reconciliation"]["balanced"], report["reconciliation"]
    return report


@pytest.fixture
def stack() -> Iterator[OfflineStack]:
    with OfflineStack(OfflineConfig(time_scale=0.001)) as running:
        running.create_project("demo-project", ["TRAIN"])
        yield running


LINES = [line(i, "cat" if i % 2 else "dog") for i in range(40)]


def test_an_unchanged_redrop_sends_nothing_and_reports_every_line_unchanged(stack: OfflineStack) -> None:
    first = run(stack, "pets", manifest(LINES))
    assert first["outcome"] == "SUCCEEDED" and first["counts"]["unchanged"] == 0
    assert first["delta"]["source"] == "empty" and first["delta"]["index"].startswith("updated: 40 entries")
    before = sent_lines(stack)
    # The same lines re-exported: other key order and spacing, 1.0 for 1: the same entries.
    reexported = b"".join(
        json.dumps(dict(reversed(list(item.items()))), indent=None, separators=(", ", ": "))
        .replace('"confidence": 1', '"confidence": 1.0')
        .encode()
        + b"\n"
        for item in LINES
    )
    second = run(stack, "pets-again", reexported)
    assert sent_lines(stack) == before  # not one line sent
    assert second["outcome"] == "SUCCEEDED"
    assert second["counts"]["unchanged"] == 40
    assert second["reconciliation"]["accounted"] | {} == {
        "blank": 0,
        "rejected": 0,
        "superseded": 0,
        "supersededByNewer": 0,
        "unchanged": 40,
        "applied": 0,
        "notApplied": 0,
    }
    assert second["delta"]["source"] == "index" and second["delta"]["index"] == "unchanged: the run sent nothing"
    assert "40 unchanged" in second["summary"]


def test_one_changed_line_sends_one_line(stack: OfflineStack) -> None:
    run(stack, "pets", manifest(LINES))
    before = sent_lines(stack)
    changed = [*LINES[:7], line(7, "fox"), *LINES[8:]]
    report = run(stack, "pets-fixed", manifest(changed))
    assert sent_lines(stack) - before == 1
    assert (report["counts"]["unchanged"], report["reconciliation"]["accounted"]["applied"]) == (39, 1)
    assert '"fox"' in stored(stack, report["datasetArn"])[LINES[7]["source-ref"]]
    # The index followed the run: dropping the fixed manifest again sends nothing.
    again = run(stack, "pets-fixed-again", manifest(changed))
    assert sent_lines(stack) - before == 1 and again["counts"]["unchanged"] == 40


def test_an_entry_changed_outside_the_pipeline_is_found_and_sent_again(stack: OfflineStack) -> None:
    run(stack, "pets", manifest(LINES))
    # Someone relabels image 3 in the console (UpdateDatasetEntries directly on the local service).
    rek = stack.client("rekognition")
    (dataset_arn,) = {r["datasetArn"] for r in stack.reports()}
    rek.update_dataset_entries(DatasetArn=dataset_arn, Changes={"GroundTruth": manifest([line(3, "wolf")])})
    stack.wait_for_dataset(dataset_arn)
    before = sent_lines(stack)
    report = run(stack, "pets-again", manifest(LINES))  # the manifest still says image 3 is a cat
    assert report["delta"]["source"] == "listing"
    assert "changed since its index was written" in report["delta"]["reason"]
    assert sent_lines(stack) - before == 1  # exactly the entry that differs
    assert '"wolf"' not in stored(stack, dataset_arn)[LINES[3]["source-ref"]]


def test_with_delta_sync_off_every_line_is_sent() -> None:
    with OfflineStack(OfflineConfig(time_scale=0.001, delta_sync=False)) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        run(stack, "pets", manifest(LINES))
        report = run(stack, "pets-again", manifest(LINES))
        assert sent_lines(stack) == 80
        assert report["counts"]["unchanged"] == 0 and report["delta"]["enabled"] is False


def test_a_listing_that_outlasts_its_step_goes_on_in_the_next_and_sends_only_the_difference() -> None:
    """250 entries (3 pages) at 3 simulated seconds a page, SkipUnchanged held to a 10 s timeout: it stops
    after half its time (2 pages), stores where it stopped, and the state machine invokes it again."""
    config = OfflineConfig(time_scale=0.001, timeout_seconds={"SkipUnchanged": 10})
    many = [line(i, "cat" if i % 3 else "dog") for i in range(250)]
    with OfflineStack(config) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        first = run(stack, "pets", manifest(many))
        rek = stack.client("rekognition")
        rek.update_dataset_entries(DatasetArn=first["datasetArn"], Changes={"GroundTruth": manifest([line(9, "owl")])})
        stack.wait_for_dataset(first["datasetArn"])
        stack.service.faults.set_rates("ListDatasetEntries", latency_seconds=3.0)
        before = sent_lines(stack)
        report = run(stack, "pets-again", manifest(many))
        steps = [i for i in stack.runtime.invocations if i.function == "labelsync-SkipUnchanged"][1:]
        assert [bool(i.result.get("continue")) for i in steps] == [True, False]
        assert all(i.error is None for i in steps)
        assert report["delta"]["source"] == "listing" and report["counts"]["unchanged"] == 249
        assert sent_lines(stack) - before == 1


def test_edits_spread_over_many_chunks_are_sent_together_in_one_update() -> None:
    """300 lines in chunks of about 20 (15 chunks); 3 lines edited in 3 different chunks: one update of 3
    lines, and each of the 3 chunks gets its own applied marker (what resumes and the report count)."""
    size = len(json.dumps(line(0)).encode()) + 1
    config = OfflineConfig(time_scale=0.001, chunk_limit_bytes=20 * size + 10)
    many = [line(i) for i in range(300)]
    with OfflineStack(config) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        first = run(stack, "pets", manifest(many))
        assert first["counts"]["chunks"] >= 15
        updates = len(stack.service.updates)
        edited = list(many)
        for index in (5, 150, 290):
            edited[index] = line(index, "lynx")
        report = run(stack, "pets-edited", manifest(edited))
        assert len(stack.service.updates) - updates == 1 and stack.service.updates[-1].lines == 3
        assert (report["counts"]["unchanged"], report["reconciliation"]["accounted"]["applied"]) == (297, 3)
        prefix = report["reportUri"].removeprefix(f"s3://{stack.config.bucket}/").removesuffix("report.json")
        s3 = stack.client("s3")
        keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket=stack.config.bucket, Prefix=f"{prefix}applied/")["Contents"]
        ]
        markers = [json.loads(s3.get_object(Bucket=stack.config.bucket, Key=k)["Body"].read()) for k in keys]
        joined = [m for m in markers if m.get("joinedWith")]
        assert sorted(m["lines"] for m in joined) == [1, 1, 1] and len({m["chunk"] for m in joined}) == 3
        assert report["delta"]["index"].startswith("updated: 300 entries")


def test_an_entry_the_service_flagged_is_sent_again_when_its_line_is_dropped_again(stack: OfflineStack) -> None:
    """Image 4 is missing when the manifest is first synced (the service flags ERROR_INVALID_IMAGE); it is
    uploaded, and the same manifest dropped again: that one line is sent again, and only it."""
    with stack.images.paused():
        s3 = stack.client("s3")
        s3.create_bucket(Bucket="delta-images")
        from offline.fixture_images import TINY_PNG

        for item in LINES:
            if item is not LINES[4]:
                key = item["source-ref"].removeprefix("s3://delta-images/")
                s3.put_object(Bucket="delta-images", Key=key, Body=TINY_PNG)
        first = run(stack, "pets", manifest(LINES))
    assert first["counts"]["entriesWithErrors"] == 1
    stack.client("s3").put_object(
        Bucket="delta-images", Key=LINES[4]["source-ref"].removeprefix("s3://delta-images/"), Body=TINY_PNG
    )
    before = sent_lines(stack)
    again = run(stack, "pets-again", manifest(LINES))
    assert sent_lines(stack) - before == 1 and again["counts"]["unchanged"] == 39
    assert again["outcome"] == "SUCCEEDED" and again["counts"]["entriesWithErrors"] == 0
