"""Synthesizing the CDK app for template tests: one synth per context variant per session."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from app import build_app
from infra.stack import LabelSyncStack

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-project"
PROJECTS = {PROJECT: {"datasetTypes": ["TRAIN", "TEST"], "createMissingDatasets": True}}
HANDLERS = {
    "plan": "labelsync.handlers.plan_manifest.handler",
    "take_turn": "labelsync.handlers.take_turn.handler",
    "resolve": "labelsync.handlers.resolve_dataset.handler",
    "skip_unchanged": "labelsync.handlers.skip_unchanged.handler",
    "apply": "labelsync.handlers.apply_chunk.handler",
    "record_chunk": "labelsync.handlers.record_chunk.handler",
    "replace_dataset": "labelsync.handlers.replace_dataset.handler",
    "report": "labelsync.handlers.report_run.handler",
}
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context (defaults and feature flags), as `cdk synth` would pass it."""
    context = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    context.update(overrides)
    return context


def synthesize(**overrides: Any) -> tuple[cdk.App, LabelSyncStack]:
    """Built exactly as app.py builds it, cdk-nag included (nagChecks defaults to true)."""
    return build_app(cdk_context(**overrides))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """CloudFormation intrinsics as readable text: Ref X -> ${X}, GetAtt X.Y -> ${X.Y}, Join concatenated."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"unexpected intrinsic {value}")


class Synth:
    """The template plus lookups by role, so IAM assertions read as 'the apply role may ...'."""

    def __init__(self, app: cdk.App, stack: LabelSyncStack) -> None:
        self.app = app
        self.stack = stack
        self.template = Template.from_stack(stack)
        self.json: dict[str, Any] = dict(self.template.to_json())
        self.resources: dict[str, Any] = self.json["Resources"]
        self.functions = {name: self._function_id(handler) for name, handler in HANDLERS.items()}  # name -> logical id
        self.state_machine = self.logical_id(stack.state_machine)
        self.bucket = self.logical_id(stack.bucket)
        self.access_logs = self.logical_id(stack.access_logs)
        self.topic = self.logical_id(stack.topic)
        self.alert_topic = self.logical_id(stack.alert_topic)
        self.failures = self.logical_id(stack.failures)
        self.ledger = self.logical_id(stack.ledger)
        self.roles = {name: self.props(fid)["Role"]["Fn::GetAtt"][0] for name, fid in self.functions.items()}
        self.roles["statemachine"] = self.props(self.state_machine)["RoleArn"]["Fn::GetAtt"][0]

    def logical_id(self, construct: Any) -> str:
        resource = construct.node.default_child
        return str(self.stack.resolve(self.stack.get_logical_id(resource)))

    def props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))

    def of_type(self, cfn_type: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def _function_id(self, handler: str) -> str:
        (logical_id,) = [
            k for k, v in self.of_type("AWS::Lambda::Function").items() if v["Properties"]["Handler"] == handler
        ]
        return logical_id

    def statements(self, role_id: str) -> Iterator[dict[str, Any]]:
        """Every statement of every policy attached to the role (its default policy and any separate one)."""
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                yield from policy["Properties"]["PolicyDocument"]["Statement"]

    def policies_of(self, role: str) -> dict[str, Any]:
        """Logical id -> AWS::IAM::Policy resource, for the policies attached to the role."""
        return {
            k: v
            for k, v in self.of_type("AWS::IAM::Policy").items()
            if {"Ref": self.roles[role]} in v["Properties"]["Roles"]
        }

    def grants(self, role: str) -> set[tuple[str, str]]:
        """Every (action, resource) pair the role is allowed, resources rendered as text. A statement with a
        condition adds ` if <condition JSON>` to its resources, so a conditional grant never passes for a
        plain one."""
        pairs = set()
        for statement in self.statements(self.roles[role]):
            assert statement["Effect"] == "Allow"
            condition = statement.get("Condition")
            suffix = f" if {json.dumps(condition, sort_keys=True)}" if condition else ""
            for action in _list(statement["Action"]):
                for resource in _list(statement["Resource"]):
                    pairs.add((action, render(resource) + suffix))
        return pairs

    def all_statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for policy in self.of_type("AWS::IAM::Policy").values():
            for role in policy["Properties"]["Roles"]:
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    yield role["Ref"], statement


@functools.cache
def variant(**overrides: Any) -> Synth:
    """One synth per distinct context override, shared by every test module in the session."""
    return Synth(*synthesize(**{key: json.loads(value) for key, value in overrides.items()}))


def synth_of(**overrides: Any) -> Synth:
    """`variant` with JSON-encoded values, so dict/list overrides can be cache keys."""
    return variant(**{key: json.dumps(value, sort_keys=True) for key, value in overrides.items()})
