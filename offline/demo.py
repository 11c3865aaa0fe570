"""`make demo`: the whole pipeline on the offline stack, from S3 drop to the SNS report.

By default it creates the project `demo-project` with an (empty) TRAIN dataset and no
TEST dataset (the pipeline creates it), drops the example manifests and one manifest
under a project outside the allow-list, completes a (local) Ground Truth labeling job
whose output the pipeline syncs, then drops a curated manifest in replace mode (the TRAIN
dataset becomes exactly that manifest), shows progress and prints what an SNS subscriber
and an EventBridge rule receive. Give manifest paths to drop your own files instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from labelsync.settings import project_name_problem
from offline.stack import OfflineConfig, OfflineStack

DEMO_PROJECT = "demo-project"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "manifests"
# A Ground Truth job that completes during the demo (OfflineConfig's default labelingJobs route: demo-*).
DEFAULT_JOBS = [
    (
        "demo-pets-multilabel-1",
        "pets-multilabel",
        EXAMPLES.parent / "labeling-jobs" / "demo-pets-multilabel-1.manifest",
    )
]
DEFAULT_DROPS = [
    ("incoming/demo-project/train/pets-clean.jsonl", EXAMPLES / "pets-clean.jsonl"),
    ("incoming/demo-project/test/pets-with-problems.jsonl", EXAMPLES / "pets-with-problems.jsonl"),
    ("incoming/unknown-project/train/pets-clean.jsonl", EXAMPLES / "pets-clean.jsonl"),
]
# Once the runs above are done: the curated TRAIN dataset, in replace mode (one entry removed).
DEFAULT_REPLACES = [
    ("incoming/demo-project/train/replace/pets-curated.jsonl", EXAMPLES.parent / "replace" / "pets-curated.jsonl")
]
SHOWN_STATES = {
    "ResolveDataset": "looking up the dataset",
    "WaitForCreation": "waiting for the new dataset",
    "ApplyChunk": "sending chunk (UpdateDatasetEntries)",
    "DescribeUpdate": "polling DescribeDataset",
    "Report": "listing entries with errors, publishing the report",
    "ReplaceDataset": "replace mode: backing up, deleting and creating the dataset",
    "ReportRejected": "publishing the rejection",
    "ReportFailure": "publishing the failure alert",
    "ReportChunkFailure": "publishing the failure alert",
}


def project_name(text: str) -> str:
    """argparse type: a bad name is one line of usage error, not a traceback from CreateProject."""
    problem = project_name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo ARGS=...", description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="*", type=Path, help="manifest files to drop (default: the examples)")
    parser.add_argument("--project", type=project_name, default=DEMO_PROJECT, help="project for the given manifests")
    parser.add_argument("--dataset", choices=["train", "test"], default="train", help="dataset for the given manifests")
    parser.add_argument("--json", action="store_true", help="print each SNS message as one JSON line on stdout")
    parser.add_argument(
        "--time-scale", type=float, default=0.02, help="real seconds per simulated second (default 0.02: 50x faster)"
    )
    parser.add_argument("--update-seconds", type=float, default=30.0, help="simulated duration of a dataset update")
    parser.add_argument("--verbose", action="store_true", help="show the Lambda functions' own logs")
    return parser.parse_args(argv)


class ProgressPrinter:
    """Tails the executions' histories and says what the pipeline is doing."""

    def __init__(self, stack: OfflineStack, out: TextIO) -> None:
        self.stack, self.out = stack, out
        self.seen: dict[str, int] = {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.2f}s] {text}", file=self.out, flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.poll()

    def poll(self) -> None:
        sfn = self.stack.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=self.stack.state_machine_arn)["executions"]:
            arn, name = execution["executionArn"], execution["name"]
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            for event in events[self.seen.get(arn, 0) :]:
                self._describe(name, event)
            self.seen[arn] = len(events)

    def _describe(self, name: str, event: dict[str, Any]) -> None:
        kind = event["type"]
        short = name[:28]
        if kind == "ExecutionStarted":
            self.say(f"{short}: execution started")
        elif kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
            if state in SHOWN_STATES:
                self.say(f"{short}: {SHOWN_STATES[state]}")
        elif kind == "TaskSucceeded" and "describeDataset" in json.dumps(event.get("taskSucceededEventDetails", {})):
            output = json.loads(event["taskSucceededEventDetails"].get("output", "{}"))
            status = output.get("DatasetDescription", {}).get("Status")
            if status:
                self.say(f"{short}:   dataset status {status}")
        elif kind in ("ExecutionSucceeded", "ExecutionFailed"):
            self.say(f"{short}: execution {kind.removeprefix('Execution').upper()}")


def print_report(message: dict[str, Any], email: str | None, out: TextIO) -> None:
    """What an email subscriber reads (the pipeline's own `email` body); a bare alert has only JSON."""
    attrs = {k: v["Value"] for k, v in message.get("MessageAttributes", {}).items()}
    print("\n" + "=" * 78, file=out)
    print(f"SNS message  subject={message.get('Subject')!r}  attributes={attrs}", file=out)
    print(email.rstrip("\n") if email is not None else message["Message"], file=out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.json:
        # Logs (--verbose) and progress go to stderr; stdout carries the JSON lines only.
        out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return run(args, human=sys.stderr, out=out)
    return run(args, human=sys.stdout, out=sys.stdout)


def run(args: argparse.Namespace, *, human: TextIO, out: TextIO) -> int:
    drops = DEFAULT_DROPS
    jobs = DEFAULT_JOBS
    replaces = DEFAULT_REPLACES
    project = DEMO_PROJECT
    if args.manifests:
        jobs, replaces = [], []
        missing = [str(p) for p in args.manifests if not p.is_file()]
        if missing:
            print(f"no such manifest file: {', '.join(missing)}", file=sys.stderr)
            return 2
        project = args.project
        drops = [(f"incoming/{project}/{args.dataset}/{p.name}", p) for p in args.manifests]
    config = OfflineConfig(
        time_scale=args.time_scale,
        update_seconds=args.update_seconds,
        log_level="INFO" if args.verbose else "WARNING",
        projects={project: {"datasetTypes": ["TRAIN", "TEST"], "createMissingDatasets": True}},
    )
    with OfflineStack(config) as stack:
        print(
            f"Offline stack up: bucket {config.bucket}, state machine {stack.state_machine_arn.split(':')[-1]}, "
            f"1 simulated second = {config.time_scale * 1000:g} ms, dataset updates take {config.update_seconds:g} s",
            file=human,
        )
        wanted = [key.split("/")[2].upper() for key, _ in drops if key.split("/")[1] == project]
        print(create_datasets(stack, project, wanted), file=human)
        with ProgressPrinter(stack, human) as progress:
            for key, path in drops:
                progress.say(f"drop s3://{config.bucket}/{key}")
                stack.drop(key, path)
            for name, attribute, path in jobs:
                job = stack.complete_labeling_job(name, path, label_attribute_name=attribute)
                progress.say(f"Ground Truth job {name} completed: {job.output_manifest}")
            stack.wait_until_idle(timeout=600)
            for key, path in replaces:
                progress.say(f"drop s3://{config.bucket}/{key} (replace mode: the dataset becomes this manifest)")
                stack.drop(key, path)
            stack.wait_until_idle(timeout=600)
        for result in synced_jobs(stack):
            print(
                f"labeling job {result['job']}: {result['outcome']} {result.get('manifest', '')}".rstrip(), file=human
            )
        messages = stack.messages()
        emails = stack.emails()
        for message in messages:
            if args.json:
                print(json.dumps(message, separators=(",", ":")), file=out, flush=True)
            else:
                print_report(message, emails.get(message["MessageId"]), human)
        events = stack.completion_events()
        print("\nEventBridge completion events (default bus, source labelsync):", file=human)
        for event in events:
            detail = event["detail"]
            manifest_key = (detail.get("manifest") or (detail.get("run") or {}).get("manifest") or {}).get("key")
            verdict = detail.get("verdict") or "-"
            print(
                f"  {event['detail-type']}: {manifest_key} (outcome {detail.get('outcome')}, verdict {verdict})",
                file=human,
            )
        crashed = stack.runtime.errors(source="async")
        for invocation in crashed:
            print(f"plan step failed: {invocation.error}", file=sys.stderr)
        print(
            f"\n{len(messages)} SNS message(s) and {len(events)} completion event(s) for "
            f"{len(drops) + len(replaces)} manifest(s) and {len(jobs)} labeling job(s).",
            file=human,
        )
        runs = len(drops) + len(jobs) + len(replaces)
        return 1 if crashed or len(messages) != runs or len(events) != runs else 0


def synced_jobs(stack: OfflineStack) -> list[dict[str, Any]]:
    """What the labeling-job sync function did with each job's event."""
    return [
        i.result
        for i in stack.runtime.invocations
        if i.function == "labelsync-SyncLabelingJob" and isinstance(i.result, dict)
    ]


def create_datasets(stack: OfflineStack, project: str, wanted: list[str]) -> str:
    """Create `project` with a TRAIN dataset (the demo's default drops) or none (your manifests):
    the pipeline creates each missing dataset it is sent to. Says exactly what was created."""
    existing = ["TRAIN"] if project == DEMO_PROJECT else []
    stack.create_project(project, existing)
    left = sorted(set(wanted) - set(existing))
    made = f"an empty {existing[0]} dataset" if existing else "no datasets"
    later = f" ({' and '.join(left)} will be created by the pipeline)" if left else ""
    return f"Created project {project} with {made}{later}"


if __name__ == "__main__":
    sys.exit(main())
