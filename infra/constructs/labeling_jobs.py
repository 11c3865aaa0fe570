"""Ground Truth labeling jobs synced when they complete (context `labelingJobs`; absent: nothing is built).

SageMaker sends "SageMaker Ground Truth Labeling Job State Change" to the default bus (SageMaker developer
guide, "Monitor labeling job status"); a rule sends the completed ones to the sync function, which copies
the job's output manifest into the incoming prefix, where the S3 event plans it like any drop. The
pattern is labelsync.labeling_job_routes.state_change_pattern: the offline stack installs the same one.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import PipelineConfig
from infra.constructs.encryption import table_encryption
from infra.constructs.functions import PipelineFunctions
from labelsync.labeling_job_routes import state_change_pattern

# Powertools idempotency's default attribute names (DynamoDBPersistenceLayer).
CLAIM_KEY = "id"
CLAIM_TTL = "expiration"


def job_arn_prefix(scope: Construct) -> str:
    return Stack.of(scope).format_arn(service="sagemaker", resource="labeling-job", resource_name="")


class LabelingJobSync(Construct):
    """The claims table (one item per job being or been copied, expiring after a day), the function and
    the rule. The function's failures (after Lambda's two retries) go to the failed-events queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        functions: PipelineFunctions,
        failures: sqs.IQueue,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.claims = dynamodb.Table(
            self,
            "Claims",
            partition_key=dynamodb.Attribute(name=CLAIM_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=CLAIM_TTL,
            removal_policy=RemovalPolicy.DESTROY,  # claims last a day; the copies themselves are in the bucket
            **table_encryption(key),
        )
        self.function = functions.add_labeling_job_function(config.labeling_jobs, self.claims, failures)
        self.rule = events.CfnRule(
            self,
            "JobCompleted",
            description="Completed Ground Truth labeling jobs that labelingJobs routes to a dataset",
            event_pattern=state_change_pattern(config.labeling_jobs, job_arn_prefix(self)),
            state="ENABLED",
            targets=[events.CfnRule.TargetProperty(id="sync", arn=self.function.function_arn)],
        )
        self.function.add_permission(
            "FromJobCompletedRule",
            principal=iam.ServicePrincipal("events.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_arn=self.rule.attr_arn,
        )

    @property
    def functions(self) -> dict[str, lambda_.IFunction]:
        return {"SyncLabelingJob": self.function}
