"""The report topic (every run outcome and the run's own alerts) and the alert topic (CloudWatch alarms)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import Subscription
from infra.constructs.encryption import CLOUDWATCH, alarm_conditions


class ReportTopic(Construct):
    """Messages carry outcome/kind/project/datasetType attributes; publishers must use TLS.

    Its publishers are this account's report function and state machine roles: their identity policies allow
    `sns:Publish` on it, which is enough within one account, so the topic policy only denies plain HTTP.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Topic", display_name="Custom Labels sync reports", enforce_ssl=True, master_key=key
        )


class AlertTopic(Construct):
    """Alarm notifications (failed/timed-out executions, failed S3 events, rejected lines, function errors).

    A topic policy replaces SNS's default one, and CloudWatch publishes as a service principal, not with a
    role of this account: without an Allow for it every alarm action fails ("not authorized to perform:
    SNS:Publish"). `allow_alarms` adds it, limited to this stack's alarms.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Topic", display_name="Custom Labels sync alarms", enforce_ssl=True, master_key=key
        )

    def allow_alarms(self, alarm_arns: Sequence[str]) -> None:
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarm_conditions(alarm_arns),
            )
        )


def subscribe(scope: Construct, topics: dict[str, sns.ITopic], subscriptions: tuple[Subscription, ...]) -> None:
    """One AWS::SNS::Subscription per context entry. Email and HTTPS endpoints must confirm; an SQS queue's
    policy (and its KMS key, if any) must let this topic send to it."""
    for item in subscriptions:
        # Named after what it is, not its position: reordering the context list replaces nothing.
        digest = hashlib.sha256(item.endpoint.encode("utf-8")).hexdigest()[:8]
        sns.CfnSubscription(
            scope,
            f"{item.topic.title()}{item.protocol.title()}{digest}",
            topic_arn=topics[item.topic].topic_arn,
            protocol=item.protocol,
            endpoint=item.endpoint,
            filter_policy=dict(item.filter_policy) if item.filter_policy else None,
            filter_policy_scope="MessageAttributes" if item.filter_policy else None,
        )
