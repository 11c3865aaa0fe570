"""The optional customer managed KMS key (context `kmsKey`): bucket, topics, failure queue and ledger table use it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Annotations, Aws, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import PipelineConfig

# What a principal needs to publish to an SSE-KMS topic or queue, or to read and write SSE-KMS objects.
ENCRYPT_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
CLOUDWATCH = "cloudwatch.amazonaws.com"


def table_encryption(key: kms.IKey | None) -> dict[str, Any]:
    """A DynamoDB table's encryption: the pipeline key when there is one, else the AWS managed `aws/dynamodb`."""
    if key is not None:
        return {"encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED, "encryption_key": key}
    return {"encryption": dynamodb.TableEncryption.AWS_MANAGED}


def alarm_conditions(alarm_arns: Sequence[str]) -> dict[str, dict[str, object]]:
    """Confused-deputy guard for the CloudWatch service principal: only this account's alarms, and only
    the ones this stack creates (their ARNs are known from their names, so nothing depends on the alarms)."""
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": list(alarm_arns)},
    }


class PipelineKey(Construct):
    """`none`: AWS owned keys (SSE-S3, SQS-managed; SNS unencrypted). `create`: a rotated key in this stack.
    A key ARN: that key; its key policy must already let this account's roles and CloudWatch alarms use it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.key: kms.IKey | None = None
        self.created: kms.Key | None = None
        if config.kms_key == "create":
            self.created = kms.Key(
                self,
                "Key",
                description="labelsync: pipeline bucket, report and alert topics, failure queue, ledger table",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.key = self.created
        elif config.kms_key != "none":
            self.key = kms.Key.from_key_arn(self, "Key", config.kms_key)
            Annotations.of(self).add_info(
                f"kmsKey {config.kms_key}: its key policy must allow this account's IAM roles and "
                "cloudwatch.amazonaws.com (kms:GenerateDataKey, kms:Decrypt), or alarms cannot notify."
            )

    def allow_alarms(self, alarm_arns: Sequence[str]) -> None:
        """CloudWatch publishes alarm notifications to the encrypted alert topic as the CloudWatch service: SNS
        then needs the key on its behalf. Only for a key this stack creates (an existing key's policy is its
        owner's)."""
        if self.created is None:
            return
        self.created.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=ENCRYPT_ACTIONS,
                resources=["*"],  # in a key policy "*" is this key
                conditions=alarm_conditions(alarm_arns),
            )
        )
