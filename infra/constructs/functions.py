"""The Lambdas (six, and the labeling-job sync with labelingJobs): one code asset (the handlers with msgspec and Powertools bundled), one role and log
group each.

The plan function is added after the state machine exists (it needs the ARN); the
five task functions come first because the state machine needs theirs. The plan
function is not a task in the state machine, so there is no dependency cycle.
TakeTurn is a task and still looks up this state machine's executions: that grant
names the state machine, so it lives in a separate policy attached to TakeTurn's role
(`add_plan_function` adds it), which the function itself does not depend on.

Every wildcard in a policy is acknowledged for cdk-nag right where it is granted, with
the reason that wildcard is the narrowest the action allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aws_cdk import ArnFormat, Duration, Size, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IDependable

from infra import nag
from infra.config import PipelineConfig
from infra.constructs.encryption import ENCRYPT_ACTIONS
from infra.constructs.events import completion_event_conditions, default_event_bus_arn
from infra.constructs.rekognition import creatable_project_arns, dataset_arns
from infra.function_specs import (
    APPLY,
    DEFAULT_TMP_MB,
    PLAN,
    RECORD_CHUNK,
    REPLACE_DATASET,
    REPORT,
    RESOLVE,
    SKIP_UNCHANGED,
    SYNC_LABELING_JOB,
    TAKE_TURN,
    EnvValues,
    FunctionSpec,
    environment,
)
from infra.lambda_bundle import lambda_code
from labelsync.event_contract import DETAIL_TYPES
from labelsync.labeling_job_routes import JobRoute

# Newest Python runtime aws-cdk-lib 2.275 knows (cdk-nag AwsSolutions-L1 asks for it).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH  # replaced by context logRetentionDays in the template
# What PlanManifest names each run's plan (lambdas/labelsync/domain/runs.py RunLayout.plan_key).
PLAN_FILE = "plan.json"
# Lambda retries a failed asynchronous (S3 event) invocation this often before the on-failure destination.
PLAN_RETRY_ATTEMPTS = 2
PLAN_MAX_EVENT_AGE = Duration.hours(6)

XRAY_REASON = (
    "X-Ray PutTraceSegments and PutTelemetryRecords (added by CDK for active tracing) support no "
    "resource-level permissions: AWS requires Resource '*'."
)
WORK_REASON = "Run files are one object per chunk/plan/report under the work prefix: '{prefix}*' is that prefix only."
EXECUTIONS_REASON = "DescribeExecution acts on execution ARNs, named at run time: this state machine's executions only."
# Ledger access per function (lambdas/labelsync/adapters/dynamodb_ledger.py): no Scan, no Delete, no batch calls.
LEDGER_ACTIONS = {
    PLAN.name: ["dynamodb:PutItem"],  # register the run's ticket
    TAKE_TURN.name: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    APPLY.name: ["dynamodb:GetItem"],  # the dataset's update timings
    RECORD_CHUNK.name: ["dynamodb:GetItem", "dynamodb:PutItem"],  # update timings
    # ticket status, lock release; GetItem: who holds the lock when an execution ended without reporting
    REPORT.name: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
}
# Powertools idempotency on the claims table: conditional put, read, complete, delete on failure.
CLAIM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
JOBS_BY_NAME_REASON = (
    "DescribeLabelingJob acts on labeling-job/<name>; jobs are named at run time, so each labelingJobs name "
    "prefix is granted as labeling-job/<prefix>* (as written and in lower case: ARNs need not keep the case)."
)
JOBS_BY_TAG_REASON = (
    "A labelingJobs tag route matches jobs by tag, not name: labeling-job/* on the condition that the job "
    "carries that tag (aws:ResourceTag)."
)
OUTPUT_REASON = (
    "The jobs' output manifests are named at run time under each labelingJobs outputPath: '<outputPath>*' "
    "is that path only."
)


def set_retention(log_group: logs.LogGroup, days: int) -> None:
    """RetentionDays is an enum of names in Python; write the (validated) day count into the template."""
    resource = log_group.node.default_child
    assert isinstance(resource, logs.CfnLogGroup)
    resource.retention_in_days = days


class PipelineFunctions(Construct):
    """Task functions (take turn, resolve, apply, record chunk, report) now; the S3-triggered plan function
    via `add_plan_function`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        bucket: s3.IBucket,
        topic: sns.ITopic,
        ledger: dynamodb.ITable,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._bucket = bucket
        self._ledger = ledger
        self._key = key
        # Powertools is in the asset (lambdas/requirements.txt), not a public layer: no region lacks it.
        self._code = lambda_code()
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
            refuse_unusable=config.refuse_unusable,
            ledger_table=ledger.table_name,
            delta_sync=config.delta_sync,
            replace_max_removed_percent=config.replace_max_removed_percent,
        )
        self.take_turn = self._function(TAKE_TURN, self._values)
        self.resolve = self._function(RESOLVE, self._values)
        self.skip_unchanged = self._function(SKIP_UNCHANGED, self._values)
        self.replace_dataset = self._function(REPLACE_DATASET, self._values)
        self.apply = self._function(APPLY, self._values)
        self.record_chunk = self._function(RECORD_CHUNK, self._values)
        self.report = self._function(REPORT, self._values)
        self.plan: lambda_.Function | None = None
        self.failures: sqs.IQueue | None = None
        self.execution_lookup: iam.Policy | None = None

        if config.projects:
            # DescribeProjects has no resource-level permissions (it only accepts "*").
            self._allow(
                self.resolve,
                ["rekognition:DescribeProjects"],
                ["*"],
                "rekognition:DescribeProjects supports no resource-level permissions (Resource '*' only); "
                "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) likewise.",
            )
            # Only projects with createMissingDatasets; the projects' timestamps are only known in the account.
            creatable = creatable_project_arns(self, config)
            if creatable:
                self._allow(
                    self.resolve,
                    ["rekognition:CreateDataset"],
                    creatable,
                    "CreateDataset acts on the project ARN project/<name>/<creation timestamp>; the timestamp is "
                    "only known in the account, so each project allowed to create datasets is granted as "
                    "project/<name>/*.",
                )
            # DescribeDataset: the status of a dataset it found or created. ListDatasetLabels: the dataset's labels,
            # checked with the plan's against the service's label limit before anything is sent.
            self._allow_datasets(self.resolve, "rekognition:DescribeDataset")
            self._allow_datasets(self.resolve, "rekognition:ListDatasetLabels")
            self._allow_datasets(self.apply, "rekognition:UpdateDatasetEntries")
            # ApplyChunk: the dataset's LastUpdatedTimestamp just before each update (delta sync's index chain).
            self._allow_datasets(self.apply, "rekognition:DescribeDataset")
            self._allow_datasets(self.report, "rekognition:ListDatasetEntries")
            # SkipUnchanged: whether the dataset's index is current (DescribeDataset), else the listing.
            self._allow_datasets(self.skip_unchanged, "rekognition:DescribeDataset")
            self._allow_datasets(self.skip_unchanged, "rekognition:ListDatasetEntries")
            self._allow_replace(config)
        # TakeTurn reads the plan, chunks and the markers of the run it resumes; writes items.json, filtered
        # chunks and copied markers. PutObject for apply: a chunk the service refuses for its size is split
        # into part files under the run.
        # SkipUnchanged reads the items and chunks, the dataset's index (<work>datasets/...); writes filtered
        # chunks, its decision, markers of chunks with nothing to send and a rebuilt index. ReportRun updates it.
        for function in (self.take_turn, self.skip_unchanged, self.apply, self.report):
            self._allow(
                function, ["s3:GetObject", "s3:PutObject"], [self._objects(work)], WORK_REASON.format(prefix=work)
            )
        self._allow(self.record_chunk, ["s3:PutObject"], [self._objects(work)], WORK_REASON.format(prefix=work))
        # Applied markers are listed (one object per chunk under <run>/applied/): the bucket, work prefix only.
        for function in (self.take_turn, self.skip_unchanged, self.report):
            self._allow_listing(function, work)
        self._allow(self.report, ["sns:Publish"], [topic.topic_arn])
        # The completion event on the default bus: only our source and our detail-types.
        self._allow(
            self.report,
            ["events:PutEvents"],
            [default_event_bus_arn(self)],
            conditions=completion_event_conditions(DETAIL_TYPES),
        )
        for function in (self.take_turn, self.apply, self.record_chunk, self.report):
            self._allow_ledger(function)
        # The key covers the S3 objects they read or write, the ledger table (kms:Decrypt of its table key) and,
        # for report, the SNS publish to the encrypted topic.
        # ResolveDataset reads the run's plan (its labels), nothing else of the run.
        plans = self._bucket.arn_for_objects(f"{work}*/{PLAN_FILE}")
        self._allow(
            self.resolve,
            ["s3:GetObject"],
            [plans],
            f"ResolveDataset reads <run>/{PLAN_FILE}; runs are named at run time, so '{work}*/{PLAN_FILE}' (that "
            "file of any run under the work prefix) is the narrowest.",
        )
        self._allow_key(self.resolve, ["kms:Decrypt"])  # the plan object, when the bucket is SSE-KMS
        for function in (self.take_turn, self.skip_unchanged, self.apply, self.record_chunk, self.report):
            self._allow_key(function, ENCRYPT_ACTIONS)
        self._allow_replace_objects(work)

    def _allow_replace(self, config: PipelineConfig) -> None:
        """ReplaceDataset (replace mode, entries to remove): DescribeDataset and DeleteDataset on the datasets,
        CreateDataset on the projects (from the run's manifest, or the backup to restore), DescribeProjects to
        find the dataset a retried CreateDataset already made. Only projects with createMissingDatasets: a
        rebuild creates the dataset again, and the others' replaces that would remove entries are refused."""
        creatable = creatable_project_arns(self, config)
        if not creatable:
            return
        self._allow(
            self.replace_dataset,
            ["rekognition:DescribeProjects"],
            ["*"],
            "rekognition:DescribeProjects supports no resource-level permissions (Resource '*' only); "
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) likewise.",
        )
        self._allow(
            self.replace_dataset,
            ["rekognition:CreateDataset"],
            creatable,
            "CreateDataset acts on the project ARN project/<name>/<creation timestamp>; the timestamp is only "
            "known in the account, so each project allowed to create datasets is granted as project/<name>/*.",
        )
        for action in ("rekognition:DescribeDataset", "rekognition:DeleteDataset"):
            self._allow_datasets(self.replace_dataset, action, creatable_only=True)

    def _allow_replace_objects(self, work: str) -> None:
        """ReplaceDataset joins the run's files into the backup and new manifests (Get/Put), and CreateDataset
        reads the manifest version with the caller's credentials (GetObject/GetObjectVersion; the Rekognition
        Custom Labels guide: "the user must have permission to access the S3 object")."""
        self._allow(
            self.replace_dataset,
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [self._objects(work)],
            WORK_REASON.format(prefix=work),
        )
        self._allow_listing(self.replace_dataset, work)
        self._allow_key(self.replace_dataset, ENCRYPT_ACTIONS)

    def add_plan_function(
        self, state_machine: sfn.StateMachine, failures: sqs.IQueue, *, ready_after: Sequence[IDependable] = ()
    ) -> lambda_.Function:
        """The S3-triggered planner: reads the dropped manifest, writes run files, starts one execution.

        S3 invokes it asynchronously: Lambda retries a failed event twice, then sends it to `failures`.
        Also adds TakeTurn's lookup of this state machine's executions. The plan function (what makes the
        pipeline live) is created only after that grant and `ready_after` (the state machine's own grants
        that name it): no manifest can start a run that lacks a permission.
        """
        config = self._config
        values = replace(self._values, state_machine_arn=state_machine.state_machine_arn)
        executions = self.executions_of(state_machine)
        # A separate policy, not TakeTurn's default one: the function depends on its role's default policy,
        # the state machine on the function's ARN, so naming the state machine there would be a cycle.
        lookup = iam.Policy(
            self,
            "TakeTurnExecutionLookup",
            roles=[self._role(self.take_turn)],
            statements=[iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])],
        )
        nag.acknowledge_resource(lookup, executions, EXECUTIONS_REASON)
        self.execution_lookup = lookup
        plan = self._function(PLAN, values)
        for dependable in (lookup, *ready_after):
            plan.node.add_dependency(dependable)
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
        self._allow(plan, ["states:DescribeExecution"], [executions], EXECUTIONS_REASON)
        self._allow_ledger(plan)
        # Read manifests, write run files, register in the ledger, send to the failure queue.
        self._allow_key(plan, ENCRYPT_ACTIONS)
        self._send_failures_to(plan, failures)
        self.plan = plan
        self.failures = failures
        return plan

    def add_labeling_job_function(
        self, routes: Sequence[JobRoute], claims: dynamodb.ITable, failures: sqs.IQueue
    ) -> lambda_.Function:
        """EventBridge's target for completed Ground Truth jobs: copies each one's output manifest into the
        incoming prefix. Reads only the routes' output paths and only the jobs the routes can match."""
        config = self._config
        values = replace(self._values, labeling_jobs_json=config.labeling_jobs_json(), claims_table=claims.table_name)
        function = self._function(SYNC_LABELING_JOB, values)
        stack = Stack.of(self)

        def job_arn(name: str) -> str:
            return stack.format_arn(service="sagemaker", resource="labeling-job", resource_name=name)

        prefixes = sorted({p for r in routes if r.name_prefix for p in (r.name_prefix, r.name_prefix.lower())})
        if prefixes:
            self._allow(
                function, ["sagemaker:DescribeLabelingJob"], [job_arn(f"{p}*") for p in prefixes], JOBS_BY_NAME_REASON
            )
        for route in routes:
            if route.tag is not None:
                key, value = route.tag
                self._allow(
                    function,
                    ["sagemaker:DescribeLabelingJob"],
                    [job_arn("*")],
                    JOBS_BY_TAG_REASON,
                    conditions={"StringEquals": {f"aws:ResourceTag/{key}": value}},
                )
        outputs = sorted({(r.output_bucket, r.output_prefix) for r in routes})
        self._allow(
            function,
            ["s3:GetObject"],
            [
                stack.format_arn(service="s3", region="", account="", resource=bucket, resource_name=f"{prefix}*")
                for bucket, prefix in outputs
            ],
            OUTPUT_REASON,
        )
        incoming = config.incoming_prefix
        # The copy (PutObject), and whether the job's copy is already there (ListBucket on that key, HEAD).
        self._allow(
            function,
            ["s3:GetObject", "s3:PutObject"],
            [self._objects(incoming)],
            f"Copied manifests go to '{incoming}<project>/<type>/labeling-job-<job name>.manifest': "
            f"'{incoming}*' is the watched prefix only.",
        )
        self._allow_listing(function, incoming)
        self._allow(function, CLAIM_ACTIONS, [claims.table_arn])
        self._allow_key(function, ENCRYPT_ACTIONS)  # the copy into an SSE-KMS bucket, the encrypted claims table
        self._send_failures_to(function, failures)
        return function

    def _send_failures_to(self, function: lambda_.Function, failures: sqs.IQueue) -> None:
        """Lambda retries a failed asynchronous invocation twice, then sends it (with the error) to `failures`.

        Lambda sends with the function's role. An L1 config, because the L2 SqsDestination grants
        kms:ReEncrypt*/GenerateDataKey* wildcards this role does not need.
        """
        self._allow(function, ["sqs:SendMessage"], [failures.queue_arn])
        invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            f"{function.node.id}AsyncInvoke",
            function_name=function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=PLAN_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=int(PLAN_MAX_EVENT_AGE.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=failures.queue_arn)
            ),
        )
        # Lambda checks the role can send to the destination when the config is created.
        invoke_config.node.add_dependency(self._role(function))

    @property
    def task_functions(self) -> dict[str, lambda_.Function]:
        """The state machine's task functions by spec name (TakeTurn, ResolveDataset, ...)."""
        return {
            TAKE_TURN.name: self.take_turn,
            RESOLVE.name: self.resolve,
            SKIP_UNCHANGED.name: self.skip_unchanged,
            REPLACE_DATASET.name: self.replace_dataset,
            APPLY.name: self.apply,
            RECORD_CHUNK.name: self.record_chunk,
            REPORT.name: self.report,
        }

    @staticmethod
    def executions_of(state_machine: sfn.StateMachine) -> str:
        """`execution:<name>:*`: the state machine's own (top-level) executions."""
        return Stack.of(state_machine).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

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
            memory_size=spec.memory_mb,
            ephemeral_storage_size=Size.mebibytes(spec.tmp_mb) if spec.tmp_mb != DEFAULT_TMP_MB else None,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment(spec, values),
        )

    def _objects(self, prefix: str) -> str:
        return self._bucket.arn_for_objects(f"{prefix}*")

    def _allow_listing(self, function: lambda_.Function, prefix: str) -> None:
        """ListBucket on the bucket itself, limited by condition to keys under `prefix`."""
        self._allow(
            function,
            ["s3:ListBucket"],
            [self._bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )

    def _allow_ledger(self, function: lambda_.Function) -> None:
        self._allow(function, LEDGER_ACTIONS[str(function.node.id)], [self._ledger.table_arn])

    def _allow_datasets(self, function: lambda_.Function, action: str, *, creatable_only: bool = False) -> None:
        self._allow(
            function,
            [action],
            dataset_arns(self, self._config, creatable_only=creatable_only),
            f"{action} acts on dataset ARNs project/<name>/dataset/<train|test>/<timestamp>, created at run time: "
            "each configured project is granted project/<name>/dataset/<type>/* for the dataset types it allows.",
        )

    def _allow_key(self, function: lambda_.Function, actions: list[str]) -> None:
        if self._key is not None:
            self._allow(function, actions, [self._key.key_arn])

    @staticmethod
    def _role(function: lambda_.Function) -> iam.IRole:
        assert function.role is not None
        return function.role

    @classmethod
    def _allow(
        cls,
        function: lambda_.Function,
        actions: list[str],
        resources: list[str],
        wildcard_reason: str | None = None,
        *,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        """Grant exactly these actions; any resource with a '*' needs a reason, acknowledged on the role."""
        function.add_to_role_policy(
            iam.PolicyStatement(actions=actions, resources=resources, conditions=dict(conditions or {}) or None)
        )
        wildcards = [resource for resource in resources if "*" in str(Stack.of(function).resolve(resource))]
        if wildcards and not wildcard_reason:
            raise ValueError(f"{function.node.path}: {actions} on {wildcards} needs a reason for the wildcard")
        for resource in wildcards:
            nag.acknowledge_resource(cls._role(function), resource, str(wildcard_reason))
