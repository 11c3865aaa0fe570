"""Reconciliation: every line read is accounted for, and the sent images are in the dataset afterwards."""

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pytest

from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.domain.dataset_scan import RunRefs, first_missing, ref_key
from labelsync.domain.entry_errors import entry_source_ref
from labelsync.domain.report import (
    ENTRIES_MISSING,
    LINES_UNACCOUNTED,
    MISSING_SAMPLE,
    NOT_CHECKED,
    applied_lines,
    reconcile,
)
from labelsync.domain.runs import ManifestRef
from labelsync.domain.side_files import SideFile, side_file_items, summarize
from labelsync.usecases import scan_dataset
from labelsync.usecases.plan_run import plan_and_start
from labelsync.usecases.report_run import report_run
from tests.unit.test_usecases import SETTINGS, FakeDatasets, FakeExecutions, FakeNotifier, FakeStore, mark_applied

REFS = [f"s3://img/{n}.jpg" for n in range(1, 7)]
# 8 lines: a blank line, a rejected line, a repeated image (line 2 superseded by line 8), 5 accepted images.
MANIFEST = (
    "\n".join(
        [
            json.dumps({"source-ref": REFS[0]}),
            json.dumps({"source-ref": REFS[1]}),
            "",
            "not json",
            json.dumps({"source-ref": REFS[2]}),
            json.dumps({"source-ref": REFS[3]}),
            json.dumps({"source-ref": REFS[4]}),
            json.dumps({"source-ref": REFS[1], "v": 2}),
        ]
    )
    + "\n"
).encode()
ACCEPTED = REFS[:5]


def planned(body: bytes = MANIFEST, chunk_limit: int | None = None) -> tuple[FakeStore, dict[str, Any]]:
    settings = SETTINGS if chunk_limit is None else dataclasses.replace(SETTINGS, chunk_limit_bytes=chunk_limit)
    key = "incoming/pets/train/m.jsonl"
    store, executions = FakeStore({key: body}), FakeExecutions()
    outcome = plan_and_start(ManifestRef("pipe", key, None, "e"), settings, store, executions)
    state = dict(executions.started[outcome.execution_name])
    if state["plan"]["status"] == "REJECTED":
        return store, state
    return store, mark_applied(store, {**state, "dataset": {"arn": "arn:ds"}})


def run_report(
    store: FakeStore, state: Mapping[str, Any], datasets: FakeDatasets, outcome: str = "COMPLETED"
) -> tuple[dict[str, Any], dict[str, Any]]:
    notifier = FakeNotifier()
    while True:  # as the state machine does: again while the dataset listing goes on
        result = report_run(
            {"outcome": outcome, "executionId": "arn:exec", "state": state},
            store=store,
            datasets=datasets,
            notifier=notifier,
            max_items=10,
        )
        if not result.get("continue"):
            break
    (published,) = notifier.published
    return result, published


@pytest.fixture
def listing_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The presence check lists the dataset however few images the run sent (no lookups)."""
    monkeypatch.setattr(scan_dataset, "LOOKUP_MAX", 0)


@pytest.mark.usefixtures("listing_only")
def test_a_complete_run_balances_and_stops_listing_once_every_image_is_seen() -> None:
    store, state = planned()
    others = [f"s3://other/{n}.jpg" for n in range(500)]
    datasets = FakeDatasets({}, present=[others[0], *reversed(ACCEPTED), *others[1:]])
    datasets.page_size = 1
    result, published = run_report(store, state, datasets)
    assert result["outcome"] == "SUCCEEDED_WITH_ERRORS"  # the rejected line
    assert datasets.listed == 1 + len(ACCEPTED)  # not the 499 entries after the last of this manifest's
    reconciliation = published["message"]["reconciliation"]
    assert reconciliation == {
        "linesRead": 8,
        "accounted": {
            "blank": 1,
            "rejected": 1,
            "superseded": 1,
            "supersededByNewer": 0,
            "unchanged": 0,
            "applied": 5,
            "notApplied": 0,
        },
        "balanced": True,
        "checked": True,
        "missingFromDataset": 0,
        "missingSample": [],
    }
    assert result["reconciliation"] == reconciliation and result["failure"] is None


@pytest.mark.usefixtures("listing_only")
def test_a_missing_image_after_update_complete_is_a_failed_alert() -> None:
    store, state = planned()
    datasets = FakeDatasets({}, present=[REFS[0], REFS[2], REFS[4], "s3://other/x.jpg"])
    datasets.page_size = 1
    result, published = run_report(store, state, datasets)
    assert result["outcome"] == "FAILED"
    assert published["attributes"]["kind"] == "alert" and published["attributes"]["outcome"] == "FAILED"
    message = published["message"]
    assert message["failure"]["stage"] == "reconcile" and message["failure"]["error"] == ENTRIES_MISSING
    assert "2 of the 5 images" in message["failure"]["cause"] and REFS[1] in message["failure"]["cause"]
    assert message["reconciliation"]["missingFromDataset"] == 2
    assert message["reconciliation"]["missingSample"] == [REFS[1], REFS[3]]  # in line order
    assert message["reconciliation"]["balanced"] is True  # the counts add up; the dataset lost them
    assert datasets.listed == 4  # every page read before concluding
    assert "failed in reconcile" in message["summary"]
    stored = json.loads(store.objects[f"{state['run']['prefix']}report.json"])
    assert stored["outcome"] == "FAILED" and stored["reconciliation"] == message["reconciliation"]


def test_a_run_failed_at_a_chunk_counts_only_the_chunks_before_it_as_applied() -> None:
    store, state = planned(chunk_limit=70)  # about one line per chunk
    prefix = state["run"]["prefix"]
    plan = json.loads(store.objects[f"{prefix}plan.json"])
    assert len(plan["chunks"]) >= 3
    for key in [k for k in store.objects if k.startswith(f"{prefix}applied/")][2:]:
        del store.objects[key]  # chunks 0 and 1 completed, chunk 2 failed
    state = {**state, "chunk": 2, "failure": {"Error": "DatasetUpdateFailed", "Cause": "x"}}
    result, published = run_report(store, state, FakeDatasets({}), outcome="FAILED")
    before = sum(c["lines"] for c in plan["chunks"][:2])
    assert result["outcome"] == "FAILED" and published["message"]["failure"]["stage"] == "apply-chunk"
    reconciliation = published["message"]["reconciliation"]
    assert reconciliation["accounted"]["applied"] == before
    assert reconciliation["accounted"]["notApplied"] == 5 - before
    assert reconciliation["balanced"] is True and reconciliation["checked"] is False


def test_a_rejected_manifest_applies_nothing_and_still_balances() -> None:
    store, state = planned(b"not json\n{}\n" + json.dumps({"source-ref": REFS[0]}).encode() + b"\n")
    assert state["plan"]["status"] == "REJECTED"
    result, published = run_report(store, state, FakeDatasets({}), outcome="REJECTED")
    reconciliation = published["message"]["reconciliation"]
    assert result["outcome"] == "REJECTED"
    assert reconciliation["accounted"] == {
        "blank": 0,
        "rejected": 2,
        "superseded": 0,
        "supersededByNewer": 0,
        "unchanged": 0,
        "applied": 0,
        "notApplied": 1,
    }
    assert reconciliation["balanced"] is True and reconciliation["checked"] is False


def test_counts_that_do_not_add_up_fail_a_completed_run() -> None:
    store, state = planned()
    rejects = f"{state['run']['prefix']}rejects.jsonl"
    store.objects[rejects] = b""  # the rejected line is no longer listed anywhere
    result, published = run_report(store, state, FakeDatasets({}, present=ACCEPTED))
    assert result["outcome"] == "FAILED"
    assert published["message"]["failure"]["error"] == LINES_UNACCOUNTED
    assert published["message"]["reconciliation"]["balanced"] is False


def test_run_refs_count_distinct_refs_and_name_the_first_missing_ones() -> None:
    expected = [f"s3://b/{n}" for n in range(50)] * 2
    refs = RunRefs.read(expected)
    assert refs.lines == 100 and len(refs.distinct) == 50 and refs.distinct[0] == ref_key("s3://b/0")
    missing = [key.hex() for key in refs.distinct if key != ref_key("s3://b/3")]
    sample = first_missing(iter(expected), missing, MISSING_SAMPLE)
    assert len(sample) == MISSING_SAMPLE and sample[:4] == ["s3://b/0", "s3://b/1", "s3://b/2", "s3://b/4"]
    long_ref = "s3://b/" + "k" * 1017  # as long as an S3 key gets: the scan holds 16 bytes for it
    assert len(ref_key(long_ref)) == 16 and ref_key(long_ref) != ref_key(long_ref[:-1])


def test_reconcile_flags_an_applied_count_beyond_the_accepted_lines() -> None:
    counts = {"linesRead": 3, "blank": 0, "rejected": 0, "superseded": 0, "accepted": 3}
    assert reconcile(
        counts, applied=3, rejected_lines=SideFile(), superseded_lines=SideFile(), refs=None, check=NOT_CHECKED
    )["balanced"]
    over = reconcile(
        counts, applied=4, rejected_lines=SideFile(), superseded_lines=SideFile(), refs=None, check=NOT_CHECKED
    )
    assert over["balanced"] is False
    refs = reconcile(
        counts,
        applied=3,
        rejected_lines=SideFile(),
        superseded_lines=SideFile(),
        refs=RunRefs.read(["a", "a"]),
        check=NOT_CHECKED,
    )
    assert refs["balanced"] is False  # three lines accepted, two refs recorded


def test_applied_lines_are_the_markers_lines() -> None:
    assert applied_lines([{"chunk": 0, "lines": 7}, {"chunk": 3, "lines": 2}]) == 9
    assert applied_lines([]) == 0


def test_lines_left_out_for_a_newer_manifest_are_accounted_for() -> None:
    counts = {"linesRead": 5, "blank": 0, "rejected": 0, "superseded": 0, "accepted": 5}
    result = reconcile(
        counts,
        applied=3,
        rejected_lines=SideFile(),
        superseded_lines=SideFile(),
        refs=None,
        check=NOT_CHECKED,
        superseded_by_newer=2,
    )
    assert result["balanced"] and result["accounted"]["notApplied"] == 0
    over = reconcile(
        counts,
        applied=4,
        rejected_lines=SideFile(),
        superseded_lines=SideFile(),
        refs=None,
        check=NOT_CHECKED,
        superseded_by_newer=2,
    )
    assert not over["balanced"]


class _Client:
    """ListDatasetEntries pages, by NextToken ("1", "2", ...); records each call's arguments."""

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def list_dataset_entries(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        index = int(kwargs.get("NextToken") or 0)
        page: dict[str, Any] = {"DatasetEntries": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page


def test_adapter_reads_one_page_at_a_time_from_a_token() -> None:
    pages = [
        [json.dumps({"source-ref": "s3://b/1", "x": {"y": 1}}), "not json", json.dumps([1])],
        [json.dumps({"source-ref": 5}), json.dumps({"source-ref": "s3://b/2"})],
        [json.dumps({"source-ref": "s3://b/3"})],
    ]
    client = _Client(pages)
    datasets = RekognitionDatasets(client)
    first = datasets.entry_page("arn:ds", has_errors=False, token=None)
    assert first.entries == pages[0] and first.next_token == "1"
    assert client.calls == [{"DatasetArn": "arn:ds", "MaxResults": 100}]
    last = datasets.entry_page("arn:ds", has_errors=True, token="2")
    assert last.entries == pages[2] and last.next_token is None
    assert client.calls[-1] == {"DatasetArn": "arn:ds", "MaxResults": 100, "HasErrors": True, "NextToken": "2"}
    assert [entry_source_ref(e) for e in pages[0] + pages[1]] == ["s3://b/1", None, None, None, "s3://b/2"]


def test_the_map_level_alert_is_sent_only_when_no_chunk_alerted_for_this_execution() -> None:
    store, state = planned()
    failed = {**state, "chunk": 0, "failure": {"Error": "DatasetUpdateFailed", "Cause": "x"}}
    run_report(store, failed, FakeDatasets({}), outcome="FAILED")  # the child's alert, as execution arn:exec
    notifier = FakeNotifier()
    again = report_run(
        {"outcome": "FAILED", "onlyIfUnreported": True, "executionId": "arn:exec", "state": state},
        store=store,
        datasets=FakeDatasets({}),
        notifier=notifier,
        max_items=10,
    )
    assert again["alreadyReported"] and not notifier.published
    resumed = report_run(  # a resumed execution shares the run's folder: its own failure still alerts
        {"outcome": "FAILED", "onlyIfUnreported": True, "executionId": "arn:exec-r1", "state": state},
        store=store,
        datasets=FakeDatasets({}),
        notifier=notifier,
        max_items=10,
    )
    assert resumed["outcome"] == "FAILED" and len(notifier.published) == 1


def test_an_execution_that_ended_unreported_alerts_once_and_a_reported_one_is_skipped() -> None:
    from labelsync.usecases.report_run import report_execution_end

    store, state = planned()
    notifier = FakeNotifier()
    detail = {"executionArn": "arn:exec", "status": "TIMED_OUT", "input": json.dumps(state)}
    ports: dict[str, Any] = {"store": store, "datasets": FakeDatasets({}), "notifier": notifier, "max_items": 10}
    first = report_execution_end(detail, **ports)
    assert first["outcome"] == "FAILED" and first["failure"]["stage"] == "execution"
    assert first["failure"]["error"] == "ExecutionTimedOut"
    assert report_execution_end(detail, **ports)["skipped"] == "reported by the run itself"
    assert report_execution_end({**detail, "input": "{}"}, **ports)["skipped"] == "not a pipeline run"
    assert len(notifier.published) == 1


def test_a_retried_report_step_does_not_publish_the_same_message_twice() -> None:
    store, state = planned()
    first, _published = run_report(store, state, FakeDatasets({}, present=ACCEPTED))
    notifier = FakeNotifier()
    again = report_run(
        {"outcome": "COMPLETED", "executionId": "arn:exec", "state": state},
        store=store,
        datasets=FakeDatasets({}, present=ACCEPTED),
        notifier=notifier,
        max_items=10,
    )
    assert again["outcome"] == first["outcome"] == "SUCCEEDED_WITH_ERRORS" and not notifier.published


def test_side_files_are_summarized_streaming_with_a_bounded_sample() -> None:
    """250,000 rejected lines (a UTF-16 export at the row limit): a count, a check, the first items only."""
    import io

    lines = b"".join(
        json.dumps(
            {"line": i, "code": "ERROR_INVALID_UTF8", "message": "m", "sourceRef": "s3://b/" + "k" * 2000}
        ).encode()
        + b"\n"
        for i in range(1, 3001)
    )
    summary = summarize(side_file_items(io.BytesIO(lines)), required=("code", "message"))
    assert summary.count == 3000 and summary.complete and len(summary.sample) == 1000
    assert summary.sample[0]["sourceRef"].endswith("(2,007 characters)")  # bounded in memory, whole in the file
    broken = summarize(side_file_items(io.BytesIO(lines + b'{"line": 3001}\nnot json\n')), required=("code", "message"))
    assert broken.count == 3002 and not broken.complete
    assert summarize(side_file_items(io.BytesIO(b"")), required=("code",)).count == 0


def test_few_images_sent_are_looked_up_one_by_one_instead_of_listing_the_dataset() -> None:
    """5 images sent into a dataset of 500 more, one entry a page: 5 lookups (SourceRefContains), not the
    pages up to the last of them; a missing one is found the same way."""
    store, state = planned()
    others = [f"s3://other/{n}.jpg" for n in range(500)]
    datasets = FakeDatasets({}, present=[*others, *ACCEPTED])
    datasets.page_size = 1
    result, published = run_report(store, state, datasets)
    assert (datasets.lookups, datasets.listed) == (len(ACCEPTED), len(ACCEPTED))
    assert published["message"]["reconciliation"]["checked"] and result["failure"] is None
    store, state = planned()
    missing = FakeDatasets({}, present=[*others, *ACCEPTED[1:]])
    result, published = run_report(store, state, missing)
    assert published["message"]["reconciliation"]["missingFromDataset"] == 1
    assert published["message"]["reconciliation"]["missingSample"] == [ACCEPTED[0]]
