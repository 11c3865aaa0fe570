"""S3-triggered entry point: one planned run (one execution) per dropped manifest."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client, table
from labelsync.adapters.dynamodb_ledger import DynamoDBLedger
from labelsync.adapters.s3_store import S3Store
from labelsync.adapters.step_functions import StepFunctionsExecutions
from labelsync.domain.routing import is_folder_marker
from labelsync.domain.runs import ManifestRef, execution_name
from labelsync.observability import correlate, count_plan, log_metrics, logger, tracer
from labelsync.ports import Executions
from labelsync.settings import Settings
from labelsync.usecases.plan_run import plan_and_start


class _StartedRuns:
    """The Executions port, remembering the input of each execution it actually started.

    That input (the state machine's contract) carries the plan's counts, so metrics are
    emitted once per started run and never for a duplicate event.
    """

    def __init__(self, inner: Executions) -> None:
        self._inner = inner
        self.started: list[Mapping[str, Any]] = []

    def exists(self, name: str) -> bool:
        return self._inner.exists(name)

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        started = self._inner.start(name, payload)
        if started:
            self.started.append(payload)
        return started


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("bucket", "state_machine_arn", "ledger_table")
    store = S3Store(client("s3"))
    ledger = DynamoDBLedger(table(settings.ledger_table))
    executions = _StartedRuns(StepFunctionsExecutions(client("stepfunctions"), settings.state_machine_arn))
    runs = []
    for record in event.records:
        obj = record.s3.get_object
        key = unquote_plus(obj.key)  # S3 events carry URL-encoded keys
        if is_folder_marker(key):
            logger.info("ignored folder marker", extra={"key": key})
            continue
        ref = ManifestRef(
            bucket=record.s3.bucket.name,
            key=key,
            version_id=obj.version_id,
            etag=obj.etag or None,
            sequencer=obj.get("sequencer"),
            size=obj.get("size"),
            event_time=record.event_time,
        )
        correlate(execution=execution_name(ref), manifest=ref.uri)
        outcome = plan_and_start(ref, settings, store, executions, ledger)
        logger.append_keys(execution=outcome.execution_name)
        logger.info(outcome.note, extra={"status": outcome.status, "started": outcome.started})
        runs.append(asdict(outcome))
    for payload in executions.started:
        plan = payload.get("plan") or {}
        count_plan({"chunks": plan.get("chunkCount", 0), **(plan.get("counts") or {})})
    return {"runs": runs}
