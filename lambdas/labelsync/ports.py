"""What the use cases need from the outside world, as protocols.

Use cases depend on these; adapters/ implements them with boto3; tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from labelsync.domain.turns import LastRun, Lock, Ticket


class ObjectNotReadable(Exception):
    """The object version is not there to read: deleted (or replaced in an unversioned bucket) since its
    event, or not readable by this function. Waiting or retrying does not bring it back."""

    def __init__(self, bucket: str, key: str, version_id: str | None, reason: str) -> None:
        version = f" version {version_id}" if version_id else ""
        super().__init__(f"s3://{bucket}/{key}{version} could not be read: {reason}")
        self.bucket, self.key, self.version_id, self.reason = bucket, key, version_id, reason


class ObjectStore(Protocol):
    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> BinaryIO:
        """The object (that version), streamed; raises ObjectNotReadable when it is gone."""
        ...

    def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str = "application/json") -> None: ...

    def put_stream(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str = "application/json") -> None:
        """Store a seekable file's contents, read as it is sent (its size never held in memory)."""
        ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under `prefix` (paginated listing)."""
        ...

    def join(self, bucket: str, key: str, sources: Sequence[str], *, content_type: str) -> str | None:
        """Store the `sources` objects, one after another, as one object (streamed: a few MB in memory
        whatever the total); a newline is put between two sources where the first does not end with one.
        Returns the new object's version id (None in an unversioned bucket)."""
        ...


class Executions(Protocol):
    def exists(self, name: str) -> bool: ...

    def start(self, name: str, payload: Mapping[str, Any]) -> bool:
        """Start; False when an execution with that name already exists."""
        ...


@dataclass(frozen=True)
class DatasetInfo:
    arn: str
    status: str
    project_arn: str


@dataclass(frozen=True)
class DatasetState:
    """DescribeDataset, as delta sync reads it: whether anything may have changed since a moment."""

    status: str
    last_updated: float | None  # LastUpdatedTimestamp, epoch seconds
    total_entries: int
    status_message: str = ""  # StatusMessage: why a create or update failed


@dataclass(frozen=True)
class EntryPage:
    entries: list[str]  # JSON lines, as the service returns them
    next_token: str | None  # None: the last page


class Datasets(Protocol):
    def find(self, project: str, dataset_type: str) -> tuple[str, DatasetInfo | None]:
        """(project ARN, the dataset of that type or None); raises ProjectNotFoundError."""
        ...

    def create(self, project_arn: str, dataset_type: str) -> str: ...

    def create_from_manifest(
        self, project_arn: str, dataset_type: str, bucket: str, key: str, version: str | None
    ) -> str:
        """CreateDataset from one GroundTruthManifest object; when the project already has a dataset of that
        type (this call was retried after it went through), that dataset's ARN."""
        ...

    def delete(self, dataset_arn: str) -> None:
        """DeleteDataset; nothing when the dataset is already gone. Raises DatasetBusyError while it is busy."""
        ...

    def describe_if_exists(self, dataset_arn: str) -> DatasetState | None:
        """DescribeDataset; None once the dataset is gone (ResourceNotFoundException: a deletion has ended)."""
        ...

    def status(self, dataset_arn: str) -> str: ...

    def describe(self, dataset_arn: str) -> DatasetState: ...

    def update_entries(self, dataset_arn: str, changes: bytes) -> None: ...

    def entry_page(
        self, dataset_arn: str, *, has_errors: bool, token: str | None, source_ref_contains: str | None = None
    ) -> EntryPage:
        """One ListDatasetEntries page (100 entries at most), from `token` (None: the first page);
        `has_errors` lists only entries with errors, `source_ref_contains` only entries whose source-ref
        contains it. Raises ServiceThrottledError when throttled."""
        ...

    def label_names(self, dataset_arn: str) -> Iterable[str]:
        """The dataset's distinct labels (ListDatasetLabels, every page): at most 250."""
        ...


class Notifier(Protocol):
    def publish(self, *, subject: str, message: str, attributes: Mapping[str, str], structured: bool = False) -> None:
        """`structured`: `message` is a JSON object of one body per protocol (`default`, `email`)."""
        ...


class RunEvents(Protocol):
    def emit(self, *, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]) -> None:
        """One event on the default event bus (source `labelsync`); raises when it was not accepted."""
        ...


class ExecutionStatus(Protocol):
    def status(self, name: str) -> str | None:
        """RUNNING / SUCCEEDED / FAILED / TIMED_OUT / ABORTED, or None when no execution has that name."""
        ...


class RunLedger(Protocol):
    """Per-dataset tickets, lock and update timings (DynamoDB in AWS)."""

    def register(self, ticket: Ticket) -> None:
        """Add the ticket unless the run already has one (duplicate events)."""
        ...

    def tickets(self, dataset: str) -> list[Ticket]: ...

    def lock(self, dataset: str) -> Lock: ...

    def take_lock(self, dataset: str, me: Ticket, *, observed_holder: str, last: LastRun | None) -> bool:
        """Conditional write: True when the lock is now ours (it still had `observed_holder`)."""
        ...

    def release(self, dataset: str, run: str, *, last: LastRun) -> None:
        """Free the lock if `run` holds it, remembering `last`."""
        ...

    def set_status(self, ticket: Ticket, status: str, *, execution: str | None = None) -> None: ...

    def load_timings(self, dataset: str) -> str | None: ...

    def save_timings(self, dataset: str, document: str) -> None: ...


@dataclass(frozen=True)
class LabelingJob:
    """What DescribeLabelingJob says of a Ground Truth job, as far as syncing it needs."""

    name: str
    arn: str
    status: str
    output_manifest: str | None  # LabelingJobOutput.OutputDatasetS3Uri: set once the job has output
    tags: Mapping[str, str]
    failure_reason: str | None = None


class LabelingJobs(Protocol):
    def describe(self, name: str) -> LabelingJob: ...


class ManifestCopies(Protocol):
    def copied_job(self, bucket: str, key: str) -> str | None:
        """The labeling job ARN recorded on the key's current object (None: no object, or not a copy)."""
        ...

    def copy(self, source_uri: str, bucket: str, key: str, *, job_arn: str) -> str:
        """Server-side copy of `source_uri` to bucket/key, recording the job; the new version's id."""
        ...
