"""`python -m offline.server` as a user runs it: a subprocess, plain HTTP clients, the AWS CLI.

One server for the module (started on a free port); every test works in its own project
or dataset so they do not depend on each other's order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline.fixture_images import TINY_PNG, image_refs  # noqa: E402

EXAMPLE = ROOT / "examples" / "manifests" / "pets-clean.jsonl"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
NO_LABEL = b'{"source-ref": "s3://labelsync-demo-images/pets/no-label.jpg"}\n'


@dataclass
class Server:
    process: subprocess.Popen[str]
    endpoint: str = ""
    output: list[str] = field(default_factory=list)

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def facts(self) -> dict[str, Any]:
        response = requests.get(f"{self.endpoint}/_offline/stack", timeout=10)
        response.raise_for_status()
        return dict(response.json())


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "offline.server",
            "--port",
            "0",
            "--time-scale",
            "0.001",
            "--project",
            "demo-project",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    running = Server(process)
    ready = threading.Event()

    def drain() -> None:  # keep reading, so the server never blocks on a full pipe
        assert process.stdout is not None
        for text in process.stdout:
            running.output.append(text)
            if text.strip().startswith("endpoint") and not running.endpoint:
                running.endpoint = text.split()[-1]
            if text.startswith("Ctrl-C"):
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert ready.wait(60), "the server did not start within 60 s"
        assert process.poll() is None and running.endpoint, "".join(running.output)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_executions(server: Server, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    sfn = server.client("stepfunctions")
    arn = server.facts()["state_machine_arn"]
    deadline = time.monotonic() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]
        if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
            return [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        assert time.monotonic() < deadline, f"executions not done: {executions}"
        time.sleep(0.05)


def reports(server: Server) -> list[dict[str, Any]]:
    sqs = server.client("sqs")
    url = server.facts()["queue_url"]
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_banner_and_facts(server: Server) -> None:
    text = "".join(server.output)
    facts = server.facts()
    assert server.endpoint.startswith("http://127.0.0.1:")
    for expected in (facts["bucket"], facts["topic_arn"], facts["queue_url"], facts["state_machine_arn"]):
        assert expected and expected in text
    assert f"aws --endpoint-url {server.endpoint} s3 cp" in text
    assert "stepfunctions list-executions" in text


def test_drop_a_manifest_and_read_the_report(server: Server) -> None:
    s3 = server.client("s3")
    key = "incoming/demo-project/train/pets-clean.jsonl"
    s3.put_object(Bucket=server.facts()["bucket"], Key=key, Body=EXAMPLE.read_bytes())
    executions = wait_for_executions(server, 1)
    assert [e["status"] for e in executions] == ["SUCCEEDED"], executions
    [report] = reports(server)
    assert report["outcome"] == "SUCCEEDED" and report["manifest"]["key"] == key
    assert report["counts"]["accepted"] == 6 and report["counts"]["rejected"] == 0
    stats = server.client("rekognition").describe_dataset(DatasetArn=report["datasetArn"])["DatasetDescription"]
    assert stats["DatasetStats"]["TotalEntries"] == 6


def test_faults_over_http_drive_the_pipeline(server: Server) -> None:
    faults = f"{server.endpoint}/_offline/faults"
    assert requests.post(faults, data="{not json", timeout=10).status_code == 400
    assert requests.post(faults, json={"rates": {"Nope": {"throttle": 1}}}, timeout=10).status_code == 400
    settings: dict[str, Any] = {
        "clear": True,
        "rates": {
            "UpdateDatasetEntries": {"throttle": 0.5, "latency_seconds": 1.0, "seed": 3},
            "DescribeDataset": {"server_error": 0.3, "seed": 3},
        },
        "queue": [{"operation": "UpdateDatasetEntries", "error": "throttle", "times": 2}],
    }
    applied = requests.post(faults, json=settings, timeout=10)
    assert applied.status_code == 200, applied.text
    assert applied.json()["rates"]["DescribeDataset"]["server_error"] == 0.3
    before = len(
        server.client("stepfunctions").list_executions(stateMachineArn=server.facts()["state_machine_arn"])[
            "executions"
        ]
    )
    server.client("s3").put_object(
        Bucket=server.facts()["bucket"], Key="incoming/demo-project/test/faulty.jsonl", Body=EXAMPLE.read_bytes()
    )
    executions = wait_for_executions(server, before + 1)
    assert all(e["status"] == "SUCCEEDED" for e in executions), executions
    injected = requests.get(faults, timeout=10).json()["injected"]
    assert injected["UpdateDatasetEntries/ThrottlingException"] >= 2
    assert requests.delete(faults, timeout=10).json()["rates"] == {}
    assert [r["outcome"] for r in reports(server)] == ["SUCCEEDED"]


def aws_cli() -> str | None:
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def test_aws_cli_against_the_server(server: Server, tmp_path: Path) -> None:
    aws = aws_cli()
    if aws is None:
        pytest.skip("the AWS CLI (`aws`, PyPI package awscli) is not installed in this environment")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **CREDENTIALS,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }

    def run(*args: str) -> Any:
        done = subprocess.run(
            [aws, "--endpoint-url", server.endpoint, "--output", "json", "rekognition", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    # AWS CLI v1 base64-encodes a blob member's text itself and does not expand fileb://
    # inside shorthand or JSON: the JSON Lines go in as the member's text.
    changes = tmp_path / "changes.json"
    image = tmp_path / "no-label.png"  # the service looks every image up in the local S3
    image.write_bytes(TINY_PNG)
    s3 = server.client("s3")
    for bucket, key in image_refs(EXAMPLE.read_bytes()):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=TINY_PNG)
    subprocess.run(
        [
            aws,
            "--endpoint-url",
            server.endpoint,
            "s3",
            "cp",
            str(image),
            "s3://labelsync-demo-images/pets/no-label.jpg",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    changes.write_text(json.dumps({"GroundTruth": (EXAMPLE.read_bytes() + NO_LABEL).decode()}))
    project_arn = run("create-project", "--project-name", "cli-project")["ProjectArn"]
    dataset_arn = run("create-dataset", "--project-arn", project_arn, "--dataset-type", "TRAIN")["DatasetArn"]
    deadline = time.monotonic() + 30
    while run("describe-dataset", "--dataset-arn", dataset_arn)["DatasetDescription"]["Status"] != "CREATE_COMPLETE":
        assert time.monotonic() < deadline
    run("update-dataset-entries", "--dataset-arn", dataset_arn, "--changes", f"file://{changes}")
    while True:
        description = run("describe-dataset", "--dataset-arn", dataset_arn)["DatasetDescription"]
        if description["Status"] != "UPDATE_IN_PROGRESS":
            break
        assert time.monotonic() < deadline
    assert description["Status"] == "UPDATE_COMPLETE", description
    assert description["DatasetStats"] == {"LabeledEntries": 6, "TotalEntries": 7, "TotalLabels": 3, "ErrorEntries": 1}
    with_errors = run("list-dataset-entries", "--dataset-arn", dataset_arn, "--has-errors")["DatasetEntries"]
    assert [json.loads(line)["source-ref"] for line in with_errors] == ["s3://labelsync-demo-images/pets/no-label.jpg"]
    entry = json.loads(with_errors[0])  # the dataset form: warnings, cl-errors and cl-metadata
    assert entry["warnings"][0]["code"] == "WARNING_UNANNOTATED_RECORD"
    assert entry["cl-metadata"] == {"is_labeled": False}


def test_errors_reach_http_clients_as_modeled_exceptions(server: Server) -> None:
    rekognition = server.client("rekognition", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_dataset(
            DatasetArn="arn:aws:rekognition:us-east-1:123456789012:project/none/dataset/train/1"
        )
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.describe_projects(NextToken="made-up")
