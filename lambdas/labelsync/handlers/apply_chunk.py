"""State machine task: send one planned chunk with UpdateDatasetEntries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.usecases.apply_chunk import apply_chunk

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run, chunk = event["run"], int(event["chunk"])
    logger.append_keys(execution=run.get("id"), chunk=chunk)
    result = apply_chunk(
        run, str(event["datasetArn"]), chunk, S3Store(client("s3")), RekognitionDatasets(client("rekognition"))
    )
    logger.info("chunk sent", extra={"applied": result})
    return result
