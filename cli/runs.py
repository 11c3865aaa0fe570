"""What the `labelsync` command reads about runs: which execution planned an upload, how far a run
is, its report. Everything comes from where the pipeline already writes it (the executions' input
and history, the run's folder in S3); nothing here changes a run."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cli.deployment import Deployment

OUTCOME_EXIT = {"SUCCEEDED": 0, "SUCCEEDED_WITH_ERRORS": 3, "REJECTED": 4, "FAILED": 5}
PHASES = {  # the state a run is in -> what a person is waiting for
    "CheckPlan": "planned",
    "TakeTurn": "waiting for the dataset's turn",
    "WaitForTurn": "waiting for the dataset's turn",
    "TurnTaken": "turn taken",
    "ResolveDataset": "looking up the dataset",
    "StartCreationWait": "creating the dataset",
    "WaitForCreation": "creating the dataset",
    "DescribeNewDataset": "creating the dataset",
    "ApplyChunks": "applying chunks",
    "Report": "listing the dataset, writing the report",
    "ReportOutcome": "listing the dataset, writing the report",
    "ReportRejected": "reporting the rejection",
    "ReportFailure": "reporting the failure",
}


@dataclass(frozen=True)
class Run:
    run_id: str
    execution_arn: str
    status: str  # the execution's: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started: datetime.datetime
    stopped: datetime.datetime | None
    manifest: dict[str, Any]
    target: dict[str, Any] | None
    chunks: int

    @classmethod
    def of(cls, described: dict[str, Any]) -> Run:
        payload = json.loads(described.get("input") or "{}")
        run = payload.get("run") or {}
        return cls(
            run_id=str(run.get("id") or described["name"]),
            execution_arn=str(described["executionArn"]),
            status=str(described["status"]),
            started=described["startDate"],
            stopped=described.get("stopDate"),
            manifest=dict(run.get("manifest") or {}),
            target=payload.get("target"),
            chunks=int((payload.get("plan") or {}).get("chunkCount") or 0),
        )


@dataclass(frozen=True)
class Progress:
    phase: str
    applied: int
    chunks: int
    elapsed: float
    turn_wait: float  # seconds spent waiting for the dataset's turn so far

    def line(self) -> str:
        text = f"{self.phase}: {self.applied} of {self.chunks} chunks applied, {_duration(self.elapsed)}"
        if self.turn_wait >= 1:
            text += f" (waited {_duration(self.turn_wait)} for the dataset's turn)"
        return text


def executions(deployment: Deployment, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The pipeline's executions, newest first, described (their input names the run)."""
    sfn = deployment.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=deployment.state_machine_arn)
    seen = 0
    for page in pages:
        for listed in page["executions"]:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield sfn.describe_execution(executionArn=listed["executionArn"])


def run_for_upload(
    deployment: Deployment,
    key: str,
    version_id: str | None,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    recent: int = 50,
) -> Run | None:
    """The run the plan step started for this object version (None once `timeout` passes without one:
    the plan step failed, and the failure queue holds the event)."""
    deadline = time.monotonic() + timeout
    while True:
        for described in executions(deployment, limit=recent):
            run = Run.of(described)
            if run.manifest.get("key") == key and (version_id is None or run.manifest.get("versionId") == version_id):
                return run
        if time.monotonic() >= deadline:
            return None
        sleep(1.0)


def refresh(deployment: Deployment, run: Run) -> Run:
    """The same execution, described again (its status and stop time)."""
    return Run.of(deployment.client("stepfunctions").describe_execution(executionArn=run.execution_arn))


def progress(deployment: Deployment, run: Run) -> Progress:
    sfn, s3 = deployment.client("stepfunctions"), deployment.client("s3")
    history = sfn.get_execution_history(executionArn=run.execution_arn, reverseOrder=True, maxResults=100)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    phase = PHASES.get(entered[0], entered[0]) if entered else "starting"
    applied = s3.list_objects_v2(Bucket=deployment.bucket, Prefix=deployment.run_key(run.run_id, "applied/"))
    now = run.stopped or datetime.datetime.now(run.started.tzinfo)
    waited = _turn_wait(history, now)
    return Progress(phase, int(applied.get("KeyCount", 0)), run.chunks, (now - run.started).total_seconds(), waited)


def _turn_wait(history: list[dict[str, Any]], now: datetime.datetime) -> float:
    """Seconds from the first TakeTurn to the turn being taken (or now, while still waiting)."""
    first = last = None
    for event in history:  # newest first
        name = (event.get("stateEnteredEventDetails") or {}).get("name")
        if name == "TakeTurn":
            first = event["timestamp"]
        if name in ("TurnTaken", "ResolveDataset") and last is None:
            last = event["timestamp"]
    if first is None:
        return 0.0
    end = last if last is not None and last >= first else now
    return max(0.0, (end - first).total_seconds())


def report(deployment: Deployment, run_id: str) -> dict[str, Any] | None:
    """The run's report.json (every list complete), or None while it is not written."""
    s3 = deployment.client("s3")
    try:
        body = s3.get_object(Bucket=deployment.bucket, Key=deployment.run_key(run_id, "report.json"))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body))


def entry_findings(deployment: Deployment, report_doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every entry error and warning of the run, from the files `entryFindingsUri` names (streamed)."""
    uri = str(report_doc.get("entryFindingsUri") or "")
    if not uri.startswith("s3://"):
        yield from report_doc.get("entryErrors") or []
        yield from report_doc.get("entryWarnings") or []
        return
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = deployment.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].rsplit("/", 1)[-1].startswith("findings-"):
                continue
            for line in s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].iter_lines():
                if line.strip():
                    yield dict(json.loads(line))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
