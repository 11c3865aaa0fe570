"""The offline runtime holds each function to its deployed limits, as Lambda does: a handler past its
MemorySize is killed (Runtime.ExitError), one past its timeout too (Sandbox.Timedout), and the state
machine's Retry/Catch paths take over. The report's dataset listing, given little time and slow pages,
runs in bounded steps that each stay inside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.function_specs import REPLACE_DATASET, REPORT, TASK_FUNCTIONS
from labelsync.event_contract import RUN_FAILED
from offline.stack import OfflineConfig, OfflineStack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
CLEAN = EXAMPLES / "pets-clean.jsonl"
BARE_SUBJECT = "Custom Labels sync FAILED (no report)"


def sandboxed(**overrides: object) -> Iterator[OfflineStack]:
    config = OfflineConfig(time_scale=0.001, sandboxed=True, **overrides)  # type: ignore[arg-type]
    with OfflineStack(config) as stack:
        stack.create_project("demo-project", ["TRAIN"])
        yield stack


@pytest.fixture
def tight_report() -> Iterator[OfflineStack]:
    yield from sandboxed(memory_mb={REPORT.name: 64})


@pytest.fixture
def slow_listing() -> Iterator[OfflineStack]:
    yield from sandboxed(timeout_seconds={REPORT.name: 60})


def test_a_handler_past_its_memory_size_is_killed_and_the_state_machine_alerts(tight_report: OfflineStack) -> None:
    stack = tight_report
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle(timeout=120)
    reports = [i for i in stack.runtime.invocations if i.function.endswith(REPORT.name)]
    assert reports and all(i.error is not None for i in reports)
    assert {i.error["errorType"] for i in reports if i.error} == {"Runtime.ExitError"}
    assert all("Runtime exited with error: signal: killed" in str(i.error) for i in reports)
    assert all(i.peak_rss_mb is not None and i.peak_rss_mb >= 64 for i in reports)
    # Retried (Runtime.ExitError, twice) and caught: the run fails with the state machine's own alert and event.
    assert execution["status"] == "FAILED" and execution["error"] == "ReportFailed"
    assert [m["Subject"] for m in stack.messages()] == [BARE_SUBJECT]
    assert [e["detail-type"] for e in stack.completion_events()] == [RUN_FAILED]
    # Every other function ran inside its limits, and says how much it used.
    for invocation in stack.runtime.invocations:
        if not invocation.function.endswith(REPORT.name):
            assert invocation.error is None and invocation.peak_rss_mb is not None
            assert 20 < invocation.peak_rss_mb < invocation.memory_mb


def test_a_handler_past_its_timeout_is_timed_out_and_retried(slow_listing: OfflineStack) -> None:
    stack = slow_listing
    stack.service.faults.set_rates("ListDatasetEntries", latency_seconds=70)  # one page outlasts the 60 s
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)
    (execution,) = stack.wait_until_idle(timeout=120)
    reports = [i for i in stack.runtime.invocations if i.function.endswith(REPORT.name)]
    timed_out = [i for i in reports if i.error]
    assert len(timed_out) == 3  # the first try and the state machine's two retries (Sandbox.Timedout)
    assert {i.error["errorType"] for i in timed_out if i.error} == {"Sandbox.Timedout"}
    assert all("Task timed out after 60.00 seconds" in str(i.error) for i in timed_out)
    assert all(i.aws_seconds > 60 and i.seconds < 10 for i in timed_out)  # simulated latency, charged
    # Caught: ReportFailure writes the FAILED report (it lists nothing, so it fits) naming the timeout.
    (report,) = stack.reports()
    assert report["outcome"] == "FAILED" and report["failure"]["error"] == "Sandbox.Timedout"
    assert report["failure"]["stage"] == "report" and execution["status"] == "FAILED"


def test_the_report_lists_a_slow_dataset_in_steps_that_each_stay_inside_the_timeout(
    slow_listing: OfflineStack,
) -> None:
    stack = slow_listing
    lines = CLEAN.read_text().splitlines()
    body = "\n".join(
        line.replace("/pets/img-0", f"/many/{n:04d}/img-0") for n in range(60) for line in lines
    )  # 360 images: 4 pages of entries
    stack.drop("incoming/demo-project/train/many.jsonl", (body + "\n").encode())
    stack.wait_until_idle(timeout=120)
    stack.service.faults.set_rates("ListDatasetEntries", latency_seconds=20)  # the 2nd page passes half of 60 s
    stack.drop("incoming/demo-project/train/pets-clean.jsonl", CLEAN)  # its 6 images come last
    stack.wait_until_idle(timeout=120)
    (report,) = [r for r in stack.reports() if r["manifest"]["key"].endswith("pets-clean.jsonl")]
    assert report["outcome"] == "SUCCEEDED" and report["reconciliation"]["checked"]
    assert report["reconciliation"]["missingFromDataset"] == 0
    steps = [
        i
        for i in stack.runtime.invocations
        if i.function.endswith(REPORT.name) and (i.event or {}).get("executionId") == report["execution"]
    ]
    assert len(steps) >= 3 and all(i.error is None for i in steps)  # listed in several invocations
    assert all((i.result or {}).get("continue") for i in steps[:-1]) and "continue" not in (steps[-1].result or {})
    assert max(i.aws_seconds for i in steps) < 0.8 * 60  # none near its timeout
    assert sum(i.charged_seconds for i in steps) > 60  # one invocation could not have listed it all


def test_every_function_runs_in_its_own_warm_worker(tight_report: OfflineStack) -> None:
    stack = tight_report
    for name in ("a", "b"):
        stack.drop(f"incoming/demo-project/train/{name}.jsonl", CLEAN)
        stack.wait_until_idle(timeout=120)
    # A replace without the first image: the dataset is rebuilt (ReplaceDataset, held to its 512 MB too).
    kept = CLEAN.read_bytes().splitlines(keepends=True)[1:]
    stack.drop("incoming/demo-project/train/replace/c.jsonl", b"".join(kept))
    stack.wait_until_idle(timeout=120)
    rebuilt = [i for i in stack.runtime.invocations if i.function.endswith(REPLACE_DATASET.name)]
    assert rebuilt and all(i.error is None for i in rebuilt) and (rebuilt[-1].result or {}).get("done")
    sandboxes = stack.runtime._sandboxes
    names = {spec.name for spec in TASK_FUNCTIONS} - {REPORT.name}
    assert {name.removeprefix("labelsync-") for name in sandboxes} >= names | {"PlanManifest"}
    assert all(
        box.cold_starts == 1 for name, box in sandboxes.items() if not name.endswith(REPORT.name)
    )  # reused while warm; the killed one started again
    assert sandboxes[f"labelsync-{REPORT.name}"].cold_starts > 1
