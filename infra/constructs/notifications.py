"""The report topic: every run outcome and alert, with attributes subscribers can filter on."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from constructs import Construct


class ReportTopic(Construct):
    """Messages carry outcome/project/datasetType attributes; publishers must use TLS."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="Custom Labels sync reports", enforce_ssl=True)
