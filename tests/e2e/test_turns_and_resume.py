"""One update per dataset, in write order; late events lose to newer manifests; stopped runs resume."""

import json
import time
from typing import Any

import pytest

from offline.lambda_runtime import AsyncDelivery
from offline.stack import OfflineStack
from tests.e2e.test_pipeline import dataset_arn, entries

TRAIN = "incoming/demo-project/train/"


def manifest(tag: str, numbers: range, whitespace: str = " ") -> bytes:
    lines = [
        {
            "source-ref": f"s3://labelsync-demo-images/turns/{n:04d}.jpg",
            "animal": n % 2,
            "animal-metadata": {
                "confidence": 1,
                "class-name": ["cat", "dog"][n % 2],
                "human-annotated": "yes",
                "creation-date": "2026-01-01T00:00:00",
                "type": "groundtruth/image-classification",
                "job-name": tag,
            },
        }
        for n in numbers
    ]
    return "".join(json.dumps(line).replace(", ", "," + whitespace) + "\n" for line in lines).encode()


def versions(stack: OfflineStack) -> dict[str, str]:
    """source-ref -> the tag of the manifest whose line the dataset holds."""
    return {e["source-ref"]: e["animal-metadata"]["job-name"] for e in entries(stack, dataset_arn(stack, "TRAIN"))}


def hold(held: list[AsyncDelivery]) -> Any:
    """An S3-event interceptor that keeps every delivery for the test to release later."""

    def intercept(delivery: AsyncDelivery) -> list[AsyncDelivery]:
        held.append(delivery)
        return []

    return intercept


def invocations(stack: OfflineStack, function: str) -> list[Any]:
    return [i for i in stack.runtime.invocations if i.function.endswith(function)]


def test_manifests_for_one_dataset_wait_their_turn_and_apply_in_write_order(stack: OfflineStack) -> None:
    stack.service.timing.update_seconds = 2000  # the blocker holds the dataset while the others queue
    stack.drop(TRAIN + "blocker.jsonl", manifest("blocker", range(100, 103)))
    wait_for(lambda: invocations(stack, "ApplyChunk"))
    held: list[AsyncDelivery] = []
    stack.runtime.async_interceptor = hold(held)
    stack.drop(TRAIN + "first.jsonl", manifest("first", range(0, 30)))
    stack.drop(TRAIN + "second.jsonl", manifest("second", range(20, 40)))
    stack.runtime.async_interceptor = None
    for delivery in reversed(held):  # events arrive in the opposite order of the writes
        stack.runtime.deliver(delivery)
    stack.runtime.wait_async_idle()
    stack.service.timing.update_seconds = 100
    executions = stack.wait_until_idle()
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 3
    holder = versions(stack)
    assert len(holder) == 43
    assert {holder[f"s3://labelsync-demo-images/turns/{n:04d}.jpg"] for n in range(20, 40)} == {"second"}
    assert {holder[f"s3://labelsync-demo-images/turns/{n:04d}.jpg"] for n in range(0, 20)} == {"first"}
    turns = invocations(stack, "TakeTurn")
    waits = [(t.event["execution"].split("-")[0], t.result["reason"]) for t in turns if not t.result["granted"]]
    assert any(run == "first" and "blocker" in why for run, why in waits)
    assert any(run == "second" for run, _ in waits)
    applied = [a.event["run"]["id"].split("-")[0] for a in invocations(stack, "ApplyChunk")]
    assert applied == ["blocker", "first", "second"]  # write order, although second's event came first
    # one update at a time, in write order: blocker, first, second
    updates = [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]
    assert len(updates) == 3 and updates[1].at - updates[0].at >= 2000 and updates[2].at - updates[1].at >= 100
    assert not any(r["supersededByNewerManifest"] for r in stack.reports())


@pytest.mark.parametrize("whitespace", [" ", "\r"], ids=["spaces", "lone-cr"])
def test_a_late_event_for_an_older_manifest_does_not_overwrite_newer_lines(
    stack: OfflineStack, whitespace: str
) -> None:
    # A lone CR is JSON whitespace inside a line: chunks are split on LF only (once with splitlines()
    # the late run's TakeTurn crashed on such a line, and every resume the same way).
    held: list[AsyncDelivery] = []
    stack.runtime.async_interceptor = hold(held)
    stack.drop(TRAIN + "older.jsonl", manifest("older", range(0, 10), whitespace))
    stack.runtime.async_interceptor = None
    stack.drop(TRAIN + "newer.jsonl", manifest("newer", range(5, 15), whitespace))
    stack.wait_until_idle()
    (late,) = held
    stack.runtime.deliver(late)  # the older object's event, long after the newer one was applied
    executions = stack.wait_until_idle()
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    holder = versions(stack)
    assert {holder[f"s3://labelsync-demo-images/turns/{n:04d}.jpg"] for n in range(5, 15)} == {"newer"}
    assert {holder[f"s3://labelsync-demo-images/turns/{n:04d}.jpg"] for n in range(0, 5)} == {"older"}
    older = next(r for r in stack.reports() if r["manifest"]["key"].endswith("older.jsonl"))
    left_out = older["supersededByNewerManifest"]
    assert sorted(x["sourceRef"][-8:] for x in left_out) == [f"{n:04d}.jpg" for n in range(5, 10)]
    assert all(x["byManifest"].endswith("newer.jsonl") for x in left_out)
    assert older["reconciliation"]["accounted"]["supersededByNewer"] == 5
    assert older["reconciliation"]["accounted"]["applied"] == 5 and older["reconciliation"]["balanced"]


def test_a_manifest_version_deleted_before_planning_is_rejected_with_an_alert(stack: OfflineStack) -> None:
    # The user took the upload back before the plan step ran: an alert naming the key and version, no crash.
    held: list[AsyncDelivery] = []
    stack.runtime.async_interceptor = hold(held)
    key = TRAIN + "taken-back.jsonl"
    version = stack.drop(key, manifest("gone", range(0, 3)))["VersionId"]
    stack.runtime.async_interceptor = None
    stack.client("s3").delete_object(Bucket=stack.config.bucket, Key=key, VersionId=version)
    (event,) = held
    stack.runtime.deliver(event)
    (execution,) = stack.wait_until_idle()
    assert execution["status"] == "SUCCEEDED"  # alerted REJECTED; not an execution failure
    (plan,) = invocations(stack, "PlanManifest")
    assert plan.error is None  # planned once, not retried
    (report,) = stack.reports()
    assert report["outcome"] == "REJECTED"
    assert report["rejection"]["code"] == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
    assert key in report["rejection"]["message"] and version in report["rejection"]["message"]
    assert not [c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"]


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _fail_chunk(index: int) -> Any:
    def hook(function: str, event: Any) -> None:
        if function.endswith("ApplyChunk") and event.get("chunk") == index:
            raise RuntimeError(f"injected: chunk {index} cannot be sent")

    return hook


@pytest.mark.parametrize("how", ["command", "drop again"])
def test_a_stopped_run_resumes_from_the_first_chunk_not_applied(stack: OfflineStack, how: str) -> None:
    from tests.e2e.test_pipeline import _redeploy_plan_env

    _redeploy_plan_env(stack, CHUNK_LIMIT_BYTES="1500")
    body = manifest("only", range(0, 12))
    hook = _fail_chunk(2)
    stack.runtime.crash_hooks.append(hook)
    stack.drop(TRAIN + "resumable.jsonl", body)
    (failed,) = stack.wait_until_idle()
    assert failed["status"] == "FAILED"
    (alert,) = stack.reports()
    assert alert["outcome"] == "FAILED" and alert["failure"]["chunk"] == 2
    assert "chunk 2 cannot be sent" in alert["failure"]["cause"]
    chunks = alert["counts"]["chunks"]
    assert chunks >= 3 and alert["reconciliation"]["balanced"]
    applied_before = alert["reconciliation"]["accounted"]["applied"]
    assert 0 < applied_before < 12

    stack.runtime.crash_hooks.remove(hook)  # the cause is fixed
    sent_before = len([c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"])
    if how == "command":
        stack.resume(failed["name"])
    else:
        stack.drop(TRAIN + "resumable.jsonl", body)
    executions = stack.wait_until_idle()
    assert sorted(e["status"] for e in executions) == ["FAILED", "SUCCEEDED"]
    sent_after = len([c for c in stack.service.calls if c.operation == "UpdateDatasetEntries"])
    assert sent_after - sent_before == chunks - 2  # chunks 0 and 1 were not sent again
    done = stack.reports()[-1]
    assert done["outcome"] == "SUCCEEDED" and done["resume"]["skippedChunks"] == [0, 1]
    assert done["reconciliation"]["accounted"]["applied"] == 12 and done["reconciliation"]["balanced"]
    assert len(versions(stack)) == 12


def test_resume_refuses_a_run_that_succeeded(stack: OfflineStack) -> None:
    from labelsync.usecases.resume_run import ResumeRefused

    stack.drop(TRAIN + "fine.jsonl", manifest("fine", range(3)))
    (done,) = stack.wait_until_idle()
    with pytest.raises(ResumeRefused, match="succeeded"):
        stack.resume(done["name"])


def test_a_stopped_execution_does_not_block_its_dataset(stack: OfflineStack) -> None:
    stack.service.timing.update_seconds = 2000  # the first run's update outlasts its stop
    stack.drop(TRAIN + "stuck.jsonl", manifest("stuck", range(3)))
    stack.runtime.wait_async_idle()
    sfn = stack.client("stepfunctions")
    (stuck,) = stack.executions()
    wait_for(lambda: invocations(stack, "ApplyChunk"))
    sfn.stop_execution(executionArn=stuck["executionArn"], error="Operator", cause="stopped by hand")
    stack.service.timing.update_seconds = 10
    stack.drop(TRAIN + "next.jsonl", manifest("next", range(3, 6)))
    executions = stack.wait_until_idle()
    statuses = {e["name"].split("-")[0]: e["status"] for e in executions}
    assert statuses == {"stuck": "ABORTED", "next": "SUCCEEDED"}
    # the stop ran no Catch: EventBridge's status-change event made the report function alert
    alert = next(r for r in stack.reports() if r["manifest"]["key"].endswith("stuck.jsonl"))
    assert alert["outcome"] == "FAILED" and alert["failure"]["stage"] == "execution"
    assert alert["failure"]["error"] == "ExecutionAborted" and "ended ABORTED" in alert["failure"]["cause"]
