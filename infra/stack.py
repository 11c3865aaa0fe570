"""The one stack: bucket -> plan function -> state machine (resolve, apply, report) -> report topic,
plus the failure queue, alarms to the alert topic and a dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack
from constructs import Construct

from infra.config import PipelineConfig
from infra.constructs import (
    AlertTopic,
    FailedEventsQueue,
    PipelineBucket,
    PipelineFunctions,
    PipelineKey,
    PipelineMonitoring,
    PipelineWorkflow,
    ReportTopic,
    subscribe,
)


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

        key = PipelineKey(self, "Encryption", config=config).key
        storage = PipelineBucket(self, "Storage", config=config, key=key)
        reports = ReportTopic(self, "Reports", key=key)
        alerts = AlertTopic(self, "Alerts", key=key)
        subscribe(self, {"report": reports.topic, "alert": alerts.topic}, config.subscriptions)
        failures = FailedEventsQueue(self, "FailedEvents", key=key)
        functions = PipelineFunctions(
            self, "Functions", config=config, bucket=storage.bucket, topic=reports.topic, key=key
        )
        workflow = PipelineWorkflow(
            self,
            "Workflow",
            config=config,
            resolve=functions.resolve,
            apply=functions.apply,
            report=functions.report,
        )
        plan = functions.add_plan_function(workflow.state_machine, failures.queue)
        storage.send_new_manifests_to(plan)
        monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=workflow.state_machine,
            state_machine_logs=workflow.log_group,
            functions={
                "PlanManifest": plan,
                "ResolveDataset": functions.resolve,
                "ApplyChunk": functions.apply,
                "ReportRun": functions.report,
            },
            failures=failures.queue,
            alert_topic=alerts.topic,
        )

        self.key = key
        self.bucket = storage.bucket
        self.access_logs = storage.access_logs
        self.topic = reports.topic
        self.alert_topic = alerts.topic
        self.failures = failures.queue
        self.state_machine = workflow.state_machine
        self.functions = functions
        self.monitoring = monitoring

        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name, description="Drop manifests here")
        CfnOutput(
            self,
            "IncomingPrefix",
            value=config.incoming_prefix,
            description="Manifests go under <prefix><project>/<train|test>/",
        )
        CfnOutput(self, "ReportTopicArn", value=reports.topic.topic_arn, description="Subscribe for run reports")
        CfnOutput(self, "AlertTopicArn", value=alerts.topic.topic_arn, description="Subscribe for alarms")
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=failures.queue.queue_url,
            description="S3 events the plan function could not process after retries",
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)
