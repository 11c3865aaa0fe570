"""Scale, polling, cost and end-to-end time of the whole pipeline, measured on the offline stack.

    python -m benchmarks.scale_and_cost [--write-docs] [--quick]

Four measurements, each on real pipeline runs (S3 drop -> plan Lambda -> statemachine/pipeline.asl.json
on moto's engine -> the real handlers -> local Custom Labels service -> SNS), time accelerated:

1. scale: >= 2,000 chunks (one line each, a tiny chunk limit) through the real definition; history
   events of the parent execution and of each Distributed Map child; the largest state payload
   (every input/output/parameters field of every history event, parent and children) against the
   262,144-byte quota; and a queued run (two manifests for one dataset): events per TakeTurn round.
2. polling: one dataset per typical update duration (30 s .. 30 min), several manifests of several
   chunks each; DescribeDataset calls per update and the delay between the update's end and the
   describe that saw UPDATE_COMPLETE, from the local service's own call log.
3. cost: a 250,000-line object-detection manifest with 2-5 minute updates per 5 MB chunk; every AWS
   request the pipeline makes is counted (state transitions, Lambda invocations and in-process
   seconds, S3, DynamoDB, SNS) and priced per 1,000,000 entries.
4. end to end: the wall time of that same run, from `stack.drop(...)` to the SNS report message.

All sections run the stock offline stack (offline/engine.py lets a Distributed Map run any number of
items; moto alone fails past ~960).
"""

from __future__ import annotations

import argparse
import datetime
import math
import random
import statistics
import sys
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.manifests import detection_line  # noqa: E402
from infra.function_specs import PLAN, TASK_FUNCTIONS  # noqa: E402
from labelsync.usecases import take_turn as take_turn_usecase  # noqa: E402
from offline import engine  # noqa: E402
from offline.stack import OfflineConfig, OfflineStack  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- scale-and-cost:start -->", "<!-- scale-and-cost:end -->"

STATE_DATA_QUOTA = 262_144  # bytes: state input/output/parameters
HISTORY_QUOTA = 25_000  # events per execution
MAX_CALLS = 12
MAX_MEDIAN_DELAY_PCT = 10.0
COST_TARGET = 0.05  # USD per 1,000,000 entries
E2E_TARGET_SECONDS = 60.0
MB = 5_242_880  # "5 MB": the default chunk limit

# Public us-east-1 list prices (USD). See PRICES_CHECKED for where and when.
PRICES = {
    "sfn_transition": 0.025 / 1000,
    "lambda_gb_second_arm": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "s3_put_class": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get_class": 0.0004 / 1000,  # GET, SELECT and all other requests (HEAD)
    "ddb_wru": 0.625 / 1_000_000,
    "ddb_rru": 0.125 / 1_000_000,
    "sns_publish": 0.50 / 1_000_000,  # per 64 KB chunk of a publish
}
PRICES_CHECKED = "2026-11-23"
S3_PUT_CLASS = {"PutObject", "CopyObject", "PostObject", "ListObjectsV2", "ListObjects", "ListObjectVersions"}
S3_FREE = {"DeleteObject", "DeleteObjects"}
MEMORY_MB = {f"labelsync-{spec.name}": spec.memory_mb for spec in (*TASK_FUNCTIONS, PLAN)}


# -- manifests ------------------------------------------------------------------------------------
def detection_manifest(
    lines: int, seed: int, prefix: str = "ds", start: int = 0, boxes: tuple[int, int] = (1, 3)
) -> bytes:
    """`lines` valid object-detection lines (1-3 boxes: ~520 bytes a line), no repeats."""
    rnd = random.Random(seed)
    return ("\n".join(detection_line(rnd, start + i, boxes, prefix) for i in range(lines)) + "\n").encode()


def scale_manifest(chunks: int, seed: int = 3) -> tuple[bytes, int, dict[str, int]]:
    """Lines of one box each (nearly equal lengths) plus some rejected and superseded lines, and the
    chunk limit that packs exactly one accepted line per chunk: `chunks` chunks."""
    rnd = random.Random(seed)
    good = [detection_line(rnd, i, boxes=(1, 1), prefix="scale") for i in range(chunks)]
    limit = max(len(line) for line in good) + 16
    if 2 * (min(len(line) for line in good) + 1) <= limit:
        raise RuntimeError("scale lines differ too much in length for one line per chunk")
    lines: list[str] = []
    extra = {"rejected": 0, "superseded": 0}
    for i, line in enumerate(good):
        if i % 50 == 25:
            lines.append('{"source-ref": "s3://my-training-images/scale/broken.jpg", ')  # invalid JSON: rejected
            extra["rejected"] += 1
        if i % 40 == 20:
            lines.append(line.replace('"human-annotated":"yes"', '"human-annotated":"no"'))  # superseded by `line`
            extra["superseded"] += 1
        lines.append(line)
    return ("\n".join(lines) + "\n").encode(), limit, extra


# -- instrumentation ---------------------------------------------------------------------------------
def _ddb_size(value: Any) -> int:
    """Approximate DynamoDB size of a (deserialized) attribute value, per the documented item size rules."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, int | float | Decimal):
        digits = len(str(abs(value)).replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + _ddb_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(_ddb_size(v) + 1 for v in value)
    if isinstance(value, set | frozenset):
        return sum(_ddb_size(v) for v in value)
    if hasattr(value, "value"):  # boto3 Binary
        return len(value.value)
    return len(str(value))


def _item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + _ddb_size(v) for k, v in (item or {}).items())


@dataclass
class ApiCount:
    """Every AWS request made off the main thread (handlers, the state machine engine): the pipeline's own."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    update_item_keys: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sns_units: int = 0
    sns_bytes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.wru = self.rru = 0.0
            self.update_item_keys.clear()
            self.sns_units = 0
            self.sns_bytes.clear()

    def record(self, service: str, operation: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        with self.lock:
            self.calls[(service, operation)] += 1
            if service == "dynamodb":
                self._capacity(operation, params, result)
            elif service == "sns" and operation == "Publish":
                size = len(str(params.get("Message", "")).encode()) + len(str(params.get("Subject", "")).encode())
                self.sns_bytes.append(size)
                self.sns_units += max(1, math.ceil(size / 65_536))

    def _capacity(self, operation: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        consistent = bool(params.get("ConsistentRead"))
        read_factor = 1.0 if consistent else 0.5
        if operation == "PutItem":
            self.wru += max(1, math.ceil(_item_size(params.get("Item")) / 1024))
        elif operation == "UpdateItem":  # sized at the end, from the stored item
            self.update_item_keys.append((str(params.get("TableName")), dict(params.get("Key") or {})))
        elif operation == "DeleteItem":
            self.wru += 1
        elif operation == "GetItem":
            self.rru += read_factor * max(1, math.ceil(_item_size(result.get("Item")) / 4096))
        elif operation in ("Query", "Scan"):
            total = sum(_item_size(item) for item in result.get("Items") or [])
            self.rru += read_factor * max(1, math.ceil(total / 4096))

    def settle_update_items(self, stack: OfflineStack) -> None:
        """UpdateItem costs the stored item's size in WRUs: read each updated item once (main thread: not counted)."""
        import boto3

        resource = boto3.resource("dynamodb", region_name=stack.config.region)
        for table, key in self.update_item_keys:
            item = resource.Table(table).get_item(Key=key).get("Item")
            self.wru += max(1, math.ceil(_item_size(item) / 1024))
        self.update_item_keys.clear()


API = ApiCount()


@contextmanager
def counting_requests() -> Iterator[ApiCount]:
    """Count AWS requests by wrapping botocore's `BaseClient._make_api_call`: every client sees it, including
    the ones the handlers cache and the ones moto's Step Functions engine creates for each task
    (Lambda invoke, aws-sdk DescribeDataset, the ItemReader's S3 GetObject). Calls from the main
    thread are the benchmark's own (the labeling job's PUT, waiting, reading histories) and are skipped.
    (A `before-call` handler on boto3's default session would miss clients made under `mock_aws`,
    which swaps that session out.)"""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        result = original(client, operation, params)
        if threading.current_thread() is not threading.main_thread():
            API.record(client.meta.service_model.service_name, operation, params, result)
        return result

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield API
    finally:
        botocore.client.BaseClient._make_api_call = original


@dataclass
class PayloadMeter:
    """Sizes of the state data in every history event moto writes, parent executions and Map children."""

    largest: tuple[int, str] = (0, "")  # bytes, "where"
    largest_child: tuple[int, str] = (0, "")
    child_inputs: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.largest = self.largest_child = (0, "")
            self.child_inputs.clear()


PAYLOADS = PayloadMeter()


@contextmanager
def measuring_payloads() -> Iterator[PayloadMeter]:
    """Wrap moto's EventManager.add_event. A Map child's history (offline/engine.py) starts with an
    ExecutionStarted without details; its first StateEntered input is the child's input."""
    from moto.stepfunctions.parser.asl.eval.event import event_manager as em

    original = em.EventManager.add_event
    kinds: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()

    def add_event(self: Any, context: Any, event_type: Any, event_details: Any = None, *args: Any, **kw: Any) -> int:
        name = getattr(event_type, "value", str(event_type))
        state = kinds.setdefault(self, ["parent" if event_details else "child", False])
        if name == "ExecutionStarted" and not event_details:
            state[0] = "child"
        for details in (event_details or {}).values():
            if not isinstance(details, dict):
                continue
            for key in ("input", "output", "parameters"):
                text = details.get(key)
                if not isinstance(text, str):
                    continue
                size = len(text.encode())
                where = f"{name} {details.get('name', '')}".strip() + f" {key}"
                with PAYLOADS.lock:
                    if size > PAYLOADS.largest[0]:
                        PAYLOADS.largest = (size, f"{state[0]}: {where}")
                    if state[0] == "child":
                        if size > PAYLOADS.largest_child[0]:
                            PAYLOADS.largest_child = (size, where)
                        if key == "input" and name.endswith("StateEntered") and not state[1]:
                            state[1] = True
                            PAYLOADS.child_inputs.append(size)
        return int(original(self, context, event_type, event_details, *args, **kw))

    em.EventManager.add_event = add_event  # type: ignore[method-assign]
    try:
        yield PAYLOADS
    finally:
        em.EventManager.add_event = original  # type: ignore[method-assign]


# -- helpers -------------------------------------------------------------------------------------------
def wait_idle(stack: OfflineStack, timeout: float, poll: float = 0.25) -> list[dict[str, Any]]:
    """stack.wait_until_idle, polling every `poll` s: a 20 ms loop competes with the engine for the GIL."""
    return stack.wait_until_idle(timeout, poll=poll)


def history(stack: OfflineStack, execution_arn: str) -> list[dict[str, Any]]:
    pages = stack.client("stepfunctions").get_paginator("get_execution_history")
    return [event for page in pages.paginate(executionArn=execution_arn, maxResults=1000) for event in page["events"]]


def largest_payload(events: Sequence[dict[str, Any]]) -> tuple[int, str]:
    best = (0, "")
    for event in events:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field_name in ("input", "output", "parameters"):
                text = details.get(field_name)
                if isinstance(text, str) and len(text.encode()) > best[0]:
                    best = (len(text.encode()), f"{event['type']} {details.get('name', '')} {field_name}".strip())
    return best


def transitions(event_types: Sequence[str]) -> int:
    """Billed state transitions of one history: every state entered, plus every retry (a task scheduled
    again within the same state)."""
    entered = sum(1 for t in event_types if t.endswith("StateEntered"))
    tasks = sum(1 for t in event_types if t == "TaskStateEntered")
    scheduled = sum(1 for t in event_types if t in ("LambdaFunctionScheduled", "TaskScheduled"))
    return entered + max(0, scheduled - tasks)


def invocations_of(stack: OfflineStack, suffix: str) -> list[Any]:
    return [i for i in stack.runtime.invocations if i.function.endswith(suffix)]


def machine() -> str:
    import moto

    return describe(f"moto {moto.__version__}")


def _duration(seconds: float) -> str:
    return f"{seconds:.4g} s" if seconds < 60 else f"{seconds / 60:.4g} min"


# -- 1. scale ------------------------------------------------------------------------------------------
@dataclass
class ScaleResult:
    chunks: int
    status: str
    outcome: str
    wall_seconds: float
    applies: list[int]  # chunk index of every ApplyChunk invocation, in order
    updates: int  # UpdateDatasetEntries calls
    parent_events: int
    parent_events_small: int  # a 2-chunk run on the same stack
    child_events: Counter[int]  # events per child -> children
    child_status: Counter[str]
    child_event_types: tuple[str, ...]
    child_failures: list[str]  # "index: error: cause" of each child that did not succeed
    parent_payload: tuple[int, str]
    any_payload: tuple[int, str]
    child_payload: tuple[int, str]
    child_input_max: int
    items_json_bytes: int
    counts: dict[str, Any]
    queued_rounds: int = 0
    queued_events: int = 0
    events_per_round: float = 0.0

    @property
    def max_child_events(self) -> int:
        return max(self.child_events, default=0)

    def hours_of_waiting_to_quota(self, base_events: int) -> float:
        if not self.events_per_round:
            return math.inf
        rounds = (HISTORY_QUOTA - base_events) / self.events_per_round
        return rounds * take_turn_usecase.MAX_WAIT_SECONDS / 3600


SCALE_PROJECTS = ("scale-project", "queue-project")


def run_scale(chunks: int = 2000, *, queued: bool = True, timeout: float = 1800.0) -> ScaleResult:
    """`chunks` one-line chunks of one manifest through the real definition (time_scale 1e-6, 0.5 s updates:
    one DescribeDataset per chunk), then a 2-chunk run on the same dataset (is the parent's history
    constant?), then optionally a queued run (events per TakeTurn round)."""
    body, limit, _extra = scale_manifest(chunks)
    config = OfflineConfig(time_scale=1e-6, update_seconds=0.5, create_seconds=1.0, chunk_limit_bytes=limit)
    config.projects = {p: {"datasetTypes": ["TRAIN"], "createMissingDatasets": True} for p in SCALE_PROJECTS}
    with measuring_payloads() as payloads, OfflineStack(config) as stack:
        stack.create_project("scale-project", ["TRAIN"])
        engine.reset_child_history()
        payloads.reset()
        start = time.perf_counter()
        stack.drop("incoming/scale-project/train/scale.jsonl", body)
        (execution,) = wait_idle(stack, timeout)
        wall = time.perf_counter() - start
        children = engine.child_history()
        parent = history(stack, execution["executionArn"])
        reports = stack.reports()
        report = reports[-1] if reports else {}
        applies = [int(i.event["chunk"]) for i in invocations_of(stack, "ApplyChunk")]
        updates = len(stack.service.calls_of("UpdateDatasetEntries"))
        take = next(i for i in invocations_of(stack, "TakeTurn") if i.result and i.result.get("granted"))
        items = stack.client("s3").get_object(Bucket=config.bucket, Key=take.result["itemsKey"])["Body"].read()
        any_payload, child_payload, child_inputs = payloads.largest, payloads.largest_child, list(payloads.child_inputs)

        stack.drop(
            "incoming/scale-project/train/small.jsonl",
            detection_manifest(2, seed=5, prefix="scale-small", boxes=(1, 1)),
        )
        executions = wait_idle(stack, 120)
        small = next(e for e in executions if e["executionArn"] != execution["executionArn"])
        parent_small = len(history(stack, small["executionArn"]))

        result = ScaleResult(
            chunks=int(report.get("counts", {}).get("chunks", 0)),
            status=execution["status"],
            outcome=str(report.get("outcome")),
            wall_seconds=wall,
            applies=applies,
            updates=updates,
            parent_events=len(parent),
            parent_events_small=parent_small,
            child_events=Counter(c.events for c in children),
            child_status=Counter(c.status for c in children),
            child_event_types=children[0].event_types if children else (),
            child_failures=[f"{c.index}: {c.error}: {c.cause}" for c in children if c.status != "SUCCEEDED"],
            parent_payload=largest_payload(parent),
            any_payload=any_payload,
            child_payload=child_payload,
            child_input_max=max(child_inputs, default=0),
            items_json_bytes=len(items),
            counts=dict(report.get("counts", {})),
        )
        if queued:
            _queued_run(stack, result)
        return result


def _queued_run(stack: OfflineStack, result: ScaleResult) -> None:
    """Two manifests for one dataset at once: the second waits (TakeTurn, WaitForTurn) while the first applies
    4 chunks of 15-minute updates. Its parent history grows by a fixed number of events per round."""
    stack.clock.set_scale(0.0005)
    stack.service.timing.update_seconds = 900.0
    stack.create_project("queue-project", ["TRAIN"])
    first = detection_manifest(40, seed=8, prefix="queue-a")
    _set_chunk_limit(stack, len(first) // 4 + 600)
    before = {e["executionArn"] for e in stack.executions()}
    stack.drop("incoming/queue-project/train/a.jsonl", first)
    stack.drop("incoming/queue-project/train/b.jsonl", detection_manifest(5, seed=9, prefix="queue-b"))
    runs = []
    for e in wait_idle(stack, 300):
        if e["executionArn"] not in before:
            types = [str(ev["type"]) for ev in history(stack, e["executionArn"])]
            runs.append((sum(1 for t in types if t == "WaitStateEntered"), len(types)))
    (rounds, events), (_, base) = max(runs), min(runs)
    result.queued_rounds, result.queued_events = rounds, events
    result.events_per_round = (events - base) / rounds if rounds else 0.0


def _set_chunk_limit(stack: OfflineStack, limit: int) -> None:
    """The plan function's CHUNK_LIMIT_BYTES, as tests/e2e/test_pipeline.py changes it."""
    from labelsync.settings import ENV_CHUNK_LIMIT

    lam = stack.client("lambda")
    name = stack.functions["PlanManifest"]
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**env, ENV_CHUNK_LIMIT: str(limit)}}
    )


# -- 2. polling ----------------------------------------------------------------------------------------
BUCKETS = (30, 60, 120, 300, 600, 1200, 1800)  # typical update durations, seconds (a full 64 KiB chunk)
NOISE_SIGMA = 0.15
POLL_MANIFESTS = 6  # per dataset, 2-4 chunks each: ~20 updates per bucket


@dataclass
class UpdateSeen:
    bucket: int
    index: int  # of this dataset's updates, 0 = cold
    seconds: float
    calls: int
    delay_pct: float
    polls_recorded: int  # RecordChunk's count, a cross-check
    first_poll_overhead_real_ms: float


@dataclass
class PollRow:
    bucket: int
    time_scale: float
    warm: list[UpdateSeen]
    cold: list[UpdateSeen]
    timeouts: int  # updates no DescribeDataset saw complete (the poll schedule ran out)
    outcomes: Counter[str]  # the runs' report outcomes
    describe_calls: tuple[int, int] = (0, 0)  # after the first update: in stack.service.calls, in our log

    @property
    def meets_target(self) -> bool:
        return (
            bool(self.warm)
            and self.timeouts == 0
            and set(self.outcomes) == {"SUCCEEDED"}
            and max(u.calls for u in self.warm) <= MAX_CALLS
            and statistics.median(u.delay_pct for u in self.warm) <= MAX_MEDIAN_DELAY_PCT
        )


def run_polling(
    buckets: Sequence[int] = BUCKETS,
    *,
    manifests: int = POLL_MANIFESTS,
    chunks: tuple[float, float] = (2.0, 4.0),
    real_seconds_per_update: float = 1.0,
    chunk_limit: int = 65_536,
    seed: int = 11,
) -> list[PollRow]:
    """One dataset per bucket; `manifests` manifests of 2-4 chunks each, dropped one after the other. An update of
    B bytes lasts bucket * (0.6 + 0.4 * B / chunk_limit) * lognormal(0, 0.15) simulated seconds. Each bucket
    runs at its own time scale (real_seconds_per_update / bucket), so the engine's own overhead per poll
    (tens of real milliseconds) stays about as small a share of the update as Step Functions' is on AWS."""
    rng = random.Random(seed)
    projects = {f"poll-{b}s": {"datasetTypes": ["TRAIN"], "createMissingDatasets": True} for b in buckets}
    config = OfflineConfig(time_scale=real_seconds_per_update / buckets[0], chunk_limit_bytes=chunk_limit)
    config.projects = projects
    bucket_of: dict[str, int] = {}
    rows: list[PollRow] = []
    with OfflineStack(config) as stack, logging_service(stack) as log:

        def duration(arn: str, size: int, lines: int) -> float:
            return bucket_of[arn] * (0.6 + 0.4 * size / chunk_limit) * math.exp(rng.gauss(0.0, NOISE_SIGMA))

        stack.service.timing.update_duration = duration
        line = 0
        for bucket in buckets:
            scale = real_seconds_per_update / bucket
            stack.clock.set_scale(scale)
            project = f"poll-{bucket}s"
            arn = _dataset_arn(stack, stack.create_project(project, ["TRAIN"]))
            bucket_of[arn] = bucket
            stack.wait_for_dataset(arn)
            for m in range(manifests):
                lines = int(rng.uniform(*chunks) * chunk_limit / 520)
                body = detection_manifest(lines, seed=rng.randrange(1 << 30), prefix=project, start=line)
                line += lines
                stack.drop(f"incoming/{project}/train/m{m}.jsonl", body)
                wait_idle(stack, 600, poll=0.05)
            rows.append(_poll_row(stack, bucket, scale, arn, log[arn]))
    return rows


ServiceEvent = tuple[str, float, float | str]  # ("update", began, ends_at) or ("describe", answered, status)


@contextmanager
def logging_service(stack: OfflineStack) -> Iterator[dict[str, list[ServiceEvent]]]:
    """Per dataset, in order: each update as the local service begins it (its exact end), and each
    DescribeDataset with the simulated time it answered and the status it answered with."""
    from offline.custom_labels.dataset import Dataset

    log: dict[str, list[ServiceEvent]] = defaultdict(list)
    backend = stack.service
    original_begin, original_describe = Dataset.begin, backend.describe_dataset

    def begin(self: Dataset, now: float, seconds: float, **kwargs: Any) -> None:
        original_begin(self, now, seconds, **kwargs)
        if not kwargs.get("creating") and self.pending is not None:
            log[self.arn].append(("update", now, self.pending.ends_at))

    def describe(dataset_arn: str) -> dict[str, Any]:
        result = original_describe(dataset_arn)
        log[dataset_arn].append(("describe", backend.clock.now(), str(result["Status"])))
        return result

    Dataset.begin = begin  # type: ignore[method-assign]
    backend.describe_dataset = describe  # type: ignore[method-assign]
    try:
        yield log
    finally:
        Dataset.begin = original_begin  # type: ignore[method-assign]
        del backend.describe_dataset


def _dataset_arn(stack: OfflineStack, project_arn: str) -> str:
    rek = stack.client("rekognition")
    name = project_arn.split("/")[1]
    project = rek.describe_projects(ProjectNames=[name])["ProjectDescriptions"][0]
    return str(project["Datasets"][0]["DatasetArn"])


def _poll_row(stack: OfflineStack, bucket: int, scale: float, arn: str, log: list[ServiceEvent]) -> PollRow:
    """Each update of the dataset: the DescribeDataset calls after it, up to the first that answered
    UPDATE_COMPLETE; the delay is when that one answered minus the update's end."""
    applies = [i for i in invocations_of(stack, "ApplyChunk") if i.event.get("datasetArn") == arn and not i.error]
    recorded = {
        float(i.result["sentAt"]): int(i.result["polls"])
        for i in invocations_of(stack, "RecordChunk")
        if i.result and str(i.event.get("datasetKey", "")).startswith(f"poll-{bucket}s/")
    }
    outcomes = Counter(
        str(r["outcome"]) for r in stack.reports() if str(r.get("target", {}).get("project")) == f"poll-{bucket}s"
    )
    updates = [(i, float(e[1]), float(e[2])) for i, e in enumerate(log) if e[0] == "update"]
    warm: list[UpdateSeen] = []
    cold: list[UpdateSeen] = []
    unseen = 0
    for n, (position, began, end) in enumerate(updates):
        following = updates[n + 1][0] if n + 1 < len(updates) else len(log)
        until = updates[n + 1][1] if n + 1 < len(updates) else math.inf
        describes = [(float(e[1]), e[2]) for e in log[position + 1 : following] if e[0] == "describe"]
        seen = next((k for k, (_, status) in enumerate(describes) if status == "UPDATE_COMPLETE"), None)
        apply = next((a for a in applies if began <= float(a.result["sentAt"]) < until), None)
        if seen is None or apply is None:
            unseen += 1
            continue
        seconds = end - began
        overhead = (describes[0][0] - began - float(apply.result["wait"]["delay"])) * scale * 1000
        update = UpdateSeen(
            bucket=bucket,
            index=n,
            seconds=seconds,
            calls=seen + 1,
            delay_pct=100 * (describes[seen][0] - end) / seconds,
            polls_recorded=recorded.get(float(apply.result["sentAt"]), -1),
            first_poll_overhead_real_ms=overhead,
        )
        (cold if n == 0 else warm).append(update)
    first = updates[0][1] if updates else math.inf
    in_calls = sum(1 for c in stack.service.calls_of("DescribeDataset", arn) if c.at >= first)
    in_log = sum(1 for e in log if e[0] == "describe" and float(e[1]) >= first)
    return PollRow(bucket, scale, warm, cold, unseen, outcomes, (in_calls, in_log))


def format_polling(rows: Sequence[PollRow]) -> list[str]:
    lines = [
        "| update time | time scale | updates (warm) | calls median | calls max | delay median % | delay max % "
        "| cold: calls | cold: delay % | not seen | runs | engine overhead per poll | meets target |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        calls = [u.calls for u in r.warm]
        delays = [u.delay_pct for u in r.warm]
        overhead = [
            u.first_poll_overhead_real_ms for u in (*r.cold, *r.warm) if not math.isnan(u.first_poll_overhead_real_ms)
        ]
        over_pct = statistics.median(overhead) / 1000 / r.time_scale / r.bucket * 100 if overhead else math.nan
        cold_calls = ", ".join(str(u.calls) for u in r.cold) or "-"
        cold_delay = ", ".join(f"{u.delay_pct:.1f}" for u in r.cold) or "-"
        lines.append(
            f"| {_duration(r.bucket)} | {r.time_scale:.2g} | {len(r.warm)} | "
            f"{statistics.median(calls) if calls else math.nan:g} | {max(calls, default=0)} | "
            f"{statistics.median(delays) if delays else math.nan:.1f} | {max(delays, default=math.nan):.1f} | "
            f"{cold_calls} | {cold_delay} | {r.timeouts} | "
            f"{', '.join(f'{n} {o}' for o, n in sorted(r.outcomes.items()))} | "
            f"{statistics.median(overhead) if overhead else math.nan:.0f} ms "
            f"({over_pct:.1f}% of the update) | {'yes' if r.meets_target else 'NO'} |"
        )
    return lines


# -- 3 and 4. a realistic run: cost and end-to-end time -----------------------------------------------
@dataclass
class CostLine:
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass
class RealisticResult:
    lines: int
    manifest_bytes: int
    accepted: int
    chunks: int
    status: str
    e2e_seconds: float
    simulated_update_seconds: float
    polls: list[int]
    parent_events: int
    parent_transitions: int
    child_events: list[int]
    child_base_events: Counter[int]  # events - 11 * (polls - 1) per child: 21 when every poll costs 11
    child_transitions: int
    lambda_by_function: dict[str, tuple[int, float]]  # invocations, billed seconds
    calls: Counter[tuple[str, str]]
    wru: float
    rru: float
    sns_units: int
    sns_bytes: list[int]
    cost: list[CostLine]
    parent_payload: tuple[int, str]

    @property
    def total_usd(self) -> float:
        return sum(c.usd for c in self.cost)

    @property
    def usd_per_million(self) -> float:
        return self.total_usd * 1_000_000 / self.accepted if self.accepted else math.nan


def run_realistic(lines: int = 250_000, *, time_scale: float = 0.001, seed: int = 21) -> RealisticResult:
    """One manifest of `lines` object-detection lines on the stock offline stack (default 5 MB chunks); updates
    last 2-5 minutes per full 5 MB chunk (uniform, proportional to the chunk's size, at least 30 s)."""
    body = detection_manifest(lines, seed=seed, prefix="e2e")
    rng = random.Random(seed)
    config = OfflineConfig(time_scale=time_scale)
    config.projects = {"cost-project": {"datasetTypes": ["TRAIN"], "createMissingDatasets": True}}
    with counting_requests() as api, OfflineStack(config) as stack:
        durations: list[float] = []

        def duration(arn: str, size: int, count: int) -> float:
            seconds = max(30.0, rng.uniform(120.0, 300.0) * size / MB)
            durations.append(seconds)
            return seconds

        stack.service.timing.update_duration = duration
        arn = _dataset_arn(stack, stack.create_project("cost-project", ["TRAIN"]))
        stack.wait_for_dataset(arn)
        engine.reset_child_history()
        api.reset()
        start = time.perf_counter()
        stack.drop("incoming/cost-project/train/labels.jsonl", body)
        while not stack.messages():
            time.sleep(0.05)
        e2e = time.perf_counter() - start
        (execution,) = wait_idle(stack, 600)
        api.settle_update_items(stack)
        report = stack.reports()[0]
        parent = history(stack, execution["executionArn"])
        children = engine.child_history()
        by_function: dict[str, tuple[int, float]] = {}
        for inv in stack.runtime.invocations:
            count, seconds = by_function.get(inv.function, (0, 0.0))
            by_function[inv.function] = (count + 1, seconds + math.ceil(inv.seconds * 1000) / 1000)
        polls = [int(i.result["polls"]) for i in invocations_of(stack, "RecordChunk") if i.result]
        parent_types = [str(e["type"]) for e in parent]
        result = RealisticResult(
            lines=lines,
            manifest_bytes=len(body),
            accepted=int(report["counts"]["accepted"]),
            chunks=int(report["counts"]["chunks"]),
            status=execution["status"],
            e2e_seconds=e2e,
            simulated_update_seconds=sum(durations),
            polls=polls,
            parent_events=len(parent),
            parent_transitions=transitions(parent_types),
            child_events=[c.events for c in children],
            child_base_events=Counter(
                c.events - 11 * (sum(1 for t in c.event_types if t == "TaskScheduled") - 1) for c in children
            ),
            child_transitions=sum(transitions(c.event_types) for c in children),
            lambda_by_function=by_function,
            calls=Counter(api.calls),
            wru=api.wru,
            rru=api.rru,
            sns_units=api.sns_units,
            sns_bytes=list(api.sns_bytes),
            cost=[],
            parent_payload=largest_payload(parent),
        )
        result.cost = price(result)
        return result


def price(r: RealisticResult) -> list[CostLine]:
    return price_of(
        transitions=r.parent_transitions + r.child_transitions,
        lambda_by_function=r.lambda_by_function,
        calls=r.calls,
        wru=r.wru,
        rru=r.rru,
        sns_units=r.sns_units,
    )


def price_of(
    *,
    transitions: int,
    lambda_by_function: dict[str, tuple[int, float]],
    calls: Counter[tuple[str, str]],
    wru: float,
    rru: float,
    sns_units: int,
) -> list[CostLine]:
    """What a run costs at PRICES, from what was measured: state transitions, Lambda invocations and billed
    seconds by function, AWS requests by service and operation, DynamoDB capacity and SNS units."""
    lines = [
        CostLine("Step Functions state transitions", transitions, "transitions", transitions * PRICES["sfn_transition"])
    ]
    requests = sum(n for n, _ in lambda_by_function.values())
    gb_seconds = sum(s * MEMORY_MB.get(f, 1024) / 1024 for f, (_, s) in lambda_by_function.items())
    lines.append(CostLine("Lambda requests", requests, "invocations", requests * PRICES["lambda_request"]))
    lines.append(CostLine("Lambda duration (arm64)", gb_seconds, "GB-s", gb_seconds * PRICES["lambda_gb_second_arm"]))
    s3 = {op: n for (service, op), n in calls.items() if service == "s3"}
    put_class = sum(n for op, n in s3.items() if op in S3_PUT_CLASS)
    get_class = sum(n for op, n in s3.items() if op not in S3_PUT_CLASS and op not in S3_FREE)
    lines.append(CostLine("S3 PUT/COPY/POST/LIST", put_class, "requests", put_class * PRICES["s3_put_class"]))
    lines.append(CostLine("S3 GET and other", get_class, "requests", get_class * PRICES["s3_get_class"]))
    lines.append(CostLine("DynamoDB writes", wru, "WRU", wru * PRICES["ddb_wru"]))
    lines.append(CostLine("DynamoDB reads", rru, "RRU", rru * PRICES["ddb_rru"]))
    lines.append(CostLine("SNS publish", sns_units, "64 KB units", sns_units * PRICES["sns_publish"]))
    return lines


def format_cost(r: RealisticResult) -> list[str]:
    per = 1_000_000 / r.accepted
    lines = [
        "| item | measured in this run | per 1,000,000 entries | USD per 1,000,000 entries | share |",
        "|---|---|---|---|---|",
    ]
    for c in r.cost:
        lines.append(
            f"| {c.item} | {c.quantity:,.1f} {c.unit} | {c.quantity * per:,.1f} | ${c.usd * per:.5f} "
            f"| {100 * c.usd / r.total_usd:.0f}% |"
        )
    lines.append(f"| **total** | | | **${r.usd_per_million:.4f}** | |")
    return lines


# -- report --------------------------------------------------------------------------------------------
def scale_lines(s: ScaleResult) -> list[str]:
    once = sorted(s.applies) == list(range(s.chunks)) and s.updates == s.chunks
    events = ", ".join(f"{n} events x {c}" for n, c in sorted(s.child_events.items()))
    out = [
        f"- run: {s.chunks:,} chunks (one line each; {s.counts.get('rejected', 0)} rejected and "
        f"{s.counts.get('superseded', 0)} superseded lines reported), {s.status}, report {s.outcome}, "
        f"{s.wall_seconds:.0f} s wall; every chunk applied exactly once: {'yes' if once else 'NO'} "
        f"({len(s.applies):,} ApplyChunk invocations, {s.updates:,} UpdateDatasetEntries calls)",
        f"- parent execution: {s.parent_events} history events for {s.chunks:,} chunks; "
        f"{s.parent_events_small} for a 2-chunk run on the same dataset (quota {HISTORY_QUOTA:,})",
        f"- Distributed Map children: {sum(s.child_events.values()):,} ({dict(s.child_status)}), {events}; "
        f"one poll costs 21 events, each further poll 11 (NextPoll, Wait, DescribeUpdate, UpdateFinished), "
        f"so the 12-call budget bounds a child at {21 + 11 * (MAX_CALLS - 1)} events plus 3 per Lambda retry",
        f"- largest state payload: parent {s.parent_payload[0]:,} bytes ({s.parent_payload[1]}); "
        f"any history event, parent or child, {s.any_payload[0]:,} bytes ({s.any_payload[1]}); "
        f"largest child input {s.child_input_max:,} bytes (quota {STATE_DATA_QUOTA:,}). The chunk list "
        f"({s.items_json_bytes:,} bytes of items.json) stays in S3, read by the Map's ItemReader",
    ]
    if s.queued_rounds:
        hours = s.hours_of_waiting_to_quota(s.parent_events)
        out.append(
            f"- a queued run (second manifest for a busy dataset): {s.queued_rounds} TakeTurn rounds, "
            f"{s.queued_events} events, {s.events_per_round:.1f} events per round; rounds are at most "
            f"{take_turn_usecase.MAX_WAIT_SECONDS} s apart, so a run that waits longer than ~{hours:.0f} h "
            f"hits {HISTORY_QUOTA:,} events (one 1 GB manifest of ~205 chunks at 30 min an update takes ~102 h)"
        )
    return out


def realistic_lines(r: RealisticResult) -> list[str]:
    fns = ", ".join(
        f"{f.removeprefix('labelsync-')} {n} x {MEMORY_MB.get(f, 0)} MB, {s:.2f} s"
        for f, (n, s) in sorted(r.lambda_by_function.items())
    )
    calls = ", ".join(f"{svc}:{op} {n}" for (svc, op), n in sorted(r.calls.items()))
    child_avg = statistics.mean(r.child_events) if r.child_events else 0
    return [
        f"- manifest: {r.lines:,} object-detection lines, {r.manifest_bytes / 1e6:,.1f} MB "
        f"({r.manifest_bytes / r.lines:.0f} bytes/line); {r.accepted:,} accepted in {r.chunks} chunks; {r.status}",
        f"- updates: {_duration(round(r.simulated_update_seconds))} simulated in total "
        f"(2-5 min per 5 MB chunk); DescribeDataset polls per chunk: median {statistics.median(r.polls):g}, "
        f"max {max(r.polls)} (first chunk cold: {r.polls[0]})",
        f"- state transitions: parent {r.parent_transitions} ({r.parent_events} events), children "
        f"{r.child_transitions} ({len(r.child_events)} children, {child_avg:.1f} events on average; "
        f"events - 11 x (polls - 1) per child: {dict(r.child_base_events)})",
        f"- Lambda (in-process handler seconds, rounded up to 1 ms each): {fns}",
        f"- requests off the main thread: {calls}",
        f"- DynamoDB capacity (estimated from item sizes): {r.wru:g} WRU, {r.rru:g} RRU; "
        f"SNS: {len(r.sns_bytes)} publish of {max(r.sns_bytes, default=0):,} bytes",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke check, not the figures)")
    parser.add_argument("--write-docs", action="store_true", help="write the results to docs/benchmarks.md")
    parser.add_argument("--chunks", type=int, default=None, help="scale run chunks (default 2000; quick 300)")
    parser.add_argument("--lines", type=int, default=None, help="realistic run lines (default 250000; quick 30000)")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)  # the handlers' own logs
    chunks = args.chunks or (300 if args.quick else 2000)
    lines = args.lines or (30_000 if args.quick else 250_000)
    started = time.perf_counter()
    details: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        details.append(text)

    say("### 3. Cost and 4. end to end: one realistic run")
    say()
    r = run_realistic(lines)
    e2e_ok = r.e2e_seconds <= E2E_TARGET_SECONDS
    say(
        f"- end to end: {r.e2e_seconds:.1f} s wall from the S3 drop to the SNS report "
        f"(target <= {E2E_TARGET_SECONDS:g} s: {'met' if e2e_ok else 'NOT met'})"
    )
    for text in realistic_lines(r):
        say(text)
    say()
    for text in format_cost(r):
        say(text)
    say()
    per_chunk = r.total_usd / r.chunks
    break_even = COST_TARGET * MB / (1_000_000 * per_chunk)
    cost_ok = r.usd_per_million <= COST_TARGET
    say(
        f"Cost per 1,000,000 entries: ${r.usd_per_million:.4f} (target <= ${COST_TARGET}: "
        f"{'met' if cost_ok else 'NOT met'}). Nearly all of it is per chunk "
        f"(${per_chunk:.5f} a chunk, {(r.parent_transitions + r.child_transitions) / r.chunks:.1f} transitions), "
        f"so the cost per entry grows with the line length: with full 5 MB chunks the target holds up to "
        f"~{break_even:,.0f} bytes a line (this manifest: {r.manifest_bytes / r.lines:.0f})."
    )
    say()
    say("### 1. Scale")
    say()
    s = run_scale(chunks)
    for text in scale_lines(s):
        say(text)
    say()
    say("### 2. Polling")
    say()
    rows = run_polling((30, 300, 1800), manifests=2, real_seconds_per_update=0.4) if args.quick else run_polling()
    for text in format_polling(rows):
        say(text)
    say()
    updates = [u for row in rows for u in (*row.cold, *row.warm)]
    agree = sum(1 for u in updates if u.calls == u.polls_recorded)
    timeouts = sum(row.timeouts for row in rows)
    in_calls, in_log = (sum(row.describe_calls[i] for row in rows) for i in (0, 1))
    say(
        f"Cross-checks: calls per update agree with RecordChunk's own poll count for {agree} of {len(updates)} "
        f"updates; DescribeDataset calls in `stack.service.calls` {in_calls:,}, answered {in_log:,}; "
        f"updates no call saw complete: {timeouts}."
    )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    wall = time.perf_counter() - started
    say()
    say(f"machine: {machine()}; date: {stamp}; script wall time {wall:.0f} s")

    warm = [u for row in rows for u in row.warm]
    scale_ok = (
        s.status == "SUCCEEDED"
        and sorted(s.applies) == list(range(s.chunks))
        and s.parent_events == s.parent_events_small
        and s.any_payload[0] < STATE_DATA_QUOTA
    )
    poll_ok = all(row.meets_target for row in rows)
    worst_median = max(statistics.median(u.delay_pct for u in row.warm) for row in rows if row.warm)
    summary = [
        "| target | measured | met |",
        "|---|---|---|",
        f"| 1. {s.chunks:,} chunks without Step Functions quotas | parent {s.parent_events} events whatever "
        f"the chunks (quota {HISTORY_QUOTA:,}); a child {s.max_child_events} events at 1 poll, at most "
        f"{max(r.child_events)} in the realistic run, {21 + 11 * (MAX_CALLS - 1)} at the 12-call budget; largest "
        f"state {max(s.any_payload[0], s.parent_payload[0]):,} of {STATE_DATA_QUOTA:,} bytes "
        f"| {'yes' if scale_ok else 'NO'} |",
        f"| 2. <= {MAX_CALLS} DescribeDataset calls per update, median delay <= {MAX_MEDIAN_DELAY_PCT:g}% "
        f"(30 s .. 30 min) | max {max((u.calls for u in warm), default=0)} calls, worst bucket median "
        f"{worst_median:.1f}% | {'yes' if poll_ok else 'NO'} |",
        f"| 3. <= ${COST_TARGET} per 1,000,000 entries | ${r.usd_per_million:.4f} | {'yes' if cost_ok else 'NO'} |",
        f"| 4. {r.lines:,} lines, S3 drop to SNS report <= {E2E_TARGET_SECONDS:g} s | {r.e2e_seconds:.1f} s "
        f"| {'yes' if e2e_ok else 'NO'} |",
    ]
    print("\n".join(["", *summary]), flush=True)
    if args.write_docs:
        write_docs([*summary, "", *details], quick=args.quick, minutes=max(1.0, wall / 60))
    return 0


def write_docs(results: list[str], *, quick: bool, minutes: float) -> None:
    """Replace our marked section; without one, put it right under the file's title, where
    benchmarks/plan_throughput.py (which rewrites everything after its `<!-- results -->` marker) keeps it."""
    command = "python -m benchmarks.scale_and_cost" + (" --quick" if quick else "")
    section = "\n".join(
        [
            START,
            "## Scale, polling, cost, end to end (issue 7)",
            "",
            INTRO,
            "",
            f"Rerun (about {minutes:.0f} minutes): `{command}`",
            "",
            "",
        ]
    )
    section += "\n".join(results) + "\n" + END + "\n"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        rest = text[end + len(END) :].lstrip("\n")
        text = text[:start] + section + ("\n" + rest if rest else "")
    elif text.startswith("# "):  # right under the title: plan_throughput rewrites everything after its marker
        title, _, rest = text.partition("\n")
        text = title + "\n\n" + section + "\n" + rest.lstrip("\n")
    else:
        text = section + "\n" + text
    DOCS.write_text(text)


INTRO = f"""Whole-pipeline figures for issue 7, measured on the offline stack: moto's Step Functions engine
running statemachine/pipeline.asl.json, the real handlers in-process, the local Custom Labels service;
simulated time (`time_scale` = real seconds per simulated second).

How each figure is measured:

- **history events**: `get_execution_history` of the parent; each Distributed Map child's own history
  (offline/engine.py gives each child one, as AWS does). **State payloads**: every `input`, `output`
  and `parameters` field of every history event, parent and children (moto's EventManager wrapped),
  and the parent's history as read back.
- **polling**: the local service, per dataset: when each update began and when it ends, and each
  DescribeDataset with the simulated time it answered and its answer (cross-checked against
  `stack.service.calls` and RecordChunk's own poll count). Calls per update = DescribeDataset calls
  after the update up to and including the first that answered UPDATE_COMPLETE; delay = when that one
  answered - the update's end, in % of the update. An update of B bytes lasts
  bucket x (0.6 + 0.4 x B / 64 KiB) x lognormal(sigma {NOISE_SIGMA}), the shape of benchmarks/polling_sim.py's model
  (64 KiB chunks keep manifests of 2-4 chunks small); {POLL_MANIFESTS} manifests per dataset, one after
  the other; the first update of each dataset is cold (no history). Each bucket runs at its own time
  scale (1 real second per update), so the engine's own overhead per poll (measured, in the table) stays
  a small share of the update, as Step Functions' is on AWS.
- **state transitions**: every `*StateEntered` event (parent and children) plus every retry (a task
  scheduled again within one state): what Step Functions bills for Standard workflows.
- **Lambda**: invocations and in-process handler seconds (`stack.runtime.invocations`), each rounded up
  to 1 ms, times the function's memory (infra/function_specs.py), arm64. In-process seconds are only an
  estimate of Lambda time: they include the local services' work (parsing a 5 MB UpdateDatasetEntries
  body, serving 2,500 ListDatasetEntries pages) and none of AWS's network latency.
- **S3, DynamoDB, SNS requests**: every botocore call made off the benchmark's main thread (handlers,
  and the engine's own calls: ItemReader GetObject, Lambda Invoke, aws-sdk tasks), counted by wrapping
  `BaseClient._make_api_call` (a `before-call` handler on boto3's default session misses the clients made
  under `mock_aws`, which swaps that session). The labeling job's PUT of the manifest is not counted.
  DynamoDB capacity is estimated from item sizes (1 KB a WRU; 4 KB a RRU, half for eventually
  consistent reads); an SNS publish is billed per 64 KB.
- **prices**: public us-east-1 list prices as listed on {PRICES_CHECKED} (Step Functions, Lambda, S3,
  DynamoDB and SNS pricing pages): Step Functions Standard $0.025 per 1,000 state transitions; Lambda
  arm64 $0.0000133334 per GB-second and $0.20 per 1M requests; S3 Standard PUT/COPY/POST/LIST $0.005 per
  1,000, GET $0.0004 per 1,000; DynamoDB on-demand $0.625 per million WRU, $0.125 per million RRU; SNS
  $0.50 per 1M publishes. Free tiers ignored; Rekognition, CloudWatch (logs, metrics, alarms), KMS and
  data transfer not included.

Offline engine fixes this relies on (offline/engine.py, part of the offline stack): moto's Distributed
Map worker ran its items by recursion (one Python frame per item), so past ~960 items a child failed
with RecursionError; the engine loops instead. It also reuses one boto3 client per service and caches
parsed JSONPath expressions (wall time only)."""


if __name__ == "__main__":
    sys.exit(main())
