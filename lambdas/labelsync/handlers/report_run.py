"""The run's report (success, failure or rejection) to S3 and SNS.

Invoked by the state machine (a task), and by an EventBridge rule for executions that ended
FAILED / TIMED_OUT / ABORTED, which alerts for runs that could not report themselves.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client, table
from labelsync.adapters.dynamodb_ledger import DynamoDBLedger
from labelsync.adapters.eventbridge_events import EventBridgeEvents
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.adapters.sns_notifier import SnsNotifier
from labelsync.handlers.time_budget import half_time_left
from labelsync.observability import (
    ENTRIES_WITH_ERRORS,
    RUN_OUTCOME_METRICS,
    correlate,
    count,
    log_metrics,
    logger,
    manifest_uri,
    tracer,
)
from labelsync.settings import Settings
from labelsync.usecases.report_run import report_execution_end, report_run

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("topic_arn")
    ports: dict[str, Any] = {
        "store": S3Store(client("s3")),
        "datasets": RekognitionDatasets(client("rekognition")),
        "notifier": SnsNotifier(client("sns"), settings.topic_arn),
        "max_items": settings.report_max_errors,
        "ledger": DynamoDBLedger(table(settings.ledger_table)) if settings.ledger_table else None,
        "events": EventBridgeEvents(client("events")),
    }
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:  # the EventBridge rule: an execution ended
        detail = event["detail"]
        correlate(execution=detail.get("executionArn"))
        result = report_execution_end(detail, **ports)
        logger.info("execution ended", extra={"status": detail.get("status"), "result": result})
        if "skipped" in result:
            return result
    else:  # a task of the state machine
        run = (event.get("state") or {}).get("run") or {}
        correlate(execution=event.get("executionId") or run.get("id"), manifest=manifest_uri(run))
        logger.append_keys(outcome=event.get("outcome"))
        result = report_run(event, **ports, time_left=half_time_left(context))
        if result.get("continue"):  # the dataset listing goes on in the next invocation
            logger.info("listing the dataset", extra={"scan": result.get("scan")})
            return result
    outcome = str(result.get("outcome"))
    if outcome in RUN_OUTCOME_METRICS:
        count(RUN_OUTCOME_METRICS[outcome], 1)
    counts = result.get("counts") or {}
    count(ENTRIES_WITH_ERRORS, float(counts.get("entriesWithErrors", 0) or 0))
    logger.info("report published", extra={"report": result})
    reconciliation = result.get("reconciliation") or {}
    if reconciliation.get("missingFromDataset") or reconciliation.get("balanced") is False:
        logger.error("reconciliation failed", extra={"reconciliation": reconciliation})
    return result  # the execution's output (state Done): outcome, failure and reconciliation included
