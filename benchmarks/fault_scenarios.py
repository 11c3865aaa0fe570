"""Seeded fault scenarios for the whole offline pipeline, their oracle and their checks.

One scenario (from one integer seed) is: 1-2 datasets (projects `fm-a`, `fm-b`; TRAIN or
TEST; existing beforehand or created by the pipeline), 1-4 small manifests (5-60 lines with
invalid and blank lines, source-refs repeated inside a manifest and shared across
manifests of the same dataset, sometimes the same key written twice), a chunk limit (often
tiny, so a manifest goes in several chunks), and 1-3 faults drawn from `fault_kinds()`:

- `throttling`, `server-errors`, `latency`: seeded rates on one operation of the dataset
  service or on all of them (`set_rates`);
- `outside-update`: another client updates a dataset at a random moment (the pipeline meets
  ResourceInUseException, or a dataset busier than it thought);
- `update-failed`: the n-th accepted UpdateDatasetEntries ends UPDATE_FAILED, once or until fixed;
- `crash:<Function>` for every function in infra/function_specs.py: the n-th invocation
  crashes (`Runtime.ExitError`) before its handler runs, or after it ran (side effects done,
  result lost), once or on every invocation until fixed;
- `duplicate-events`: S3 events delivered twice, at once or after everything finished;
- `out-of-order-events`: events held and delivered in another order than the objects were
  written, or one older manifest's event delivered after the newer ones were applied;
- `concurrent-manifests`: every manifest dropped at once, runs overlapping;
- `stopped-execution`: a running execution stopped by hand (StopExecution).

`run_scenario()` runs one scenario on a fresh OfflineStack, bounded in wall time: it drops
the manifests, delivers their events as the scenario says, waits, then for every run that
failed checks that an alert named it, "fixes" the faults (persistent ones first, all of them
after a second failure) and resumes the run (`OfflineStack.resume(run_id)`; a manifest whose
plan step never started a run gets its S3 event again), up to `MAX_ROUNDS` times. Then it
checks the invariants against the oracle (`expected_datasets()`: for every source-ref, the
last accepted line of the newest-written manifest that has one) and every manifest's report.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from offline.lambda_runtime import AsyncDelivery

# -- fault kinds ---------------------------------------------------------------------------------
THROTTLING = "throttling"
SERVER_ERRORS = "server-errors"
LATENCY = "latency"
OUTSIDE_UPDATE = "outside-update"
UPDATE_FAILED = "update-failed"
DUPLICATE_EVENTS = "duplicate-events"
OUT_OF_ORDER = "out-of-order-events"
CONCURRENT = "concurrent-manifests"
STOPPED = "stopped-execution"
CRASH = "crash"  # kinds are crash:<Function>
SERVICE_KINDS = (THROTTLING, SERVER_ERRORS, LATENCY, OUTSIDE_UPDATE, UPDATE_FAILED)
EVENT_KINDS = (DUPLICATE_EVENTS, OUT_OF_ORDER, CONCURRENT)
RATE_OPERATIONS = ("*", "UpdateDatasetEntries", "DescribeDataset", "ListDatasetEntries", "DescribeProjects")

# -- violation kinds (columns of the table) -----------------------------------------------------------
LOST = "lost lines"
WRONG_VERSION = "wrong version"
MISSING_ALERT = "missing alert"
UNACCOUNTED = "unaccounted lines"
NOT_COMPLETED = "not completed"
HUNG = "hung"
MISSING_EVENT = "missing event"  # a report or alert message without its completion event, or the reverse
VIOLATIONS = (LOST, WRONG_VERSION, MISSING_ALERT, MISSING_EVENT, UNACCOUNTED, NOT_COMPLETED, HUNG)
DUPLICATE_REPORT = "duplicate report"  # an observation: the same run reported its success twice
STALLED = "plan gave up mid-flight"  # an observation: a manifest's plan step gave up while other runs still ran

COMPLETED = "completed first time"
RESUMED = "failed, alerted, completed on resume"
VIOLATED = "violation"

MAX_ROUNDS = 3  # resumes per scenario
IMAGE_BUCKET = "fm-images"
PROJECTS = ("fm-a", "fm-b")
CHUNK_LIMITS = (5_242_880, 5_242_880, 4_000, 1_500)
SUCCESS = frozenset({"SUCCEEDED", "SUCCEEDED_WITH_ERRORS"})
ENDED_BADLY = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})


def lambda_functions() -> list[str]:
    """The functions a dropped manifest goes through, as infra/function_specs.py declares them now (plan step
    first). The labeling-job sync comes before a drop: its faults are tests/e2e/test_labeling_jobs.py's.
    ReplaceDataset runs only for a replace that removes entries, which the scenarios' drops never are: its
    retries are tests/unit/test_replace.py's (a crash after each service call) and the e2e replace tests'."""
    from infra import function_specs

    plan = function_specs.PLAN.name
    tasks = (spec.name for spec in function_specs.TASK_FUNCTIONS if spec is not function_specs.REPLACE_DATASET)
    return [plan, *sorted(tasks)]


def fault_kinds(functions: Sequence[str] | None = None) -> list[str]:
    crashes = [f"{CRASH}:{name}" for name in (functions if functions is not None else lambda_functions())]
    return [*SERVICE_KINDS, *crashes, *EVENT_KINDS, STOPPED]


# -- scenario ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    project: str
    dataset_type: str  # TRAIN | TEST
    exists: bool  # created before the drops (else the pipeline creates it)

    @property
    def label(self) -> str:
        return f"{self.project}/{self.dataset_type}"


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    text: str
    kind: str  # valid | warned | blank | invalid-json | missing-ref | bad-ref
    ref: str | None = None
    tag: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind in ("valid", "warned")


@dataclass(frozen=True)
class Manifest:
    index: int  # write order (0 = written first)
    dataset: DatasetSpec
    key: str
    lines: tuple[Line, ...]

    @property
    def name(self) -> str:
        return f"m{self.index}"

    def body(self) -> bytes:
        return "".join(line.text + "\n" for line in self.lines).encode()

    def final_lines(self) -> dict[str, str]:
        """source-ref -> tag of the line that wins inside this manifest (the last accepted one)."""
        return {line.ref: line.tag for line in self.lines if line.accepted and line.ref and line.tag}

    def expected_counts(self) -> dict[str, int]:
        kinds = Counter(line.kind for line in self.lines)
        accepted = sum(1 for line in self.lines if line.accepted)
        return {
            "linesRead": len(self.lines),
            "blank": kinds["blank"],
            "rejected": len(self.lines) - accepted - kinds["blank"],
            "acceptedOrSuperseded": accepted,
            "distinct": len(self.final_lines()),
        }


@dataclass(frozen=True)
class Fault:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class Scenario:
    seed: int
    datasets: tuple[DatasetSpec, ...]
    manifests: tuple[Manifest, ...]  # in write order
    faults: tuple[Fault, ...]
    chunk_limit: int
    delivery: Mapping[str, Any]  # how S3 events reach the plan step

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(f.kind for f in self.faults))

    def describe(self) -> str:
        manifests = ", ".join(
            f"{m.name}->{m.dataset.label}:{len(m.lines)}l{'' if m.key.endswith(f'{m.name}.jsonl') else ' (rewrite)'}"
            for m in self.manifests
        )
        faults = "; ".join(f.describe() for f in self.faults)
        return f"seed {self.seed}: [{manifests}] chunk {self.chunk_limit} B; delivery {dict(self.delivery)}; {faults}"


def _classification(ref: str, tag: str, rng: random.Random) -> dict[str, Any]:
    label = rng.choice(["cat", "dog", "bird", "fish"])
    return {
        "source-ref": ref,
        "fm-tag": tag,
        "animal": 0,
        "animal-metadata": {
            "confidence": 1,
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "type": "groundtruth/image-classification",
            "job-name": "fault-matrix",
        },
    }


def _manifest_lines(rng: random.Random, manifest: int, pool: Sequence[str], size: int) -> tuple[Line, ...]:
    """Valid lines over the dataset's pool of images, some repeated, plus under 20% invalid ones."""
    invalid_budget = int(0.15 * size)
    invalid = rng.randint(0, invalid_budget)
    blank = rng.randint(0, 2)
    kinds = ["valid"] * (size - invalid) + [
        rng.choice(["invalid-json", "missing-ref", "bad-ref"]) for _ in range(invalid)
    ]
    kinds += ["blank"] * blank
    rng.shuffle(kinds)
    # some valid lines carry no label attribute: the service keeps them with an error (a warning, still sent)
    lines: list[Line] = []
    recent: list[str] = []
    for number, kind in enumerate(kinds, start=1):
        tag = f"m{manifest}-l{number}"
        ref = recent[-1] if recent and rng.random() < 0.12 else rng.choice(pool)  # repeated inside the manifest
        if kind == "valid" and rng.random() < 0.1:
            kind = "warned"
        if kind == "valid":
            text = json.dumps(_classification(ref, tag, rng), separators=(",", ":"))
        elif kind == "warned":
            text = json.dumps({"source-ref": ref, "fm-tag": tag})
        elif kind == "blank":
            lines.append(Line(number, "", kind))
            continue
        elif kind == "invalid-json":
            text = json.dumps(_classification(ref, tag, rng))[:-7]  # cut: a known image, but not a line
        elif kind == "missing-ref":
            doc = _classification(ref, tag, rng)
            del doc["source-ref"]
            text = json.dumps(doc)
        else:  # bad-ref
            text = json.dumps(_classification(ref.replace("s3://", "https://", 1), tag, rng))
        accepted = kind in ("valid", "warned")
        lines.append(Line(number, text, kind, ref if accepted else None, tag if accepted else None))
        if accepted:
            recent.append(ref)
    return tuple(lines)


def manifest_of(index: int, dataset: DatasetSpec, images: Sequence[str]) -> Manifest:
    """A hand-made manifest: one valid line per image name (`img-x` -> s3://fm-images/<project>/<type>/img-x.jpg)."""
    rng = random.Random(f"fault-matrix-manifest:{index}:{','.join(images)}")
    prefix = f"s3://{IMAGE_BUCKET}/{dataset.project}/{dataset.dataset_type.lower()}"
    lines = []
    for number, image in enumerate(images, start=1):
        ref, tag = f"{prefix}/{image}.jpg", f"m{index}-l{number}"
        text = json.dumps(_classification(ref, tag, rng), separators=(",", ":"))
        lines.append(Line(number, text, "valid", ref, tag))
    key = f"incoming/{dataset.project}/{dataset.dataset_type.lower()}/m{index}.jsonl"
    return Manifest(index, dataset, key, tuple(lines))


def make_scenario(
    seed: int,
    kinds: Sequence[str] | None = None,
    functions: Sequence[str] | None = None,
    *,
    small: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Scenario:
    """The scenario of `seed`; `kinds` forces its fault kinds (else 1-3 drawn, the first by seed).

    `small`: 2-3 manifests of 5-20 lines, at most a few chunks (the fast test); `params`
    overrides drawn fault parameters per kind (e.g. make a crash strike the first invocation).
    """
    rng = random.Random(f"fault-matrix:{seed}")
    all_kinds = fault_kinds(functions)
    if kinds is None:
        first = all_kinds[seed % len(all_kinds)]
        others = [k for k in all_kinds if k != first]
        kinds = [first, *rng.sample(others, rng.choice([0, 0, 1, 1, 2]))]

    datasets: list[DatasetSpec] = []
    for project in PROJECTS[: rng.choice([1, 1, 2])]:
        datasets.append(DatasetSpec(project, rng.choice(["TRAIN", "TRAIN", "TEST"]), rng.random() < 0.6))
    pools = {
        d: [
            f"s3://{IMAGE_BUCKET}/{d.project}/{d.dataset_type.lower()}/img-{i:03d}.jpg"
            for i in range(rng.randint(8, 50))
        ]
        for d in datasets
    }
    want_many = small or any(k in (OUT_OF_ORDER, CONCURRENT, DUPLICATE_EVENTS) for k in kinds)
    count = (rng.randint(2, 3) if small else rng.randint(2, 4)) if want_many else rng.randint(1, 4)
    manifests: list[Manifest] = []
    for index in range(count):
        # several manifests for one dataset: the later ones mostly go where the first went
        dataset = datasets[0] if index == 0 or rng.random() < 0.7 else rng.choice(datasets)
        key = f"incoming/{dataset.project}/{dataset.dataset_type.lower()}/m{index}.jsonl"
        earlier = [m for m in manifests if m.dataset == dataset]
        if earlier and rng.random() < 0.15:
            key = rng.choice(earlier).key  # the same key written again: a new object version
        lines = _manifest_lines(rng, index, pools[dataset], rng.randint(5, 20 if small else 60))
        manifests.append(Manifest(index, dataset, key, lines))

    faults = tuple(
        Fault(f.kind, {**f.params, **(params or {}).get(f.kind, {})})
        for f in (_fault(k, rng, manifests) for k in kinds)
    )
    delivery: dict[str, Any] = {"mode": "sequential"}
    if CONCURRENT in kinds:
        delivery["mode"] = "concurrent"
    if OUT_OF_ORDER in kinds:
        late = len(manifests) > 1 and rng.random() < 0.5
        order = list(range(len(manifests)))
        if late:
            held = rng.randrange(len(manifests) - 1)  # an older manifest's event comes after the newer ones ran
            order = [i for i in order if i != held] + [held]
        else:
            while len(order) > 1 and order == sorted(order):
                rng.shuffle(order)
        delivery = {"mode": "late" if late else "shuffled", "order": order}
    return Scenario(
        seed=seed,
        datasets=tuple(datasets),
        manifests=tuple(manifests),
        faults=faults,
        chunk_limit=rng.choice(CHUNK_LIMITS[:1] + CHUNK_LIMITS[-1:] if small else CHUNK_LIMITS),
        delivery=delivery,
    )


def _fault(kind: str, rng: random.Random, manifests: Sequence[Manifest]) -> Fault:
    if kind == THROTTLING:
        return Fault(kind, {"operation": rng.choice(RATE_OPERATIONS), "rate": round(rng.uniform(0.05, 0.35), 2)})
    if kind == SERVER_ERRORS:
        return Fault(kind, {"operation": rng.choice(RATE_OPERATIONS), "rate": round(rng.uniform(0.05, 0.25), 2)})
    if kind == LATENCY:
        return Fault(kind, {"operation": rng.choice(RATE_OPERATIONS), "seconds": round(rng.uniform(1, 40), 1)})
    if kind == OUTSIDE_UPDATE:
        return Fault(
            kind,
            {
                "after_ms": rng.randint(0, 400),
                "seconds": rng.randint(20, 500),
                "dataset": rng.randrange(len({m.dataset for m in manifests})),
                "times": rng.choice([1, 1, 2]),
            },
        )
    if kind == UPDATE_FAILED:
        return Fault(kind, {"nth": rng.randint(0, 3), "persistent": rng.random() < 0.3})
    if kind.startswith(f"{CRASH}:"):
        return Fault(
            kind,
            {
                "function": kind.split(":", 1)[1],
                "when": rng.choice(["before", "during", "after"]),
                "at_call": rng.randint(1, 15 if kind.endswith(":PlanManifest") else 6),  # the plan step makes ~14
                "nth": rng.choice([0, 0, 1, 2, 3]),
                "times": rng.choice([1, 1, 3]),
                "persistent": rng.random() < 0.25,
            },
        )
    if kind == DUPLICATE_EVENTS:
        return Fault(kind, {"rate": round(rng.uniform(0.3, 1.0), 2), "late": rng.random() < 0.5})
    if kind == STOPPED:
        return Fault(kind, {"after_ms": rng.randint(0, 300)})
    return Fault(kind, {})  # out-of-order, concurrent: the delivery plan says it


# -- the oracle ------------------------------------------------------------------------------------------
def expected_datasets(scenario: Scenario) -> dict[str, dict[str, str]]:
    """Per dataset: source-ref -> tag of the line it must hold (the newest-written manifest's last accepted line)."""
    expected: dict[str, dict[str, str]] = {d.label: {} for d in scenario.datasets}
    for manifest in scenario.manifests:  # write order: later writes overwrite
        expected[manifest.dataset.label].update(manifest.final_lines())
    return expected


def tag_writer(tag: str) -> int:
    """The write index of the manifest a tag comes from."""
    return int(tag.split("-", 1)[0][1:])


# -- outcome -------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    seed: int
    kinds: list[str]
    description: str
    status: str = COMPLETED
    violations: dict[str, list[str]] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)  # fault kind -> times it struck
    failures_seen: int = 0  # failed runs (alerted or not) before they completed
    resumes: int = 0
    rounds: int = 0
    seconds: float = 0.0
    start_seconds: float = 0.0  # of that, starting the offline stack
    notes: list[str] = field(default_factory=list)
    observations: dict[str, list[str]] = field(default_factory=dict)  # worth knowing, not a broken invariant
    alerts: list[str] = field(default_factory=list)  # "stage: error" of each FAILED alert matched to a failed execution

    def violate(self, kind: str, detail: str) -> None:
        self.violations.setdefault(kind, []).append(detail)

    def observe(self, kind: str, detail: str) -> None:
        self.observations.setdefault(kind, []).append(detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "kinds": self.kinds,
            "status": self.status,
            "violations": self.violations,
            "fired": self.fired,
            "failuresSeen": self.failures_seen,
            "resumes": self.resumes,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 2),
            "startSeconds": round(self.start_seconds, 2),
            "notes": self.notes,
            "observations": self.observations,
            "alerts": self.alerts,
            "scenario": self.description,
        }


# -- fault machinery --------------------------------------------------------------------------------------------
class InjectedCrash(Exception):
    """A Lambda process dying (Lambda reports it as Runtime.ExitError)."""


RuntimeExitError = type("Runtime.ExitError", (InjectedCrash,), {})  # the errorType Lambda gives a crashed runtime


_CALLS = threading.local()  # per thread: the crash armed for the running invocation, and its AWS calls so far


class _Crash:
    """Crash the n-th invocation of one function and the `times - 1` after it (every one from the n-th
    while persistent: until the harness fixes it). Three in a row exhaust an S3 event's attempts.

    `before`: before its handler runs; `after`: after it returned (side effects done, result lost);
    `during`: just before the handler's `at_call`-th AWS API call, or its first call of the operation
    `at_call` names (what it did so far stays done).
    """

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.function = f"labelsync-{fault.params['function']}"
        self.when = str(fault.params["when"])
        self.nth = int(fault.params["nth"])
        self.at_call: int | str = fault.params.get("at_call", 1)  # the n-th AWS call, or the first call of an operation
        self.persistent = bool(fault.params["persistent"])
        self.times = int(fault.params.get("times", 1))  # consecutive invocations struck, when not persistent
        self.active = True
        self.seen = 0
        self.fired = 0
        self.struck: list[str] = []  # what each strike interrupted

    def _targets(self, function: str) -> bool:
        if function != self.function or not self.active:
            return False
        index = self.seen
        self.seen += 1
        return self.nth <= index and (self.persistent or index < self.nth + self.times)

    def _die(self, where: str) -> None:
        self.fired += 1
        self.struck.append(where)
        raise RuntimeExitError(f"RequestId: fault-matrix Error: Runtime exited with error: signal: killed ({where})")

    def before(self, function: str, event: Any) -> None:
        if self.when == "during":
            if self._targets(function):
                _CALLS.armed, _CALLS.calls = self, 0
        elif self.when == "before" and self._targets(function):
            self._die("before the handler")

    def after(self, function: str, event: Any, result: Any) -> None:
        if self.when == "after" and self._targets(function):
            self._die("after the handler")

    def call(self, operation: str) -> None:
        """An AWS call of the armed invocation: die just before the `at_call`-th one."""
        _CALLS.calls += 1
        if self.active and (_CALLS.calls == self.at_call or operation == self.at_call):
            _CALLS.armed = None
            self._die(f"before AWS call {_CALLS.calls} ({operation})")


@contextmanager
def _mid_handler_crashes(runtime: Any, crashes: Sequence[_Crash]) -> Iterator[None]:
    """Count the AWS calls of each invocation (botocore's `_make_api_call`) for `during` crashes."""
    if not any(c.when == "during" for c in crashes):
        yield
        return
    if runtime.sandboxed:  # the handler's calls are in its worker: tell the worker where to die
        runtime.die_before_call = _sandboxed_call_crash
        try:
            yield
        finally:
            runtime.die_before_call = None
        return
    import botocore.client

    original_call = botocore.client.BaseClient._make_api_call
    original_run = runtime.run

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        armed = getattr(_CALLS, "armed", None)
        if armed is not None:
            armed.call(operation)
        return original_call(client, operation, params)

    def run(fn: Any, event: Any, *, source: str) -> Any:
        _CALLS.armed = None
        try:
            return original_run(fn, event, source=source)
        finally:
            _CALLS.armed = None

    botocore.client.BaseClient._make_api_call = make_api_call
    setattr(runtime, "run", run)  # noqa: B010 - an instance attribute shadows the method, for this scenario only
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original_call
        delattr(runtime, "run")


def _sandboxed_call_crash(function: str, event: Any) -> int | str | None:
    """The armed crash of this invocation (its `before` hook armed it), as the worker's directive."""
    armed = getattr(_CALLS, "armed", None)
    _CALLS.armed = None
    if armed is None:
        return None
    armed.fired += 1
    armed.struck.append(f"before AWS call {armed.at_call} (in its sandbox)")
    return armed.at_call


class _UpdateFailures:
    """The n-th accepted update ends UPDATE_FAILED (every one from the n-th while persistent)."""

    def __init__(self, fault: Fault, faults: Any) -> None:
        self.nth = int(fault.params["nth"])
        self.persistent = bool(fault.params["persistent"])
        self.active = True
        self.seen = 0
        self.fired = 0
        self._original: Callable[[], str | None] = faults.take_update_failure
        faults.take_update_failure = self.take

    def take(self) -> str | None:
        index = self.seen
        self.seen += 1
        if self.active and (index == self.nth or (self.persistent and index > self.nth)):
            self.fired += 1
            return "ERROR_INJECTED_FAILURE: the update failed (fault matrix)."
        return self._original()


class _EventGate:
    """Holds, duplicates and reorders the S3 events of the plan step."""

    def __init__(self, hold: bool, duplicate_rate: float, late_duplicates: bool, rng: random.Random) -> None:
        self.hold = hold
        self.duplicate_rate = duplicate_rate
        self.late_duplicates = late_duplicates
        self.rng = rng
        self.held: list[AsyncDelivery] = []
        self.later: list[AsyncDelivery] = []
        self.seen: dict[tuple[str, str | None], AsyncDelivery] = {}  # (key, versionId) -> the event
        self.delivered: set[tuple[str, str | None]] = set()  # objects whose event reached the plan step
        self.duplicated = 0
        self._lock = threading.Lock()

    @staticmethod
    def objects(delivery: AsyncDelivery) -> list[tuple[str, str | None]]:
        return [
            (
                _unquote(str(r.get("s3", {}).get("object", {}).get("key"))),
                r.get("s3", {}).get("object", {}).get("versionId"),
            )
            for r in delivery.event.get("Records", [])
        ]

    def release(self, runtime: Any, delivery: AsyncDelivery) -> None:
        """Deliver a held (or already seen) event now."""
        with self._lock:
            self.delivered.update(self.objects(delivery))
        runtime.deliver(delivery)

    def __call__(self, delivery: AsyncDelivery) -> Sequence[AsyncDelivery]:
        with self._lock:
            for obj in self.objects(delivery):
                self.seen[obj] = delivery
            out: list[AsyncDelivery] = []
            if self.hold:
                self.held.append(delivery)
            else:
                out.append(delivery)
                self.delivered.update(self.objects(delivery))
            if self.duplicate_rate and self.rng.random() < self.duplicate_rate:
                self.duplicated += 1
                copy_ = AsyncDelivery(
                    delivery.account_id, delivery.region, delivery.fn_arn, copy.deepcopy(delivery.event)
                )
                if self.late_duplicates:
                    self.later.append(copy_)
                elif self.hold:
                    self.held.append(copy_)
                else:
                    out.append(copy_)
            return out


def _unquote(key: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(key)


class _Background:
    """Timed faults (outside updates, a stopped execution) on threads that end with the scenario."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, target: Callable[[], None]) -> None:
        def guarded() -> None:
            with suppress(Exception):
                target()

        thread = threading.Thread(target=guarded, daemon=True, name="fault-matrix")
        self.threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self.cancel.set()
        for thread in self.threads:
            thread.join(timeout=5)


# -- the driver -------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """What the stack says about one manifest."""

    manifest: Manifest
    version: str | None
    executions: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        ids = []
        for execution in self.executions:
            with suppress(Exception):
                ids.append(str(json.loads(execution.get("input") or "{}")["run"]["id"]))
        return list(dict.fromkeys(ids))

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [r for r in self.reports if r.get("outcome") in SUCCESS]

    @property
    def running(self) -> bool:
        return any(e["status"] == "RUNNING" for e in self.executions)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def run_scenario(
    scenario: Scenario,
    *,
    limit_seconds: float = 40.0,
    time_scale: float = 0.001,
    log: Callable[[str], None] | None = None,
    sandboxed: bool = False,
) -> Outcome:
    """Run one scenario on its own OfflineStack; never raises, never outlives `limit_seconds` by much.
    `sandboxed`: every function in its own worker process, held to its MemorySize and timeout."""
    outcome = Outcome(scenario.seed, scenario.kinds, scenario.describe())
    started = time.perf_counter()
    try:
        _drive(scenario, outcome, Deadline(limit_seconds), time_scale, log or (lambda _: None), sandboxed)
    except Exception as exc:  # the harness must record, not crash
        outcome.violate(NOT_COMPLETED, f"harness error: {type(exc).__name__}: {exc}")
    outcome.seconds = time.perf_counter() - started
    if outcome.violations:
        outcome.status = VIOLATED
    elif outcome.failures_seen:
        outcome.status = RESUMED
    return outcome


def run_seed(
    seed: int, kinds: Sequence[str] | None = None, limit_seconds: float = 40.0, sandboxed: bool = False
) -> Outcome:
    """Make and run the scenario of `seed` (a worker process's entry point: quiet logs)."""
    import logging

    logging.disable(logging.WARNING)
    return run_scenario(make_scenario(seed, kinds=kinds), limit_seconds=limit_seconds, sandboxed=sandboxed)


@contextmanager
def _stack(scenario: Scenario, time_scale: float, outcome: Outcome, sandboxed: bool = False) -> Iterator[Any]:
    from offline.stack import OfflineConfig, OfflineStack

    projects = {
        d.project: {"datasetTypes": ["TRAIN", "TEST"], "createMissingDatasets": True} for d in scenario.datasets
    }
    config = OfflineConfig(
        bucket=f"labelsync-fm-{scenario.seed}",
        projects=projects,
        time_scale=time_scale,
        chunk_limit_bytes=scenario.chunk_limit,
        sandboxed=sandboxed,
    )
    stack = OfflineStack(config)
    started = time.perf_counter()
    stack.start()
    outcome.start_seconds = time.perf_counter() - started
    try:
        yield stack
    finally:
        _stop_running(stack)
        stack.stop()


def _stop_running(stack: Any) -> None:
    """Stop what still runs, so nothing of this scenario leaks into the next one."""
    with suppress(Exception):
        sfn = stack.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")[
            "executions"
        ]:
            with suppress(Exception):
                sfn.stop_execution(executionArn=execution["executionArn"], error="FaultMatrixTimeout")


def _drive(
    scenario: Scenario,
    outcome: Outcome,
    deadline: Deadline,
    time_scale: float,
    log: Callable[[str], None],
    sandboxed: bool = False,
) -> None:
    rng = random.Random(f"fault-matrix-drive:{scenario.seed}")
    by_kind = {f.kind: f for f in scenario.faults}
    with _stack(scenario, time_scale, outcome, sandboxed) as stack:
        for dataset in scenario.datasets:
            stack.create_project(dataset.project, [dataset.dataset_type] if dataset.exists else [])
        faults = stack.service.faults
        mode = str(scenario.delivery.get("mode"))
        duplicate = by_kind.get(DUPLICATE_EVENTS)
        gate = _EventGate(
            hold=mode in ("shuffled", "late"),
            duplicate_rate=float(duplicate.params["rate"]) if duplicate else 0.0,
            late_duplicates=bool(duplicate.params["late"]) if duplicate else False,
            rng=rng,
        )
        stack.runtime.async_interceptor = gate
        crashes = [_Crash(f) for f in scenario.faults if f.kind.startswith(f"{CRASH}:")]
        for crash in crashes:
            stack.runtime.crash_hooks.append(crash.before)
            stack.runtime.after_hooks.append(crash.after)
        update_failures = _UpdateFailures(by_kind[UPDATE_FAILED], faults) if UPDATE_FAILED in by_kind else None
        _set_rates(faults, scenario)
        background = _Background()
        outside_done: list[str] = []
        stopped: list[str] = []
        if OUTSIDE_UPDATE in by_kind:
            background.start(
                lambda: _outside_updates(stack, scenario, by_kind[OUTSIDE_UPDATE], background, outside_done)
            )
        if STOPPED in by_kind:
            stop_rng = random.Random(f"fault-matrix-stop:{scenario.seed}")  # its own stream: the gate's stays seeded
            background.start(lambda: _stop_one(stack, by_kind[STOPPED], background, stop_rng, stopped))
        versions: dict[int, str | None] = {}
        calls = _mid_handler_crashes(stack.runtime, crashes)
        calls.__enter__()
        try:
            _drop_all(stack, scenario, gate, versions, deadline, outcome)
            _wait(stack, deadline, gate, outcome)
            background.stop()
            for delivery in gate.later:  # late duplicates: after everything ran
                gate.release(stack.runtime, delivery)
            gate.later = []
            _wait(stack, deadline, gate, outcome)
            orphans = _recover(stack, scenario, outcome, gate, versions, crashes, update_failures, deadline, log)
            _check_alerts(_runs(stack, scenario, versions).values(), outcome, orphans, stopped, _failed_events(stack))
            _check_completion_events(stack, outcome)
        except TimeoutError as exc:
            outcome.violate(HUNG, f"{exc} (after {outcome.rounds} resume rounds)")
        finally:
            background.stop()
            for crash in crashes:
                crash.active = False
            calls.__exit__(None, None, None)
        outcome.notes += [f"{c.fault.kind}: struck {where}" for c in crashes for where in c.struck[:3]]
        outcome.fired = _fired(stack, scenario, gate, crashes, update_failures, outside_done, stopped)
        for crash in crashes:
            crash.active = False
        _clear_faults(stack)
        if HUNG not in outcome.violations:
            _check(stack, scenario, outcome, versions)


def _clear_faults(stack: Any) -> None:
    """Remove every service fault, keeping the count of those injected so far."""
    faults = stack.service.faults
    injected = Counter(faults.injected)
    faults.clear()
    faults.injected.update(injected)


def _set_rates(faults: Any, scenario: Scenario) -> None:
    per_operation: dict[str, dict[str, float]] = {}
    for fault in scenario.faults:
        if fault.kind not in (THROTTLING, SERVER_ERRORS, LATENCY):
            continue
        rates = per_operation.setdefault(str(fault.params["operation"]), {})
        if fault.kind == THROTTLING:
            rates["throttle"] = float(fault.params["rate"])
        elif fault.kind == SERVER_ERRORS:
            rates["server_error"] = float(fault.params["rate"])
        else:
            rates["latency_seconds"] = float(fault.params["seconds"])
    for operation, rates in per_operation.items():
        faults.set_rates(operation, **rates, seed=scenario.seed)


def _drop_all(
    stack: Any,
    scenario: Scenario,
    gate: _EventGate,
    versions: dict[int, str | None],
    deadline: Deadline,
    outcome: Outcome,
) -> None:
    mode = str(scenario.delivery.get("mode"))
    for manifest in scenario.manifests:
        response = stack.drop(manifest.key, manifest.body())
        versions[manifest.index] = response.get("VersionId")
        if mode == "sequential":
            _wait(stack, deadline, gate, outcome)
    if mode == "shuffled":
        held = _by_manifest(gate, scenario, versions)
        for index in scenario.delivery["order"]:
            for delivery in held.get(index, []):
                gate.release(stack.runtime, delivery)
    elif mode == "late":
        held = _by_manifest(gate, scenario, versions)
        order = list(scenario.delivery["order"])
        for index in order[:-1]:
            for delivery in held.get(index, []):
                gate.release(stack.runtime, delivery)
        _wait(stack, deadline, gate, outcome)  # the newer ones are applied first
        for delivery in held.get(order[-1], []):
            gate.release(stack.runtime, delivery)
    gate.hold = False


def _by_manifest(
    gate: _EventGate, scenario: Scenario, versions: Mapping[int, str | None]
) -> dict[int, list[AsyncDelivery]]:
    index_of = {(m.key, versions.get(m.index)): m.index for m in scenario.manifests}
    held: dict[int, list[AsyncDelivery]] = {}
    for delivery in gate.held:
        record = delivery.event["Records"][0]["s3"]["object"]
        index = index_of.get((_unquote(str(record["key"])), record.get("versionId")))
        if index is not None:
            held.setdefault(index, []).append(delivery)
    gate.held = []
    return held


def _wait(stack: Any, deadline: Deadline, gate: _EventGate | None = None, outcome: Outcome | None = None) -> None:
    """Wait for the S3-triggered invocations and every execution to end (as `wait_until_idle`, cheaper).

    Reads moto's Step Functions backend directly every 30 ms instead of describing every
    execution through boto3 every 20 ms: on 2 CPUs that polling took a third of a scenario's CPU.
    With `gate`: returns early when a manifest's plan step gave up (no execution, nothing
    invoking) while executions still run, so that recovery can send its event again (as an
    operator redrives the failure queue); `outcome` notes what was still running then.
    """
    from moto.stepfunctions.responses import get_backend

    backend = get_backend(stack.service.account_id, stack.config.region)
    while True:
        left = deadline.left()
        if left <= 0:
            raise TimeoutError("scenario time limit reached: executions still running")
        try:
            stack.runtime.wait_async_idle(left)
        except TimeoutError as exc:
            raise TimeoutError(f"scenario time limit reached: {exc}") from exc
        machine = backend.describe_state_machine(stack.state_machine_arn)
        statuses = {
            str(e.name): getattr(getattr(e, "exec_status", None), "value", "RUNNING") for e in machine.executions
        }
        running = [name for name, status in statuses.items() if status == "RUNNING"]
        if not running:
            return
        if gate is not None:
            started = set()
            for execution in machine.executions:
                manifest = (getattr(execution, "input_data", None) or {}).get("run", {}).get("manifest") or {}
                started.add((str(manifest.get("key")), manifest.get("versionId")))
            given_up = sorted(f"{k} (version {str(v)[:8]})" for k, v in gate.delivered - started)
            if given_up:
                note = (
                    f"the plan step gave up on {', '.join(given_up)} (no run) while {len(running)} other "
                    f"execution(s) still ran ({', '.join(sorted(running))[:120]}); its event is sent again"
                )
                if outcome is not None and not any(
                    n.startswith(note.split(" (no run)")[0]) for n in outcome.observations.get(STALLED, [])
                ):
                    outcome.observe(STALLED, note)
                return
        if deadline.left() <= 0:
            raise TimeoutError(f"scenario time limit reached: still running {', '.join(running)}")
        time.sleep(0.03)


def _outside_updates(stack: Any, scenario: Scenario, fault: Fault, background: _Background, done: list[str]) -> None:
    datasets = sorted({m.dataset for m in scenario.manifests}, key=lambda d: d.label)
    target = datasets[int(fault.params["dataset"]) % len(datasets)]
    for _ in range(int(fault.params["times"])):
        if background.cancel.wait(int(fault.params["after_ms"]) / 1000):
            return
        arn = None
        while arn is None and not background.cancel.is_set():
            arn = _dataset_arn(stack, target)
            if arn is None:
                background.cancel.wait(0.01)
        if arn is None:
            return
        with suppress(Exception):
            stack.service.faults.outside_update(arn, float(fault.params["seconds"]))
            done.append(arn)


def _stop_one(stack: Any, fault: Fault, background: _Background, rng: random.Random, stopped: list[str]) -> None:
    """StopExecution on one running execution, once it really runs (moto cannot stop one still starting)."""
    from moto.stepfunctions.responses import get_backend

    if background.cancel.wait(int(fault.params["after_ms"]) / 1000):
        return
    backend = get_backend(stack.service.account_id, stack.config.region)
    sfn = stack.client("stepfunctions")
    while not background.cancel.is_set():
        running = [
            str(e.execution_arn)
            for e in backend.describe_state_machine(stack.state_machine_arn).executions
            if getattr(getattr(e, "exec_status", None), "value", None) == "RUNNING"
            and getattr(getattr(e, "exec_worker", None), "env", None) is not None
        ]
        if running:
            arn = rng.choice(sorted(running))
            try:
                sfn.stop_execution(executionArn=arn, error="StoppedByOperator", cause="fault matrix: stopped by hand")
            except Exception:
                background.cancel.wait(0.005)
                continue
            stopped.append(arn)
            return
        background.cancel.wait(0.005)


def _dataset_arn(stack: Any, dataset: DatasetSpec) -> str | None:
    with suppress(Exception):
        descriptions, _ = stack.service.describe_projects([dataset.project])
        for description in descriptions:
            for item in description.get("Datasets", []):
                if item["DatasetType"] == dataset.dataset_type:
                    return str(item["DatasetArn"])
    return None


def _runs(stack: Any, scenario: Scenario, versions: Mapping[int, str | None]) -> dict[int, _Run]:
    runs = {m.index: _Run(m, versions.get(m.index)) for m in scenario.manifests}
    index_of = {(m.key, versions.get(m.index)): m.index for m in scenario.manifests}
    for execution in stack.executions():
        with suppress(Exception):
            manifest = json.loads(execution.get("input") or "{}")["run"]["manifest"]
            index = index_of.get((manifest["key"], manifest.get("versionId")))
            if index is not None:
                runs[index].executions.append(execution)
    for report in _all_reports(stack):
        manifest = report.get("manifest") or {}
        index = index_of.get((str(manifest.get("key")), manifest.get("versionId")))
        if index is not None:
            runs[index].reports.append(report)
    return runs


def _all_reports(stack: Any) -> list[dict[str, Any]]:
    """Report documents from every topic the offline stack subscribes to (report and alert topics).

    A bare alert (the state machine's own SNS message when the report function failed too: the
    state as JSON) is turned into a FAILED document naming its run's manifest and error.
    """
    messages = list(stack.messages())
    alerts = getattr(stack, "alerts", None)
    if callable(alerts):
        with suppress(Exception):
            messages += [m for m in alerts() if m not in messages]
    documents: list[dict[str, Any]] = []
    for message in messages:
        try:
            document = json.loads(message["Message"]) if "Message" in message else message
        except (TypeError, ValueError):
            continue
        if isinstance(document, dict) and "schema" not in document and isinstance(document.get("run"), dict):
            document = _bare_alert(document)
        if isinstance(document, dict):
            documents.append(document)
    return documents


def _bare_alert(state: Mapping[str, Any]) -> dict[str, Any]:
    failure = state.get("failure") or {}
    error = failure.get("Error") or failure.get("error") if isinstance(failure, dict) else None
    return {
        "outcome": "FAILED",
        "bare": True,
        "manifest": state["run"].get("manifest") or {},
        "execution": state.get("execution"),
        "failure": {"stage": "no report", "error": error or "unknown"},
    }


def _recover(
    stack: Any,
    scenario: Scenario,
    outcome: Outcome,
    gate: _EventGate,
    versions: Mapping[int, str | None],
    crashes: list[_Crash],
    update_failures: _UpdateFailures | None,
    deadline: Deadline,
    log: Callable[[str], None],
) -> set[int]:
    """Fix the faults and resume what failed, until every manifest completed or MAX_ROUNDS.

    Returns the manifests whose plan step never started a run (their S3 event was sent again).
    """
    orphans: set[int] = set()
    for round_ in range(MAX_ROUNDS + 1):
        runs = _runs(stack, scenario, versions)
        _check_no_older_after_success(stack, runs.values(), outcome)
        pending = [r for r in runs.values() if not r.succeeded]
        if round_ == 0:
            bad = sum(1 for r in runs.values() for e in r.executions if e["status"] in ENDED_BADLY)
            outcome.failures_seen = max(bad, len(pending))
        if not pending or round_ == MAX_ROUNDS:
            break
        outcome.rounds = round_ + 1
        # fix: persistent faults first; from the second round on, every fault
        for crash in crashes:
            if crash.persistent or round_ > 0:
                crash.active = False
        if update_failures is not None and (update_failures.persistent or round_ > 0):
            update_failures.active = False
        if round_ > 0:
            _clear_faults(stack)
        acted = 0
        for run in pending:
            if run.running:
                continue
            if not run.executions:  # the plan step never started a run: S3 (or its failure queue) sends the event again
                orphans.add(run.manifest.index)
                delivery = gate.seen.get((run.manifest.key, run.version))
                if delivery is None:
                    outcome.violate(NOT_COMPLETED, f"{run.manifest.name}: no S3 event was ever seen")
                    continue
                gate.release(stack.runtime, delivery)
                outcome.resumes += 1
                acted += 1
                log(f"seed {scenario.seed}: {run.manifest.name} event delivered again")
                continue
            resume = getattr(stack, "resume", None)
            if resume is None:
                outcome.notes.append(f"{run.manifest.name}: failed and OfflineStack.resume is not available")
                continue
            for run_id in run.run_ids[-1:]:
                try:
                    resume(run_id)
                    outcome.resumes += 1
                    acted += 1
                    log(f"seed {scenario.seed}: {run.manifest.name} resumed ({run_id})")
                except Exception as exc:
                    outcome.notes.append(f"{run.manifest.name}: resume({run_id}) raised {type(exc).__name__}: {exc}")
        if not acted:
            break
        _wait(stack, deadline)
    for run in _runs(stack, scenario, versions).values():
        if not run.succeeded:
            last = run.executions[-1] if run.executions else None
            state = f"last execution {last['status']} {last.get('error', '')}".strip() if last else "no execution"
            outcome.violate(
                NOT_COMPLETED,
                f"{run.manifest.name} ({run.manifest.key}): not completed after {outcome.rounds} resume rounds; {state}",
            )
    return orphans


def _failed_events(stack: Any) -> set[tuple[str, str | None]]:
    """(key, versionId) of the S3 events the plan function's on-failure destination received, if the
    offline stack has one (`OfflineStack.failed_events()`: the events, as Lambda hands them over)."""
    failed: set[tuple[str, str | None]] = set()
    source = getattr(stack, "failed_events", None)
    if not callable(source):
        return failed
    with suppress(Exception):
        for item in source():
            event = item.get("requestPayload", item) if isinstance(item, dict) else {}
            for record in event.get("Records", []):
                obj = record.get("s3", {}).get("object", {})
                failed.add((_unquote(str(obj.get("key"))), obj.get("versionId")))
    return failed


def _check_no_older_after_success(stack: Any, runs: Any, outcome: Outcome) -> None:
    """Between rounds: once a manifest's run reported success, none of its images may hold a line of
    a manifest written before it (whatever is still failed or waiting). A line it left out as
    superseded by a newer manifest must hold that newer manifest's line, not an older one."""
    contents: dict[str, dict[str, str | None] | None] = {}
    for run in runs:
        if not run.succeeded:
            continue
        label = run.manifest.dataset.label
        if label not in contents:
            contents[label] = _dataset_contents(stack, run.manifest.dataset)
        have = contents[label] or {}
        older = sorted(
            (ref, tag)
            for ref in run.manifest.final_lines()
            if (tag := have.get(ref)) is not None and tag_writer(tag) < run.manifest.index
        )
        if older:
            ref, tag = older[0]
            detail = (
                f"{label}: after {run.manifest.name} reported {run.succeeded[-1].get('outcome')}, {len(older)} of its "
                f"images hold an older-written manifest's line, e.g. {ref.rsplit('/', 1)[1]} has {tag}"
            )
            if detail not in outcome.violations.get(WRONG_VERSION, []):
                outcome.violate(WRONG_VERSION, detail)


def _check_alerts(
    runs: Any,
    outcome: Outcome,
    orphans: set[int],
    stopped: Sequence[str] = (),
    failed_events: set[tuple[str, str | None]] | None = None,
) -> None:
    """Every execution that ended badly has a FAILED alert naming the manifest and what failed.

    An alert matches an execution by its `execution` field; alerts naming no execution of
    the manifest are matched to the remaining failed executions in order. A plan step that
    failed after its retries must have alerted too (or left its event in the failure destination).
    """
    failed_events = failed_events or set()
    for run in runs:
        alerts = [r for r in run.reports if r.get("outcome") == "FAILED"]
        bad = [e for e in run.executions if e["status"] in ENDED_BADLY]
        arns = {e["executionArn"] for e in run.executions}
        spare = [a for a in alerts if a.get("execution") not in arns]
        name = f"{run.manifest.name} ({run.manifest.key})"
        for execution in bad:
            alert = next((a for a in alerts if a.get("execution") == execution["executionArn"]), None)
            if alert is None and spare:
                alert = spare.pop(0)
            what = f"{name}: execution {execution['status']} {execution.get('error', '')}".rstrip()
            if execution["executionArn"] in stopped:
                what += " (StopExecution)"
            if alert is None:
                outcome.violate(MISSING_ALERT, f"{what}: no alert")
                continue
            failure = alert.get("failure") or {}
            outcome.alerts.append(f"{failure.get('stage') or '-'}: {failure.get('error') or '-'}")
            if not failure.get("stage") and not failure.get("error"):
                outcome.violate(MISSING_ALERT, f"{what}: the alert names no failing step")
            elif failure.get("stage") == "apply-chunk" and failure.get("chunk") is None:
                outcome.violate(MISSING_ALERT, f"{what}: the alert names no chunk")
        if run.manifest.index in orphans and not alerts and (run.manifest.key, run.version) not in failed_events:
            outcome.violate(MISSING_ALERT, f"{name}: the plan step failed after its retries: no run, no alert")


def _check_completion_events(stack: Any, outcome: Outcome) -> None:
    """Each report or alert message has its completion event (same execution and outcome), and no event
    comes without one: machines learn what people learn."""
    events = getattr(stack, "completion_events", None)
    if not callable(events):
        return
    said = Counter((d.get("execution"), d.get("outcome")) for d in _all_reports(stack) if d.get("execution"))
    sent = Counter((e["detail"].get("execution"), e["detail"].get("outcome")) for e in events())
    for key in sorted(set(said) | set(sent), key=str):
        if said[key] != sent[key]:
            outcome.violate(MISSING_EVENT, f"{key[0]} {key[1]}: {said[key]} message(s), {sent[key]} event(s)")


def _fired(
    stack: Any,
    scenario: Scenario,
    gate: _EventGate,
    crashes: list[_Crash],
    update_failures: _UpdateFailures | None,
    outside_done: list[str],
    stopped: list[str],
) -> dict[str, int]:
    injected = stack.service.faults.injected
    fired: dict[str, int] = {}
    for fault in scenario.faults:
        if fault.kind in (THROTTLING, SERVER_ERRORS):
            code = "ThrottlingException" if fault.kind == THROTTLING else "InternalServerError"
            fired[fault.kind] = sum(n for name, n in injected.items() if name.endswith(f"/{code}"))
        elif fault.kind == LATENCY:
            operation = str(fault.params["operation"])
            fired[fault.kind] = len(stack.service.calls) if operation == "*" else len(stack.service.calls_of(operation))
        elif fault.kind == OUTSIDE_UPDATE:
            fired[fault.kind] = len(outside_done)
        elif fault.kind == UPDATE_FAILED:
            fired[fault.kind] = update_failures.fired if update_failures else 0
        elif fault.kind.startswith(f"{CRASH}:"):
            fired[fault.kind] = sum(c.fired for c in crashes if c.fault.kind == fault.kind)
        elif fault.kind == DUPLICATE_EVENTS:
            fired[fault.kind] = gate.duplicated
        elif fault.kind == STOPPED:
            fired[fault.kind] = len(stopped)
        else:  # out-of-order, concurrent: they always happen when there is more than one manifest
            fired[fault.kind] = 1 if len(scenario.manifests) > 1 else 0
    return fired


def _dataset_contents(stack: Any, dataset: DatasetSpec) -> dict[str, str | None] | None:
    arn = _dataset_arn(stack, dataset)
    if arn is None:
        return None
    contents: dict[str, str | None] = {}
    for ref, entry in stack.service.dataset(arn).entries.items():
        try:
            contents[ref] = json.loads(entry.line).get("fm-tag")
        except ValueError:
            contents[ref] = None
    return contents


def _check(stack: Any, scenario: Scenario, outcome: Outcome, versions: Mapping[int, str | None]) -> None:
    """The invariants: every expected line there in its newest version, every report balanced."""
    expected = expected_datasets(scenario)
    for dataset in {m.dataset for m in scenario.manifests}:
        want = expected[dataset.label]
        have = _dataset_contents(stack, dataset)
        if have is None:
            if want:
                outcome.violate(LOST, f"{dataset.label}: the dataset does not exist; {len(want)} images expected")
            continue
        lost = sorted(ref for ref in want if ref not in have)
        if lost:
            outcome.violate(
                LOST, f"{dataset.label}: {len(lost)} of {len(want)} images missing, e.g. {lost[0].rsplit('/', 1)[1]}"
            )
        wrong = sorted((ref, want[ref], have[ref]) for ref in want if ref in have and have[ref] != want[ref])
        if wrong:
            ref, good, bad = wrong[0]
            older = sum(1 for _, g, b in wrong if b and tag_writer(b) < tag_writer(g))
            outcome.violate(
                WRONG_VERSION,
                f"{dataset.label}: {len(wrong)} images hold another line than the newest manifest's "
                f"({older} an older-written manifest's), e.g. {ref.rsplit('/', 1)[1]} has {bad}, expected {good}",
            )
        extra = sorted(ref for ref in have if ref not in want)
        if extra:
            outcome.violate(
                WRONG_VERSION, f"{dataset.label}: {len(extra)} images no accepted line sent, e.g. {extra[0]}"
            )
    for run in _runs(stack, scenario, versions).values():
        done = run.succeeded
        if not done:
            continue  # reported as not completed already
        if len(done) > 1:
            executions = Counter(str(r.get("execution", "")).rsplit(":", 1)[-1] for r in done)
            outcome.observe(
                DUPLICATE_REPORT,
                f"{run.manifest.name}: {len(done)} success reports for one object version "
                f"(executions {', '.join(f'{name} x{n}' for name, n in executions.items())})",
            )
        _check_report(run.manifest, done[-1], outcome)


def _check_report(manifest: Manifest, report: Mapping[str, Any], outcome: Outcome) -> None:
    want = manifest.expected_counts()
    rec = report.get("reconciliation") or {}
    accounted = rec.get("accounted") or {}
    counts = report.get("counts") or {}
    problems: list[str] = []
    if rec.get("linesRead") != want["linesRead"] or counts.get("linesRead") != want["linesRead"]:
        problems.append(f"linesRead {rec.get('linesRead')}/{counts.get('linesRead')} != {want['linesRead']}")
    total = sum(int(v) for v in accounted.values() if isinstance(v, int))
    if total != want["linesRead"]:
        problems.append(f"accounted {dict(accounted)} sums to {total}, not {want['linesRead']}")
    if rec.get("balanced") is not True:
        problems.append("reconciliation not balanced")
    if rec.get("checked") is not True or rec.get("missingFromDataset"):
        problems.append(f"checked={rec.get('checked')} missingFromDataset={rec.get('missingFromDataset')}")
    if accounted.get("notApplied"):
        problems.append(f"notApplied={accounted.get('notApplied')} in a completed run")
    if accounted.get("rejected") != want["rejected"] or accounted.get("blank") != want["blank"]:
        problems.append(
            f"rejected/blank {accounted.get('rejected')}/{accounted.get('blank')} != {want['rejected']}/{want['blank']}"
        )
    if problems:
        outcome.violate(UNACCOUNTED, f"{manifest.name} ({report.get('outcome')}): " + "; ".join(problems))
