"""Running one scenario on an engine through the Step Functions API (boto3), whichever engine serves it.

The engine-specific parts are how an execution gets its mock test case (`Engine.start`) and
what a Distributed Map child's history looks like (`Engine.children`); the rest (the S3 items,
the state machine, the wait, the history) is the same calls on both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from second_engine.scenarios import BUCKET, CHILD_STATE_MACHINE_NAME, STATE_MACHINE_NAME, Scenario, child_definition

MAP_EVENT_TYPES = ("MapRunStarted", "MapRunSucceeded", "MapRunFailed", "MapRunAborted")


@dataclass(frozen=True)
class RunResult:
    """What one execution of one scenario did, in terms both engines can answer."""

    engine: str
    scenario: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | RUNNING (did not end)
    error: str | None
    cause: str | None
    states: tuple[str, ...]  # the parent's StateEntered names, in order
    map_events: tuple[str, ...]  # MapRun* event types of the parent
    event_types: tuple[str, ...]  # every history event's type, in order
    item_counts: dict[str, int] | None  # DescribeMapRun itemCounts (succeeded/failed/...) per map run, summed
    children: tuple[tuple[str, ...], ...] | None  # each Distributed Map child's states; None: not inspectable
    seconds: float
    output: Any = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def end_state(self) -> str:
        return self.states[-1] if self.states else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "scenario": self.scenario,
            "status": self.status,
            "error": self.error,
            "cause": self.cause,
            "states": list(self.states),
            "mapEvents": list(self.map_events),
            "eventTypes": list(self.event_types),
            "itemCounts": self.item_counts,
            "children": None if self.children is None else [list(c) for c in self.children],
            "seconds": round(self.seconds, 2),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ChildResult:
    """One Map child run as an execution of its own (the ItemProcessor as a state machine)."""

    index: int
    status: str
    error: str | None
    states: tuple[str, ...]
    event_types: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "error": self.error,
            "states": list(self.states),
            "eventTypes": list(self.event_types),
        }


class Engine(Protocol):
    name: str

    def client(self, service: str) -> Any: ...

    def start(self, state_machine_arn: str, scenario: Scenario, execution_name: str, body: str) -> str:
        """Start the scenario's execution with its mock test case; the execution ARN."""
        ...

    def children(self, execution_arn: str, map_run_arns: Sequence[str]) -> tuple[tuple[str, ...], ...] | None: ...


@dataclass(frozen=True)
class Machines:
    pipeline: str  # the state machine ARNs
    child: str | None  # the Distributed Map's ItemProcessor on its own (None: the definition has no such map)


def prepare(engine: Engine, definition: str) -> Machines:
    """The bucket and the state machines."""
    engine.client("s3").create_bucket(Bucket=BUCKET)
    role = "arn:aws:iam::123456789012:role/labelsync-second-engine"
    sfn = engine.client("stepfunctions")

    def create(name: str, text: str) -> str:
        return str(
            sfn.create_state_machine(name=name, definition=text, roleArn=role, type="STANDARD")["stateMachineArn"]
        )

    child = child_definition(definition)
    return Machines(
        pipeline=create(STATE_MACHINE_NAME, definition),
        child=create(CHILD_STATE_MACHINE_NAME, child) if child is not None else None,
    )


def _execute(
    engine: Engine, state_machine_arn: str, scenario: Scenario, name: str, body: str, timeout: float
) -> tuple[str, dict[str, Any], list[dict[str, Any]], float]:
    sfn = engine.client("stepfunctions")
    started = time.monotonic()
    arn = engine.start(state_machine_arn, scenario, name, body)
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() - started > timeout:
            break
        time.sleep(0.05)
    return arn, described, history(sfn, arn), time.monotonic() - started


def run_children(
    engine: Engine, machines: Machines, scenario: Scenario, definition: str, *, timeout: float = 120.0
) -> tuple[ChildResult, ...]:
    """Each of the scenario's Map items through the ItemProcessor run on its own (mock counters start anew)."""
    if machines.child is None:
        return ()
    parent = f"{machines.pipeline.replace(':stateMachine:', ':execution:')}:{scenario.name}"
    results = []
    for index, child_input in enumerate(scenario.child_inputs(definition, parent)):
        name = f"{scenario.name}-child{index}-{int(time.time() * 1000)}"
        _, described, events, _ = _execute(engine, machines.child, scenario, name, json.dumps(child_input), timeout)
        types = tuple(str(e["type"]) for e in events)
        results.append(
            ChildResult(index, str(described["status"]), described.get("error"), entered_states(events), types)
        )
    return tuple(results)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn, maxResults=1000)
    return [event for page in pages for event in page["events"]]


def entered_states(events: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        str(e["stateEnteredEventDetails"]["name"])
        for e in events
        if str(e["type"]).endswith("StateEntered") and "stateEnteredEventDetails" in e
    )


def run(
    engine: Engine,
    state_machine_arn: str,
    scenario: Scenario,
    *,
    timeout: float = 120.0,
) -> RunResult:
    sfn = engine.client("stepfunctions")
    engine.client("s3").put_object(Bucket=BUCKET, Key=scenario.items_key, Body=json.dumps(scenario.items()).encode())
    name = f"{scenario.name}-{int(time.time() * 1000)}"
    arn, described, events, seconds = _execute(
        engine, state_machine_arn, scenario, name, json.dumps(scenario.execution_input()), timeout
    )
    notes: list[str] = []
    map_run_arns: list[str] = []
    item_counts: dict[str, int] | None = None
    try:
        map_run_arns = [str(m["mapRunArn"]) for m in sfn.list_map_runs(executionArn=arn).get("mapRuns", [])]
        for map_run_arn in map_run_arns:
            counts = sfn.describe_map_run(mapRunArn=map_run_arn).get("itemCounts", {})
            item_counts = item_counts or {}
            for key in ("succeeded", "failed", "timedOut", "aborted", "total"):
                item_counts[key] = item_counts.get(key, 0) + int(counts.get(key, 0))
    except Exception as exc:  # an engine without map runs in its API: say so, compare the rest
        notes.append(f"map runs not readable: {type(exc).__name__}: {exc}")
    output = described.get("output")
    return RunResult(
        engine=engine.name,
        scenario=scenario.name,
        status=str(described["status"]),
        error=described.get("error"),
        cause=described.get("cause"),
        states=entered_states(events),
        map_events=tuple(str(e["type"]) for e in events if str(e["type"]) in MAP_EVENT_TYPES),
        event_types=tuple(str(e["type"]) for e in events),
        item_counts=item_counts,
        children=engine.children(arn, map_run_arns),
        seconds=seconds,
        output=json.loads(output) if isinstance(output, str) and output else None,
        notes=tuple(notes),
    )
