"""The report's dataset listing in bounded steps: budgets, the checkpoint, throttling, the findings kept."""

import json
from typing import Any

import pytest

from labelsync.domain.dataset_scan import DONE, ERRORS, PRESENCE, RunRefs
from labelsync.domain.entry_errors import KEPT_FINDINGS
from labelsync.domain.errors import ServiceThrottledError
from labelsync.domain.runs import RunLayout
from labelsync.ports import EntryPage
from labelsync.usecases import scan_dataset
from labelsync.usecases.scan_dataset import load_state, scan_step, stored_findings
from tests.unit.test_reconciliation import ACCEPTED, planned
from tests.unit.test_usecases import FakeDatasets, FakeNotifier, FakeStore

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:pipe:run-1"


def flagged(ref: str, code: str = "ERROR_INVALID_BOUNDING_BOX") -> str:
    return json.dumps({"source-ref": ref, "errors": [{"code": code, "message": "box outside the image"}]})


def layout_of(state: dict[str, Any]) -> RunLayout:
    return RunLayout(str(state["run"]["prefix"]))


def step(store: FakeStore, state: dict[str, Any], datasets: Any, **kwargs: Any) -> Any:
    return scan_step(
        store=store,
        datasets=datasets,
        bucket="pipe",
        layout=layout_of(state),
        dataset_arn="arn:ds",
        execution=EXECUTION,
        refs=RunRefs.read(ACCEPTED),
        **kwargs,
    )


def test_a_step_stops_at_its_page_budget_and_the_next_goes_on_from_the_token() -> None:
    store, state = planned()
    others = [f"s3://other/{n}.jpg" for n in range(40)]
    datasets = FakeDatasets(
        {}, errored=[flagged(ACCEPTED[0]), flagged("s3://other/x.jpg")], present=[*others, *ACCEPTED]
    )
    datasets.page_size = 5
    first = step(store, state, datasets, max_pages=4)
    assert (first.phase, first.pages, first.steps) == (PRESENCE, 4, 1)  # 1 page of errors, 3 of entries
    assert datasets.listed == 15
    phases = [first.phase]
    while (scan := step(store, state, datasets, max_pages=4)).phase != DONE:
        phases.append(scan.phase)
    assert datasets.listed == len(others) + len(ACCEPTED)  # every page read once, none twice
    assert scan.pages == 1 + 9 and scan.remaining == [] and scan.expected == len(ACCEPTED)
    findings = list(stored_findings(store, "pipe", layout_of(state), scan))
    assert [(f.source_ref, f.code) for f in findings] == [(ACCEPTED[0], "ERROR_INVALID_BOUNDING_BOX")]


def test_a_step_stops_when_its_time_is_used_but_always_reads_one_page() -> None:
    store, state = planned()
    datasets = FakeDatasets({}, present=[f"s3://other/{n}.jpg" for n in range(30)] + ACCEPTED)
    datasets.page_size = 5
    first = step(store, state, datasets, time_left=lambda: False)
    assert first.pages == 1 and first.phase == PRESENCE
    second = step(store, state, datasets, time_left=lambda: False)
    assert second.pages == 2 and datasets.listed == 5


class ThrottledAt(FakeDatasets):
    """Throttled (botocore's retries spent) at the `at`-th call, once."""

    def __init__(self, at: int, **kwargs: Any) -> None:
        super().__init__({}, **kwargs)
        self.calls, self.at = 0, at

    def entry_page(
        self, dataset_arn: str, *, has_errors: bool, token: str | None, source_ref_contains: str | None = None
    ) -> EntryPage:
        self.calls += 1
        if self.calls == self.at:
            raise ServiceThrottledError("ListDatasetEntries throttled")
        return super().entry_page(
            dataset_arn, has_errors=has_errors, token=token, source_ref_contains=source_ref_contains
        )


def test_a_throttled_step_keeps_what_it_read_and_the_retry_goes_on_from_there() -> None:
    store, state = planned()
    errored = [flagged(f"s3://other/{n}.jpg") for n in range(8)] + [flagged(ref) for ref in ACCEPTED[:3]]
    datasets = ThrottledAt(4, errored=errored, present=ACCEPTED)
    datasets.page_size = 3
    with pytest.raises(ServiceThrottledError):
        step(store, state, datasets)
    saved = load_state(store, "pipe", layout_of(state), EXECUTION)
    assert (saved.phase, saved.pages, saved.throttled, saved.token) == (ERRORS, 3, 1, "9")
    assert saved.parts == 1  # ACCEPTED[0] was on page 3: its finding is stored, not lost
    done = step(store, state, datasets)
    assert done.phase == DONE and done.pages == 4 + 2
    refs = [f.source_ref for f in stored_findings(store, "pipe", layout_of(state), done)]
    assert refs == ACCEPTED[:3]  # each once: no page was read twice


def test_a_finished_scan_is_not_listed_again() -> None:
    store, state = planned()
    datasets = FakeDatasets({}, present=ACCEPTED)
    assert step(store, state, datasets).phase == DONE
    listed = datasets.listed
    assert step(store, state, datasets).phase == DONE and datasets.listed == listed


def test_the_report_keeps_the_first_findings_counts_all_and_names_the_files_with_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from labelsync.usecases.report_run import report_run

    monkeypatch.setattr(scan_dataset, "LOOKUP_MAX", 0)  # the listing, in bounded steps

    store, state = planned()
    # Every accepted image with many findings: more than the report keeps.
    per_image = KEPT_FINDINGS // len(ACCEPTED) + 50
    errored = [
        json.dumps({"source-ref": ref, "errors": [{"code": f"E{n}", "message": "bad"} for n in range(per_image)]})
        for ref in ACCEPTED
    ]
    datasets = FakeDatasets({}, errored=errored, present=ACCEPTED)
    datasets.page_size = 2
    notifier, rounds = FakeNotifier(), 0
    while True:
        rounds += 1
        result = report_run(
            {"outcome": "COMPLETED", "executionId": EXECUTION, "state": state},
            store=store,
            datasets=datasets,
            notifier=notifier,
            max_items=10,
            max_pages=2,
        )
        if not result.get("continue"):
            break
        assert not notifier.published  # nothing is published before the listing ends
    assert rounds == 3  # 3 pages of errors, 3 of entries, 2 pages a step
    (published,) = notifier.published
    report = json.loads(store.objects[layout_of(state).report_key])
    total = per_image * len(ACCEPTED)
    assert report["counts"]["entryErrors"] == total and report["counts"]["entriesWithErrors"] == len(ACCEPTED)
    assert len(report["entryErrors"]) == KEPT_FINDINGS
    assert published["message"]["truncated"]["entryErrors"] is True
    prefix = report["entryFindingsUri"].removeprefix("s3://pipe/")
    stored = [
        json.loads(line)
        for key in sorted(store.objects)
        if key.startswith(prefix) and "findings-" in key
        for line in store.objects[key].splitlines()
    ]
    assert len(stored) == total and stored[0] == report["entryErrors"][0]


def test_the_reports_memory_does_not_grow_with_the_length_of_the_refs() -> None:
    """20,000 images with 1,000-character keys are 20 MB of refs: the report holds their digests
    (10 MB peak here; 44 MB when it held the refs as text, which at 250,000 refs outgrew 512 MB)."""
    import tracemalloc

    from labelsync.usecases.report_run import report_run

    refs = [f"s3://b/{n:06d}/" + "k" * 990 for n in range(20_000)]
    body = ("\n".join(json.dumps({"source-ref": ref}) for ref in refs) + "\n").encode()
    store, state = planned(body)
    datasets = FakeDatasets({}, present=refs)
    tracemalloc.start()
    try:
        while report_run(
            {"outcome": "COMPLETED", "executionId": EXECUTION, "state": state},
            store=store,
            datasets=datasets,
            notifier=FakeNotifier(),
            max_items=10,
        ).get("continue"):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    report = json.loads(store.objects[layout_of(state).report_key])
    assert report["reconciliation"]["balanced"] and report["reconciliation"]["missingFromDataset"] == 0
    assert peak < 12_000_000, f"peak {peak:,} bytes for 20 MB of refs"
