"""The four Lambdas: one code asset, one Powertools layer, one role and log group each.

The plan function is added after the state machine exists (it needs the ARN); the
three task functions come first because the state machine needs theirs. The plan
function is not a task in the state machine, so there is no dependency cycle.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import PipelineConfig
from infra.constructs.rekognition import dataset_arns, project_arns
from infra.function_specs import APPLY, PLAN, REPORT, RESOLVE, EnvValues, FunctionSpec, environment

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc"]
# Newest Python runtime aws-cdk-lib 2.275 knows (cdk-nag AwsSolutions-L1 asks for it).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def powertools_parameter_name(version: str) -> str:
    """Public SSM parameter AWS keeps with the Powertools layer ARN for this runtime and architecture."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


class PipelineFunctions(Construct):
    """Task functions (resolve, apply, report) now; the S3-triggered plan function via `add_plan_function`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        bucket: s3.IBucket,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._bucket = bucket
        self._code = lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDES)
        # Resolved by CloudFormation at deploy time: no synth-time lookup, no credentials needed.
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, powertools_parameter_name(config.powertools_version)
        )
        self._layer = lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)
        work = config.work_prefix
        self._values = EnvValues(
            bucket=bucket.bucket_name,
            topic_arn=topic.topic_arn,
            projects_json=config.projects_json(),
            chunk_limit_bytes=config.chunk_limit_bytes,
            incoming_prefix=config.incoming_prefix,
            work_prefix=work,
            poll_initial_seconds=config.poll_initial_seconds,
            poll_max_seconds=config.poll_max_seconds,
            poll_timeout_seconds=config.poll_timeout_seconds,
            report_max_errors=config.report_max_errors,
        )
        self.resolve = self._function(RESOLVE, self._values)
        self.apply = self._function(APPLY, self._values)
        self.report = self._function(REPORT, self._values)
        self.plan: lambda_.Function | None = None

        # Resolve: DescribeProjects has no resource-level permissions (it only accepts "*").
        if config.projects:
            self._allow(self.resolve, ["rekognition:DescribeProjects"], ["*"])
            self._allow(self.resolve, ["rekognition:CreateDataset"], project_arns(self, config))
            # resolve_dataset reads the new dataset's status right after CreateDataset.
            self._allow(self.resolve, ["rekognition:DescribeDataset"], dataset_arns(self, config))
            self._allow(self.apply, ["rekognition:UpdateDatasetEntries"], dataset_arns(self, config))
            self._allow(self.report, ["rekognition:ListDatasetEntries"], dataset_arns(self, config))
        self._allow(self.apply, ["s3:GetObject"], [self._objects(work)])
        self._allow(self.report, ["s3:GetObject", "s3:PutObject"], [self._objects(work)])
        self._allow(self.report, ["sns:Publish"], [topic.topic_arn])

    def add_plan_function(self, state_machine: sfn.StateMachine) -> lambda_.Function:
        """The S3-triggered planner: reads the dropped manifest, writes run files, starts one execution."""
        config = self._config
        values = replace(self._values, state_machine_arn=state_machine.state_machine_arn)
        plan = self._function(PLAN, values)
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # GetObjectVersion: S3 events carry the version id and the planner reads exactly that version.
        self._allow(plan, ["s3:GetObject", "s3:GetObjectVersion"], [self._objects(config.incoming_prefix)])
        self._allow(plan, ["s3:PutObject"], [self._objects(config.work_prefix)])
        self._allow(plan, ["states:StartExecution"], [state_machine.state_machine_arn])
        # Duplicate S3 events are recognised by looking up the execution named after the object version.
        self._allow(plan, ["states:DescribeExecution"], [executions])
        self.plan = plan
        return plan

    def _function(self, spec: FunctionSpec, values: EnvValues) -> lambda_.Function:
        name = spec.name
        # An own role without AWSLambdaBasicExecutionRole: logs go to this function's log group only.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"labelsync {name} function",
        )
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION)
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            name,
            code=self._code,
            handler=spec.handler,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            layers=[self._layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment(spec, values),
        )

    def _objects(self, prefix: str) -> str:
        return self._bucket.arn_for_objects(f"{prefix}*")

    @staticmethod
    def _allow(function: lambda_.Function, actions: list[str], resources: list[str]) -> None:
        function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
