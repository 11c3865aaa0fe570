"""Alarms (all to the alert topic) and one CloudWatch dashboard for the pipeline.

Custom metrics come from the handlers (lambdas/labelsync/observability.py): namespace and service
dimension are the functions' POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME. DescribeDataset
polls and seconds waited for updates are counted by the state machine's poll loop and handed to
RecordChunk at the end of each chunk (DescribePolls, UpdateWaitSeconds); the ALL-level execution log
adds per-execution detail (Logs Insights widgets; each chunk runs in its own child execution of the
Distributed Map, so chunk-level states group by the child's execution ARN), and AWS/States ExecutionTime
the run duration.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import PipelineConfig
from infra.function_specs import COMMON_ENV

NAMESPACE = COMMON_ENV["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = COMMON_ENV["POWERTOOLS_SERVICE_NAME"]
PERIOD = Duration.minutes(5)
POLL_STATES = ("DescribeUpdate", "DescribeNewDataset")
# One chunk's child execution, from sending the update to recording it applied.
CHUNK_STATES = ("ApplyChunk", "WaitForUpdate", "DescribeUpdate", "RecordChunk")


def custom_metric(name: str, *, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
    return cw.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=PERIOD,
        label=label,  # a label would turn an alarm's metric into a metric-math list; dashboards name it anyway
    )


class PipelineMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        state_machine: sfn.StateMachine,
        state_machine_logs: logs.ILogGroup,
        functions: dict[str, lambda_.IFunction],
        failures: sqs.IQueue,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        action = cw_actions.SnsAction(alert_topic)
        self.alarms: dict[str, cw.Alarm] = {}
        # Named `<stack name>-<alarm>`: readable in the notification, and the topic and key policies can name
        # each alarm's ARN without depending on the alarm resources (the key would otherwise be a cycle).
        self.alarm_arns: list[str] = []
        stack = Stack.of(self)

        def alarm(name: str, metric: cw.IMetric, description: str, *, threshold: float = 1) -> None:
            alarm_name = f"{Aws.STACK_NAME}-{name}"
            created = cw.Alarm(
                self,
                name,
                alarm_name=alarm_name,
                metric=metric,
                threshold=threshold,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms[name] = created
            self.alarm_arns.append(
                stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=alarm_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            )

        alarm(
            "ExecutionsFailed",
            state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "A sync run failed (the report topic has its FAILED alert with the cause). Rejected manifests end "
            "in a Succeed state after their REJECTED alert and do not count here.",
        )
        alarm(
            "ExecutionsTimedOut",
            state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "A sync run hit the state machine's TimeoutSeconds (turn wait + dataset + maxChunksPerRun chunks "
            "+ report budget, docs/deploy.md); the report topic has its alert.",
        )
        alarm(
            "ExecutionsAborted",
            state_machine.metric_aborted(period=PERIOD, statistic="Sum"),
            "A sync execution was stopped (aborted) by hand or by a redeploy.",
        )
        alarm(
            "FailedS3Events",
            failures.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            "A dropped manifest's S3 event failed in the plan function (or, with labelingJobs, a completed "
            "labeling job's event in the sync function) after Lambda's retries: it is in the failure queue "
            "with the error, and no execution (and no report) exists for it.",
        )
        alarm(
            "RejectedLines",
            custom_metric("LinesRejected"),
            f"At least {config.rejected_lines_alarm_threshold} manifest lines were rejected within 5 minutes.",
            threshold=config.rejected_lines_alarm_threshold,
        )
        for name, function in functions.items():
            alarm(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function raised an error (the state machine retries task errors; see its log group).",
            )

        in_poll_states = "details.name in [" + ", ".join(f'"{name}"' for name in POLL_STATES) + "]"
        polls = (
            f'filter type = "TaskStateEntered" and {in_poll_states}',
            "stats count(*) as describePolls by bin(5m)",
        )
        polls_per_run = (
            f'filter type = "TaskStateEntered" and {in_poll_states}',
            "stats count(*) as describePolls by execution_arn",
            "sort describePolls desc",
            "limit 20",
        )
        update_seconds = (
            "filter details.name in [" + ", ".join(f'"{name}"' for name in CHUNK_STATES) + "]",
            "stats (max(@timestamp) - min(@timestamp)) / 1000 as applyAndUpdateSeconds by execution_arn",
            "sort applyAndUpdateSeconds desc",
            "limit 20",
        )
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"labelsync-{Aws.STACK_NAME}")
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=4),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=PERIOD, statistic="Sum"),
                    state_machine.metric_succeeded(period=PERIOD, statistic="Sum"),
                    state_machine.metric_failed(period=PERIOD, statistic="Sum"),
                    state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                    state_machine.metric_aborted(period=PERIOD, statistic="Sum"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Run duration (ExecutionTime, ms)",
                left=[
                    state_machine.metric_time(period=PERIOD, statistic="Average"),
                    state_machine.metric_time(period=PERIOD, statistic="Maximum"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Reports",
                left=[custom_metric(n) for n in ("RunsSucceeded", "RunsFailed", "RunsRejected", "EntriesWithErrors")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Manifest lines",
                left=[
                    custom_metric(n)
                    for n in ("LinesRead", "LinesAccepted", "LinesRejected", "LinesSuperseded", "LinesWarned")
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=config.rejected_lines_alarm_threshold, label="RejectedLines alarm")
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Chunks and bytes",
                left=[custom_metric("Chunks"), custom_metric("ChunksSent")],
                right=[custom_metric("BytesAccepted"), custom_metric("BytesSent")],
                width=8,
            ),
            cw.GraphWidget(
                title="Dataset updates: DescribeDataset calls and seconds waited",
                left=[custom_metric("DescribePolls")],
                right=[custom_metric("UpdateWaitSeconds")],
                width=8,
            ),
            cw.GraphWidget(
                title="Failed S3 and labeling job events (queue)",
                left=[failures.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=PERIOD, statistic="Sum", label=name) for name, f in functions.items()],
                width=8,
            ),
            cw.GraphWidget(
                title="Function duration (p95, ms)",
                left=[f.metric_duration(period=PERIOD, statistic="p95", label=name) for name, f in functions.items()],
                width=8,
            ),
            cw.LogQueryWidget(
                title="DescribeDataset polls (execution log)",
                log_group_names=[state_machine_logs.log_group_name],
                query_lines=list(polls),
                view=cw.LogQueryVisualizationType.BAR,
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.LogQueryWidget(
                title="Slowest chunks: seconds from ApplyChunk to RecordChunk (one child execution per chunk)",
                log_group_names=[state_machine_logs.log_group_name],
                query_lines=list(update_seconds),
                view=cw.LogQueryVisualizationType.TABLE,
                width=12,
            ),
            cw.LogQueryWidget(
                title="DescribeDataset polls per execution (a chunk's polls: its child execution)",
                log_group_names=[state_machine_logs.log_group_name],
                query_lines=list(polls_per_run),
                view=cw.LogQueryVisualizationType.TABLE,
                width=12,
            ),
        )
