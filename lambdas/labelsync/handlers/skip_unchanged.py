"""State machine task (after the dataset is ready): leave out the lines the dataset holds unchanged."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.handlers.time_budget import half_time_left
from labelsync.observability import correlate, log_metrics, logger, manifest_uri, tracer
from labelsync.settings import Settings
from labelsync.usecases.skip_unchanged import skip_unchanged


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    correlate(execution=event.get("execution"), manifest=manifest_uri(event["run"]))
    result = skip_unchanged(
        event,
        store=S3Store(client("s3")),
        datasets=RekognitionDatasets(client("rekognition")),
        work_prefix=settings.work_prefix,
        enabled=settings.delta_sync,
        chunk_limit=settings.chunk_limit_bytes,
        time_left=half_time_left(context),
        max_removed_percent=settings.replace_max_removed_percent,
    )
    logger.info("unchanged lines left out", extra={"delta": result})
    return result
