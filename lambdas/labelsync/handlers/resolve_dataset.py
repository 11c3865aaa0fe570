"""State machine task: the routed project's dataset ARN, looked up (and created) at run time."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.observability import correlate, log_metrics, logger, tracer
from labelsync.usecases.resolve_dataset import resolve_dataset


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    target = event["target"]
    # The task input carries only the target: the execution's X-Ray trace id (on every log line) links it.
    correlate(project=target.get("project"), dataset_type=target.get("datasetType"))
    result = resolve_dataset(target, RekognitionDatasets(client("rekognition")))
    logger.info("dataset resolved", extra={"dataset": result})
    return result
