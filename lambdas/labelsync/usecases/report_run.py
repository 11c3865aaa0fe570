"""Report step: gather this manifest's entry errors, write the full report, publish the message."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from labelsync.domain.entry_errors import EntryError, errors_for_refs
from labelsync.domain.jsonl import load_lines
from labelsync.domain.report import (
    FAILED,
    build_report,
    failure_from_state,
    message_attributes,
    message_from_report,
)
from labelsync.domain.runs import RunLayout
from labelsync.ports import Datasets, Notifier, ObjectStore


def report_run(
    event: Mapping[str, Any],
    *,
    store: ObjectStore,
    datasets: Datasets,
    notifier: Notifier,
    max_items: int,
) -> dict[str, Any]:
    requested = str(event["outcome"])
    state: Mapping[str, Any] = event.get("state") or {}
    run = state["run"]
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    plan = json.loads(store.get_bytes(bucket, layout.plan_key))
    dataset = state.get("dataset") or {}
    dataset_arn = dataset.get("arn") or state.get("datasetArn")

    entry_errors: list[EntryError] = []
    if requested == "COMPLETED" and dataset_arn:
        refs = set(load_lines(store.get_bytes(bucket, layout.source_refs_key)))
        entry_errors = list(errors_for_refs(datasets.entries_with_errors(dataset_arn), refs))

    report = build_report(
        requested=requested,
        execution_id=str(event.get("executionId", "")),
        plan=plan,
        dataset_arn=dataset_arn,
        entry_errors=entry_errors,
        rejected_lines=list(load_lines(store.get_bytes(bucket, layout.rejects_key))),
        superseded_lines=list(load_lines(store.get_bytes(bucket, layout.superseded_key))),
        failure=failure_from_state(state) if requested == FAILED else None,
        report_uri=f"s3://{bucket}/{layout.report_key}",
    )
    store.put_bytes(bucket, layout.report_key, json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8"))
    notifier.publish(
        subject=f"Custom Labels sync {report['outcome']}",
        message=message_from_report(report, max_items=max_items),
        attributes=message_attributes(report),
    )
    return {"outcome": report["outcome"], "reportUri": report["reportUri"], "counts": report["counts"]}
