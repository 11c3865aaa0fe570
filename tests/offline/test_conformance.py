"""Each operation's request and response on the wire, checked against botocore's service model.

A real boto3 call per operation; the JSON body it sent and the raw JSON body the service
answered are captured from botocore's events and walked with a recursive shape checker:
every required member present, no member the shape does not have, JSON types right,
enums, lengths, ranges and patterns respected. Errors are checked for the JSON error
shape botocore maps to the modeled exception classes.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import regex
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import custom_labels  # noqa: E402
from offline.clock import SYSTEM_CLOCK  # noqa: E402
from offline.custom_labels import ServiceTiming  # noqa: E402

REGION = "us-east-1"
MODEL = botocore.session.get_session().get_service_model("rekognition")
OPERATIONS = sorted(custom_labels.faults.OPERATIONS)
MANIFEST = (ROOT / "examples" / "manifests" / "pets-clean.jsonl").read_bytes()
NO_LABEL = b'{"source-ref": "s3://labelsync-demo-images/pets/no-label.jpg"}\n'


# -- the shape checker ------------------------------------------------------------------------------
def shape_problems(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Where a JSON value (as on the wire) breaks `shape`; [] when it conforms."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        members = shape.members
        problems = [f"{path}.{n}: required member missing" for n in shape.required_members if n not in value]
        problems += [f"{path}.{n}: not a member of {shape.name}" for n in value if n not in members]
        for name, item in value.items():
            if name in members:
                problems += shape_problems(members[name], item, f"{path}.{name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        problems = _size(meta, len(value), path)
        for index, item in enumerate(value):
            problems += shape_problems(shape.member, item, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        problems = _size(meta, len(value), path)
        for key, item in value.items():
            problems += shape_problems(shape.key, key, f"{path}<key>")
            problems += shape_problems(shape.value, item, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            return [f"{path}: {value!r} not in {enum}"]
        problems = _size(meta, len(value), path)
        pattern = meta.get("pattern")
        if pattern and regex.fullmatch(pattern, value, regex.DOTALL) is None:
            problems.append(f"{path}: {value[:80]!r} does not match {pattern}")
        return problems
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer, got {type(value).__name__}"]
        problems = []
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} < min {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} > max {meta['max']}")
        return problems
    if kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {type(value).__name__}"]
    if kind == "timestamp":  # the JSON protocol sends epoch seconds
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected epoch seconds, got {value!r}"]
    if kind == "blob":
        if not isinstance(value, str):
            return [f"{path}: expected base64 text"]
        try:
            decoded = base64.b64decode(value, validate=True)
        except ValueError:
            return [f"{path}: not base64"]
        return _size(meta, len(decoded), path)
    return [f"{path}: unchecked type {kind}"]


def _size(meta: dict[str, Any], size: int, path: str) -> list[str]:
    if "min" in meta and size < meta["min"]:
        return [f"{path}: size {size} < min {meta['min']}"]
    if "max" in meta and size > meta["max"]:
        return [f"{path}: size {size} > max {meta['max']}"]
    return []


def test_the_checker_catches_what_it_should() -> None:
    shape = MODEL.operation_model("DescribeDataset").output_shape
    good = {
        "DatasetDescription": {
            "CreationTimestamp": 1.5,
            "Status": "CREATE_COMPLETE",
            "DatasetStats": {"LabeledEntries": 0, "TotalEntries": 0, "TotalLabels": 0, "ErrorEntries": 0},
        }
    }
    assert shape_problems(shape, good) == []
    bad = {"DatasetDescription": {"CreationTimestamp": "2024", "Status": "DONE", "DatasetStats": {"TotalEntries": -1}}}
    assert len(shape_problems(shape, {**bad, "Extra": 1})) == 4
    request = MODEL.operation_model("ListDatasetEntries").input_shape
    assert shape_problems(request, {"MaxResults": 0}) == [
        "$.DatasetArn: required member missing",
        "$.MaxResults: 0 < min 1",
    ]


# -- capturing the wire ---------------------------------------------------------------------------------
@dataclass
class Wire:
    requests: list[tuple[str, Any]] = field(default_factory=list)
    responses: list[tuple[str, int, Any]] = field(default_factory=list)

    def before_send(self, request: Any, **_: Any) -> None:
        operation = request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1]
        self.requests.append((operation, json.loads(request.body or b"{}")))

    def before_parse(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        body = json.loads(response_dict["body"] or b"{}")
        self.responses.append((operation_model.name, response_dict["status_code"], body))


@pytest.fixture
def wire() -> Iterator[tuple[Any, Wire]]:
    custom_labels.install()
    custom_labels.configure(clock=SYSTEM_CLOCK, timing=ServiceTiming(create_seconds=0.0, update_seconds=0.0))
    captured = Wire()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="manifests")
        s3.put_object(Bucket="manifests", Key="pets.jsonl", Body=MANIFEST + NO_LABEL)
        client = boto3.client("rekognition", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
        client.meta.events.register("before-send.rekognition", captured.before_send)
        client.meta.events.register("before-parse.rekognition", captured.before_parse)
        yield client, captured
    custom_labels.configure(timing=ServiceTiming())


def exercise(client: Any) -> None:
    """Every operation once or more, with every request member the pipeline or a user might send."""
    project = client.create_project(ProjectName="conformance", Feature="CUSTOM_LABELS", Tags={"team": "ml"})
    project_arn = project["ProjectArn"]
    train = client.create_dataset(
        ProjectArn=project_arn,
        DatasetType="TRAIN",
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": "manifests", "Name": "pets.jsonl"}}},
        Tags={"team": "ml"},
    )["DatasetArn"]
    test = client.create_dataset(ProjectArn=project_arn, DatasetType="TEST", DatasetSource={"DatasetArn": train})
    client.describe_dataset(DatasetArn=train)
    client.update_dataset_entries(DatasetArn=test["DatasetArn"], Changes={"GroundTruth": MANIFEST})
    client.describe_projects(ProjectNames=["conformance"], Features=["CUSTOM_LABELS"], MaxResults=10)
    client.describe_dataset(DatasetArn=test["DatasetArn"])
    page = client.list_dataset_entries(DatasetArn=train, MaxResults=2)
    client.list_dataset_entries(DatasetArn=train, MaxResults=2, NextToken=page["NextToken"])
    client.list_dataset_entries(
        DatasetArn=train, ContainsLabels=["cat", "dog"], Labeled=True, SourceRefContains="pets/", HasErrors=False
    )
    client.list_dataset_entries(DatasetArn=train, HasErrors=True)
    client.list_dataset_labels(DatasetArn=train, MaxResults=1)
    client.delete_dataset(DatasetArn=test["DatasetArn"])
    client.delete_dataset(DatasetArn=train)
    client.delete_project(ProjectArn=project_arn)


def test_every_operation_conforms_to_the_service_model(wire: tuple[Any, Wire]) -> None:
    client, captured = wire
    exercise(client)
    assert {op for op, _ in captured.requests} == set(OPERATIONS)
    for operation, body in captured.requests:
        assert shape_problems(MODEL.operation_model(operation).input_shape, body) == [], operation
    for operation, status, body in captured.responses:
        assert status == 200, (operation, body)
        assert shape_problems(MODEL.operation_model(operation).output_shape, body) == [], operation

    # and the members a client relies on are there, not merely allowed
    responses = {op: body for op, _, body in captured.responses}
    description = responses["DescribeDataset"]["DatasetDescription"]
    assert set(description) == {
        "CreationTimestamp",
        "LastUpdatedTimestamp",
        "Status",
        "StatusMessage",
        "StatusMessageCode",
        "DatasetStats",
    }
    assert set(description["DatasetStats"]) == {"LabeledEntries", "TotalEntries", "TotalLabels", "ErrorEntries"}
    project = responses["DescribeProjects"]["ProjectDescriptions"][0]
    assert {"ProjectArn", "CreationTimestamp", "Status", "Datasets", "Feature"} <= set(project)
    assert {"CreationTimestamp", "DatasetType", "DatasetArn", "Status"} <= set(project["Datasets"][0])
    assert responses["ListDatasetLabels"]["DatasetLabelDescriptions"][0]["LabelStats"].keys() == {
        "EntryCount",
        "BoundingBoxCount",
    }
    with_errors = [body for op, _, body in captured.responses if op == "ListDatasetEntries"][-1]
    assert [json.loads(line)["source-ref"] for line in with_errors["DatasetEntries"]] == [
        "s3://labelsync-demo-images/pets/no-label.jpg"
    ]
    assert responses["DeleteProject"] == {"Status": "DELETING"}
    assert responses["UpdateDatasetEntries"] == {} and responses["DeleteDataset"] == {}


ERROR_CASES: list[tuple[str, Callable[[Any, str], Any], str, int]] = [
    (
        "DescribeDataset",
        lambda c, arn: c.describe_dataset(DatasetArn=arn.rsplit("/", 1)[0] + "/1"),
        "ResourceNotFoundException",
        400,
    ),
    ("CreateProject", lambda c, arn: c.create_project(ProjectName="bad name!"), "ValidationException", 400),
    ("CreateProject", lambda c, arn: c.create_project(ProjectName="errors"), "ResourceInUseException", 400),
    (
        "CreateDataset",
        lambda c, arn: c.create_dataset(ProjectArn=arn.split("/dataset/")[0] + "/1", DatasetType="TRAIN"),
        "ResourceNotFoundException",
        400,
    ),
    (
        "ListDatasetEntries",
        lambda c, arn: c.list_dataset_entries(DatasetArn=arn, NextToken="x"),
        "InvalidPaginationTokenException",
        400,
    ),
    (
        "ListDatasetEntries",
        lambda c, arn: c.list_dataset_entries(DatasetArn=arn, MaxResults=101),
        "ValidationException",
        400,
    ),
    (
        "ListDatasetEntries",
        lambda c, arn: c.list_dataset_entries(DatasetArn=arn, ContainsLabels=[]),
        "ValidationException",
        400,
    ),
    (
        "ListDatasetLabels",
        lambda c, arn: c.list_dataset_labels(DatasetArn="arn:aws:s3:::x" * 2),
        "ValidationException",
        400,
    ),
    (
        "UpdateDatasetEntries",
        lambda c, arn: c.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": b""}),
        "ValidationException",
        400,
    ),
    ("DescribeProjects", lambda c, arn: c.describe_projects(Features=["NOPE"]), "ValidationException", 400),
    (
        "DeleteProject",
        lambda c, arn: c.delete_project(ProjectArn=arn.split("/dataset/")[0] + "/1"),
        "ResourceNotFoundException",
        400,
    ),
]


@pytest.mark.parametrize(
    ("operation", "call", "code", "status"), ERROR_CASES, ids=[f"{c[0]}-{c[2]}" for c in ERROR_CASES]
)
def test_errors_have_the_json_error_shape(
    wire: tuple[Any, Wire], operation: str, call: Callable[[Any, str], Any], code: str, status: int
) -> None:
    client, captured = wire
    project_arn = client.create_project(ProjectName="errors")["ProjectArn"]
    arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")["DatasetArn"]
    unvalidated = boto3.client("rekognition", region_name=REGION, config=Config(parameter_validation=False))
    unvalidated.meta.events.register("before-parse.rekognition", captured.before_parse)
    with pytest.raises(ClientError) as raised:
        call(unvalidated, arn)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    modeled = {e.name for e in MODEL.operation_model(operation).error_shapes}
    if code in modeled:
        assert type(raised.value).__name__ == code  # botocore's modeled exception class
    else:  # ValidationException is a common AWS error, not in Rekognition's model
        assert code == "ValidationException"
    name, got_status, body = captured.responses[-1]
    assert (name, got_status) == (operation, status)
    assert set(body) == {"__type", "message"} and body["__type"] == code and body["message"]
