"""`labelsync` against the offline server, as a user runs it with `--endpoint-url`: push and follow a run,
the exit status by outcome, a queued run in `status`, reports and every entry error."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import labelsync
from offline.server import OfflineServer
from offline.stack import OfflineConfig
from tests.e2e.test_pipeline import CLEAN, PROBLEMS


@pytest.fixture(scope="module")
def server() -> Iterator[OfflineServer]:
    config = OfflineConfig(time_scale=0.001, projects={"cli-project": {"datasetTypes": ["TRAIN", "TEST"]}})
    with OfflineServer(config, port=0) as running:
        assert running.stack is not None
        running.stack.create_project("cli-project", ["TRAIN", "TEST"])
        yield running


def cli(server: OfflineServer, *args: str) -> Result:
    return CliRunner().invoke(labelsync, ["--endpoint-url", server.endpoint, *args], catch_exceptions=False)


def test_push_wait_follows_the_run_to_its_report_and_exits_by_outcome(server: OfflineServer) -> None:
    done = cli(server, "push", str(CLEAN), "--project", "cli-project", "--dataset", "train", "--wait", "--json")
    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["key"] == "incoming/cli-project/train/pets-clean.jsonl" and result["versionId"]
    assert result["report"]["outcome"] == "SUCCEEDED" and result["runId"].startswith("pets-clean-")
    assert "uploaded 2,555 bytes" in done.stderr and f"run {result['runId']}" in done.stderr
    assert "1 of 1 chunks applied" in done.stderr or "0 of 1 chunks applied" in done.stderr  # progress lines

    flagged = cli(server, "push", str(PROBLEMS), "--project", "cli-project", "--dataset", "test", "--wait")
    assert flagged.exit_code == 3, flagged.stderr  # SUCCEEDED_WITH_ERRORS
    assert flagged.stdout.startswith("SUCCEEDED_WITH_ERRORS: incoming/cli-project/test/pets-with-problems.jsonl")


def test_push_replace_drops_in_the_replace_folder_and_force_needs_replace(server: OfflineServer) -> None:
    usage = cli(server, "push", str(CLEAN), "--project", "cli-project", "--dataset", "train", "--force")
    assert usage.exit_code == 2 and "give --replace too" in usage.stderr
    done = cli(
        server,
        "push",
        str(CLEAN),
        "--project",
        "cli-project",
        "--dataset",
        "test",
        "--replace",
        "--force",
        "--wait",
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["key"] == "incoming/cli-project/test/replace/force/pets-clean.jsonl"
    assert result["report"]["outcome"] == "SUCCEEDED", result["report"]
    assert "replace: " in result["report"]["summary"]  # the run was a replace: the dataset is the file now


def test_a_rejected_manifest_exits_4_and_a_bad_project_name_is_a_usage_error(server: OfflineServer) -> None:
    rejected = cli(server, "push", str(CLEAN), "--project", "not-allowed", "--dataset", "train", "--wait")
    assert rejected.exit_code == 4, rejected.stderr
    assert rejected.stdout.startswith("REJECTED:")
    usage = cli(server, "push", str(CLEAN), "--project", "bad name", "--dataset", "train")
    assert usage.exit_code == 2 and "not a valid Rekognition project name" in usage.stderr


def test_gzip_on_the_fly_and_in_parts_reaches_the_same_report(server: OfflineServer, tmp_path: Path) -> None:
    from cli.upload import upload

    assert server.stack is not None
    big = tmp_path / "many.jsonl"
    lines = [json.loads(line) for line in CLEAN.read_text().splitlines()]
    with big.open("w") as out:
        for n in range(3000):
            line = dict(lines[n % len(lines)], **{"source-ref": f"s3://labelsync-demo-images/many/{n:05d}.jpg"})
            out.write(json.dumps(line) + "\n")
    s3, bucket = server.stack.client("s3"), server.config.bucket
    # In parts: S3 takes parts of 5 MiB at least but the last, so 11 MiB of bytes gzip cannot shrink.
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(1).randbytes(11 * 1024 * 1024))
    seen: list[int] = []
    key = "elsewhere/noise.bin"  # not under incoming/: only the upload is checked here
    sent = upload(s3, bucket, key, noise, gzipped=False, progress=seen.append, part_bytes=5 * 1024 * 1024)
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=sent.version_id)["Body"].read() == noise.read_bytes()
    assert s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["PartsCount"] == 3 and seen[-1] == sent.source_bytes
    zipped = upload(s3, bucket, "elsewhere/many.jsonl.gz", big, gzipped=True)
    body = s3.get_object(Bucket=bucket, Key=zipped.key, VersionId=zipped.version_id)["Body"].read()
    assert gzip.decompress(body) == big.read_bytes() and zipped.sent_bytes == len(body) < zipped.source_bytes

    done = cli(server, "push", str(big), "--project", "cli-project", "--dataset", "train", "--gzip", "--wait", "--json")
    assert done.exit_code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["key"].endswith("many.jsonl.gz") and result["gzipped"] is True
    assert result["report"]["counts"]["accepted"] == 3000


def test_status_shows_a_queued_run_behind_a_busy_dataset(server: OfflineServer) -> None:
    stack = server.stack
    assert stack is not None
    rek = stack.client("rekognition")
    project = rek.describe_projects(ProjectNames=["cli-project"])["ProjectDescriptions"][0]
    (train,) = [d["DatasetArn"] for d in project["Datasets"] if d["DatasetType"] == "TRAIN"]
    stack.service.faults.outside_update(train, 600_000)  # another client updates it, until we say
    first = cli(server, "push", str(CLEAN), "--project", "cli-project", "--dataset", "train", "--json")
    second = cli(server, "push", str(PROBLEMS), "--project", "cli-project", "--dataset", "train", "--json")
    assert first.exit_code == 0 and second.exit_code == 0, (first.stderr, second.stderr)
    holder, queued = json.loads(first.stdout)["runId"], json.loads(second.stdout)["runId"]
    deadline = time.monotonic() + 30
    while True:
        shown = json.loads(cli(server, "status", "--project", "cli-project", "--dataset", "train", "--json").stdout)
        (dataset,) = shown
        if dataset["turn"] == holder or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert dataset["dataset"] == "cli-project/TRAIN" and dataset["turn"] == holder
    assert [t["run"] for t in dataset["queue"]] == [queued]
    human = cli(server, "status", "--project", "cli-project")
    assert f"cli-project/TRAIN: turn held by {holder}" in human.stdout and f"1. {queued}  QUEUED" in human.stdout
    stack.service.end_outside_update(train)
    stack.wait_until_idle(timeout=60)
    after = json.loads(cli(server, "status", "--project", "cli-project", "--dataset", "train", "--json").stdout)
    assert after[0]["turn"] is None and after[0]["queue"] == [] and after[0]["last"]["run"] == queued


def test_runs_report_and_every_entry_error(server: OfflineServer) -> None:
    listed = json.loads(cli(server, "runs", "--json").stdout)
    flagged = next(r for r in listed if r["manifest"] == "incoming/cli-project/test/pets-with-problems.jsonl")
    assert flagged["outcome"] == "SUCCEEDED_WITH_ERRORS" and flagged["status"] == "SUCCEEDED"
    summary = cli(server, "report", flagged["runId"])
    assert summary.exit_code == 0 and "entriesWithErrors 2" in summary.stdout
    errors = cli(server, "report", flagged["runId"], "--errors").stdout.splitlines()
    assert any("img-0102.jpg  ERROR_INVALID_BOUNDING_BOX" in line for line in errors)
    assert any(line.startswith("warning  ") and "WARNING_UNANNOTATED_RECORD" in line for line in errors)
    full = json.loads(cli(server, "report", flagged["runId"], "--json").stdout)
    assert len([e for e in errors if e.startswith("error")]) == full["counts"]["entryErrors"]
    missing = cli(server, "report", "no-such-run")
    assert missing.exit_code == 1 and "has no report yet" in missing.stderr
    refused = cli(server, "resume", flagged["runId"])
    assert refused.exit_code == 1 and "nothing to resume" in refused.stderr
