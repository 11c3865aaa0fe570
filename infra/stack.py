"""The one stack: bucket -> plan function -> state machine (take turn, resolve, apply + record per chunk,
report) -> report topic, the run ledger (DynamoDB), the failure queue, alarms to the alert topic and a
dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack
from constructs import Construct

from infra.config import PipelineConfig
from infra.constructs import (
    AlertTopic,
    FailedEventsQueue,
    LabelingJobSync,
    LedgerTable,
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

        encryption = PipelineKey(self, "Encryption", config=config)
        key = encryption.key
        storage = PipelineBucket(self, "Storage", config=config, key=key)
        reports = ReportTopic(self, "Reports", key=key)
        alerts = AlertTopic(self, "Alerts", key=key)
        subscribe(self, {"report": reports.topic, "alert": alerts.topic}, config.subscriptions)
        failures = FailedEventsQueue(self, "FailedEvents", key=key)
        ledger = LedgerTable(self, "Ledger", key=key)
        functions = PipelineFunctions(
            self,
            "Functions",
            config=config,
            bucket=storage.bucket,
            topic=reports.topic,
            ledger=ledger.table,
            key=key,
        )
        workflow = PipelineWorkflow(
            self,
            "Workflow",
            config=config,
            take_turn=functions.take_turn,
            resolve=functions.resolve,
            skip_unchanged=functions.skip_unchanged,
            replace_dataset=functions.replace_dataset,
            apply=functions.apply,
            record_chunk=functions.record_chunk,
            report=functions.report,
            bucket=storage.bucket,
            topic=reports.topic,
            key=key,
        )
        plan = functions.add_plan_function(
            workflow.state_machine, failures.queue, ready_after=[workflow.child_executions]
        )
        storage.send_new_manifests_to(plan)
        labeling = (
            LabelingJobSync(self, "LabelingJobs", config=config, functions=functions, failures=failures.queue, key=key)
            if config.labeling_jobs
            else None
        )
        monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=workflow.state_machine,
            state_machine_logs=workflow.log_group,
            functions={"PlanManifest": plan, **functions.task_functions, **(labeling.functions if labeling else {})},
            failures=failures.queue,
            alert_topic=alerts.topic,
        )
        # CloudWatch publishes as a service: the alert topic's policy (and the key's, when created) must allow it.
        alerts.allow_alarms(monitoring.alarm_arns)
        encryption.allow_alarms(monitoring.alarm_arns)

        self.key = key
        self.bucket = storage.bucket
        self.access_logs = storage.access_logs
        self.topic = reports.topic
        self.alert_topic = alerts.topic
        self.failures = failures.queue
        self.ledger = ledger.table
        self.state_machine = workflow.state_machine
        self.functions = functions
        self.monitoring = monitoring
        self.labeling = labeling

        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name, description="Drop manifests here")
        CfnOutput(
            self,
            "IncomingPrefix",
            value=config.incoming_prefix,
            description="Manifests go under <prefix><project>/<train|test>/",
        )
        CfnOutput(
            self,
            "WorkPrefix",
            value=config.work_prefix,
            description="Each run's plan, chunks and report.json under <prefix><run id>/",
        )
        CfnOutput(self, "ReportTopicArn", value=reports.topic.topic_arn, description="Subscribe for run reports")
        CfnOutput(self, "AlertTopicArn", value=alerts.topic.topic_arn, description="Subscribe for alarms")
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=failures.queue.queue_url,
            description="S3 events (plan) and labeling job events (sync) that still failed after retries",
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(
            self,
            "LedgerTableName",
            value=ledger.table.table_name,
            description="Per-dataset run queue, lock and update timings",
        )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)
