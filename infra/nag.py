"""cdk-nag (3.x) wiring and acknowledgments.

Every acknowledgment names one rule and, for findings that carry one (IAM4, IAM5), the exact
finding, rendered the way cdk-nag renders it (`Resource::<Bucket.Arn>/runs/*`). Acknowledgments
are placed on the construct that owns the finding, never on the stack or the app.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"
# Construct metadata type under which every acknowledgment is also recorded (cloud assembly audit trail, tests).
METADATA_TYPE = "labelsync:acknowledgment"


def add_checks(app: App) -> None:
    """Run the AwsSolutions pack on synth: any unacknowledged finding makes synth fail (ValidationFailed)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str, finding: str | None = None) -> str:
    """Acknowledge `AwsSolutions-<rule>[<finding>]` on `scope` (and its children); returns the id."""
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    if not reason.strip():
        raise ValueError(f"{rule_id} on {scope.node.path}: an acknowledgment needs a reason")
    _apply(scope, Acknowledgment(id=rule_id, reason=reason))
    scope.node.add_metadata(METADATA_TYPE, {"id": rule_id, "reason": reason})
    return rule_id


def acknowledgments(root: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) for every acknowledgment made through this module under `root`."""
    return [
        (node.node.path, entry.data["id"], entry.data["reason"])
        for node in root.node.find_all()
        for entry in node.node.metadata
        if entry.type == METADATA_TYPE
    ]


def _apply(scope: IConstruct, ack: Acknowledgment) -> None:
    Validations.of(scope).acknowledge(ack)


def acknowledge_resource(scope: IConstruct, resource: str, reason: str) -> str:
    """IAM5 for one wildcard resource (a string that may hold tokens: bucket ARN, state machine name...)."""
    return acknowledge(scope, "IAM5", reason, finding="Resource::" + nag_text(Stack.of(scope).resolve(resource)))


def acknowledge_action(scope: IConstruct, action: str, reason: str) -> str:
    return acknowledge(scope, "IAM5", reason, finding=f"Action::{action}")


def nag_text(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it: Ref X -> <X>, GetAtt X.Y -> <X.Y>, Join concatenated."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return f"<{arg}>"
        if name == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>" if isinstance(arg, list) else f"<{arg}>"
        if name == "Fn::Join":
            separator, parts = arg
            return str(separator).join(nag_text(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding")
