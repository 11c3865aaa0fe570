"""State machine task: wait for the dataset's turn, then lay out the chunks to apply."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from labelsync.adapters.aws_clients import client, table
from labelsync.adapters.dynamodb_ledger import DynamoDBLedger
from labelsync.adapters.s3_store import S3Store
from labelsync.adapters.step_functions import StepFunctionsExecutions, state_machine_of
from labelsync.observability import correlate, log_metrics, logger, manifest_uri, tracer
from labelsync.settings import Settings
from labelsync.usecases.take_turn import take_turn


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    settings.require("ledger_table")
    state = event["state"]
    # The state machine's ARN comes from the execution's: an environment variable would make the
    # function (a task of the state machine) and the state machine depend on each other.
    state_machine_arn = state_machine_of(str(event["executionArn"]))
    correlate(execution=event.get("execution"), manifest=manifest_uri(state["run"]))
    result = take_turn(
        {**state, "execution": event["execution"]},
        ledger=DynamoDBLedger(table(settings.ledger_table)),
        executions=StepFunctionsExecutions(client("stepfunctions"), state_machine_arn),
        store=S3Store(client("s3")),
    )
    logger.info("turn granted" if result["granted"] else "waiting for the dataset", extra={"turn": result})
    return result
