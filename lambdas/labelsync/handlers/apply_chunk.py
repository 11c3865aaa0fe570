"""State machine task: send one planned chunk with UpdateDatasetEntries, and say when to look again."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client, table
from labelsync.adapters.dynamodb_ledger import DynamoDBLedger
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.domain.poll_schedule import PollPolicy, UpdateHistory, expected_duration, poll_schedule
from labelsync.observability import BYTES_SENT, CHUNKS_SENT, correlate, count, log_metrics, logger, manifest_uri, tracer
from labelsync.settings import Settings
from labelsync.usecases.apply_chunk import apply_chunk


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("ledger_table")
    run, chunk = event["run"], int(event["chunk"])
    correlate(execution=run.get("id"), manifest=manifest_uri(run), chunk=chunk)
    poll = settings.poll
    policy = PollPolicy(
        initial_seconds=poll.initial_seconds, max_seconds=poll.max_seconds, timeout_seconds=poll.timeout_seconds
    )
    ledger = DynamoDBLedger(table(settings.ledger_table))
    history = UpdateHistory.from_json(ledger.load_timings(str(event.get("datasetKey") or "")))

    def schedule(size: int, lines: int) -> list[int]:
        return poll_schedule(expected_duration(history, size, lines), policy)

    result = apply_chunk(
        run,
        str(event["datasetArn"]),
        chunk,
        S3Store(client("s3")),
        RekognitionDatasets(client("rekognition")),
        schedule=schedule,
        key=event.get("key"),
        parts=event.get("parts") or (),
    )
    count(CHUNKS_SENT, 1)
    count(BYTES_SENT, float(result.get("bytes", 0)), MetricUnit.Bytes)
    logger.info("chunk sent", extra={"applied": {k: v for k, v in result.items() if k != "wait"}})
    return result
