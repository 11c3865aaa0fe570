"""The Standard state machine, from the checked-in ASL file with its ARNs substituted by CloudFormation.

The chunk loop is a Distributed Map: Step Functions reads the items file (`<run>/items.json`) from S3 and
starts one child execution of this same state machine per chunk, with this state machine's role. So the
role needs, besides the tasks' permissions, StartExecution on the state machine itself and Describe/Stop
on its executions. Those name the state machine, and the state machine resource depends on its role's
default policy: they go into a separate policy attached to the role (as CDK does for its own
DistributedMap), which nothing the state machine needs depends on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, CfnResource, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import PipelineConfig
from infra.constructs.encryption import ENCRYPT_ACTIONS
from infra.constructs.events import completion_event_conditions, default_event_bus_arn
from infra.constructs.functions import set_retention
from infra.constructs.rekognition import dataset_arns
from infra.function_specs import EXECUTION_END_STATUSES
from labelsync.event_contract import RUN_FAILED
from statemachine.definition import (
    APPLY_CHUNK_FUNCTION,
    PLACEHOLDERS,
    RECORD_CHUNK_FUNCTION,
    REPLACE_DATASET_FUNCTION,
    REPORT_FUNCTION,
    REPORT_TOPIC,
    RESOLVE_DATASET_FUNCTION,
    SKIP_UNCHANGED_FUNCTION,
    TAKE_TURN_FUNCTION,
    definition_text,
    placeholders_in,
    with_timeout,
)

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# What SkipUnchanged names the Distributed Map's item list (lambdas/labelsync/domain/runs.py
# RunLayout.changed_items_key): TakeTurn's items.json less the chunks with nothing left to send.
ITEMS_FILE = "items-changed.json"
ITEM_READER = "arn:aws:states:::s3:getObject"


def distributed_maps(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Map state in Distributed mode, at any depth of the definition."""
    for state in definition.get("States", {}).values():
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            yield state
        yield from distributed_maps(processor)
        for branch in state.get("Branches", []):
            yield from distributed_maps(branch)


class PipelineWorkflow(Construct):
    """Inline definition (not from_file) so the template, and tests, carry the ASL text itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        take_turn: lambda_.IFunction,
        resolve: lambda_.IFunction,
        skip_unchanged: lambda_.IFunction,
        apply: lambda_.IFunction,
        record_chunk: lambda_.IFunction,
        replace_dataset: lambda_.IFunction,
        report: lambda_.IFunction,
        bucket: s3.IBucket,
        topic: sns.ITopic,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # The checked-in file plus a top-level TimeoutSeconds derived from the settings (config.py
        # execution_budget): without one an execution may run a year and ExecutionsTimedOut never fires.
        self.timeout_seconds = config.execution_budget().total
        text = with_timeout(definition_text(), self.timeout_seconds)
        self._check_item_readers(text)
        tasks = (take_turn, resolve, skip_unchanged, apply, record_chunk, replace_dataset, report)
        substitutions = self._substitutions(
            text,
            {
                TAKE_TURN_FUNCTION: take_turn.function_arn,
                RESOLVE_DATASET_FUNCTION: resolve.function_arn,
                SKIP_UNCHANGED_FUNCTION: skip_unchanged.function_arn,
                APPLY_CHUNK_FUNCTION: apply.function_arn,
                RECORD_CHUNK_FUNCTION: record_chunk.function_arn,
                REPLACE_DATASET_FUNCTION: replace_dataset.function_arn,
                REPORT_FUNCTION: report.function_arn,
                REPORT_TOPIC: topic.topic_arn,
            },
        )
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        set_retention(log_group, config.log_retention_days)
        self.log_group = log_group
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions=substitutions,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        # The ${...} in the definition are DefinitionSubstitutions keys, which both linters mistake for
        # parameters outside Fn::Sub (E1029): acknowledge that one rule for this resource only.
        reason = "The ${...} in the definition are DefinitionSubstitutions keys, filled by CloudFormation."
        Validations.of(self.state_machine).acknowledge(
            Acknowledgment(id="CloudFormation-Validate::E1029", reason=reason)
        )
        resource = self.state_machine.node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1029"]}})
        # Executions that end FAILED / TIMED_OUT / ABORTED go to the report function: a stopped or timed-out
        # run runs no Catch, so this is its alert (and it hands the dataset's turn on).
        events.Rule(
            self,
            "ExecutionEnded",
            description="labelsync: runs that ended without success, to the report function",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                    "status": list(EXECUTION_END_STATUSES),
                },
            ),
            targets=[targets.LambdaFunction(report, retry_attempts=2, max_event_age=Duration.hours(6))],
        )
        # A definition string gives CDK no task objects to grant from: grant the tasks by hand.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in tasks])
        )
        # AlertWithoutReport / ChunkAlertWithoutReport publish straight to the report topic.
        self.state_machine.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
        # EventWithoutReport / ChunkEventWithoutReport: the FAILED completion event, on the default bus.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[default_event_bus_arn(self)],
                conditions=completion_event_conditions([RUN_FAILED]),
            )
        )
        role = self.state_machine.role
        # The Distributed Map's ItemReader reads each run's items file (the only object the role reads).
        items = bucket.arn_for_objects(f"{config.work_prefix}*/{ITEMS_FILE}")
        self.state_machine.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[items]))
        nag.acknowledge_resource(
            role,
            items,
            f"The Distributed Map's ItemReader reads <run>/{ITEMS_FILE}; runs are named at run time, so "
            f"'{config.work_prefix}*/{ITEMS_FILE}' (that file of any run under the work prefix) is the narrowest.",
        )
        if key is not None:
            # Decrypt: the items file (SSE-KMS bucket); GenerateDataKey + Decrypt: publishing to the encrypted topic.
            self.state_machine.add_to_role_policy(iam.PolicyStatement(actions=ENCRYPT_ACTIONS, resources=[key.key_arn]))
        nag.acknowledge_resource(
            role,
            "*",
            "CDK's grants for state machine logging (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, "
            "DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) "
            "and X-Ray tracing (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets): "
            "these actions support no resource-level permissions, AWS requires Resource '*'.",
        )
        if config.projects:
            # The poll loops call DescribeDataset directly (aws-sdk task), not through a Lambda.
            arns = dataset_arns(self, config)
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(actions=["rekognition:DescribeDataset"], resources=arns)
            )
            for arn in arns:
                nag.acknowledge_resource(
                    role,
                    arn,
                    "DescribeDataset acts on dataset ARNs project/<name>/dataset/<train|test>/<timestamp>, created "
                    "at run time: each configured project is granted project/<name>/dataset/<type>/* for the "
                    "dataset types it allows.",
                )
        self.child_executions = self._child_execution_policy(role)

    def _child_execution_policy(self, role: iam.IRole) -> iam.Policy:
        """The Distributed Map's own calls (docs: "IAM policies for using Distributed Map states"): start child
        executions of this state machine, describe and stop them. A separate policy: see the module docstring.

        Child executions are named `execution:<name>/<map run label>:<id>`; AWS documents both that form
        (`<name>/*`) and `<name>:*` for these grants, so both are given, and nothing else of the account.
        No RedriveExecution: runs resume through TakeTurn (a new run of the same plan, under the dataset's
        lock), not by redriving a map run outside it.
        """
        machine = self.state_machine
        stack = Stack.of(self)
        executions = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{machine.state_machine_name}{separator}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for separator in ("/", ":")
        ]
        policy = iam.Policy(
            self,
            "ChildExecutionsPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn]),
                iam.PolicyStatement(actions=["states:DescribeExecution", "states:StopExecution"], resources=executions),
            ],
        )
        for arn in executions:
            nag.acknowledge_resource(
                policy,
                arn,
                "The Distributed Map describes and stops its child executions, named at run time "
                "(execution:<state machine>/<map run label>:<id>): this state machine's executions only.",
            )
        return policy

    @staticmethod
    def _check_item_readers(text: str) -> None:
        """The grants above fit the definition: every Distributed Map reads its items with s3:getObject."""
        for state in distributed_maps(json.loads(text)):
            reader = state.get("ItemReader", {}).get("Resource")
            if reader != ITEM_READER:
                raise ValueError(
                    f"Distributed Map {state.get('Label')!r} reads items with {reader!r}, not {ITEM_READER}"
                )

    @staticmethod
    def _substitutions(text: str, values: dict[str, str]) -> dict[str, str]:
        """Every placeholder of the contract gets a value, and the file uses no other: else fail synth."""
        missing = [key for key in PLACEHOLDERS if not values.get(key)]
        unknown = sorted(placeholders_in(text) - set(PLACEHOLDERS))
        if missing or unknown:
            raise ValueError(f"state machine placeholders: no value for {missing}, not in PLACEHOLDERS: {unknown}")
        return {key: values[key] for key in PLACEHOLDERS}
