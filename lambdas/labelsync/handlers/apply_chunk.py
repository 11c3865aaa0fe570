"""State machine task: send one planned chunk with UpdateDatasetEntries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.rekognition_datasets import RekognitionDatasets
from labelsync.adapters.s3_store import S3Store
from labelsync.observability import BYTES_SENT, CHUNKS_SENT, correlate, count, log_metrics, logger, manifest_uri, tracer
from labelsync.usecases.apply_chunk import apply_chunk


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run, chunk = event["run"], int(event["chunk"])
    correlate(execution=run.get("id"), manifest=manifest_uri(run), chunk=chunk)
    result = apply_chunk(
        run, str(event["datasetArn"]), chunk, S3Store(client("s3")), RekognitionDatasets(client("rekognition"))
    )
    count(CHUNKS_SENT, 1)
    count(BYTES_SENT, float(result.get("bytes", 0)), MetricUnit.Bytes)
    logger.info("chunk sent", extra={"applied": result})
    return result
