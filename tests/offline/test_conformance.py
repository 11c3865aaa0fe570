"""Each operation's request and response on the wire, checked against botocore's service model,
and every documented rule of the dataset service, by boto3 and by the AWS CLI.

A real boto3 call per operation; the JSON body it sent and the raw JSON body the service
answered are captured from botocore's events and walked with a recursive shape checker:
every required member present, no member the shape does not have, JSON types right,
enums, lengths, ranges and patterns respected. Errors are checked for the JSON error
shape botocore maps to the modeled exception classes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import regex
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape
from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import custom_labels  # noqa: E402
from offline.clock import SYSTEM_CLOCK, ManualClock  # noqa: E402
from offline.custom_labels import ServiceTiming  # noqa: E402
from offline.custom_labels.dataset import DatasetLimits  # noqa: E402
from tests.offline.images import put_images  # noqa: E402

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
    custom_labels.configure(
        clock=SYSTEM_CLOCK, timing=ServiceTiming(create_seconds=0.0, update_seconds=0.0, delete_seconds=0.0)
    )
    captured = Wire()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="manifests")
        s3.put_object(Bucket="manifests", Key="pets.jsonl", Body=MANIFEST + NO_LABEL)
        put_images(MANIFEST, NO_LABEL)
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
    empty_test = client.create_dataset(ProjectArn=project_arn, DatasetType="TEST")["DatasetArn"]
    client.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": empty_test}])
    client.delete_dataset(DatasetArn=empty_test)
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
    assert responses["DistributeDatasetEntries"] == {}


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


# -- the documented rules, each beside its page of the developer guide, by boto3 and by the AWS CLI ----
# Pages are under docs.aws.amazon.com/rekognition/latest/customlabels-dg/ (FACTS.md names them the same way).
IMAGES = "conformance-images"
RULE_TIMING = ServiceTiming(create_seconds=0.0, update_seconds=0.0, delete_seconds=0.0)


class ApiError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


class Api:
    """One way of calling the service: boto3 or the AWS CLI, against the same local server."""

    kind = ""

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        raise NotImplementedError


class Boto3Api(Api):
    kind = "boto3"

    def __init__(self, endpoint: str) -> None:
        self.client = boto3.client(
            "rekognition",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        if operation == "UpdateDatasetEntries":
            params["Changes"] = {"GroundTruth": params["Changes"]["GroundTruth"].encode()}
        try:
            if operation == "ListDatasetEntries":  # every page, as the CLI collects them
                pages = self.client.get_paginator("list_dataset_entries").paginate(**params)
                return {"DatasetEntries": [line for page in pages for line in page["DatasetEntries"]]}
            return dict(getattr(self.client, regex.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(**params))
        except ClientError as exc:
            raise ApiError(exc.response["Error"]["Code"], str(exc)) from None


class CliApi(Api):
    """`aws rekognition <operation> --cli-input-json`: AWS CLI v1 base64-encodes a blob given as text."""

    kind = "aws-cli"

    def __init__(self, endpoint: str, aws: str, workdir: Path) -> None:
        self.endpoint, self.aws, self.workdir = endpoint, aws, workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(workdir / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1",
        }

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        request = self.workdir / "request.json"
        request.write_text(json.dumps(params))
        command = regex.sub(r"(?<!^)(?=[A-Z])", "-", operation).lower()
        done = subprocess.run(
            [
                *(self.aws, "--endpoint-url", self.endpoint, "--output", "json", "rekognition", command),
                *("--cli-input-json", f"file://{request}"),
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if done.returncode != 0:
            found = regex.search(r"An error occurred \((\w+)\)", done.stderr)
            raise ApiError(found.group(1) if found else "CliFailure", done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else {}


def aws_cli() -> str | None:
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


@dataclass
class RuleServer:
    endpoint: str
    workdir: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # per api kind: the rulebook's entries


@pytest.fixture(scope="module")
def rule_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuleServer]:
    custom_labels.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield RuleServer(f"http://{host}:{port}", tmp_path_factory.mktemp("cli"))
    finally:
        server.stop()
        BackendDict.reset()  # leave no server-mode state behind
        custom_labels.configure(timing=ServiceTiming())


@pytest.fixture(params=["boto3", "aws-cli"])
def api(request: pytest.FixtureRequest, rule_server: RuleServer) -> Iterator[Api]:
    custom_labels.configure(clock=SYSTEM_CLOCK, timing=RULE_TIMING)
    backend = custom_labels.get_backend()
    backend.limits = DatasetLimits()
    if request.param == "boto3":
        yield Boto3Api(rule_server.endpoint)
        return
    aws = aws_cli()
    if aws is None:
        pytest.skip("the AWS CLI (`aws`, PyPI package awscli, pinned in requirements-dev.txt) is not installed")
    yield CliApi(rule_server.endpoint, aws, rule_server.workdir)


def fresh_dataset(api: Api, dataset_type: str = "TRAIN", project_arn: str | None = None) -> tuple[str, str]:
    """A new, empty dataset (and its project), created at once (RULE_TIMING)."""
    if project_arn is None:
        project_arn = api.call("CreateProject", ProjectName=f"p{uuid.uuid4().hex[:12]}")["ProjectArn"]
    arn = api.call("CreateDataset", ProjectArn=project_arn, DatasetType=dataset_type)["DatasetArn"]
    return project_arn, arn


def describe(api: Api, arn: str) -> dict[str, Any]:
    return dict(api.call("DescribeDataset", DatasetArn=arn)["DatasetDescription"])


def update(api: Api, arn: str, lines: list[str], *, staged: bool = True) -> dict[str, Any]:
    """UpdateDatasetEntries with these lines (their images put in the local S3 first unless `staged` is False)."""
    text = "\n".join(lines) + "\n"
    if staged:
        put_images(text)
    api.call("UpdateDatasetEntries", DatasetArn=arn, Changes={"GroundTruth": text})
    return describe(api, arn)


def image_line(name: str, label: str = "cat", bucket: str = IMAGES, **metadata: Any) -> str:
    """A clean image-level line (md-create-manifest-file-classification: every field Required)."""
    meta = {
        "confidence": 1,
        "class-name": label,
        "human-annotated": "yes",
        "creation-date": "2026-11-20T10:00:00.000",
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/animals",
        **metadata,
    }
    return json.dumps({"source-ref": f"s3://{bucket}/{name}.jpg", "animal": 1, "animal-metadata": meta})


def box_line(name: str, *, width: float = 640, height: float = 480, boxes: list[dict[str, Any]] | None = None) -> str:
    """A clean object-localization line (md-create-manifest-file-object-detection)."""
    boxes = [{"class_id": 0, "top": 10, "left": 10, "width": 50, "height": 50}] if boxes is None else boxes
    return json.dumps(
        {
            "source-ref": f"s3://{IMAGES}/{name}.jpg",
            "bb": {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": boxes},
            "bb-metadata": {
                "objects": [{"confidence": 1}] * len(boxes),
                "class-map": {"0": "cat", "1": "dog"},
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": "2026-11-20T10:00:00",
                "job-name": "labeling-job/pets",
            },
        }
    )


def _edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc)


def _drop_metadata_field(name: str, doc: dict[str, Any]) -> None:
    doc["animal-metadata"].pop(name)


def _many_labels(doc: dict[str, Any]) -> None:
    for index in range(51):
        doc[f"l{index}"] = 1
        doc[f"l{index}-metadata"] = {**doc["animal-metadata"], "class-name": f"label-{index}"}


Finding = tuple[
    str, str, str
]  # (where, level, code): where is "line", "<attr>", "<attr>.annotations[i]", "<attr>-metadata"


def findings(entry: dict[str, Any]) -> set[Finding]:
    """Every finding of a returned entry, in either form (errors / cl-errors, and warnings)."""
    found: set[Finding] = set()

    def take(where: str, holder: Any) -> None:
        if not isinstance(holder, dict):
            return
        for key, level in (("errors", "error"), ("cl-errors", "error"), ("warnings", "warning")):
            for item in holder.get(key) or []:
                found.add((where, level, item["code"]))

    take("line", entry)
    for key, value in entry.items():
        take(key, value)
        annotations = value.get("annotations") if isinstance(value, dict) else None
        for index, annotation in enumerate(annotations if isinstance(annotations, list) else []):
            take(f"{key}.annotations[{index}]", annotation)
    return found


@dataclass(frozen=True)
class LineRule:
    id: str
    page: str  # the developer guide's page
    line: str
    expected: frozenset[Finding]  # exactly these findings ({} = clean)
    staged: bool = True  # False: the line's image is not put in the local S3


def _rule(id: str, page: str, line: str, *expected: Finding, staged: bool = True) -> LineRule:
    return LineRule(id, page, line, frozenset(expected), staged)


LINE_RULES = [
    _rule("clean-image-level", "md-create-manifest-file-classification", image_line("clean-c")),
    _rule("clean-object-localization", "md-create-manifest-file-object-detection", box_line("clean-d")),
    _rule(
        "image-size-32x32",
        "limits; tm-debugging-json-line-errors (ERROR_INVALID_IMAGE_DIMENSION)",
        box_line("small", width=32, height=32, boxes=[{"class_id": 0, "top": 1, "left": 1, "width": 10, "height": 10}]),
        ("bb", "error", "ERROR_INVALID_IMAGE_DIMENSION"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule(
        "image-size-5000x5000",
        "limits; tm-debugging-json-line-errors (ERROR_INVALID_IMAGE_DIMENSION)",
        box_line("large", width=5000, height=5000),
        ("bb", "error", "ERROR_INVALID_IMAGE_DIMENSION"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule(
        "aspect-ratio-21-to-1",
        "limits (maximum image aspect ratio 20:1)",
        box_line("thin", width=1344, height=64),
        ("bb", "error", "ERROR_INVALID_IMAGE_DIMENSION"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule("aspect-ratio-20-to-1", "limits (maximum image aspect ratio 20:1)", box_line("edge", width=1280, height=64)),
    _rule(
        "box-1x1-on-640x480",
        "tm-debugging-json-line-errors (ERROR_BOUNDING_BOX_TOO_SMALL: greater than 1 x 1 pixels)",
        box_line("tiny", boxes=[{"class_id": 0, "top": 5, "left": 5, "width": 1, "height": 1}]),
        ("bb.annotations[0]", "error", "ERROR_BOUNDING_BOX_TOO_SMALL"),
        ("bb", "error", "ERROR_NO_VALID_ANNOTATIONS"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule(
        "box-2x2-on-640x480",
        "tm-debugging-json-line-errors (ERROR_BOUNDING_BOX_TOO_SMALL)",
        box_line("small-box", boxes=[{"class_id": 0, "top": 5, "left": 5, "width": 2, "height": 2}]),
    ),
    _rule(
        "51-labels-on-one-image",
        "limits (maximum number of labels per image is 50; no code documented)",
        _edit(image_line("many-labels"), _many_labels),
        ("line", "error", "ERROR_TOO_MANY_LABELS_ON_IMAGE"),
    ),
    *[
        _rule(
            f"image-level-without-{field_name}",
            "md-create-manifest-file-classification (Required fields)",
            _edit(image_line(f"no-{field_name}"), partial(_drop_metadata_field, field_name)),
            ("animal-metadata", "error", "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"),
            ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
        )
        for field_name in ("confidence", "human-annotated", "creation-date")
    ],
    _rule(
        "image-level-string-attribute",
        "md-create-manifest-file-classification (the attribute is an integer)",
        _edit(image_line("string-value"), lambda d: d.update(animal="cat")),
        ("line", "error", "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule(
        "empty-annotations",
        "tm-debugging-json-line-errors (WARNING_NO_ANNOTATIONS, WARNING_NO_ATTRIBUTE_ANNOTATIONS)",
        box_line("no-boxes", boxes=[]),
        ("bb", "warning", "WARNING_NO_ATTRIBUTE_ANNOTATIONS"),
        ("line", "warning", "WARNING_NO_ANNOTATIONS"),
    ),
    _rule(
        "only-the-image",
        "tm-debugging-json-line-errors (WARNING_UNANNOTATED_RECORD)",
        json.dumps({"source-ref": f"s3://{IMAGES}/unlabeled.jpg"}),
        ("line", "warning", "WARNING_UNANNOTATED_RECORD"),
    ),
    _rule(
        "unsupported-type",
        "tm-debugging-json-line-errors (ERROR_UNSUPPORTED_USE_CASE_TYPE, the cl-errors example)",
        _edit(image_line("wrong-type"), lambda d: d["animal-metadata"].update(type="groundtruth/wrongtype")),
        ("animal-metadata", "error", "ERROR_UNSUPPORTED_USE_CASE_TYPE"),
        ("line", "error", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
    ),
    _rule(
        "missing-image",
        "md-create-manifest-file-validation-rules (missing source-ref object, under 20%: warning); "
        "tm-debugging-json-line-errors (ERROR_INVALID_IMAGE)",
        image_line("not-there"),
        ("line", "error", "ERROR_INVALID_IMAGE"),
        staged=False,
    ),
]


def rulebook_entries(api: Api, rule_server: RuleServer) -> dict[str, Any]:
    """Every LINE_RULES line in one update of one dataset, listed back (once per api kind)."""
    if api.kind not in rule_server.results:
        _, arn = fresh_dataset(api)
        put_images("\n".join(rule.line for rule in LINE_RULES if rule.staged))
        described = update(api, arn, [rule.line for rule in LINE_RULES], staged=False)
        assert described["Status"] == "UPDATE_COMPLETE", described
        listed = api.call("ListDatasetEntries", DatasetArn=arn)["DatasetEntries"]
        flagged = api.call("ListDatasetEntries", DatasetArn=arn, HasErrors=True)["DatasetEntries"]
        entries = {json.loads(text)["source-ref"]: json.loads(text) for text in listed}
        rule_server.results[api.kind] = {
            "entries": entries,
            "flagged": {json.loads(text)["source-ref"] for text in flagged},
            "stats": described["DatasetStats"],
        }
    return rule_server.results[api.kind]


@pytest.mark.parametrize("rule", LINE_RULES, ids=[rule.id for rule in LINE_RULES])
def test_line_rule(api: Api, rule_server: RuleServer, rule: LineRule) -> None:
    """Each documented line rule, at the level and place the guide shows (page: `rule.page`)."""
    result = rulebook_entries(api, rule_server)
    entry = result["entries"][json.loads(rule.line)["source-ref"]]
    assert findings(entry) == rule.expected, rule.page
    # HasErrors lists every entry with a finding: warnings are "warning errors" (tm-debugging-scope-json-line).
    assert (entry["source-ref"] in result["flagged"]) is bool(rule.expected)
    # The dataset form (the guide's ERROR_UNSUPPORTED_USE_CASE_TYPE example): cl-errors and cl-metadata.
    assert "errors" not in json.dumps(entry).replace('"cl-errors"', "")
    assert entry["cl-metadata"] == {"is_labeled": rule.id != "only-the-image"}


def test_rulebook_statistics(api: Api, rule_server: RuleServer) -> None:
    """DescribeDataset counts the flagged entries (ErrorEntries) and the entries with a label attribute."""
    stats = rulebook_entries(api, rule_server)["stats"]
    flagged = sum(1 for rule in LINE_RULES if rule.expected)
    assert stats["TotalEntries"] == len(LINE_RULES) and stats["ErrorEntries"] == flagged
    assert stats["LabeledEntries"] == len(LINE_RULES) - 1


def test_blank_lines_count_as_invalid_dataset_objects(api: Api) -> None:
    """md-create-manifest-file-validation-rules: "Blank/invalid lines are also counted as dataset objects"."""
    _, arn = fresh_dataset(api)
    lines = [image_line(f"blank-{i}") for i in range(4)]
    described = update(api, arn, [lines[0], "", lines[1], "   ", lines[2], lines[3]])  # 2 of 6: over 20%
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessage"].startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR")
    assert describe(api, arn)["DatasetStats"]["TotalEntries"] == 0


def test_an_empty_manifest_is_an_error(api: Api) -> None:
    """md-create-manifest-file-validation-rules (Empty manifest: Error); tm-terminal-errors-reference."""
    _, arn = fresh_dataset(api)
    described = update(api, arn, ["", "  ", ""])
    assert (described["Status"], described["StatusMessage"].split(":")[0]) == ("UPDATE_FAILED", "ERROR_EMPTY_MANIFEST")


def test_images_in_two_buckets_fail_the_update(api: Api) -> None:
    """md-create-manifest-file-validation-rules ("Images in a dataset must be from same bucket");
    tm-debugging-aggregate-errors (ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS). Read for the whole dataset."""
    _, arn = fresh_dataset(api)
    described = update(api, arn, [image_line("a"), image_line("b", bucket="conformance-other")])
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessage"].startswith("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")
    assert update(api, arn, [image_line("a")])["Status"] == "UPDATE_COMPLETE"
    described = update(api, arn, [image_line("c", bucket="conformance-other")])  # the dataset's images are in IMAGES
    assert described["StatusMessage"].startswith("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS")


def test_over_20_percent_missing_images_fail_the_update(api: Api) -> None:
    """md-create-manifest-file-validation-rules: missing/inaccessible source-ref objects over 20% are an Error."""
    _, arn = fresh_dataset(api)
    present = [image_line(f"present-{i}") for i in range(3)]
    put_images("\n".join(present))
    described = update(api, arn, [*present, image_line("gone-1"), image_line("gone-2")], staged=False)
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessage"].startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR")


def test_images_per_dataset_are_limited(api: Api) -> None:
    """limits: at most 250,000 images per dataset (lowered to 3 here, so that a few lines reach it)."""
    assert DatasetLimits().max_images == 250_000
    custom_labels.get_backend().limits = DatasetLimits(max_images=3)
    _, arn = fresh_dataset(api)
    assert update(api, arn, [image_line(f"n-{i}") for i in range(3)])["Status"] == "UPDATE_COMPLETE"
    described = update(api, arn, [image_line("n-3")])
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessage"].startswith("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM")
    assert describe(api, arn)["DatasetStats"]["TotalEntries"] == 3


def test_labels_per_dataset_are_limited(api: Api) -> None:
    """limits: at most 250 unique labels per dataset; debugging-datasets-terminal-errors (ERROR_MANIFEST_TOO_MANY_LABELS)."""
    _, arn = fresh_dataset(api)
    described = update(api, arn, [image_line(f"label-{i}", label=f"label-{i}") for i in range(251)])
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessage"].startswith("ERROR_MANIFEST_TOO_MANY_LABELS")


def test_distribute_moves_a_fifth_of_training_to_the_empty_test_dataset(api: Api) -> None:
    """md-distributing-datasets; the API reference of DistributeDatasetEntries."""
    project_arn, train = fresh_dataset(api)
    _, test = fresh_dataset(api, "TEST", project_arn)
    lines = [image_line(f"d-{i}", label="cat" if i % 2 else "dog") for i in range(10)]
    assert update(api, train, lines)["Status"] == "UPDATE_COMPLETE"
    api.call("DistributeDatasetEntries", Datasets=[{"Arn": train}, {"Arn": test}])
    assert describe(api, train)["Status"] == describe(api, test)["Status"] == "UPDATE_COMPLETE"
    left = {json.loads(e)["source-ref"] for e in api.call("ListDatasetEntries", DatasetArn=train)["DatasetEntries"]}
    moved = {json.loads(e)["source-ref"] for e in api.call("ListDatasetEntries", DatasetArn=test)["DatasetEntries"]}
    assert (len(left), len(moved)) == (8, 2) and left | moved == {json.loads(line)["source-ref"] for line in lines}
    with pytest.raises(ApiError) as refused:  # the test dataset must be empty
        api.call("DistributeDatasetEntries", Datasets=[{"Arn": train}, {"Arn": test}])
    assert refused.value.code == "InvalidParameterException"


def test_distribute_fails_without_enough_images(api: Api) -> None:
    """debugging-datasets-terminal-errors (ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE)."""
    project_arn, train = fresh_dataset(api)
    _, test = fresh_dataset(api, "TEST", project_arn)
    update(api, train, [image_line(f"few-{i}", label=f"only-{i}") for i in range(5)])  # every label on one image
    api.call("DistributeDatasetEntries", Datasets=[{"Arn": train}, {"Arn": test}])
    for arn in (train, test):
        described = describe(api, arn)
        assert described["Status"] == "UPDATE_FAILED"
        assert described["StatusMessage"].startswith("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE")
    assert describe(api, train)["DatasetStats"]["TotalEntries"] == 5


def test_unknown_operations_answer_400_json(rule_server: RuleServer) -> None:
    """AWS's JSON protocol: an operation the endpoint does not know is a 400 JSON error, and every answer
    has the JSON content type (moto answered 500 with an HTML page, and text/html on success)."""
    for operation in ("ListTagsForResource", "NoSuchOperation", "CreateProjectVersion"):
        answer = requests.post(
            rule_server.endpoint,
            data=b"{}",
            headers={
                "X-Amz-Target": f"RekognitionService.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/rekognition/aws4_request",
            },
            timeout=30,
        )
        assert answer.status_code == 400, (operation, answer.text[:200])
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
        assert answer.json()["__type"] == "UnknownOperationException"
    described = requests.post(
        rule_server.endpoint,
        data=b"{}",
        headers={
            "X-Amz-Target": "RekognitionService.DescribeProjects",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/rekognition/aws4_request",
        },
        timeout=30,
    )
    assert described.status_code == 200 and described.headers["Content-Type"] == "application/x-amz-json-1.1"


def test_an_empty_next_token_starts_at_the_first_page(wire: tuple[Any, Wire]) -> None:
    """md-listing-dataset-entries-sdk: AWS's own Python sample sends NextToken="" on its first call."""
    client, _ = wire
    project_arn = client.create_project(ProjectName="tokens")["ProjectArn"]
    arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")["DatasetArn"]
    put_images(MANIFEST)
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": MANIFEST})
    assert len(client.list_dataset_entries(DatasetArn=arn, NextToken="")["DatasetEntries"]) == 6
    assert client.list_dataset_labels(DatasetArn=arn, NextToken="")["DatasetLabelDescriptions"]


def test_a_dataset_that_failed_creation_takes_no_update(wire: tuple[Any, Wire]) -> None:
    """debugging-datasets-terminal-errors: a CREATE_FAILED dataset is not usable; it must be created again."""
    client, _ = wire
    boto3.client("s3", region_name=REGION).put_object(Bucket="manifests", Key="bad.jsonl", Body=b"{bad\n{worse\n")
    project_arn = client.create_project(ProjectName="failed")["ProjectArn"]
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "manifests", "Name": "bad.jsonl"}}}
    arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN", DatasetSource=source)["DatasetArn"]
    assert client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"] == "CREATE_FAILED"
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": MANIFEST})


def test_deleting_takes_time(wire: tuple[Any, Wire]) -> None:
    """md-delete-dataset: the SDK examples wait for DescribeDataset to answer ResourceNotFoundException."""
    client, _ = wire
    clock = ManualClock()
    custom_labels.configure(clock=clock, timing=ServiceTiming(create_seconds=0.0, update_seconds=0.0, delete_seconds=5))
    project_arn = client.create_project(ProjectName="deleting")["ProjectArn"]
    arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")["DatasetArn"]
    client.delete_dataset(DatasetArn=arn)
    assert client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"] == "DELETE_IN_PROGRESS"
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": MANIFEST})
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.delete_project(ProjectArn=project_arn)
    clock.advance(5.0)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_dataset(DatasetArn=arn)
    client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")  # the slot is free again


# -- the forms the service writes, through the whole pipeline to its report ----------------------------
def _pipeline_report(form: str) -> dict[str, Any]:
    """Drop a manifest on the offline stack with the service writing `form`; the run's report."""
    from offline.stack import OfflineConfig, OfflineStack

    flagged = _edit(box_line("p-flagged"), lambda d: d["bb"]["annotations"][0].update(left=600))  # off the frame
    mixed = _edit(
        box_line("p-mixed", boxes=[]),  # WARNING_NO_ATTRIBUTE_ANNOTATIONS on bb ...
        lambda d: d.update(c=1, **{"c-metadata": {"type": "groundtruth/wrongtype"}}),  # ... an error on c
    )
    warned = box_line("p-warned", boxes=[])  # warnings only
    lines = [image_line(f"p-clean-{i}") for i in range(5)] + [flagged, mixed, warned]
    with OfflineStack(OfflineConfig(time_scale=0.001)) as stack:
        stack.service.entry_form = form  # type: ignore[assignment]
        stack.create_project("demo-project", ["TRAIN"])
        stack.drop("incoming/demo-project/train/forms.jsonl", ("\n".join(lines) + "\n").encode())
        stack.wait_until_idle()
        (report,) = stack.reports()
        return dict(report)


@pytest.mark.parametrize("form", ["dataset", "validation"])
def test_errors_in_either_form_reach_the_report(form: str) -> None:
    """tm-debugging-scope-json-line (`errors`) and the dataset form of tm-debugging-json-line-errors
    (`cl-errors`, `cl-metadata`): the report names the service's errors whichever form it writes."""
    report = _pipeline_report(form)
    found = {(e["sourceRef"].rsplit("/", 1)[1], e["location"], e["code"]) for e in report["entryErrors"]}
    assert found == {
        ("p-flagged.jpg", "bb.annotations[0]", "ERROR_INVALID_BOUNDING_BOX"),
        ("p-flagged.jpg", "bb", "ERROR_NO_VALID_ANNOTATIONS"),
        ("p-flagged.jpg", "line", "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
        ("p-mixed.jpg", "c-metadata", "ERROR_UNSUPPORTED_USE_CASE_TYPE"),
    }
    assert not any(e["location"].startswith("cl-") for e in report["entryErrors"])  # cl-metadata is no attribute


def test_warnings_reach_the_report() -> None:
    """tm-debugging-json-line-errors: WARNING_NO_ATTRIBUTE_ANNOTATIONS in `<attr>.warnings`, WARNING_NO_ANNOTATIONS
    in the line's `warnings`. The local service lists warned entries under HasErrors (the guide's "warning
    errors", docs/offline-stack.md); the report lists them at level `warning`, apart from errors, and an
    entry with warnings only never counts as an entry with errors."""
    report = _pipeline_report("dataset")
    listed = {(e["sourceRef"].rsplit("/", 1)[1], e["code"], e["level"]) for e in report["entryWarnings"]}
    assert listed == {
        ("p-warned.jpg", "WARNING_NO_ATTRIBUTE_ANNOTATIONS", "warning"),
        ("p-warned.jpg", "WARNING_NO_ANNOTATIONS", "warning"),
        ("p-mixed.jpg", "WARNING_NO_ATTRIBUTE_ANNOTATIONS", "warning"),
        ("p-mixed.jpg", "WARNING_NO_ANNOTATIONS", "warning"),
    }
    assert all(e["level"] == "error" for e in report["entryErrors"])
    assert report["counts"]["entriesWithErrors"] == 2  # p-flagged and p-mixed; warnings never count
    predicted = {(w["sourceRef"].rsplit("/", 1)[1], w["code"]) for w in report["warnings"]}
    assert {
        ("p-warned.jpg", "WARNING_NO_ATTRIBUTE_ANNOTATIONS"),
        ("p-warned.jpg", "WARNING_NO_ANNOTATIONS"),
    } <= predicted
