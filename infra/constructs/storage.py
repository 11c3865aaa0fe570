"""The pipeline's bucket: manifests arrive under the incoming prefix, run files go under the work prefix."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra import nag
from infra.config import PipelineConfig

ACCESS_LOG_PREFIX = "pipeline-bucket/"


class PipelineBucket(Construct):
    """Private, TLS-only, encrypted, versioned (event version ids stay readable), access-logged; run files and
    replaced versions expire, current manifests stay."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, key: kms.IKey | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        # S3 delivers server access logs only to an SSE-S3 bucket, so this one never takes the KMS key.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(config.access_log_retention_days))
            ],
        )
        # No AwsSolutions-S1 finding here: cdk-nag exempts a bucket that is another bucket's log destination.
        encryption = (
            {"encryption": s3.BucketEncryption.KMS, "encryption_key": key, "bucket_key_enabled": True}
            if key is not None
            else {"encryption": s3.BucketEncryption.S3_MANAGED}
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # ACLs off: the bucket owner owns every object, whoever wrote it (a labeling job in another
            # account, a CLI upload with a canned ACL), so the pipeline's roles can always read manifests.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRunFiles",
                    prefix=config.work_prefix,
                    expiration=Duration.days(config.work_retention_days),
                    noncurrent_version_expiration=Duration.days(config.work_retention_days),
                ),
                s3.LifecycleRule(
                    # Re-uploaded manifests leave their old versions behind (each was planned when it arrived).
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_retention_days),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    # Large manifests arrive by multipart upload; abandoned parts cost money and show nowhere.
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            **encryption,
        )

    def send_new_manifests_to(self, function: lambda_.IFunction) -> None:
        """Only the incoming prefix is watched: the pipeline writes elsewhere, so it cannot re-trigger itself."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(function),
            s3.NotificationKeyFilter(prefix=self._config.incoming_prefix),
        )
        # CDK's own singleton function that writes the notification configuration (a custom resource).
        for child in Stack.of(self).node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                role = child.node.try_find_child("Role")
                nag.acknowledge(
                    role or child,
                    "IAM4",
                    "CDK's BucketNotificationsHandler (a custom resource that only writes this bucket's "
                    "notification configuration) attaches AWSLambdaBasicExecutionRole itself; CDK offers no "
                    "option to replace it.",
                    finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                )
