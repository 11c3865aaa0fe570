"""The on-failure destination of the plan function (S3 events) and of the labeling-job sync (completed jobs'
events): invocations that still failed after Lambda's retries."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag


class FailedEventsQueue(Construct):
    """Encrypted (SQS-managed, or the pipeline key), TLS only, kept 14 days; an alarm fires while it is not empty.

    Each message is Lambda's invocation record with the original event and the error: once the cause is
    fixed, drop the manifest again (or re-invoke the function with `requestPayload`), then delete the message.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        encryption = (
            {"encryption": sqs.QueueEncryption.KMS, "encryption_master_key": key}
            if key is not None
            else {"encryption": sqs.QueueEncryption.SQS_MANAGED}
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            enforce_ssl=True,
            retention_period=Duration.days(14),
            **encryption,
        )
        nag.acknowledge(
            self.queue,
            "SQS3",
            "This queue is itself the dead-letter destination (Lambda on-failure destination of the plan "
            "function); nothing consumes it automatically, so a redrive DLQ behind it would never receive.",
        )
