"""Offline end to end: S3 put -> plan Lambda -> real definition on moto's engine -> SNS message.

Every test drives the real handlers and statemachine/pipeline.asl.json; the only local
parts are the AWS endpoints (moto, and the local Custom Labels service).
"""

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from offline.stack import OfflineConfig, OfflineStack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
CLEAN = EXAMPLES / "pets-clean.jsonl"
PROBLEMS = EXAMPLES / "pets-with-problems.jsonl"


def only_report(stack: OfflineStack) -> dict[str, Any]:
    reports = stack.reports()
    assert len(reports) == 1, reports
    return reports[0]


def entries(stack: OfflineStack, dataset_arn: str) -> list[dict[str, Any]]:
    paginator = stack.client("rekognition").get_paginator("list_dataset_entries")
    return [json.loads(e) for page in paginator.paginate(DatasetArn=dataset_arn) for e in page["DatasetEntries"]]


def dataset_arn(stack: OfflineStack, dataset_type: str) -> str:
    project = stack.client("rekognition").describe_projects(ProjectNames=["demo-project"])["ProjectDescriptions"][0]
    return next(d["DatasetArn"] for d in project["Datasets"] if d["DatasetType"] == dataset_type)


def test_clean_manifest_is_applied_and_reported(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    report = only_report(stack)
    assert report["outcome"] == "SUCCEEDED"
    assert report["counts"]["accepted"] == 6 and report["counts"]["entriesWithErrors"] == 0
    assert report["target"] == {
        "project": "demo-project",
        "datasetType": "TRAIN",
        "createMissing": True,
        "key": "demo-project/TRAIN",
        "mode": "update",
        "force": False,
    }
    message = stack.messages()[0]
    assert message["MessageAttributes"]["outcome"]["Value"] == "SUCCEEDED"
    assert message["MessageAttributes"]["kind"]["Value"] == "report"
    arn = dataset_arn(stack, "TRAIN")
    sent = {json.loads(line)["source-ref"] for line in CLEAN.read_text().splitlines()}
    assert {e["source-ref"] for e in entries(stack, arn)} == sent
    # The full report is in S3, where the pipeline cannot trigger itself.
    key = report["reportUri"].split("/", 3)[3]
    assert key.startswith("runs/")
    stored = json.loads(stack.client("s3").get_object(Bucket=stack.config.bucket, Key=key)["Body"].read())
    assert stored["outcome"] == "SUCCEEDED"
    assert len([i for i in stack.runtime.invocations if i.function.endswith("PlanManifest")]) == 1


def test_non_terminal_errors_rejects_and_superseded_lines_are_reported(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/test/pets-with-problems.jsonl", PROBLEMS)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    report = only_report(stack)
    assert report["outcome"] == "SUCCEEDED_WITH_ERRORS"
    counts = report["counts"]
    assert (counts["linesRead"], counts["accepted"], counts["rejected"], counts["superseded"]) == (12, 9, 2, 1)
    assert {(r["line"], r["code"]) for r in report["rejectedLines"]} == {
        (5, "ERROR_INVALID_JSON_LINE"),
        (6, "ERROR_MISSING_SOURCE_REF"),
    }
    assert [(s["line"], s["supersededBy"]) for s in report["supersededLines"]] == [(4, 8)]
    codes = {(e["sourceRef"].rsplit("/", 1)[1], e["code"]) for e in report["entryErrors"]}
    assert ("img-0102.jpg", "ERROR_INVALID_BOUNDING_BOX") in codes
    assert ("img-0103.jpg", "ERROR_MISSING_CLASS_MAP_ID") in codes
    # img-0111.jpg (only its image) is WARNING_UNANNOTATED_RECORD, a warning the service writes under
    # `warnings` (tm-debugging-json-line-errors); the report reads `errors`/`cl-errors` only (entry_errors.py).
    assert not any(ref == "img-0111.jpg" for ref, _ in codes)
    assert counts["entriesWithErrors"] == 2
    # The TEST dataset did not exist: the pipeline created it and waited for it.
    arn = dataset_arn(stack, "TEST")
    stored = {e["source-ref"]: e for e in entries(stack, arn)}
    assert len(stored) == 9
    assert stored["s3://labelsync-demo-images/pets/img-0104.jpg"]["animal-metadata"]["class-name"] == "cat"


def test_errors_of_other_manifests_are_not_reported(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/a.jsonl", PROBLEMS)
    stack.wait_until_idle()
    stack.drop("incoming/demo-project/train/b.jsonl", CLEAN)
    stack.wait_until_idle()
    reports = stack.reports()
    assert [r["outcome"] for r in reports] == ["SUCCEEDED_WITH_ERRORS", "SUCCEEDED"]


def test_mostly_invalid_manifest_is_rejected_whole_and_nothing_is_sent(stack: OfflineStack) -> None:
    body = b'{"source-ref": "s3://b/1.jpg"}\nnot json\n{"no": "ref"}\n'
    stack.drop("incoming/demo-project/train/bad.jsonl", body)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"  # alerted REJECTED; not an execution failure
    report = only_report(stack)
    assert report["outcome"] == "REJECTED" and report["rejection"]["code"] == "ERROR_TOO_MANY_RECORDS_IN_ERROR"
    assert len(report["rejectedLines"]) == 2
    assert not [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]


def test_unknown_key_is_rejected_with_an_alert(stack: OfflineStack) -> None:
    stack.drop("incoming/unknown-project/train/pets.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"  # alerted REJECTED; not an execution failure
    report = only_report(stack)
    assert report["outcome"] == "REJECTED" and report["rejection"]["code"] == "ROUTE_PROJECT_NOT_ALLOWED"
    assert "unknown-project" in report["rejection"]["message"]
    assert stack.messages()[0]["MessageAttributes"]["kind"]["Value"] == "alert"


def test_update_failed_sends_an_alert_naming_manifest_chunk_and_status(stack: OfflineStack) -> None:
    stack.service.faults.fail_next_update(message="ERROR_MANIFEST_TOO_MANY_LABELS: too many labels")
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "FAILED" and execution["error"] == "ChunkFailed"
    report = only_report(stack)
    assert report["outcome"] == "FAILED"
    assert report["failure"]["chunk"] == 0 and report["failure"]["error"] == "DatasetUpdateFailed"
    assert "ERROR_MANIFEST_TOO_MANY_LABELS" in report["failure"]["statusMessage"]
    assert report["manifest"]["key"] == "incoming/demo-project/train/pets-clean.jsonl"
    assert "chunk 0" in report["summary"]


def test_throttling_then_success(stack: OfflineStack) -> None:
    # 6 throttles outlast botocore's 5 attempts inside the Lambda: the state machine's Retry takes over.
    stack.service.faults.throttle("UpdateDatasetEntries", times=6)
    stack.service.faults.throttle("DescribeDataset", times=2)
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    assert only_report(stack)["outcome"] == "SUCCEEDED"
    applies = [i for i in stack.runtime.invocations if i.function.endswith("ApplyChunk")]
    assert [a.error["errorType"] if a.error else None for a in applies] == ["ServiceThrottledError", None]
    assert len([c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]) == 7


@pytest.mark.parametrize("delta_sync", [True, False])
def test_busy_dataset_is_waited_for_then_updated(delta_sync: bool) -> None:
    """Someone else's update is under way when the run's turn comes: delta sync waits for it before it
    compares anything (entries may change when it completes); without delta sync, ApplyChunk does."""
    with OfflineStack(OfflineConfig(time_scale=0.001, delta_sync=delta_sync)) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        arn = dataset_arn(stack, "TRAIN")
        assert stack.wait_for_dataset(arn) == "CREATE_COMPLETE"
        # Long enough to outlast the plan step's first (cold) invocation: 1 simulated second is 1 ms here.
        stack.service.faults.outside_update(arn, seconds=1500)
        stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
        (execution,) = stack.wait_until_idle()
        assert execution["status"] == "SUCCEEDED"
        waiting = "SkipUnchanged" if delta_sync else "ApplyChunk"
        steps = [i for i in stack.runtime.invocations if i.function.endswith(waiting)]
        assert steps[0].error and steps[0].error["errorType"] == "DatasetBusyError"
        assert steps[-1].error is None
        applies = [i for i in stack.runtime.invocations if i.function.endswith("ApplyChunk")]
        assert applies[-1].error is None
        assert only_report(stack)["outcome"] == "SUCCEEDED"


def test_duplicate_s3_event_starts_one_execution(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    stack.wait_until_idle()
    (plan,) = [i for i in stack.runtime.invocations if i.function.endswith("PlanManifest")]
    # S3 delivers at least once: the same event again, as a second delivery would.
    stack.runtime.run(_function(stack, "PlanManifest"), plan.event, source="async")
    executions = stack.wait_until_idle()
    assert len(executions) == 1
    assert len(stack.messages()) == 1
    assert stack.runtime.invocations[-1].result["runs"][0]["started"] is False


def test_same_key_dropped_again_is_a_new_run(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    stack.wait_until_idle()
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)  # a new object version
    executions = stack.wait_until_idle()
    assert len(executions) == 2 and all(e["status"] == "SUCCEEDED" for e in executions)


def test_large_manifest_goes_in_several_chunks_in_order(stack: OfflineStack) -> None:
    lines = [
        json.dumps(
            {
                "source-ref": f"s3://imgs/{i:04d}.jpg",
                "x": 1,
                "x-metadata": {
                    "class-name": f"c{i % 5}",
                    "type": "groundtruth/image-classification",
                    "confidence": 1,
                    "human-annotated": "yes",
                    "creation-date": "2026-01-01T00:00:00",
                },
            }
        )
        for i in range(300)
    ]
    _redeploy_plan_env(stack, CHUNK_LIMIT_BYTES="8000")
    stack.drop("incoming/demo-project/train/big.jsonl", ("\n".join(lines) + "\n").encode())
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"
    report = only_report(stack)
    assert report["counts"]["chunks"] > 5 and report["counts"]["accepted"] == 300
    applies = [i for i in stack.runtime.invocations if i.function.endswith("ApplyChunk")]
    assert [a.event["chunk"] for a in applies] == list(range(report["counts"]["chunks"]))
    assert all(a.result["bytes"] < 8000 for a in applies)
    # One applied marker per chunk, written after UPDATE_COMPLETE, with its polls and wait.
    records = [i.result for i in stack.runtime.invocations if i.function.endswith("RecordChunk")]
    assert [r["chunk"] for r in records] == list(range(report["counts"]["chunks"]))
    assert all(r["polls"] >= 1 and r["waitedSeconds"] >= 1 for r in records)
    assert sum(r["lines"] for r in records) == 300
    assert len(entries(stack, dataset_arn(stack, "TRAIN"))) == 300


def _function(stack: OfflineStack, name: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend("123456789012", stack.config.region).get_function(stack.functions[name])


def _redeploy_plan_env(stack: OfflineStack, **env: str) -> None:
    """New values for these variables, in the plan function and every other function that reads them
    (CHUNK_LIMIT_BYTES: SkipUnchanged joins chunks under the same limit)."""
    lam = stack.client("lambda")
    for name in stack.functions.values():
        current = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        if name == stack.functions["PlanManifest"] or set(env) & set(current):
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**current, **env}})


def test_gzipped_manifest_is_read_and_a_corrupt_one_is_rejected(stack: OfflineStack) -> None:
    stack.drop("incoming/demo-project/train/pets.jsonl.gz", gzip.compress(CLEAN.read_bytes()))
    stack.wait_until_idle()
    # A line rejected before the gzip breaks is not listed: the run lists none of an unread manifest's lines.
    broken = gzip.compress(b"not json\n" + CLEAN.read_bytes() * 600)[:-20]  # past the first 1 MB read
    stack.drop("incoming/demo-project/train/broken.jsonl.gz", broken)
    executions = stack.wait_until_idle()
    assert sorted(e["status"] for e in executions) == ["SUCCEEDED", "SUCCEEDED"]  # the rejected one alerted
    good, bad = stack.reports()
    assert good["outcome"] == "SUCCEEDED" and good["counts"]["accepted"] == 6
    assert bad["outcome"] == "REJECTED" and bad["rejection"]["code"] == "ERROR_UNREADABLE_MANIFEST"
    assert bad["rejectedLines"] == [] and bad["reconciliation"]["balanced"]


def test_a_gzip_over_the_services_line_limit_is_rejected_before_anything_is_sent(stack: OfflineStack) -> None:
    # 250,001 lines (blank ones count) in a 250-byte gzip: refused as soon as reading crosses the limit.
    body = CLEAN.read_bytes() + b"\n" * 250_001
    stack.drop("incoming/demo-project/train/too-many.jsonl.gz", gzip.compress(body))
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"  # alerted REJECTED; not an execution failure
    report = only_report(stack)
    assert report["outcome"] == "REJECTED" and report["rejection"]["code"] == "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
    assert "250,000 lines" in report["rejection"]["message"]
    assert not [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]


def test_update_that_outlasts_the_poll_timeout_fails_with_an_alert() -> None:
    config = OfflineConfig(time_scale=0.001, update_seconds=10_000, poll_timeout_seconds=120)
    with OfflineStack(config) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
        (execution,) = stack.wait_until_idle()
        assert execution["status"] == "FAILED" and execution["error"] == "ChunkFailed"
        report = only_report(stack)
        assert report["failure"]["error"] == "DatasetUpdateTimedOut" and report["failure"]["chunk"] == 0
        # Capped doubling from 5 s: 5+10+20+40+60 = 135 s >= 120 s after 5 waits. (Before the update, delta
        # sync and ApplyChunk each read the dataset's timestamp once: those are not polls.)
        (update,) = [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]
        polls = [c for c in stack.service.calls if c.operation == "DescribeDataset" and c.at > update.at]
        assert len(polls) == 5


def test_missing_project_fails_with_an_alert() -> None:
    with OfflineStack(OfflineConfig(time_scale=0.001)) as stack:  # demo-project allowed but never created
        stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
        (execution,) = stack.wait_until_idle()
        assert execution["status"] == "FAILED" and execution["error"] == "ProjectNotFoundError"
        report = only_report(stack)
        assert report["outcome"] == "FAILED" and report["failure"]["stage"] == "resolve-dataset"
        assert "demo-project" in report["failure"]["cause"]
