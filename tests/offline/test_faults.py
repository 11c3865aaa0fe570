"""Rate-based, seeded fault injection of the local dataset service, and its JSON form."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import custom_labels  # noqa: E402
from offline.clock import SYSTEM_CLOCK, ManualClock  # noqa: E402
from offline.custom_labels import ServiceTiming  # noqa: E402
from offline.custom_labels.faults import DEFAULT_UPDATE_FAILURE, FaultInjector  # noqa: E402
from tests.offline.images import put_images  # noqa: E402

REGION = "us-east-1"
LINE = b'{"source-ref": "s3://bkt/a.jpg", "x": 1, "x-metadata": {"class-name": "cat", "type": "groundtruth/image-classification", "confidence": 1}}\n'


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    custom_labels.install()
    manual = ManualClock()
    custom_labels.configure(clock=manual, timing=ServiceTiming(create_seconds=0.0, update_seconds=0.0))
    yield manual
    custom_labels.configure(clock=SYSTEM_CLOCK, timing=ServiceTiming())


@pytest.fixture
def client(clock: ManualClock) -> Iterator[Any]:
    with mock_aws():
        put_images(LINE)
        yield boto3.client("rekognition", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))


def outcomes(client: Any, calls: int) -> list[str]:
    seen = []
    for _ in range(calls):
        try:
            client.describe_projects()
            seen.append("ok")
        except ClientError as exc:
            seen.append(exc.response["Error"]["Code"])
    return seen


def test_rates_are_seeded_per_operation(client: Any, clock: ManualClock) -> None:
    faults = custom_labels.get_backend().faults
    faults.set_rates("DescribeProjects", throttle=0.3, server_error=0.2, seed=42)
    first = outcomes(client, 200)
    faults.set_rates("DescribeProjects", throttle=0.3, server_error=0.2, seed=42)  # same seed: same stream again
    assert outcomes(client, 200) == first
    counts = {code: first.count(code) for code in set(first)}
    assert 40 <= counts["ThrottlingException"] <= 80 and 20 <= counts["InternalServerError"] <= 60
    assert faults.injected["DescribeProjects/ThrottlingException"] == 2 * counts["ThrottlingException"]
    faults.set_rates("DescribeProjects", throttle=0.3, seed=7)
    assert outcomes(client, 200) != first

    faults.throttle("DescribeProjects", times=1)  # queued faults come first
    faults.set_rates("DescribeProjects")  # all zero: no rates
    assert outcomes(client, 3) == ["ThrottlingException", "ok", "ok"]


def test_wildcard_latency_and_update_failure(client: Any, clock: ManualClock) -> None:
    faults = custom_labels.get_backend().faults
    project = client.create_project(ProjectName="p")["ProjectArn"]
    arn = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    faults.set_rates("*", latency_seconds=2.5)
    faults.set_rates("UpdateDatasetEntries", update_failure=1.0, latency_seconds=10.0, seed=1)
    before = clock.t
    client.describe_dataset(DatasetArn=arn)  # "*": 2.5 simulated seconds
    assert clock.t - before == 2.5
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": LINE})
    assert clock.t - before == 12.5
    described = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
    assert (described["Status"], described["StatusMessage"]) == ("UPDATE_FAILED", DEFAULT_UPDATE_FAILURE)
    assert faults.rates("ListDatasetLabels").latency_seconds == 2.5
    faults.clear()
    assert faults.rates("DescribeDataset").latency_seconds == 0.0
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": LINE})
    assert client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"] == "UPDATE_COMPLETE"


def test_bad_rates_are_refused() -> None:
    faults = FaultInjector(lambda arn, seconds: None)
    bad_rates: list[dict[str, Any]] = [
        {"throttle": 1.5},
        {"throttle": 0.6, "server_error": 0.6},
        {"latency_seconds": -1},
    ]
    for kwargs in bad_rates:
        with pytest.raises(ValueError):
            faults.set_rates("DescribeDataset", **kwargs)
    with pytest.raises(ValueError):
        faults.set_rates("DescribeDataset", update_failure=0.5)
    with pytest.raises(ValueError):
        faults.set_rates("NoSuchOperation", throttle=0.1)


def test_configure_from_json_is_all_or_nothing() -> None:
    outside: list[tuple[str, float]] = []
    faults = FaultInjector(lambda arn, seconds: outside.append((arn, seconds)))
    faults.configure(
        {
            "rates": {
                "UpdateDatasetEntries": {"throttle": 0.2, "server_error": 0.05, "latency_seconds": 0.5, "seed": 7}
            },
            "queue": [{"operation": "DescribeDataset", "error": "server_error", "times": 2}],
            "fail_next_update": "ERROR_X: boom",
            "max_changes_bytes": 1000,
            "outside_update": {"dataset_arn": "arn:d", "seconds": 60},
        }
    )
    snapshot = faults.snapshot()
    assert snapshot["rates"]["UpdateDatasetEntries"]["throttle"] == 0.2
    assert snapshot["queue"] == {"DescribeDataset": ["InternalServerError", "InternalServerError"]}
    assert snapshot["fail_next_update"] == ["ERROR_X: boom"] and snapshot["max_changes_bytes"] == 1000
    assert outside == [("arn:d", 60.0)]
    bad_documents: list[dict[str, Any]] = [
        {"rates": {"DescribeDataset": {"throttle": 2}}},
        {"rates": {"DescribeDataset": {"thrtotle": 0.1}}},
        {"queue": [{"operation": "Nope"}]},
        {"max_changes_bytes": 0},
        {"clear": True, "surprise": 1},
    ]
    for bad in bad_documents:
        with pytest.raises(ValueError):
            faults.configure({"clear": True, **bad})
    assert faults.snapshot() == snapshot  # nothing of a refused document was applied
    faults.configure({"clear": True, "max_changes_bytes": None})
    assert faults.snapshot()["rates"] == {} and faults.max_changes_bytes == 5_242_880
