"""A Distributed Map on moto's Step Functions executor, with offline.engine's patches.

The shape the pipeline's chunk loop uses: ItemReader (s3:getObject, a JSON array of small
objects), ItemSelector with `$$.Map.Item.Value` and fields of the Map state's input,
MaxConcurrency 1, and an output kept small. moto alone ignores failed children; with the
patch the Map Run fails with States.ExceedToleratedFailureThreshold as on AWS.
"""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import custom_labels, engine  # noqa: E402
from offline.clock import SYSTEM_CLOCK, ManualClock  # noqa: E402
from offline.custom_labels import ServiceTiming  # noqa: E402

REGION = "us-east-1"
BUCKET = "chunk-items"
ROLE = "arn:aws:iam::123456789012:role/sfn"

# A child that fails on the chunks listed in the Map state's input `$.failOn`.
FAILING_CHILD: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
            "Default": "Done",
        },
        "Boom": {"Type": "Fail", "Error": "Chunk.Failed", "Cause": "chunk failed"},
        "Done": {"Type": "Pass", "Parameters": {"chunk.$": "$.chunk"}, "End": True},
    },
}


@pytest.fixture(scope="module")
def aws_module() -> Iterator[dict[str, Any]]:
    custom_labels.install()
    custom_labels.configure(clock=ManualClock(), timing=ServiceTiming(create_seconds=0.0, update_seconds=0.0))
    engine.install(ManualClock())
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield {
            "s3": s3,
            "sfn": boto3.client("stepfunctions", region_name=REGION),
            "rekognition": boto3.client("rekognition", region_name=REGION),
            "lambda": boto3.client("lambda", region_name=REGION),
            "iam": boto3.client("iam", region_name=REGION),
        }
    custom_labels.configure(clock=SYSTEM_CLOCK, timing=ServiceTiming())
    engine.set_clock(SYSTEM_CLOCK)  # the engine stays installed: leave it in real time


@pytest.fixture
def aws(aws_module: dict[str, Any]) -> dict[str, Any]:
    engine.reset_child_history()
    return aws_module


def put_items(aws: dict[str, Any], count: int, key: str = "items.json") -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps([{"chunk": i} for i in range(1, count + 1)]))


def definition(child: dict[str, Any], **map_fields: Any) -> dict[str, Any]:
    map_state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemSelector": {
            "chunk.$": "$$.Map.Item.Value.chunk",
            "index.$": "$$.Map.Item.Index",
            "run.$": "$.run",
            "fail.$": "States.ArrayContains($.failOn, $$.Map.Item.Value.chunk)",
        },
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **child},
        "MaxConcurrency": 1,
        "ResultPath": None,
        "Catch": [
            {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "Caught"}
        ],
        "Next": "Finished",
    }
    map_state.update(map_fields)
    return {
        "StartAt": "Chunks",
        "States": {
            "Chunks": map_state,
            "Finished": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def run(aws: dict[str, Any], asl: dict[str, Any], fail_on: list[int] | None = None, key: str = "items.json") -> Any:
    sfn = aws["sfn"]
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=json.dumps(asl), roleArn=ROLE)[
        "stateMachineArn"
    ]
    payload = {"bucket": BUCKET, "key": key, "run": "R1", "failOn": fail_on or []}
    # Always name executions offline: moto names a nameless one "None" (a second one then clashes).
    arn = sfn.start_execution(stateMachineArn=machine, name="run", input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 20
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.02)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return described, [event["type"] for event in events]


def output(described: dict[str, Any]) -> Any:
    return json.loads(described["output"])


def test_all_items_succeed_in_order_with_item_selector(aws: dict[str, Any]) -> None:
    put_items(aws, 6)
    child = {
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Pass",
                "Parameters": {"input.$": "$", "execution.$": "$$.Execution.Id"},
                "End": True,
            }
        },
    }
    described, events = run(aws, definition(child, ResultPath="$.results"))

    assert described["status"] == "SUCCEEDED"
    results = output(described)["results"]
    assert [r["input"] for r in results] == [
        {"chunk": i, "index": i - 1, "run": "R1", "fail": False} for i in range(1, 7)
    ]
    # moto quirk: a child's $$.Execution.Id is the parent's ARN (on AWS, the child's own).
    assert {r["execution"] for r in results} == {described["executionArn"]}
    children = engine.child_history()
    assert [c.index for c in children] == list(range(6))  # MaxConcurrency 1: one after another
    assert {c.status for c in children} == {"SUCCEEDED"}
    assert children[0].event_types == ("ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded")
    assert events.count("MapRunStarted") == 1 and "MapRunSucceeded" in events


def test_failed_item_exceeds_default_threshold_and_stops_the_map_run(aws: dict[str, Any]) -> None:
    put_items(aws, 6)
    described, events = run(aws, definition(FAILING_CHILD), fail_on=[3])

    assert described["status"] == "SUCCEEDED"  # the parent's Catch handled the Map's failure
    assert output(described)["error"] == {"Error": engine.THRESHOLD_ERROR, "Cause": engine.THRESHOLD_CAUSE}
    children = engine.child_history()
    assert [(c.index, c.status) for c in children] == [(0, "SUCCEEDED"), (1, "SUCCEEDED"), (2, "FAILED")]
    assert children[2].event_types[-1] == "ExecutionFailed"
    assert (children[2].error, children[2].cause) == ("Chunk.Failed", "chunk failed")
    assert events[events.index("MapRunStarted") :][:3] == ["MapRunStarted", "MapRunFailed", "MapStateFailed"]
    assert events[-3:] == ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_uncaught_threshold_failure_fails_the_execution(aws: dict[str, Any]) -> None:
    put_items(aws, 4)
    described, _ = run(aws, definition(FAILING_CHILD, Catch=[]), fail_on=[1])

    assert described["status"] == "FAILED"
    assert described["error"] == engine.THRESHOLD_ERROR
    assert described["cause"] == engine.THRESHOLD_CAUSE
    assert [c.index for c in engine.child_history()] == [0]


@pytest.mark.parametrize(
    ("tolerance", "fail_on", "ran", "caught"),
    [
        ({"ToleratedFailureCount": 1}, [3], 6, False),
        ({"ToleratedFailureCount": 1}, [3, 5], 5, True),
        ({"ToleratedFailurePercentage": 20.0}, [3], 6, False),  # 1/6 = 16.7 % <= 20 %
        ({"ToleratedFailurePercentage": 20.0}, [3, 5], 5, True),  # 2/6 = 33.3 % > 20 %
        ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 20.0}, [3, 5], 5, True),  # either exceeds
        ({"ToleratedFailurePercentage": 100.0}, [1, 2, 3, 4, 5, 6], 6, False),
        ({"ToleratedFailurePercentage": 0.0}, [3], 3, True),  # declared 0: as the default
    ],
)
def test_tolerated_failures(
    aws: dict[str, Any], tolerance: dict[str, Any], fail_on: list[int], ran: int, caught: bool
) -> None:
    put_items(aws, 6)
    described, events = run(aws, definition(FAILING_CHILD, **tolerance), fail_on=fail_on)

    assert described["status"] == "SUCCEEDED"
    assert ("error" in output(described)) is caught
    assert ("MapRunFailed" in events) is caught
    children = engine.child_history()
    assert [c.index for c in children] == list(range(ran))
    assert [c.index + 1 for c in children if c.status == "FAILED"] == [i for i in fail_on if i <= ran]


def test_moto_refuses_an_integer_tolerated_failure_percentage(aws: dict[str, Any]) -> None:
    """moto's ASL grammar takes ToleratedFailurePercentage only as a decimal (0.0, 20.5);
    AWS takes any JSON number. Write 0.0, or leave the field out (the default is 0)."""
    integer = json.dumps(definition(FAILING_CHILD, ToleratedFailurePercentage=0))
    with pytest.raises(aws["sfn"].exceptions.ClientError, match="ASLParserException"):
        aws["sfn"].create_state_machine(name="integer-percentage", definition=integer, roleArn=ROLE)
    decimal = json.dumps(definition(FAILING_CHILD, ToleratedFailurePercentage=0.0))
    aws["sfn"].create_state_machine(name="decimal-percentage", definition=decimal, roleArn=ROLE)


def test_parent_history_does_not_grow_with_items_and_child_histories_are_recorded(aws: dict[str, Any]) -> None:
    put_items(aws, 10, key="ten.json")
    put_items(aws, 200, key="many.json")
    # moto evaluates every JSONPath by building a jsonpath_ng parser (~1 ms): few paths, fast test.
    lean = definition(FAILING_CHILD, ItemSelector={"chunk.$": "$$.Map.Item.Value.chunk", "fail": False})
    _, ten = run(aws, lean, key="ten.json")
    counts_ten = engine.child_history_counts()
    engine.reset_child_history()
    _, many = run(aws, lean, key="many.json")

    assert ten == many
    # ExecutionStarted, MapStateEntered/Started, MapRunStarted/Succeeded, MapStateSucceeded/Exited,
    # SucceedStateEntered/Exited, ExecutionSucceeded.
    assert len(many) == 10
    # Each child: ExecutionStarted, Choice entered/exited, Pass entered/exited, ExecutionSucceeded.
    assert counts_ten == [6] * 10
    assert engine.child_history_counts() == [6] * 200


def test_result_writer_and_result_selector_keep_the_output_small(aws: dict[str, Any]) -> None:
    put_items(aws, 6)
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET, "Prefix": "results"}}
    described, _ = run(aws, definition(FAILING_CHILD, ResultWriter=writer, ResultPath="$.written"))
    written = output(described)["written"]
    assert set(written) == {"MapRunArn", "ResultWriterDetails"}
    details = written["ResultWriterDetails"]
    assert details["Bucket"] == BUCKET and details["Key"].startswith("results/")
    assert details["Key"].endswith("/manifest.json")
    manifest = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=details["Key"])["Body"].read())
    assert manifest["MapRunArn"] == written["MapRunArn"]
    assert manifest["ResultFiles"] == {"FAILED": [], "PENDING": [], "SUCCEEDED": []}  # moto writes no result files

    selector = {"count.$": "States.ArrayLength($)"}
    described, _ = run(aws, definition(FAILING_CHILD, ResultSelector=selector, ResultPath="$.summary"))
    assert output(described)["summary"] == {"count": 6}


def test_lambda_and_rekognition_sdk_tasks_inside_a_child(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    def invoke(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else event
        return json.dumps({"doubled": payload["chunk"] * 2}), False, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    role = aws["iam"].create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    function = aws["lambda"].create_function(
        FunctionName="double",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    project = aws["rekognition"].create_project(ProjectName="pets")["ProjectArn"]
    dataset = aws["rekognition"].create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    put_items(aws, 3)
    child = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "ResultSelector": {"doubled.$": "$.Payload.doubled"},
                "ResultPath": "$.lambda",
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:rekognition:describeDataset",
                "Parameters": {"DatasetArn": dataset},
                "ResultSelector": {"status.$": "$.DatasetDescription.Status"},
                "ResultPath": "$.dataset",
                "End": True,
            },
        },
    }
    described, _ = run(aws, definition(child, ResultPath="$.results"))

    assert described["status"] == "SUCCEEDED", described
    results = output(described)["results"]
    assert [r["lambda"]["doubled"] for r in results] == [2, 4, 6]
    assert {r["dataset"]["status"] for r in results} == {"CREATE_COMPLETE"}
    assert engine.child_history()[0].event_types == (
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    )
