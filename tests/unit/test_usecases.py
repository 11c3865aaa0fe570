"""The use cases over fake ports: no AWS, no moto."""

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, cast

import pytest

from labelsync.adapters.s3_store import JoinedObjects
from labelsync.domain.errors import DatasetLabelLimitError, DatasetMissingError, DatasetNotAllowedError
from labelsync.domain.runs import ManifestRef
from labelsync.ports import DatasetInfo, DatasetState, EntryPage
from labelsync.settings import ProjectPolicy, Settings
from labelsync.usecases.plan_run import plan_and_start
from labelsync.usecases.report_run import report_run
from labelsync.usecases.resolve_dataset import resolve_dataset

SETTINGS = Settings(
    bucket="pipe", state_machine_arn="arn:sm", topic_arn="arn:topic", projects={"pets": ProjectPolicy()}
)


class FakeStore:
    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> BinaryIO:
        data = self.objects[key]
        if key.endswith(".gz"):
            return cast(BinaryIO, gzip.GzipFile(fileobj=io.BytesIO(data)))
        return io.BytesIO(data)

    def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        self.objects[key] = data

    def put_stream(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str = "application/json") -> None:
        self.objects[key] = stream.read()

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.objects[key]

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def join(self, bucket: str, key: str, sources: Sequence[str], *, content_type: str) -> str | None:
        joined = JoinedObjects(lambda source: io.BytesIO(self.objects[source]), sources)
        self.objects[key] = joined.read()
        return None


def mark_applied(store: FakeStore, state: Mapping[str, Any], upto: int | None = None) -> dict[str, Any]:
    """What TakeTurn and RecordChunk leave behind: the turn in the state, a marker per applied chunk."""
    prefix = state["run"]["prefix"]
    plan = json.loads(store.objects[f"{prefix}plan.json"])
    store.objects[f"{prefix}superseded-by-newer.jsonl"] = b""
    for chunk in plan["chunks"][:upto]:
        marker = {"chunk": chunk["index"], "lines": chunk["lines"]}
        store.objects[f"{prefix}applied/{chunk['index']:06d}.json"] = json.dumps(marker).encode()
    return {**state, "turn": {"granted": True}}


class FakeExecutions:
    def __init__(self) -> None:
        self.started: dict[str, Mapping[str, Any]] = {}

    def exists(self, name: str) -> bool:
        return name in self.started

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        if name in self.started:
            return False
        self.started[name] = payload
        return True


class FakeDatasets:
    def __init__(
        self,
        existing: dict[str, DatasetInfo],
        errored: Iterable[str] = (),
        present: Iterable[str] = (),
        labels: Iterable[str] = (),
    ) -> None:
        self.existing, self.errored, self.present = existing, list(errored), list(present)
        self.labels = list(labels)
        self.created: list[str] = []
        self.listed = 0  # entries handed out by entry_page (the unfiltered listing)
        self.lookups = 0  # calls with SourceRefContains
        self.page_size = 100

    def find(self, project: str, dataset_type: str) -> tuple[str, DatasetInfo | None]:
        return f"arn:project/{project}", self.existing.get(dataset_type)

    def create(self, project_arn: str, dataset_type: str) -> str:
        self.created.append(dataset_type)
        return f"{project_arn}/dataset/{dataset_type.lower()}/1"

    def status(self, dataset_arn: str) -> str:
        return "CREATE_IN_PROGRESS"

    def describe(self, dataset_arn: str) -> DatasetState:
        return DatasetState("UPDATE_COMPLETE", 1_700_000_000.0, len(self.present))

    def update_entries(self, dataset_arn: str, changes: bytes) -> None:
        raise AssertionError("not used")

    def create_from_manifest(
        self, project_arn: str, dataset_type: str, bucket: str, key: str, version: str | None
    ) -> str:
        raise AssertionError("not used")

    def delete(self, dataset_arn: str) -> None:
        raise AssertionError("not used")

    def describe_if_exists(self, dataset_arn: str) -> DatasetState | None:
        return self.describe(dataset_arn)

    def entry_page(
        self, dataset_arn: str, *, has_errors: bool, token: str | None, source_ref_contains: str | None = None
    ) -> EntryPage:
        """Pages of `page_size`: the errored entries (has_errors), or `present` (each a ref or a JSON entry),
        those whose ref contains `source_ref_contains` if given."""
        start = int(token or 0)
        if has_errors:
            entries = self.errored[start : start + self.page_size]
            total = len(self.errored)
        else:
            present = [r for r in self.present if source_ref_contains is None or source_ref_contains in r]
            self.lookups += source_ref_contains is not None
            refs = present[start : start + self.page_size]
            self.listed += len(refs)
            entries = [r if r.startswith("{") else json.dumps({"source-ref": r}) for r in refs]
            total = len(present)
        end = start + self.page_size
        return EntryPage(entries, str(end) if end < total else None)

    def label_names(self, dataset_arn: str) -> Iterator[str]:
        yield from self.labels


class FakeNotifier:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, *, subject: str, message: str, attributes: Mapping[str, str], structured: bool = False) -> None:
        bodies = json.loads(message) if structured else {"default": message}
        self.published.append(
            {
                "subject": subject,
                "message": json.loads(bodies["default"]),
                "email": bodies.get("email"),
                "attributes": dict(attributes),
            }
        )


MANIFEST = b'{"source-ref": "s3://img/1.jpg"}\n{"source-ref": "s3://img/2.jpg"}\n'


def test_plan_writes_run_files_and_starts_once() -> None:
    key = "incoming/pets/train/m.jsonl.gz"
    store, executions = FakeStore({key: gzip.compress(MANIFEST)}), FakeExecutions()
    ref = ManifestRef("pipe", key, "v1", "etag")
    first = plan_and_start(ref, SETTINGS, store, executions)
    again = plan_and_start(ref, SETTINGS, store, executions)
    assert first.started and first.status == "READY"
    assert not again.started and "duplicate" in again.note
    payload = executions.started[first.execution_name]
    assert payload["plan"]["chunkCount"] == 1 and payload["target"]["datasetType"] == "TRAIN"
    assert payload["run"]["digest"] == json.loads(store.objects[f"{payload['run']['prefix']}plan.json"])["digest"]
    assert payload["poll"] == {"initialSeconds": 5, "maxSeconds": 600, "timeoutSeconds": 3600}
    prefix = payload["run"]["prefix"]
    assert store.objects[f"{prefix}chunks/000000.jsonl"] == MANIFEST
    assert json.loads(store.objects[f"{prefix}plan.json"])["counts"]["accepted"] == 2
    assert not any(k.startswith("incoming/") and k != key for k in store.objects)


class StreamingStore(FakeStore):
    """Keeps only the size of what is stored from a stream, read 1 MB at a time as botocore sends a file."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        super().__init__(objects)
        self.streamed: dict[str, int] = {}

    def put_stream(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str = "application/json") -> None:
        self.streamed[key] = sum(len(block) for block in iter(lambda: stream.read(1 << 20), b""))


def test_plan_sends_a_big_rejects_file_without_copying_it_into_memory() -> None:
    # 300 lines with a 99,000-character bad source-ref: a 30 MB rejects file (the refs whole). Copied into
    # memory to be sent, it once made 3,000 such lines cost the plan function 300 MB more.
    key = "incoming/pets/train/refs.jsonl.gz"
    line = b'{"source-ref": "s3:/' + b"x" * 99_000 + b'"}\n'
    store = StreamingStore({key: gzip.compress(line * 300)})
    tracemalloc.start()
    try:
        outcome = plan_and_start(ManifestRef("pipe", key, None, "e"), SETTINGS, store, FakeExecutions())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.status == "REJECTED"
    (rejects,) = [size for name, size in store.streamed.items() if name.endswith("rejects.jsonl")]
    assert rejects > 300 * 99_000
    assert peak < rejects / 2, f"planning took {peak:,} bytes for a {rejects:,}-byte rejects file"


def test_unroutable_and_unreadable_manifests_start_a_rejection_run() -> None:
    store, executions = FakeStore({"incoming/pets/train/bad.jsonl.gz": b"not gzip"}), FakeExecutions()
    routed = plan_and_start(ManifestRef("pipe", "incoming/cats/train/m.jsonl", None, "e"), SETTINGS, store, executions)
    unreadable = plan_and_start(
        ManifestRef("pipe", "incoming/pets/train/bad.jsonl.gz", None, "e"), SETTINGS, store, executions
    )
    assert routed.status == unreadable.status == "REJECTED"
    plans = [json.loads(v) for k, v in store.objects.items() if k.endswith("plan.json")]
    assert {p["rejection"]["code"] for p in plans} == {"ROUTE_PROJECT_NOT_ALLOWED", "ERROR_UNREADABLE_MANIFEST"}


def test_resolve_finds_creates_or_refuses() -> None:
    existing = DatasetInfo("arn:ds/train", "UPDATE_COMPLETE", "arn:project/pets")
    found = resolve_dataset(
        {"project": "pets", "datasetType": "TRAIN"}, FakeDatasets({"TRAIN": existing}), projects=SETTINGS.projects
    )
    assert found == {
        "arn": "arn:ds/train",
        "status": "UPDATE_COMPLETE",
        "created": False,
        "projectArn": "arn:project/pets",
    }
    datasets = FakeDatasets({})
    # The function's own allow-list decides; the execution input's createMissing is ignored either way.
    may_create = {"pets": ProjectPolicy(create_missing_datasets=True)}
    may_not = {"pets": ProjectPolicy(create_missing_datasets=False)}
    created = resolve_dataset(
        {"project": "pets", "datasetType": "TEST", "createMissing": False}, datasets, projects=may_create
    )
    assert created["created"] and created["status"] == "CREATE_IN_PROGRESS" and datasets.created == ["TEST"]
    with pytest.raises(DatasetMissingError, match="may not create"):
        resolve_dataset(
            {"project": "pets", "datasetType": "TEST", "createMissing": True}, FakeDatasets({}), projects=may_not
        )
    train_only = {"pets": ProjectPolicy(dataset_types=frozenset({"TRAIN"}))}
    for target in ({"project": "pets", "datasetType": "TEST"}, {"project": "cats", "datasetType": "TRAIN"}):
        with pytest.raises(DatasetNotAllowedError, match="allow-list"):
            resolve_dataset({**target, "createMissing": True}, FakeDatasets({}), projects=train_only)


def test_resolve_refuses_labels_past_the_dataset_limit_before_anything_is_sent() -> None:
    existing = DatasetInfo("arn:ds/train", "UPDATE_COMPLETE", "arn:project/pets")
    datasets = FakeDatasets({"TRAIN": existing}, labels=[f"old{i}" for i in range(200)])
    target = {"project": "pets", "datasetType": "TRAIN"}
    projects = SETTINGS.projects
    assert resolve_dataset(
        target, datasets, [f"old{i}" for i in range(100)] + [f"new{i}" for i in range(50)], projects=projects
    )
    with pytest.raises(DatasetLabelLimitError, match=r"ERROR_MANIFEST_TOO_MANY_LABELS.* 251 distinct labels"):
        resolve_dataset(target, datasets, [f"new{i}" for i in range(51)], projects=projects)


def test_report_keeps_only_this_manifests_errors_and_publishes_once() -> None:
    key = "incoming/pets/train/m.jsonl"
    store, executions = FakeStore({key: MANIFEST}), FakeExecutions()
    outcome = plan_and_start(ManifestRef("pipe", key, None, "e"), SETTINGS, store, executions)
    state = mark_applied(store, {**executions.started[outcome.execution_name], "dataset": {"arn": "arn:ds"}})
    errored = [
        json.dumps({"source-ref": "s3://img/2.jpg", "errors": [{"code": "ERROR_NO_LABEL_ATTRIBUTES", "message": "m"}]}),
        json.dumps(
            {"source-ref": "s3://other/9.jpg", "errors": [{"code": "ERROR_NO_LABEL_ATTRIBUTES", "message": "m"}]}
        ),
    ]
    notifier = FakeNotifier()
    result = report_run(
        {"outcome": "COMPLETED", "executionId": "arn:exec", "state": state},
        store=store,
        datasets=FakeDatasets({}, errored, present=["s3://img/1.jpg", "s3://img/2.jpg"]),
        notifier=notifier,
        max_items=10,
    )
    assert result["outcome"] == "SUCCEEDED_WITH_ERRORS"
    (published,) = notifier.published
    assert [e["sourceRef"] for e in published["message"]["entryErrors"]] == ["s3://img/2.jpg"]
    # Two lines with only their image: kept by the service but never used for training.
    assert published["attributes"] == {
        "outcome": "SUCCEEDED_WITH_ERRORS",
        "verdict": "UNUSABLE",
        "kind": "alert",
        "project": "pets",
        "datasetType": "TRAIN",
    }
    assert published["message"]["readiness"]["ignored"] == 2
    email = published["email"]
    assert email.startswith("Custom Labels sync: SUCCEEDED_WITH_ERRORS\n") and "Training readiness: UNUSABLE" in email
    assert "WARNING_UNANNOTATED_RECORD" in email and published["message"]["reportUri"] in email
    assert store.objects[f"{state['run']['prefix']}report.json"]
