"""The four Lambdas: one code asset, one Powertools layer, one role and log group each.

The plan function is added after the state machine exists (it needs the ARN); the
three task functions come first because the state machine needs theirs. The plan
function is not a task in the state machine, so there is no dependency cycle.

Every wildcard in a policy is acknowledged for cdk-nag right where it is granted, with
the reason that wildcard is the narrowest the action allows.
"""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import PipelineConfig
from infra.constructs.encryption import ENCRYPT_ACTIONS
from infra.constructs.rekognition import dataset_arns, project_arns
from infra.function_specs import APPLY, PLAN, REPORT, RESOLVE, EnvValues, FunctionSpec, environment
from infra.lambda_bundle import lambda_code

# Newest Python runtime aws-cdk-lib 2.275 knows (cdk-nag AwsSolutions-L1 asks for it).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH  # replaced by context logRetentionDays in the template
# Lambda retries a failed asynchronous (S3 event) invocation this often before the on-failure destination.
PLAN_RETRY_ATTEMPTS = 2
PLAN_MAX_EVENT_AGE = Duration.hours(6)

XRAY_REASON = (
    "X-Ray PutTraceSegments and PutTelemetryRecords (added by CDK for active tracing) support no "
    "resource-level permissions: AWS requires Resource '*'."
)
WORK_REASON = "Run files are one object per chunk/plan/report under the work prefix: '{prefix}*' is that prefix only."


def powertools_parameter_name(version: str) -> str:
    """Public SSM parameter AWS keeps with the Powertools layer ARN for this runtime and architecture."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


def set_retention(log_group: logs.LogGroup, days: int) -> None:
    """RetentionDays is an enum of names in Python; write the (validated) day count into the template."""
    resource = log_group.node.default_child
    assert isinstance(resource, logs.CfnLogGroup)
    resource.retention_in_days = days


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
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._bucket = bucket
        self._key = key
        self._code = lambda_code()
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
            warnings_as_rejections=config.warnings_as_rejections,
        )
        self.resolve = self._function(RESOLVE, self._values)
        self.apply = self._function(APPLY, self._values)
        self.report = self._function(REPORT, self._values)
        self.plan: lambda_.Function | None = None
        self.failures: sqs.IQueue | None = None

        if config.projects:
            # DescribeProjects has no resource-level permissions (it only accepts "*").
            self._allow(
                self.resolve,
                ["rekognition:DescribeProjects"],
                ["*"],
                "rekognition:DescribeProjects supports no resource-level permissions (Resource '*' only); "
                "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) likewise.",
            )
            # Datasets (and the projects' timestamps) are created at run time: the ARNs end in the name + '/*'.
            self._allow(
                self.resolve,
                ["rekognition:CreateDataset"],
                project_arns(self, config),
                "CreateDataset acts on the project ARN project/<name>/<creation timestamp>; the timestamp is "
                "only known in the account, so each configured project is granted as project/<name>/*.",
            )
            self._allow_datasets(self.resolve, "rekognition:DescribeDataset")
            self._allow_datasets(self.apply, "rekognition:UpdateDatasetEntries")
            self._allow_datasets(self.report, "rekognition:ListDatasetEntries")
        # PutObject: a chunk the service refuses for its size is split into part files under the run.
        self._allow(
            self.apply, ["s3:GetObject", "s3:PutObject"], [self._objects(work)], WORK_REASON.format(prefix=work)
        )
        self._allow(
            self.report, ["s3:GetObject", "s3:PutObject"], [self._objects(work)], WORK_REASON.format(prefix=work)
        )
        self._allow(self.report, ["sns:Publish"], [topic.topic_arn])
        self._allow_key(self.apply, ENCRYPT_ACTIONS)  # read chunks, write split parts
        self._allow_key(self.report, ENCRYPT_ACTIONS)  # S3 read + write, and SNS publish to the encrypted topic

    def add_plan_function(self, state_machine: sfn.StateMachine, failures: sqs.IQueue) -> lambda_.Function:
        """The S3-triggered planner: reads the dropped manifest, writes run files, starts one execution.

        S3 invokes it asynchronously: Lambda retries a failed event twice, then sends it to `failures`.
        """
        config = self._config
        values = replace(self._values, state_machine_arn=state_machine.state_machine_arn)
        plan = self._function(PLAN, values)
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        incoming = config.incoming_prefix
        # GetObjectVersion: S3 events carry the version id and the planner reads exactly that version.
        self._allow(
            plan,
            ["s3:GetObject", "s3:GetObjectVersion"],
            [self._objects(incoming)],
            f"Manifests are any object under the watched prefix; '{incoming}*' is that prefix only.",
        )
        self._allow(
            plan, ["s3:PutObject"], [self._objects(config.work_prefix)], WORK_REASON.format(prefix=config.work_prefix)
        )
        self._allow(plan, ["states:StartExecution"], [state_machine.state_machine_arn])
        # Duplicate S3 events are recognised by looking up the execution named after the object version.
        self._allow(
            plan,
            ["states:DescribeExecution"],
            [executions],
            "DescribeExecution acts on execution ARNs, named at run time: this state machine's executions only.",
        )
        self._allow_key(plan, ENCRYPT_ACTIONS)  # read manifests, write run files, send to the failure queue
        # The on-failure destination: Lambda sends with the function's role. An L1 config, because the L2
        # SqsDestination grants kms:ReEncrypt*/GenerateDataKey* wildcards this role does not need.
        self._allow(plan, ["sqs:SendMessage"], [failures.queue_arn])
        invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "PlanManifestAsyncInvoke",
            function_name=plan.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=PLAN_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=int(PLAN_MAX_EVENT_AGE.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=failures.queue_arn)
            ),
        )
        # Lambda checks the role can send to the destination when the config is created.
        assert plan.role is not None
        invoke_config.node.add_dependency(plan.role)
        self.plan = plan
        self.failures = failures
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
        if not (spec is RESOLVE and self._config.projects):  # resolve's DescribeProjects reason covers X-Ray too
            nag.acknowledge_resource(role, "*", XRAY_REASON)
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION)
        set_retention(log_group, self._config.log_retention_days)
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

    def _allow_datasets(self, function: lambda_.Function, action: str) -> None:
        self._allow(
            function,
            [action],
            dataset_arns(self, self._config),
            f"{action} acts on dataset ARNs project/<name>/dataset/<type>/<timestamp>, created at run time: "
            "each configured project is granted as project/<name>/dataset/* (its TRAIN and TEST datasets).",
        )

    def _allow_key(self, function: lambda_.Function, actions: list[str]) -> None:
        if self._key is not None:
            self._allow(function, actions, [self._key.key_arn])

    @staticmethod
    def _allow(
        function: lambda_.Function, actions: list[str], resources: list[str], wildcard_reason: str | None = None
    ) -> None:
        """Grant exactly these actions; any resource with a '*' needs a reason, acknowledged on the role."""
        function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
        wildcards = [resource for resource in resources if "*" in str(Stack.of(function).resolve(resource))]
        if wildcards and not wildcard_reason:
            raise ValueError(f"{function.node.path}: {actions} on {wildcards} needs a reason for the wildcard")
        assert function.role is not None
        for resource in wildcards:
            nag.acknowledge_resource(function.role, resource, str(wildcard_reason))
