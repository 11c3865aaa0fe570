"""The Standard state machine, from the checked-in ASL file with its function ARNs substituted by CloudFormation."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import PipelineConfig
from infra.constructs.functions import set_retention
from infra.constructs.rekognition import dataset_arns
from statemachine.definition import (
    APPLY_CHUNK_FUNCTION,
    PLACEHOLDERS,
    REPORT_FUNCTION,
    RESOLVE_DATASET_FUNCTION,
    definition_text,
    placeholders_in,
)

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class PipelineWorkflow(Construct):
    """Inline definition (not from_file) so the template, and tests, carry the ASL text itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        resolve: lambda_.IFunction,
        apply: lambda_.IFunction,
        report: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        text = definition_text()
        substitutions = self._substitutions(
            text,
            {
                RESOLVE_DATASET_FUNCTION: resolve.function_arn,
                APPLY_CHUNK_FUNCTION: apply.function_arn,
                REPORT_FUNCTION: report.function_arn,
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
        # A definition string gives CDK no task objects to grant from: grant the three tasks by hand.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[resolve.function_arn, apply.function_arn, report.function_arn],
            )
        )
        role = self.state_machine.role
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
                    "DescribeDataset acts on dataset ARNs project/<name>/dataset/<type>/<timestamp>, created at run "
                    "time: each configured project is granted as project/<name>/dataset/*.",
                )

    @staticmethod
    def _substitutions(text: str, values: dict[str, str]) -> dict[str, str]:
        """Every placeholder of the contract gets a value, and the file uses no other: else fail synth."""
        missing = [key for key in PLACEHOLDERS if not values.get(key)]
        unknown = sorted(placeholders_in(text) - set(PLACEHOLDERS))
        if missing or unknown:
            raise ValueError(f"state machine placeholders: no value for {missing}, not in PLACEHOLDERS: {unknown}")
        return {key: values[key] for key in PLACEHOLDERS}
