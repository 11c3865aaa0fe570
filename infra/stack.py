"""The one stack: bucket -> plan function -> state machine (resolve, apply, report) -> report topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack
from constructs import Construct

from infra.config import PipelineConfig
from infra.constructs import PipelineBucket, PipelineFunctions, PipelineWorkflow, ReportTopic


class LabelSyncStack(Stack):
    """Environment-agnostic (region and account stay tokens), so synth needs no credentials."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = PipelineConfig.from_context(self.node)
        self.config = config
        if not config.projects:
            Annotations.of(self).add_warning_v2(
                "labelsync:no-projects",
                "No project is configured (context 'projects' is empty): every manifest will be rejected "
                "and the functions get no Rekognition permissions.",
            )

        storage = PipelineBucket(self, "Storage", config=config)
        reports = ReportTopic(self, "Reports")
        functions = PipelineFunctions(self, "Functions", config=config, bucket=storage.bucket, topic=reports.topic)
        workflow = PipelineWorkflow(
            self,
            "Workflow",
            config=config,
            resolve=functions.resolve,
            apply=functions.apply,
            report=functions.report,
        )
        plan = functions.add_plan_function(workflow.state_machine)
        storage.send_new_manifests_to(plan)

        self.bucket = storage.bucket
        self.topic = reports.topic
        self.state_machine = workflow.state_machine
        self.functions = functions

        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name, description="Drop manifests here")
        CfnOutput(
            self,
            "IncomingPrefix",
            value=config.incoming_prefix,
            description="Manifests go under <prefix><project>/<train|test>/",
        )
        CfnOutput(self, "ReportTopicArn", value=reports.topic.topic_arn, description="Subscribe for run reports")
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
