"""Executions over Step Functions: existence and status by name, idempotent start."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError


def state_machine_of(execution_arn: str) -> str:
    """arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME -> arn:aws:states:REGION:ACCOUNT:stateMachine:MACHINE."""
    head, sep, rest = execution_arn.partition(":execution:")
    if not sep or ":" not in rest:
        raise ValueError(f"not an execution ARN: {execution_arn!r}")
    return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


class StepFunctionsExecutions:
    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self._sfn = sfn
        self._state_machine_arn = state_machine_arn

    def _execution_arn(self, name: str) -> str:
        # arn:aws:states:region:account:stateMachine:NAME -> arn:aws:states:region:account:execution:NAME:exec
        head, _, machine = self._state_machine_arn.rpartition(":stateMachine:")
        return f"{head}:execution:{machine}:{name}"

    def exists(self, name: str) -> bool:
        return self.status(name) is not None

    def status(self, name: str) -> str | None:
        try:
            described = self._sfn.describe_execution(executionArn=self._execution_arn(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise
        return str(described["status"])

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        try:
            self._sfn.start_execution(stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def input_of(self, name: str) -> str:
        return str(self._sfn.describe_execution(executionArn=self._execution_arn(name))["input"])

    def start_raw(self, name: str, payload: str) -> str:
        return str(
            self._sfn.start_execution(stateMachineArn=self._state_machine_arn, name=name, input=payload)["executionArn"]
        )
