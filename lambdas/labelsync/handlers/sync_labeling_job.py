"""EventBridge target: a Ground Truth labeling job completed; copy its output manifest into our bucket.

SageMaker may send several events for one state change. Powertools idempotency claims each job ARN in
a DynamoDB table (a conditional write), so concurrent duplicates copy once; the copy also records the
job on the object, so a duplicate after the claim expired is recognised too.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client
from labelsync.adapters.s3_store import S3ManifestCopies
from labelsync.adapters.sagemaker_jobs import SageMakerLabelingJobs
from labelsync.labeling_job_routes import parse_labeling_jobs
from labelsync.observability import logger, tracer
from labelsync.settings import ENV_CLAIMS_TABLE, ENV_LABELING_JOBS, Settings, SettingsError
from labelsync.usecases.sync_labeling_job import sync_labeling_job

# A job name is never reused in an account and region, so a claim need not last long: a day covers
# SageMaker's repeated events and Lambda's retries; later repeats find the copy's recorded job.
CLAIM_SECONDS = 86_400


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("bucket")
    table = os.environ.get(ENV_CLAIMS_TABLE, "")
    if not table:
        raise SettingsError(f"missing pipeline settings: {ENV_CLAIMS_TABLE}")
    routes = parse_labeling_jobs(os.environ.get(ENV_LABELING_JOBS, "[]"), where=ENV_LABELING_JOBS)
    resources = event.get("resources") or []
    if len(resources) != 1:
        raise ValueError(f"a labeling job state change names one job in resources, got {resources!r}")
    job_arn = str(resources[0])
    logger.append_keys(labeling_job=job_arn)

    config = IdempotencyConfig(expires_after_seconds=CLAIM_SECONDS)
    config.register_lambda_context(context)  # an unfinished claim expires with this invocation's time

    @idempotent_function(
        data_keyword_argument="job_arn",
        persistence_store=DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb")),
        config=config,
        key_prefix="labeling-job",
    )
    def sync(job_arn: str) -> dict[str, Any]:
        return sync_labeling_job(
            job_arn,
            routes=routes,
            jobs=SageMakerLabelingJobs(client("sagemaker")),
            copies=S3ManifestCopies(client("s3")),
            bucket=settings.bucket,
            incoming_prefix=settings.incoming_prefix,
        )

    result: dict[str, Any] = sync(job_arn=job_arn)
    logger.info("labeling job synced" if result["outcome"] == "COPIED" else "labeling job not copied", extra=result)
    return result
