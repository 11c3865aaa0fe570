"""Ground Truth jobs synced directly: the job's completion event, DescribeLabelingJob, a server-side copy
into the dataset's folder, then the same run as any drop (the real rule pattern, function and pipeline)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from labelsync.adapters.s3_store import JOB_METADATA
from offline.stack import CLAIMS_TABLE, OfflineConfig, OfflineStack
from tests.e2e.test_completion_events import one_event_per_report

SYNC = "labelsync-SyncLabelingJob"
OUTPUT_BUCKET = "labelsync-offline-ground-truth"


def multilabel_line(index: int, job: str) -> dict[str, Any]:
    """A line of a multi-label image classification job's output manifest, as Ground Truth writes it."""
    return {
        "source-ref": f"s3://labeling-input/pets/{index}.jpg",
        "pets": [0, 1],
        "pets-metadata": {
            "job-name": f"labeling-job/{job}",
            "class-map": {"0": "cat", "1": "dog"},
            "human-annotated": "yes",
            "creation-date": "2026-12-01T10:00:00.000000",
            "confidence-map": {"0": 0.93, "1": 0.88},
            "type": "groundtruth/image-classification-multilabel",
        },
    }


def output(job: str, lines: int = 3) -> bytes:
    return "".join(json.dumps(multilabel_line(i, job)) + "\n" for i in range(lines)).encode()


def syncs(stack: OfflineStack) -> list[Any]:
    return [i for i in stack.runtime.invocations if i.function == SYNC]


@pytest.fixture
def stack() -> Iterator[OfflineStack]:
    with OfflineStack(OfflineConfig(time_scale=0.001)) as running:  # labelingJobs: demo-* -> demo-project TRAIN
        running.create_project("demo-project", ["TRAIN"])
        yield running


def test_a_completed_job_becomes_a_run_and_a_report(stack: OfflineStack) -> None:
    job = stack.complete_labeling_job("demo-pets-1", output("demo-pets-1"), label_attribute_name="pets")
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    ((sync,),) = [syncs(stack)]
    key = "incoming/demo-project/train/labeling-job-demo-pets-1.manifest"
    assert sync.result["outcome"] == "COPIED"
    assert sync.result["source"] == f"s3://{OUTPUT_BUCKET}/jobs/demo-pets-1/manifests/output/output.manifest"
    head = stack.client("s3").head_object(Bucket=stack.config.bucket, Key=key)
    assert head["Metadata"] == {JOB_METADATA: job.arn}
    (report,) = stack.reports()
    assert key in json.dumps(report["manifest"])
    assert (report["outcome"], report["counts"]["accepted"], report["counts"]["converted"]) == ("SUCCEEDED", 3, 3)
    (event,) = one_event_per_report(stack)  # the run's completion event, as for any drop
    assert event["detail"]["datasetType"] == "TRAIN"


def test_repeated_events_for_one_job_copy_it_once(stack: OfflineStack) -> None:
    job = stack.complete_labeling_job("demo-pets-2", output("demo-pets-2"))
    stack.send_labeling_job_event(job)  # SageMaker may send several events for one state change
    stack.wait_until_idle()
    first, second = syncs(stack)
    assert first.result["outcome"] == "COPIED" and second.result == first.result  # the claim's stored answer
    # After the claim has expired (a day), the copy itself says which job it came from.
    dynamodb = stack.client("dynamodb")
    for item in dynamodb.scan(TableName=CLAIMS_TABLE)["Items"]:
        dynamodb.delete_item(TableName=CLAIMS_TABLE, Key={"id": item["id"]})
    stack.send_labeling_job_event(job)
    stack.wait_until_idle()
    assert syncs(stack)[-1].result["outcome"] == "ALREADY_COPIED"
    versions = stack.client("s3").list_object_versions(Bucket=stack.config.bucket, Prefix="incoming/")["Versions"]
    assert len(versions) == 1
    assert len(stack.executions()) == 1 and len(stack.reports()) == 1


def test_jobs_no_name_prefix_routes_never_reach_the_function(stack: OfflineStack) -> None:
    stack.complete_labeling_job("other-team-job", output("other-team-job"))
    stack.complete_labeling_job("DEMO-Upper-Case", output("DEMO-Upper-Case"))  # prefixes ignore case
    stack.wait_until_idle()
    assert [i.event["resources"] for i in syncs(stack)] == [[stack_job_arn(stack, "demo-upper-case")]]
    (report,) = stack.reports()
    assert report["outcome"] == "SUCCEEDED"


def stack_job_arn(stack: OfflineStack, name: str) -> str:
    return f"arn:aws:sagemaker:{stack.config.region}:123456789012:labeling-job/{name}"


def test_output_outside_the_configured_path_is_refused_and_kept_in_the_failed_events_queue(
    stack: OfflineStack,
) -> None:
    stack.client("s3").create_bucket(Bucket="somewhere-else")
    stack.complete_labeling_job("demo-pets-3", output("demo-pets-3"), output_path="s3://somewhere-else/out/")
    stack.wait_until_idle()
    assert len(syncs(stack)) == 3  # Lambda's two retries, then the on-failure destination
    (record,) = stack.failed_events()
    error = record["responsePayload"]
    assert "JOB_OUTPUT_OUTSIDE_PATH" in error["errorMessage"]
    assert "s3://somewhere-else/out/demo-pets-3/manifests/output/output.manifest" in error["errorMessage"]
    assert f"s3://{OUTPUT_BUCKET}/jobs/" in error["errorMessage"]
    assert record["requestPayload"]["detail"] == {"LabelingJobStatus": "Completed"}
    assert stack.executions() == []
    assert stack.client("s3").list_objects_v2(Bucket=stack.config.bucket, Prefix="incoming/").get("KeyCount") == 0


TAGGED = {
    "tag": {"key": "labelsync-dataset", "value": "demo-project/test"},
    "project": "demo-project",
    "datasetType": "TEST",
    "outputPath": f"s3://{OUTPUT_BUCKET}/",
}


def test_a_tag_route_syncs_tagged_jobs_and_ignores_the_rest() -> None:
    config = OfflineConfig(time_scale=0.001, labeling_jobs=[TAGGED])
    with OfflineStack(config) as stack:
        stack.create_project("demo-project", ["TRAIN", "TEST"])
        stack.complete_labeling_job("any-name", output("any-name"), tags={"labelsync-dataset": "demo-project/test"})
        stack.complete_labeling_job("untagged", output("untagged"))
        stack.wait_until_idle()
        results = {i.result["job"]: i.result for i in syncs(stack)}
        assert results["untagged"]["outcome"] == "IGNORED"  # the rule sees every job: tags are not in the event
        assert results["any-name"]["outcome"] == "COPIED"
        assert results["any-name"]["manifest"].endswith("incoming/demo-project/test/labeling-job-any-name.manifest")
        (report,) = stack.reports()
        assert (report["outcome"], report["target"]["datasetType"]) == ("SUCCEEDED", "TEST")


def test_no_setting_deploys_no_rule_and_no_function() -> None:
    with OfflineStack(OfflineConfig(time_scale=0.001, labeling_jobs=[])) as stack:
        assert "SyncLabelingJob" not in stack.functions
        assert stack.client("events").list_rules(NamePrefix="labelsync-labeling")["Rules"] == []
