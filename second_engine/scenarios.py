"""The mocked scenarios both engines run, and what they share: the definition, its input, the mocks.

Every Task state of the definition answers from a mock configuration in the `SFN_MOCK_CONFIG`
format (AWS Step Functions Local's, which LocalStack reads): per state a list of responses,
`Return` (a Lambda state's `{"StatusCode": 200, "Payload": ...}`, an SDK task's API response) or
`Throw` (`Error`, `Cause`), taken one per invocation of that state (retries count), the last one
repeating. The task states are found in the definition itself, so a Task state added to it is
mocked with a default answer without a change here. Nothing here imports an engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statemachine.definition import PLACEHOLDERS, definition_text, render

REGION = "us-east-1"
ACCOUNT = "123456789012"
STATE_MACHINE_NAME = "labelsync-pipeline"
CHILD_STATE_MACHINE_NAME = "labelsync-chunk"  # the Distributed Map's ItemProcessor as a machine of its own
BUCKET = "labelsync-second-engine"
PROJECT = "demo-project"
PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/1700000000000"
DATASET_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/dataset/train/1700000000001"
MAX_INVOCATIONS = 40  # responses defined per state (the last one repeats up to here)

Response = dict[str, Any]  # {"Return": ...} or {"Throw": {"Error": ..., "Cause": ...}}


def ok(payload: Any) -> Response:
    """A successful answer: the Lambda function's payload, or the SDK call's response."""
    return {"Return": payload}


def throw(error: str, cause: str) -> Response:
    return {"Throw": {"Error": error, "Cause": cause}}


def lambda_error_cause(message: str, error_type: str = "RuntimeError") -> str:
    """The Cause a Lambda function error carries: its JSON error object (what DescribeAlert shortens)."""
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": "mock", "stackTrace": []})


def substitutions() -> dict[str, str]:
    """A value for every placeholder of the definition (read from statemachine/definition.py)."""
    values: dict[str, str] = {}
    for key in PLACEHOLDERS:
        name = key.removesuffix("Arn")
        if key.endswith("FunctionArn"):
            values[key] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:labelsync-{name}"
        elif key.endswith("TopicArn"):
            values[key] = f"arn:aws:sns:{REGION}:{ACCOUNT}:labelsync-{name}"
        else:
            values[key] = f"arn:aws:{name.lower()}:{REGION}:{ACCOUNT}:{name}"
    return values


def rendered_definition() -> str:
    """statemachine/pipeline.asl.json as it is now, placeholders filled as statemachine.definition.render does."""
    text = definition_text()
    present = set(PLACEHOLDERS)
    return render({k: v for k, v in substitutions().items() if k in present}, text)


def _walk_states(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for nested in ("ItemProcessor", "Iterator"):
            if nested in state:
                yield from _walk_states(state[nested]["States"])
        for branch in state.get("Branches", []):
            yield from _walk_states(branch["States"])


def task_states(definition: str) -> dict[str, str]:
    """Every Task state of the definition (nested ones included): name -> Resource."""
    parsed = json.loads(definition)
    return {name: str(state["Resource"]) for name, state in _walk_states(parsed["States"]) if state["Type"] == "Task"}


def map_states(definition: str) -> dict[str, str]:
    """Every Map state: name -> processor mode (DISTRIBUTED or INLINE)."""
    parsed = json.loads(definition)
    return {
        name: str(state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode", "INLINE"))
        for name, state in _walk_states(parsed["States"])
        if state["Type"] == "Map"
    }


def distributed_map(definition: str) -> tuple[str, dict[str, Any]] | None:
    """The first DISTRIBUTED Map state of the top level: (name, state)."""
    for name, state in json.loads(definition)["States"].items():
        mode = state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode")
        if state["Type"] == "Map" and mode == "DISTRIBUTED":
            return str(name), dict(state)
    return None


def child_definition(definition: str) -> str | None:
    """The Distributed Map's ItemProcessor as a state machine of its own: what one child execution runs.

    LocalStack gives no history of a Map child; run on its own, with the input the ItemSelector
    builds, a child's states can be compared on both engines.
    """
    found = distributed_map(definition)
    if found is None:
        return None
    processor = found[1]["ItemProcessor"]
    return json.dumps(
        {"Comment": f"{found[0]}'s ItemProcessor", "StartAt": processor["StartAt"], "States": processor["States"]}
    )


def _path(document: Any, path: str) -> Any:
    value = document
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


def select(template: Any, state: Any, context: Mapping[str, Any]) -> Any:
    """A Parameters/ItemSelector template filled from `state` ($.a.b) and `context` ($$.a.b); dotted paths only."""
    if isinstance(template, dict):
        filled: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                source = context if value.startswith("$$") else state
                filled[key[:-2]] = _path(source, value[1:] if value.startswith("$$") else value)
            else:
                filled[key] = select(value, state, context)
        return filled
    if isinstance(template, list):
        return [select(v, state, context) for v in template]
    return template


def wait_schedule(*waits: int) -> dict[str, Any]:
    """ApplyChunk's poll schedule, as labelsync.usecases.apply_chunk.wait_state builds it."""
    return {"delay": waits[0], "rest": list(waits[1:]), "restCount": len(waits) - 1, "polls": 0, "waited": 0}


def description(status: str) -> dict[str, Any]:
    """DescribeDataset's answer (the SDK task's output before ResultSelector)."""
    return {
        "DatasetDescription": {
            "CreationTimestamp": "2026-12-05T10:00:00Z",
            "LastUpdatedTimestamp": "2026-12-05T10:00:30Z",
            "Status": status,
            "StatusMessage": "mocked",
            "StatusMessageCode": "CLIENT_ERROR" if status.endswith("_FAILED") else "SUCCESS",
            "DatasetStats": {"LabeledEntries": 2, "TotalEntries": 2, "TotalLabels": 1, "ErrorEntries": 0},
        }
    }


def granted(items_key: str, chunks: int) -> dict[str, Any]:
    return {
        "granted": True,
        "attempt": 1,
        "itemsKey": items_key,
        "chunks": chunks,
        "skipped": [],
        "resumedFrom": None,
        "supersededByNewer": 0,
    }


_REPORT_OUTCOMES = {
    "Report": "SUCCEEDED",
    "ReportRejected": "REJECTED",
}


def default_response(state: str, resource: str, items_key: str, chunks: int) -> Response:
    """What a Task state answers when the scenario says nothing about it."""
    if resource.endswith(":sns:publish"):
        return ok({"MessageId": "00000000-0000-4000-8000-000000000000"})
    if resource.endswith(":rekognition:describeDataset"):
        return ok(description("CREATE_COMPLETE" if "New" in state else "UPDATE_COMPLETE"))
    if state == "TakeTurn":
        return ok(granted(items_key, chunks))
    if state == "ResolveDataset":
        return ok({"arn": DATASET_ARN, "status": "CREATE_COMPLETE", "created": False, "projectArn": PROJECT_ARN})
    if state == "ApplyChunk":
        return ok({"wait": wait_schedule(0, 0, 0), "pending": [], "bytes": 100, "lines": 2, "split": False})
    if state.startswith("Report") or state.startswith("Confirm"):
        return ok({"outcome": _REPORT_OUTCOMES.get(state, "FAILED"), "published": True})
    return ok({"mocked": state})


@dataclass(frozen=True)
class Scenario:
    name: str  # the mock test case's name (letters only: it ends the state machine ARN after '#')
    summary: str
    responses: Mapping[str, Sequence[Response]] = field(default_factory=dict)
    chunks: int = 1
    plan_status: str = "READY"

    @property
    def items_key(self) -> str:
        return f"runs/{self.name}/items.json"

    def items(self) -> list[dict[str, Any]]:
        """The Distributed Map's items (what TakeTurn writes to items.json)."""
        return [{"chunk": i, "key": f"runs/{self.name}/chunks/{i:06d}.jsonl", "lines": 2} for i in range(self.chunks)]

    def execution_input(self) -> dict[str, Any]:
        """What the plan function starts the execution with (labelsync.usecases.plan_run)."""
        rejected = self.plan_status == "REJECTED"
        target = {"project": PROJECT, "datasetType": "TRAIN", "createMissing": True, "key": f"{PROJECT}/TRAIN"}
        return {
            "run": {
                "id": self.name,
                "bucket": BUCKET,
                "prefix": f"runs/{self.name}/",
                "manifest": {"bucket": BUCKET, "key": f"incoming/{PROJECT}/train/{self.name}.jsonl"},
                "order": f"00000001700000000000/{self.name}",
                "digest": "0" * 64,
            },
            "target": None if rejected else target,
            "plan": {"status": self.plan_status, "chunkCount": 0 if rejected else self.chunks, "counts": {}},
            "poll": {"initialSeconds": 0, "maxSeconds": 1, "timeoutSeconds": 2},
        }

    def child_inputs(self, definition: str, execution_arn: str) -> list[dict[str, Any]]:
        """Each Map child's input: the ItemSelector over the state the Map receives (the granted turn and
        the resolved dataset as mocked for this scenario)."""
        found = distributed_map(definition)
        if found is None:
            return []
        answers = self.state_responses(definition)

        def last_payload(state: str) -> Any:
            returned = [r["Return"] for r in answers.get(state, []) if "Return" in r]
            return returned[-1].get("Payload") if returned else None

        state = {**self.execution_input(), "turn": last_payload("TakeTurn"), "dataset": last_payload("ResolveDataset")}
        template = found[1].get("ItemSelector") or {}
        inputs = []
        for item in self.items():
            context = {"Map": {"Item": {"Value": item, "Index": item["chunk"]}}, "Execution": {"Id": execution_arn}}
            inputs.append(select(template, state, context) if template else item)
        return inputs

    def state_responses(self, definition: str) -> dict[str, list[Response]]:
        """Per Task state, the answers in invocation order (Lambda answers wrapped as Lambda returns them)."""
        tasks = task_states(definition)
        unknown = set(self.responses) - set(tasks)
        if unknown:
            raise ValueError(f"scenario {self.name} mocks states the definition does not have: {sorted(unknown)}")
        answers: dict[str, list[Response]] = {}
        for state, resource in tasks.items():
            given = list(self.responses.get(state) or [default_response(state, resource, self.items_key, self.chunks)])
            if resource.startswith("arn:aws:lambda:") or resource.endswith(":lambda:invoke"):
                given = [{"Return": {"StatusCode": 200, "Payload": r["Return"]}} if "Return" in r else r for r in given]
            answers[state] = given
        return answers


def mock_config(scenarios: Sequence[Scenario], definition: str) -> dict[str, Any]:
    """The SFN_MOCK_CONFIG document for all scenarios (one test case each)."""
    test_cases: dict[str, dict[str, str]] = {}
    mocked: dict[str, dict[str, Response]] = {}
    for scenario in scenarios:
        case: dict[str, str] = {}
        for state, answers in scenario.state_responses(definition).items():
            response_name = f"{scenario.name}.{state}"
            case[state] = response_name
            ranges: dict[str, Response] = {str(i): answer for i, answer in enumerate(answers[:-1])}
            last = len(answers) - 1
            ranges[f"{last}-{MAX_INVOCATIONS - 1}" if last < MAX_INVOCATIONS - 1 else str(last)] = answers[-1]
            mocked[response_name] = ranges
        test_cases[scenario.name] = case
    machines = {name: {"TestCases": test_cases} for name in (STATE_MACHINE_NAME, CHILD_STATE_MACHINE_NAME)}
    return {"StateMachines": machines, "MockedResponses": mocked}


def expand(ranges: Mapping[str, Response]) -> list[Response]:
    """A mocked response's ranges ("0", "1-39") as the list of answers, one per invocation."""
    answers: list[tuple[int, Response]] = []
    for key, answer in ranges.items():
        start, _, end = key.partition("-")
        answers += [(i, answer) for i in range(int(start), int(end or start) + 1)]
    return [answer for _, answer in sorted(answers, key=lambda pair: pair[0])]


REPORT_CRASH = lambda_error_cause("could not write the report: AccessDenied on PutObject", "ReportWriteError")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "Success",
        "two chunks; each update polled twice (UPDATE_IN_PROGRESS, then UPDATE_COMPLETE)",
        {
            "DescribeUpdate": [
                ok(description("UPDATE_IN_PROGRESS")),
                ok(description("UPDATE_COMPLETE")),
                ok(description("UPDATE_IN_PROGRESS")),
                ok(description("UPDATE_COMPLETE")),
            ]
        },
        chunks=2,
    ),
    Scenario(
        "Retry",
        "TakeTurn: Lambda.ServiceException, ApplyChunk: ServiceThrottledError, DescribeUpdate: "
        "Rekognition.ThrottlingException, each once, then success (the Retry blocks)",
        {
            "TakeTurn": [throw("Lambda.ServiceException", "mocked"), ok(granted("runs/Retry/items.json", 1))],
            "ApplyChunk": [
                throw("ServiceThrottledError", lambda_error_cause("throttled", "ServiceThrottledError")),
                ok({"wait": wait_schedule(0, 0), "pending": [], "bytes": 100, "lines": 2, "split": False}),
            ],
            "DescribeUpdate": [
                throw("Rekognition.ThrottlingException", "Rate exceeded"),
                ok(description("UPDATE_COMPLETE")),
            ],
        },
    ),
    Scenario(
        "CreationWait",
        "the TEST dataset is created: CREATE_IN_PROGRESS, polled until CREATE_COMPLETE",
        {
            "ResolveDataset": [
                ok({"arn": DATASET_ARN, "status": "CREATE_IN_PROGRESS", "created": True, "projectArn": PROJECT_ARN})
            ],
            "DescribeNewDataset": [ok(description("CREATE_IN_PROGRESS")), ok(description("CREATE_COMPLETE"))],
        },
    ),
    Scenario(
        "TurnWait",
        "another run holds the dataset: TakeTurn says wait 1 s, then grants the turn",
        {
            "TakeTurn": [
                ok({"granted": False, "attempt": 1, "waitSeconds": 1, "reason": "an older run is applying"}),
                ok(granted("runs/TurnWait/items.json", 1)),
            ]
        },
    ),
    Scenario(
        "UpdateFailed",
        "two chunks; the first update ends UPDATE_FAILED (the chunk reports and fails its child)",
        {"DescribeUpdate": [ok(description("UPDATE_FAILED")), ok(description("UPDATE_COMPLETE"))]},
        chunks=2,
    ),
    Scenario(
        "ReportFailed",
        "every chunk applied; the Report function fails, and ReportFailure too: the bare SNS alert",
        {
            "Report": [throw("ReportWriteError", REPORT_CRASH)],
            "ReportFailure": [throw("ReportWriteError", REPORT_CRASH)],
        },
    ),
    Scenario(
        "Rejected",
        "the plan rejected the manifest (plan.status REJECTED): only the rejection is reported",
        plan_status="REJECTED",
    ),
    Scenario(
        "ReconciliationFailed",
        "every chunk applied; the report finds images missing (outcome FAILED)",
        {"Report": [ok({"outcome": "FAILED", "published": True})]},
    ),
    Scenario(
        "CreationFailed",
        "the new dataset ends CREATE_FAILED: ReportFailure, then Fail with ErrorPath/CausePath",
        {
            "ResolveDataset": [
                ok({"arn": DATASET_ARN, "status": "CREATE_IN_PROGRESS", "created": True, "projectArn": PROJECT_ARN})
            ],
            "DescribeNewDataset": [ok(description("CREATE_FAILED"))],
        },
    ),
    Scenario(
        "UpdateTimedOut",
        "the update stays UPDATE_IN_PROGRESS past the schedule (three polls)",
        {"DescribeUpdate": [ok(description("UPDATE_IN_PROGRESS"))]},
    ),
    Scenario(
        "SplitChunk",
        "the chunk was split for its size: ApplyChunk returns a pending part, which is applied next (NextPart)",
        {
            "ApplyChunk": [
                ok(
                    {
                        "wait": wait_schedule(0, 0),
                        "pending": ["runs/SplitChunk/chunks/000000.p2.jsonl"],
                        "bytes": 50,
                        "lines": 1,
                        "split": True,
                    }
                ),
                ok({"wait": wait_schedule(0, 0), "pending": [], "bytes": 50, "lines": 1, "split": False}),
            ]
        },
    ),
    Scenario(
        "ChunkReportFailed",
        "an update fails and the chunk's report fails too: the child's bare SNS alert",
        {
            "DescribeUpdate": [ok(description("UPDATE_FAILED"))],
            "ReportChunkFailure": [throw("ReportWriteError", REPORT_CRASH)],
        },
    ),
)

REQUIRED = ("Success", "Retry", "CreationWait", "TurnWait", "UpdateFailed", "ReportFailed")


def by_name(names: Sequence[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    missing = [n for n in names if n not in known]
    if missing:
        raise SystemExit(f"unknown scenario(s) {missing}; known: {sorted(known)}")
    return [known[n] for n in names]
