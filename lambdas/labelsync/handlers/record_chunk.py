"""State machine task: mark a chunk applied and learn how long its update took."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client, table
from labelsync.adapters.dynamodb_ledger import DynamoDBLedger
from labelsync.adapters.s3_store import S3Store
from labelsync.observability import DESCRIBE_POLLS, UPDATE_SECONDS, correlate, count, log_metrics, logger, tracer
from labelsync.settings import Settings
from labelsync.usecases.record_chunk import record_chunk


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("ledger_table")
    correlate(execution=event["run"].get("id"), chunk=event.get("chunk"))
    marker = record_chunk(event, store=S3Store(client("s3")), ledger=DynamoDBLedger(table(settings.ledger_table)))
    count(DESCRIBE_POLLS, float(marker["polls"]))
    count(UPDATE_SECONDS, float(marker["waitedSeconds"]), MetricUnit.Seconds)
    logger.info("chunk applied", extra={"marker": marker})
    return marker
