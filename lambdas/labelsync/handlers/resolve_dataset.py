"""State machine task: the routed project's dataset ARN, looked up (and created) at run time."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.observability import correlate, log_metrics, logger, tracer
from labelsync.settings import Settings
from labelsync.usecases.resolve_dataset import planned_labels, resolve_dataset


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    target = event["target"]
    # The task input carries only the target: the execution's X-Ray trace id (on every log line) links it.
    correlate(project=target.get("project"), dataset_type=target.get("datasetType"))
    labels = planned_labels(S3Store(client("s3")), event.get("run"))
    projects = Settings.from_env(os.environ).projects  # its own allow-list, not target.createMissing
    result = resolve_dataset(target, RekognitionDatasets(client("rekognition")), labels, projects=projects)
    logger.info("dataset resolved", extra={"dataset": result})
    return result
