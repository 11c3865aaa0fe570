"""The pipeline's bucket: manifests arrive under the incoming prefix, run files go under the work prefix."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.config import PipelineConfig


class PipelineBucket(Construct):
    """Private, TLS-only, versioned (event version ids stay readable); run files expire, manifests stay."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRunFiles",
                    prefix=config.work_prefix,
                    expiration=Duration.days(config.work_retention_days),
                    noncurrent_version_expiration=Duration.days(config.work_retention_days),
                ),
                s3.LifecycleRule(
                    # Large manifests arrive by multipart upload; abandoned parts cost money and show nowhere.
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
        )

    def send_new_manifests_to(self, function: lambda_.IFunction) -> None:
        """Only the incoming prefix is watched: the pipeline writes elsewhere, so it cannot re-trigger itself."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(function),
            s3.NotificationKeyFilter(prefix=self._config.incoming_prefix),
        )
