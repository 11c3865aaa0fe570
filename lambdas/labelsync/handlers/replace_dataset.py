"""State machine task (replace mode, when entries must go): one step of the dataset's rebuild."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.observability import correlate, log_metrics, logger, manifest_uri, tracer
from labelsync.usecases.replace_dataset import replace_dataset


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    correlate(execution=event.get("execution"), manifest=manifest_uri(event["run"]))
    result = replace_dataset(event, store=S3Store(client("s3")), datasets=RekognitionDatasets(client("rekognition")))
    logger.info("replace step", extra={"replace": result})
    return result
