"""The run ledger: one DynamoDB table holding each dataset's run queue, lock and update timings.

Layout (lambdas/labelsync/adapters/dynamodb_ledger.py): partition key `dataset`, sort key `entry`
(`lock`, `timings`, `run#<write order>`); run tickets carry `expiresAt` (epoch seconds), which
DynamoDB's TTL deletes. No index: every read is a GetItem or a Query on one dataset.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constructs.encryption import table_encryption

PARTITION_KEY = "dataset"
SORT_KEY = "entry"
TTL_ATTRIBUTE = "expiresAt"


class LedgerTable(Construct):
    """On-demand, point-in-time recovery, TTL on `expiresAt`; encrypted with the pipeline key when there is
    one (context `kmsKey`), else with the AWS managed key `aws/dynamodb`. Retained on stack deletion, like
    the bucket: it holds the locks and the learned update timings of datasets that outlive the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
            **table_encryption(key),
        )
