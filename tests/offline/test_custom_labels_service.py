"""The local Rekognition Custom Labels dataset service, through boto3 as the pipeline uses it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import custom_labels  # noqa: E402
from offline.clock import SYSTEM_CLOCK, ManualClock, ScaledClock  # noqa: E402
from offline.custom_labels import ServiceTiming, entry_rules  # noqa: E402
from tests.offline.images import put_images  # noqa: E402

REGION = "us-east-1"
EXAMPLES = Path("/work/shared/examples/doc-example-lines.jsonl")
NO_RETRY = Config(retries={"total_max_attempts": 1})


# -- helpers ----------------------------------------------------------------------------------
def line(ref: str, **extra: Any) -> str:
    return json.dumps({"source-ref": ref, **extra})


DATE = "2026-11-20T10:00:00"


def classified(ref: str, name: str = "cat") -> str:
    meta = {
        "class-name": name,
        "confidence": 1,
        "type": entry_rules.CLASSIFICATION,
        "human-annotated": "yes",
        "creation-date": DATE,
    }
    return line(ref, animal=1, **{"animal-metadata": meta})


def boxed(
    ref: str, annotations: list[dict[str, Any]], *, width: int = 640, height: int = 480, objects: Any = None
) -> str:
    meta = {
        "objects": [{"confidence": 1}] * len(annotations) if objects is None else objects,
        "class-map": {"0": "cat", "1": "dog"},
        "type": entry_rules.DETECTION,
        "human-annotated": "yes",
        "creation-date": DATE,
    }
    value = {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations}
    return line(ref, **{"bb": value, "bb-metadata": meta})


def box(class_id: int = 0, top: float = 10, left: float = 10, width: float = 50, height: float = 50) -> dict[str, Any]:
    return {"class_id": class_id, "top": top, "left": left, "width": width, "height": height}


def blob(lines: list[str]) -> bytes:
    """The lines as a GroundTruth blob, their images put in the local S3 first (call it inside mock_aws)."""
    data = ("\n".join(lines) + "\n").encode()
    put_images(data)
    return data


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(client: Any, arn: str) -> str:
    return str(client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"])


def all_entries(client: Any, arn: str, **filters: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_dataset_entries").paginate(DatasetArn=arn, **filters)
    return [json.loads(text) for page in pages for text in page["DatasetEntries"]]


def codes(container: dict[str, Any]) -> list[str]:
    """Error codes in either form the service writes (dataset form: cl-errors)."""
    return [e["code"] for key in ("errors", "cl-errors") for e in container.get(key, [])]


def warning_codes(container: dict[str, Any]) -> list[str]:
    return [e["code"] for e in container.get("warnings", [])]


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    custom_labels.install()
    manual = ManualClock()
    custom_labels.configure(clock=manual, timing=ServiceTiming())
    yield manual
    custom_labels.configure(clock=SYSTEM_CLOCK, timing=ServiceTiming())


@pytest.fixture
def client(clock: ManualClock) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("rekognition", region_name=REGION, config=NO_RETRY)


def ready_dataset(client: Any, clock: ManualClock, project: str = "pets", dataset_type: str = "TRAIN") -> str:
    project_arn = client.create_project(ProjectName=project)["ProjectArn"]
    arn = str(client.create_dataset(ProjectArn=project_arn, DatasetType=dataset_type)["DatasetArn"])
    clock.advance(2.0)
    return arn


def applied(client: Any, clock: ManualClock, arn: str, lines: list[str]) -> str:
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(lines)})
    clock.advance(10.0)
    return status(client, arn)


# -- the main flow ----------------------------------------------------------------------------
FILLER = [classified(f"s3://bucket/filler/{i:02d}.jpg", "dog" if i % 2 else "cat") for i in range(30)]
DROPPED = [
    "{not json",
    "[1, 2, 3]",
    json.dumps({"animal": 1}),  # no source-ref
    line("/local/path/img.jpg"),
    line("s3://bucket-only/"),
    line("s3://bucket/huge.jpg", padding="x" * 100_001),
]
ERROR_LINES = {
    "s3://bucket/no-label.jpg": line("s3://bucket/no-label.jpg"),
    "s3://bucket/off-frame.jpg": boxed("s3://bucket/off-frame.jpg", [box(top=400, left=500, width=200, height=200)]),
    "s3://bucket/no-class.jpg": boxed("s3://bucket/no-class.jpg", [box(class_id=7), box(class_id=1)]),
    "s3://bucket/no-confidence.jpg": boxed("s3://bucket/no-confidence.jpg", [box()], objects=[]),
    "s3://bucket/tiny.jpg": boxed("s3://bucket/tiny.jpg", [box(width=1, height=1)], width=4000, height=3000),
    "s3://bucket/many.jpg": boxed("s3://bucket/many.jpg", [box()] * 51),
    "s3://bucket/zero-size.jpg": boxed("s3://bucket/zero-size.jpg", [box()], width=0),
    "s3://bucket/long-name.jpg": classified("s3://bucket/long-name.jpg", "n" * 257),
}


def test_create_update_list_flow(client: Any, clock: ManualClock) -> None:
    project_arn = client.create_project(ProjectName="pets")["ProjectArn"]
    assert project_arn.startswith(f"arn:aws:rekognition:{REGION}:123456789012:project/pets/")
    arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")["DatasetArn"]
    assert arn.startswith(f"arn:aws:rekognition:{REGION}:123456789012:project/pets/dataset/train/")
    assert status(client, arn) == "CREATE_IN_PROGRESS"
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    with pytest.raises(client.exceptions.ResourceNotReadyException):
        client.list_dataset_entries(DatasetArn=arn)
    clock.advance(2.0)
    assert status(client, arn) == "CREATE_COMPLETE"

    examples = EXAMPLES.read_text().replace("s3://my-bucket/", "s3://bucket/").splitlines()  # one bucket
    duplicate = classified("s3://bucket/filler/00.jpg", "wolf")  # same source-ref again: first one kept
    lines = [*examples, *FILLER, *ERROR_LINES.values(), *DROPPED, duplicate, "", "   "]
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(lines)})
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert described["Status"] == "UPDATE_IN_PROGRESS"
    assert described["DatasetStats"]["TotalEntries"] == 0  # applied atomically at completion
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    clock.advance(9.9)
    assert status(client, arn) == "UPDATE_IN_PROGRESS"
    clock.advance(0.1)
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert (described["Status"], described["StatusMessageCode"]) == ("UPDATE_COMPLETE", "SUCCESS")

    entries = {e["source-ref"]: e for e in all_entries(client, arn)}
    kept_refs = [json.loads(x)["source-ref"] for x in [*examples, *FILLER, *ERROR_LINES.values()]]
    assert list(entries) == kept_refs  # dropped lines are nowhere, order is insertion order
    assert entries["s3://bucket/filler/00.jpg"]["animal-metadata"]["class-name"] == "cat"

    # errors sit at the documented levels
    assert warning_codes(entries["s3://bucket/no-label.jpg"]) == ["WARNING_UNANNOTATED_RECORD"]
    multilabel = entries["s3://bucket/example_image.jpg"]
    assert codes(multilabel["image-label-attribute-name-metadata"]) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE"]
    assert codes(multilabel) == ["ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    off = entries["s3://bucket/off-frame.jpg"]["bb"]
    assert codes(off["annotations"][0]) == ["ERROR_INVALID_BOUNDING_BOX"]
    assert codes(off) == ["ERROR_NO_VALID_ANNOTATIONS"]
    partly = entries["s3://bucket/no-class.jpg"]
    assert codes(partly["bb"]["annotations"][0]) == ["ERROR_MISSING_CLASS_MAP_ID"]
    assert "errors" not in partly["bb"]["annotations"][1] and "errors" not in partly
    assert codes(entries["s3://bucket/no-confidence.jpg"]["bb"]["annotations"][0]) == [
        "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
    ]
    assert codes(entries["s3://bucket/tiny.jpg"]["bb"]["annotations"][0]) == ["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert codes(entries["s3://bucket/many.jpg"]["bb"]) == ["ERROR_TOO_MANY_BOUNDING_BOXES"]
    assert codes(entries["s3://bucket/zero-size.jpg"]["bb"]) == ["ERROR_INVALID_IMAGE_DIMENSION"]
    assert codes(entries["s3://bucket/long-name.jpg"]["animal-metadata"]) == ["ERROR_INVALID_LABEL_NAME_LENGTH"]
    assert not any("errors" in json.dumps(entries[json.loads(x)["source-ref"]]) for x in FILLER)

    # exact stats: labeled = every line with a label attribute (all but no-label); flagged = multilabel + 8
    stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
    assert stats == {"LabeledEntries": 41, "TotalEntries": 42, "TotalLabels": 7, "ErrorEntries": 9}
    labels = {
        d["LabelName"]: d["LabelStats"] for d in client.list_dataset_labels(DatasetArn=arn)["DatasetLabelDescriptions"]
    }
    assert sorted(labels) == ["Echo", "Echo Dot", "Sunrise", "ball", "cat", "dog", "football"]
    assert labels["dog"] == {"EntryCount": 16, "BoundingBoxCount": 1}
    assert labels["cat"] == {"EntryCount": 15, "BoundingBoxCount": 0}

    # filters and pagination across several pages
    paginator = client.get_paginator("list_dataset_entries")
    pages = list(paginator.paginate(DatasetArn=arn, HasErrors=True, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 5 and all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    with_errors = [json.loads(t)["source-ref"] for p in pages for t in p["DatasetEntries"]]
    assert with_errors == ["s3://bucket/example_image.jpg", *ERROR_LINES]
    assert len(all_entries(client, arn, HasErrors=False)) == 33
    assert len(all_entries(client, arn, Labeled=False)) == 1
    assert len(all_entries(client, arn, ContainsLabels=["Echo", "ball"])) == 2
    assert len(all_entries(client, arn, SourceRefContains="filler/1", Labeled=True)) == 10
    assert len(all_entries(client, arn, ContainsLabels=["dog"], HasErrors=True, PaginationConfig={"PageSize": 1})) == 1

    # upsert: a matching source-ref replaces the entry in place
    assert applied(client, clock, arn, [classified("s3://bucket/filler/00.jpg", "wolf")]) == "UPDATE_COMPLETE"
    entries_after = all_entries(client, arn)
    assert len(entries_after) == 42 and entries_after[4]["animal-metadata"]["class-name"] == "wolf"
    assert client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]["TotalLabels"] == 8


def test_update_fails_when_more_than_20_percent_invalid(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    good = [classified(f"s3://bkt/{i}.jpg") for i in range(8)]
    assert applied(client, clock, arn, [*good, "{bad", "{bad"]) == "UPDATE_COMPLETE"  # exactly 20%: accepted
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert described["DatasetStats"]["TotalEntries"] == 8

    more = [classified(f"s3://bkt/new-{i}.jpg") for i in range(7)]
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob([*more, "{", "[]", line("x")])})
    assert status(client, arn) == "UPDATE_IN_PROGRESS"
    clock.advance(10.0)
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert described["Status"] == "UPDATE_FAILED"
    assert described["StatusMessageCode"] == "CLIENT_ERROR"
    assert "ERROR_TOO_MANY_RECORDS_IN_ERROR" in described["StatusMessage"]
    assert described["DatasetStats"]["TotalEntries"] == 8  # nothing applied
    assert applied(client, clock, arn, more) == "UPDATE_COMPLETE"  # a failed dataset can be updated again


# -- faults -------------------------------------------------------------------------------------
def test_throttling_then_success_and_server_error(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    backend = custom_labels.get_backend("123456789012", REGION)
    backend.faults.throttle("UpdateDatasetEntries")
    with pytest.raises(client.exceptions.ThrottlingException) as throttled:
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert status(client, arn) == "CREATE_COMPLETE"  # the throttled call did nothing
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    assert status(client, arn) == "UPDATE_IN_PROGRESS"

    backend.faults.server_error("DescribeDataset", times=2)
    for _ in range(2):
        with pytest.raises(client.exceptions.InternalServerError) as failed:
            client.describe_dataset(DatasetArn=arn)
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert status(client, arn) == "UPDATE_IN_PROGRESS"
    assert len(backend.calls_of("DescribeDataset", arn)) == 5  # faulted calls are recorded too
    assert [c.operation for c in backend.calls].count("UpdateDatasetEntries") == 2


def test_botocore_retries_throttling_by_itself(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)  # botocore's backoff
    with mock_aws():
        retrying = boto3.client("rekognition", region_name=REGION, config=Config(retries={"mode": "standard"}))
        custom_labels.get_backend().faults.throttle("DescribeProjects", times=2)
        assert retrying.describe_projects()["ProjectDescriptions"] == []
        assert len(custom_labels.get_backend().calls_of("DescribeProjects")) == 3


def test_forced_failure_and_outside_update(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    faults = custom_labels.get_backend().faults
    faults.fail_next_update("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT: boom")
    assert applied(client, clock, arn, FILLER) == "UPDATE_FAILED"
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert described["StatusMessage"] == "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT: boom"
    assert (described["StatusMessageCode"], described["DatasetStats"]["TotalEntries"]) == ("CLIENT_ERROR", 0)

    faults.outside_update(arn, 30.0)
    assert status(client, arn) == "UPDATE_IN_PROGRESS"
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    clock.advance(29.0)
    assert status(client, arn) == "UPDATE_IN_PROGRESS"
    clock.advance(1.0)
    assert status(client, arn) == "UPDATE_COMPLETE"
    assert applied(client, clock, arn, FILLER) == "UPDATE_COMPLETE"
    with pytest.raises(ValueError):
        faults.throttle("NoSuchOperation")


def test_size_limit(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    faults = custom_labels.get_backend().faults
    assert faults.max_changes_bytes == 5_242_880
    data = blob(FILLER)
    faults.max_changes_bytes = len(data) - 1
    with pytest.raises(ClientError) as rejected:
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": data})
    assert error_code(rejected) == "ValidationException"
    message = rejected.value.response["Error"]["Message"]
    assert str(len(data)) in message and str(len(data) - 1) in message
    faults.max_changes_bytes = len(data)
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": data})
    faults.clear()
    assert faults.max_changes_bytes == 5_242_880


def test_default_limit_counts_raw_bytes(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    padding = b"\n" * (5_242_880 - 1)
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": padding + b" "})  # at the limit
    clock.advance(10.0)
    with pytest.raises(ClientError) as rejected:
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": padding + b"  "})
    assert error_code(rejected) == "ValidationException"
    assert "5242881" in rejected.value.response["Error"]["Message"]


# -- errors of the API ------------------------------------------------------------------------
def test_not_found_already_exists_and_validation(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    project_arn = client.describe_projects(ProjectNames=["pets"])["ProjectDescriptions"][0]["ProjectArn"]
    missing = arn.rsplit("/", 1)[0] + "/1"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_dataset(DatasetArn=missing)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_dataset(ProjectArn=project_arn.rsplit("/", 1)[0] + "/1", DatasetType="TEST")
    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.create_project(ProjectName="pets")

    unvalidated = boto3.client("rekognition", region_name=REGION, config=Config(parameter_validation=False))
    for call, kwargs in [
        (unvalidated.create_dataset, {"ProjectArn": project_arn, "DatasetType": "VALIDATION"}),
        (unvalidated.describe_dataset, {"DatasetArn": "arn:aws:s3:::not-a-dataset"}),
        (unvalidated.describe_dataset, {}),
        (unvalidated.list_dataset_entries, {"DatasetArn": arn, "MaxResults": 101}),
        (unvalidated.list_dataset_entries, {"DatasetArn": arn, "MaxResults": 0}),
        (unvalidated.list_dataset_entries, {"DatasetArn": arn, "ContainsLabels": [f"l{i}" for i in range(11)]}),
        (unvalidated.list_dataset_entries, {"DatasetArn": arn, "SourceRefContains": " "}),
        (unvalidated.update_dataset_entries, {"DatasetArn": arn, "Changes": {}}),
    ]:
        with pytest.raises(ClientError) as invalid:
            call(**kwargs)
        assert error_code(invalid) == "ValidationException", kwargs
    with pytest.raises(ClientError) as too_many:
        client.list_dataset_entries(DatasetArn=arn, MaxResults=101)
    assert error_code(too_many) == "ValidationException"
    assert "less than or equal to 100" in too_many.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.InvalidPaginationTokenException):
        client.list_dataset_entries(DatasetArn=arn, NextToken="made-up")

    # a token is tied to the request it came from
    applied(client, clock, arn, FILLER)
    token = client.list_dataset_entries(DatasetArn=arn, MaxResults=5)["NextToken"]
    assert len(client.list_dataset_entries(DatasetArn=arn, MaxResults=5, NextToken=token)["DatasetEntries"]) == 5
    with pytest.raises(client.exceptions.InvalidPaginationTokenException):
        client.list_dataset_entries(DatasetArn=arn, HasErrors=True, NextToken=token)


def test_delete_dataset_and_project(client: Any, clock: ManualClock) -> None:
    arn = ready_dataset(client, clock)
    project_arn = client.describe_projects()["ProjectDescriptions"][0]["ProjectArn"]
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.delete_project(ProjectArn=project_arn)
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.delete_dataset(DatasetArn=arn)
    clock.advance(10.0)
    client.delete_dataset(DatasetArn=arn)
    (listed,) = client.describe_projects()["ProjectDescriptions"][0]["Datasets"]
    assert listed["Status"] == "DELETE_IN_PROGRESS"  # md-delete-dataset: deleting takes a while
    clock.advance(2.0)
    assert client.describe_projects()["ProjectDescriptions"][0]["Datasets"] == []
    assert client.delete_project(ProjectArn=project_arn)["Status"] == "DELETING"
    assert client.describe_projects()["ProjectDescriptions"] == []
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_project(ProjectArn=project_arn)


def test_describe_projects_lists_datasets_with_current_status(client: Any, clock: ManualClock) -> None:
    for name in ("a", "b", "c"):
        client.create_project(ProjectName=name)
    project_arn = client.describe_projects(ProjectNames=["b"])["ProjectDescriptions"][0]["ProjectArn"]
    client.create_dataset(ProjectArn=project_arn, DatasetType="TEST")
    clock.advance(1.0)
    client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")
    clock.advance(1.5)
    (project,) = client.describe_projects(ProjectNames=["b", "zzz"])["ProjectDescriptions"]
    assert project["Status"] == "CREATED"
    assert [(d["DatasetType"], d["Status"]) for d in project["Datasets"]] == [
        ("TEST", "CREATE_COMPLETE"),
        ("TRAIN", "CREATE_IN_PROGRESS"),
    ]
    pages = list(client.get_paginator("describe_projects").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["ProjectDescriptions"]) for p in pages] == [2, 1]


def test_create_from_s3_manifest_and_from_dataset(client: Any, clock: ManualClock) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="manifests")
    s3.put_object(Bucket="manifests", Key="train.manifest", Body=blob([*FILLER, "{bad"]))
    s3.put_object(Bucket="manifests", Key="bad.manifest", Body=blob([FILLER[0], "{bad"]))
    project_arn = client.create_project(ProjectName="pets")["ProjectArn"]
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "manifests", "Name": "train.manifest"}}}
    train = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN", DatasetSource=source)["DatasetArn"]
    assert client.describe_dataset(DatasetArn=train)["DatasetDescription"]["DatasetStats"]["TotalEntries"] == 0
    clock.advance(2.0)
    described = client.describe_dataset(DatasetArn=train)["DatasetDescription"]
    assert described["Status"] == "CREATE_COMPLETE" and described["DatasetStats"]["TotalEntries"] == 30

    test = client.create_dataset(ProjectArn=project_arn, DatasetType="TEST", DatasetSource={"DatasetArn": train})
    clock.advance(2.0)
    assert len(all_entries(client, test["DatasetArn"])) == 30

    other = client.create_project(ProjectName="other")["ProjectArn"]
    source["GroundTruthManifest"]["S3Object"]["Name"] = "bad.manifest"
    failed = client.create_dataset(ProjectArn=other, DatasetType="TRAIN", DatasetSource=source)["DatasetArn"]
    clock.advance(2.0)
    described = client.describe_dataset(DatasetArn=failed)["DatasetDescription"]
    assert described["Status"] == "CREATE_FAILED" and "ERROR_TOO_MANY_RECORDS_IN_ERROR" in described["StatusMessage"]
    source["GroundTruthManifest"]["S3Object"]["Name"] = "missing.manifest"
    with pytest.raises(client.exceptions.InvalidS3ObjectException):
        client.create_dataset(ProjectArn=other, DatasetType="TEST", DatasetSource=source)


def test_state_is_reset_between_mock_contexts(clock: ManualClock) -> None:
    with mock_aws():
        client = boto3.client("rekognition", region_name=REGION)
        client.create_project(ProjectName="pets")
        custom_labels.get_backend().faults.throttle("DescribeProjects")
        assert len(custom_labels.get_backend().calls) == 1
    with mock_aws():
        client = boto3.client("rekognition", region_name=REGION)
        assert client.describe_projects()["ProjectDescriptions"] == []  # no project, no queued throttle
        assert [c.operation for c in custom_labels.get_backend().calls] == ["DescribeProjects"]
        assert custom_labels.get_backend().clock is clock


def test_scaled_clock_completes_in_real_time() -> None:
    custom_labels.install()
    custom_labels.configure(clock=ScaledClock(0.001), timing=ServiceTiming(create_seconds=2.0, update_seconds=10.0))
    try:
        with mock_aws():
            client = boto3.client("rekognition", region_name=REGION)
            project_arn = client.create_project(ProjectName="pets")["ProjectArn"]
            arn = client.create_dataset(ProjectArn=project_arn, DatasetType="TRAIN")["DatasetArn"]
            deadline = time.monotonic() + 5.0
            while status(client, arn) != "CREATE_COMPLETE":
                assert time.monotonic() < deadline
                time.sleep(0.002)
            client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
            while status(client, arn) != "UPDATE_COMPLETE":
                assert time.monotonic() < deadline
                time.sleep(0.002)
    finally:
        custom_labels.configure(clock=SYSTEM_CLOCK, timing=ServiceTiming())


def test_step_functions_aws_sdk_describe_dataset_task(clock: ManualClock) -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:rekognition:describeDataset",
                "Parameters": {"DatasetArn.$": "$.arn"},
                "ResultSelector": {"status.$": "$.DatasetDescription.Status"},
                "End": True,
            }
        },
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("rekognition", region_name=REGION)
        arn = ready_dataset(client, clock)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="describe", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"arn": arn}))["executionArn"]
        deadline = time.monotonic() + 5.0
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"status": "CREATE_COMPLETE"}
        assert len(custom_labels.get_backend().calls_of("DescribeDataset", arn)) == 1


# -- server mode --------------------------------------------------------------------------------
def test_same_flow_over_http(clock: ManualClock) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "rekognition",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=NO_RETRY,
        )
        arn = ready_dataset(client, clock)
        assert status(client, arn) == "CREATE_COMPLETE"
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob([*FILLER, *ERROR_LINES.values()])})
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": blob(FILLER)})
        clock.advance(10.0)
        stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
        assert stats == {"LabeledEntries": 37, "TotalEntries": 38, "TotalLabels": 2, "ErrorEntries": 8}
        assert len(all_entries(client, arn, HasErrors=True, PaginationConfig={"PageSize": 3})) == 8
        custom_labels.get_backend().faults.server_error("DescribeDataset")
        with pytest.raises(client.exceptions.InternalServerError):
            client.describe_dataset(DatasetArn=arn)
        with pytest.raises(client.exceptions.InvalidPaginationTokenException):
            client.list_dataset_entries(DatasetArn=arn, NextToken="nope")

        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        assert client.describe_projects()["ProjectDescriptions"] == []
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_dataset(DatasetArn=arn)
    finally:
        server.stop()
        BackendDict.reset()  # leave no server-mode state behind


# -- the rules on their own ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (line("s3://b/k.jpg"), True),
        (line("s3://b/dir/k with spaces & = %2C.jpg"), True),
        (line("s3://b/"), False),
        (line("s3:///k.jpg"), False),
        (line("https://b/k.jpg"), False),
        (json.dumps({"source-ref": 5}), False),
        ('"just a string"', False),
        (line("s3://b/k.jpg", pad="x" * 99_950), True),
        (line("s3://b/k.jpg", pad="x" * 100_000), False),
    ],
)
def test_dropped_lines(text: str, kept: bool) -> None:
    assert (entry_rules.parse_line(text) is not None) is kept


def test_rules_mark_metadata_problems() -> None:
    unsupported = json.loads(line("s3://b/1.jpg", x=1, **{"x-metadata": {"type": "groundtruth/semantic-segmentation"}}))
    checked = entry_rules.check_entry(unsupported)
    doc = json.loads(checked.line)
    assert codes(doc["x-metadata"]) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE"]
    assert codes(doc) == ["ERROR_NO_VALID_LABEL_ATTRIBUTES"] and checked.has_errors and not checked.labels

    no_name = json.loads(line("s3://b/2.jpg", x=1, **{"x-metadata": {"type": entry_rules.CLASSIFICATION}}))
    doc = json.loads(entry_rules.check_entry(no_name).line)
    assert codes(doc["x-metadata"]) == ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]

    not_object = json.loads(
        line("s3://b/3.jpg", x=[1], **{"x-metadata": {"type": entry_rules.DETECTION, "class-map": {}}})
    )
    doc = json.loads(entry_rules.check_entry(not_object).line)
    assert codes(doc) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]

    # one valid attribute is enough; client-sent errors are replaced by the service's own
    mixed = json.loads(classified("s3://b/4.jpg"))
    mixed.update({"errors": [{"code": "X", "message": "sent"}], "y": 1, "y-metadata": {"type": "nope"}})
    checked = entry_rules.check_entry(mixed)
    doc = json.loads(checked.line)
    assert "errors" not in doc and codes(doc["y-metadata"]) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE"]
    assert checked.labels == {"cat"} and checked.has_errors

    clean = entry_rules.check_entry(json.loads(boxed("s3://b/5.jpg", [box(0, top=143.60000000000002, height=336.4)])))
    assert not clean.has_errors and clean.labels == {"cat"} and clean.box_counts == {"cat": 1}
