"""Report step: gather this manifest's entry errors, reconcile, write the full report, publish the message.

After the last chunk (COMPLETED) the step also lists the dataset's entries and checks that every
source-ref this manifest sent is there; a missing one turns the run into a FAILED alert (stage
`reconcile`). The report is published and the step returns normally either way, so the return
value names the outcome for whoever reads the execution's output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from labelsync.domain import turns
from labelsync.domain.completion_event import completion_event
from labelsync.domain.dataset_scan import DONE, MAX_PAGES_PER_STEP, RunRefs
from labelsync.domain.entry_errors import EntryFindings
from labelsync.domain.jsonl import load_lines, utf8_json
from labelsync.domain.report import (
    FAILED,
    NOT_CHECKED,
    applied_lines,
    build_report,
    failure_from_state,
    message_attributes,
    reconcile,
    reconcile_failure,
    structured_message,
)
from labelsync.domain.runs import RunLayout
from labelsync.domain.side_files import side_file_items, side_file_values, summarize
from labelsync.ports import Datasets, Notifier, ObjectStore, RunEvents, RunLedger
from labelsync.usecases.delta_index import read_delta, update_index
from labelsync.usecases.replace_dataset import replace_summary
from labelsync.usecases.scan_dataset import scan_check, scan_progress, scan_step, stored_findings


def report_run(
    event: Mapping[str, Any],
    *,
    store: ObjectStore,
    datasets: Datasets,
    notifier: Notifier,
    max_items: int,
    ledger: RunLedger | None = None,
    events: RunEvents | None = None,
    time_left: Callable[[], bool] = lambda: True,
    max_pages: int = MAX_PAGES_PER_STEP,
) -> dict[str, Any]:
    """Report the run. After the last chunk, list the dataset first, a bounded step per invocation:
    until that listing is done the step returns `continue: true` (nothing is published yet) and the
    state machine invokes it again (`time_left`: False once this invocation should stop reading)."""
    requested = str(event["outcome"])
    state: Mapping[str, Any] = event.get("state") or {}
    run = state["run"]
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    if event.get("onlyIfUnreported") and _reported(store, bucket, layout, str(event.get("executionId", ""))):
        return {"outcome": FAILED, "reportUri": f"s3://{bucket}/{layout.report_key}", "alreadyReported": True}
    plan = json.loads(store.get_bytes(bucket, layout.plan_key))
    dataset = state.get("dataset") or {}
    dataset_arn = dataset.get("arn") or state.get("datasetArn")
    delta = read_delta(store, bucket, layout)
    replaced = replace_summary(store, bucket, layout, delta.decision)
    if replaced and (replaced.get("datasetArn") or replaced.get("restoredDatasetArn")):
        # A rebuild ended: the dataset is the new one (or the old entries restored), the old ARN is gone.
        dataset_arn = replaced.get("datasetArn") or replaced.get("restoredDatasetArn")

    entry_findings = EntryFindings()
    refs: RunRefs | None = None
    check = NOT_CHECKED
    side_files = {
        "rejectsUri": f"s3://{bucket}/{layout.rejects_key}",
        "supersededUri": f"s3://{bucket}/{layout.superseded_key}",
    }
    if requested == "COMPLETED" and dataset_arn:

        def recorded() -> Iterator[str]:  # one JSON string a line, streamed: refs reach 1,024 bytes each
            return (str(ref) for ref in side_file_values(store.open(bucket, layout.source_refs_key)))

        refs = RunRefs.read(recorded())
        execution = str(event.get("executionId", ""))
        scan = scan_step(
            store=store,
            datasets=datasets,
            bucket=bucket,
            layout=layout,
            dataset_arn=str(dataset_arn),
            execution=execution,
            refs=refs,
            sent=refs.without(delta.unchanged_refs),  # unchanged lines were not sent: nothing to look for
            texts=recorded,
            time_left=time_left,
            max_pages=max_pages,
        )
        if scan.phase != DONE:
            return {"outcome": "PENDING", "continue": True, "scan": scan_progress(scan)}
        entry_findings = EntryFindings.collect(stored_findings(store, bucket, layout, scan))
        check = scan_check(scan, recorded)
        side_files["entryFindingsUri"] = f"s3://{bucket}/{layout.scan_prefix(execution)}"

    # Streamed: a count, a completeness check and the first items; the files keep every line.
    rejected = summarize(side_file_items(store.open(bucket, layout.rejects_key)), required=("code", "message"))
    superseded = summarize(
        side_file_items(store.open(bucket, layout.superseded_key)), required=("sourceRef", "supersededBy")
    )
    turn = state.get("turn") or {}
    held_turn = bool(turn.get("granted")) or state.get("chunk") is not None  # a chunk's child state has no turn
    if event.get("executionEnded") and ledger is not None and state.get("target"):
        held_turn = ledger.lock(str(state["target"]["key"])).holder == str(run["id"])
    by_newer = list(load_lines(store.get_bytes(bucket, layout.superseded_by_newer_key))) if held_turn else []
    markers = [json.loads(store.get_bytes(bucket, key)) for key in store.keys(bucket, layout.applied_prefix)]
    reconciliation = reconcile(
        plan.get("counts") or {},
        applied=applied_lines(markers),
        rejected_lines=rejected,
        superseded_lines=superseded,
        refs=refs,
        check=check,
        superseded_by_newer=len(by_newer),
        unchanged=delta.unchanged,
        complete=requested == "COMPLETED",
    )
    failure = failure_from_state(state) if requested == FAILED else None
    index_note = None
    if requested == "COMPLETED":
        failure = reconcile_failure(reconciliation, check)
        if failure is None and dataset_arn:
            index_note = update_index(
                store,
                bucket,
                layout,
                delta=delta,
                markers=markers,
                dataset_arn=str(dataset_arn),
                split=bool(plan.get("splits")),
                flagged=entry_findings.flagged,
            )

    report = build_report(
        requested=requested,
        execution_id=str(event.get("executionId", "")),
        plan=plan,
        dataset_arn=dataset_arn,
        entry_findings=entry_findings,
        rejected_lines=rejected.sample,
        superseded_lines=superseded.sample,
        failure=failure,
        report_uri=f"s3://{bucket}/{layout.report_key}",
        reconciliation=reconciliation,
        superseded_by_newer=by_newer,
        resume={"resumedFrom": turn["resumedFrom"], "skippedChunks": turn.get("skipped") or []}
        if turn.get("resumedFrom")
        else None,
        side_files=side_files,
        delta=delta.as_report(index_note) if delta.decision else None,
        replace=replaced,
    )
    store.put_bytes(bucket, layout.report_key, utf8_json(report, indent=1))
    if ledger is not None and state.get("target") and held_turn:
        _close_turn(ledger, state, report["outcome"])
    _announce(store, bucket, layout, str(event.get("executionId", "")), requested, report, notifier, events, max_items)
    return {
        "outcome": report["outcome"],
        "reportUri": report["reportUri"],
        "counts": report["counts"],
        "failure": report["failure"],
        "reconciliation": reconciliation,
    }


def _announce(
    store: ObjectStore,
    bucket: str,
    layout: RunLayout,
    execution: str,
    requested: str,
    report: Mapping[str, Any],
    notifier: Notifier,
    events: RunEvents | None,
    max_items: int,
) -> None:
    """The SNS message for people, then the completion event for machines, each once: a retried
    report step (it died after one of them) sends only what is not marked as sent."""
    sent = layout.published_key(execution, requested)
    if not store.keys(bucket, sent):
        notifier.publish(
            subject=f"Custom Labels sync {report['outcome']}",
            message=structured_message(report, max_items=max_items),
            attributes=message_attributes(report),
            structured=True,
        )
        store.put_bytes(bucket, sent, b"")
    emitted = layout.event_key(execution, requested)
    if events is not None and not store.keys(bucket, emitted):
        detail_type, detail = completion_event(report)
        dataset_arn = report.get("datasetArn")
        events.emit(detail_type=detail_type, detail=detail, resources=[str(dataset_arn)] if dataset_arn else [])
        store.put_bytes(bucket, emitted, b"")


def _close_turn(ledger: RunLedger, state: Mapping[str, Any], outcome: str) -> None:
    """Mark the ticket and hand the dataset to the next run; a FAILED run stays resumable."""
    me = turns.ticket_of(state["run"], state["target"], execution="")
    complete = outcome != FAILED
    ledger.set_status(me, turns.DONE if complete else turns.FAILED)
    ledger.release(me.dataset, me.run, last=turns.LastRun(me.run, me.prefix, me.digest, complete))


def _reported(store: ObjectStore, bucket: str, layout: RunLayout, execution: str) -> bool:
    """This execution's report (or a chunk's FAILED alert for it) is written already (a resume shares the folder)."""
    if layout.report_key not in store.keys(bucket, layout.report_key):
        return False
    return bool(json.loads(store.get_bytes(bucket, layout.report_key)).get("execution") == execution)


ENDED_ERRORS = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut", "FAILED": "ExecutionFailed"}


def report_execution_end(
    detail: Mapping[str, Any],
    *,
    store: ObjectStore,
    datasets: Datasets,
    notifier: Notifier,
    max_items: int,
    ledger: RunLedger | None = None,
    events: RunEvents | None = None,
) -> dict[str, Any]:
    """An execution ended FAILED / TIMED_OUT / ABORTED (EventBridge): alert unless it reported itself.

    A stopped or timed-out execution runs no Catch, and a run whose report step failed could
    not write its report: this is their alert, and it hands the dataset's turn on.
    """
    arn, status = str(detail["executionArn"]), str(detail["status"])
    payload = json.loads(detail.get("input") or "{}")
    run = payload.get("run") if isinstance(payload, dict) else None
    if not run:
        return {"skipped": "not a pipeline run", "execution": arn}
    if _reported(store, str(run["bucket"]), RunLayout(str(run["prefix"])), arn):
        return {"skipped": "reported by the run itself", "execution": arn}
    cause = detail.get("cause") or detail.get("error") or "no report was written"
    failure = {"Error": ENDED_ERRORS.get(status, "ExecutionFailed"), "Cause": f"the execution ended {status}: {cause}"}
    return report_run(
        {"outcome": FAILED, "executionId": arn, "executionEnded": True, "state": {**payload, "failure": failure}},
        store=store,
        datasets=datasets,
        notifier=notifier,
        max_items=max_items,
        ledger=ledger,
        events=events,
    )
