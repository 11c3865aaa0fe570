"""The local Rekognition Custom Labels service: projects, datasets and their entries (no HTTP).

One backend per account and region in a moto `BackendDict`, so moto's resets (a new
`mock_aws()`, `POST /moto-api/reset`) empty it like any built-in service.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from moto.core.base_backend import BackendDict, BaseBackend

from offline import invocation_time
from offline.clock import SYSTEM_CLOCK, Clock
from offline.custom_labels import errors
from offline.custom_labels.dataset import DELETED, Dataset, DatasetLimits
from offline.custom_labels.entry_rules import (
    DATASET_FORM,
    INVALID_IMAGE,
    CheckedEntry,
    Form,
    ParsedChange,
    bucket_and_key,
    parse_change,
    with_line_error,
)
from offline.custom_labels.errors import CustomLabelsError, ServerError
from offline.custom_labels.faults import SERVER_ERROR, FaultInjector
from offline.custom_labels.images import ImageView, MotoS3Images, image_problem
from offline.custom_labels.paging import TokenBook, take_page

MAX_ROWS_PER_CHANGE = 250_000  # md-create-manifest-file-validation-rules: blank and invalid lines count
DISTRIBUTED_SHARE = 5  # DistributeDatasetEntries moves 1 in 5 (20%) of the training entries to the test dataset
TOO_MANY_RECORDS = (
    "ERROR_TOO_MANY_RECORDS_IN_ERROR: The manifest file has too many terminal errors "
    "(more than 20% of its lines are invalid, blank or point at an unusable image); nothing was applied."
)
TOO_MANY_ROWS = f"ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM: The manifest has more than {MAX_ROWS_PER_CHANGE:,} JSON lines."
EMPTY_MANIFEST = "ERROR_EMPTY_MANIFEST: The manifest file is empty."
INSUFFICIENT_FOR_DISTRIBUTE = (
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE: The manifest file doesn't have enough labeled images "
    "to distribute the dataset."
)


@dataclass
class ServiceTiming:
    """How long asynchronous work takes, in simulated seconds."""

    create_seconds: float = 2.0
    update_seconds: float = 10.0
    delete_seconds: float = 2.0  # DELETE_IN_PROGRESS, then the dataset is gone
    # (dataset ARN, GroundTruth bytes, non-blank lines) -> seconds: lets a run give updates varied,
    # size-dependent durations (poll-schedule tests); replaces update_seconds when set.
    update_duration: Callable[[str, int, int], float] | None = None

    def update_seconds_for(self, dataset_arn: str, ground_truth: bytes) -> float:
        if self.update_duration is None:
            return self.update_seconds
        lines = sum(1 for line in ground_truth.split(b"\n") if line.strip())
        return self.update_duration(dataset_arn, len(ground_truth), lines)


@dataclass(frozen=True)
class CallRecord:
    """One API call as received (before fault injection): lets tests count polls."""

    operation: str
    arn: str | None
    at: float  # simulated time


@dataclass(frozen=True)
class UpdateRecord:
    """One UpdateDatasetEntries call the service accepted: lets tests count the lines a run sent."""

    arn: str
    lines: int
    bytes: int
    at: float  # simulated time


@dataclass
class Project:
    name: str
    arn: str
    created_at: float
    feature: str = "CUSTOM_LABELS"
    auto_update: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)  # DatasetType -> DatasetArn


@dataclass
class _Defaults:
    clock: Clock = SYSTEM_CLOCK
    timing: ServiceTiming = field(default_factory=ServiceTiming)


DEFAULTS = _Defaults()


@dataclass(frozen=True)
class EntryFilter:
    contains_labels: frozenset[str] | None = None
    labeled: bool | None = None
    source_ref_contains: str | None = None
    has_errors: bool | None = None

    def __call__(self, entry: CheckedEntry) -> bool:
        return (
            (self.contains_labels is None or not self.contains_labels.isdisjoint(entry.labels))
            and (self.labeled is None or entry.labeled == self.labeled)
            and (self.source_ref_contains is None or self.source_ref_contains in entry.source_ref)
            and (self.has_errors is None or entry.flagged == self.has_errors)
        )


class CustomLabelsBackend(BaseBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.clock: Clock = DEFAULTS.clock
        self.timing = replace(DEFAULTS.timing)
        self.faults = FaultInjector(self.begin_outside_update)
        self.images: ImageView = MotoS3Images(account_id, self.partition)
        self.limits = DatasetLimits()
        self.entry_form: Form = DATASET_FORM  # how ListDatasetEntries writes findings (entry_rules.render)
        self.calls: list[CallRecord] = []
        self.updates: list[UpdateRecord] = []
        self._lock = threading.RLock()
        self._projects: dict[str, Project] = {}  # by ARN, in creation order
        self._datasets: dict[str, Dataset] = {}
        self._tokens = TokenBook()
        self._latency_total = 0.0  # injected so far: the service's second for rate limits runs on it too

    # -- around every API call -------------------------------------------------------------
    def enter(self, operation: str, arn: str | None = None) -> None:
        """Record the call, wait out any injected latency, then raise the injected error, if any."""
        now = self.clock.now()
        self.calls.append(CallRecord(operation, arn, now))
        decision = self.faults.decide(operation, at=now + self._latency_total)
        if decision.latency_seconds:
            self._latency_total += decision.latency_seconds
            self.clock.sleep(decision.latency_seconds)
            # The rest of the latency, which the scaled clock did not sleep, counts toward the caller's timeout.
            invocation_time.charge(decision.latency_seconds - self.clock.to_real(decision.latency_seconds))
        code = decision.error
        if code == SERVER_ERROR:
            raise ServerError(code, "Amazon Rekognition experienced a service issue. Try your call again.")
        if code is not None:
            raise CustomLabelsError(code, "Rate exceeded")

    def calls_of(self, operation: str, arn: str | None = None) -> list[CallRecord]:
        return [c for c in self.calls if c.operation == operation and (arn is None or c.arn == arn)]

    # -- projects ----------------------------------------------------------------------------
    def create_project(self, name: str, feature: str | None = None, auto_update: str | None = None) -> str:
        feature = feature or "CUSTOM_LABELS"
        if auto_update is not None and feature != "CONTENT_MODERATION":
            raise CustomLabelsError(
                "InvalidParameterException", "AutoUpdate is supported for CONTENT_MODERATION projects only."
            )
        with self._lock:
            if any(p.name == name for p in self._projects.values()):
                # The service model declares ResourceInUseException (not AlreadyExists) here.
                raise errors.in_use(f"A project named {name} already exists.")
            now = self.clock.now()
            arn = f"arn:{self.partition}:rekognition:{self.region_name}:{self.account_id}:project/{name}/{int(now * 1000)}"
            if feature == "CONTENT_MODERATION":
                auto_update = auto_update or "DISABLED"
            self._projects[arn] = Project(name, arn, now, feature, auto_update)
            return arn

    def describe_projects(
        self,
        names: list[str] | None = None,
        max_results: int = 100,
        next_token: str | None = None,
        features: list[str] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self._lock:
            projects = list(self._projects.values())
            wanted = None if names is None else frozenset(names)
            kinds = frozenset(features or ["CUSTOM_LABELS"])  # the documented default filter
            key = ("DescribeProjects", wanted, kinds)
            start = self._tokens.position(key, next_token)
            page, after = take_page(
                projects, start, max_results, lambda p: (wanted is None or p.name in wanted) and p.feature in kinds
            )
            token = None if after is None else self._tokens.issue(key, after)
            return [self._project_description(p) for p in page], token

    def _project_description(self, project: Project) -> dict[str, Any]:
        datasets = [d for d in map(self._existing, list(project.datasets.values())) if d is not None]
        return {
            "ProjectArn": project.arn,
            "CreationTimestamp": round(project.created_at, 3),
            "Status": "CREATED",
            "Datasets": [d.metadata() for d in sorted(datasets, key=lambda d: d.created_at)],
            "Feature": project.feature,
            **({"AutoUpdate": project.auto_update} if project.auto_update else {}),
        }

    def delete_project(self, project_arn: str) -> str:
        with self._lock:
            project = self._project(project_arn)
            for arn in list(project.datasets.values()):
                self._existing(arn)  # a finished deletion frees its slot
            if project.datasets:
                raise errors.in_use(f"The project {project.name} still has datasets; delete them first.")
            del self._projects[project_arn]
            return "DELETING"

    def _project(self, arn: str) -> Project:
        try:
            return self._projects[arn]
        except KeyError:
            raise errors.not_found(f"The project {arn} does not exist.") from None

    # -- datasets ------------------------------------------------------------------------------
    def create_dataset(self, project_arn: str, dataset_type: str, source: dict[str, Any] | None = None) -> str:
        with self._lock:
            project = self._project(project_arn)
            if project.feature != "CUSTOM_LABELS":
                raise CustomLabelsError("InvalidParameterException", "Only CUSTOM_LABELS projects have datasets.")
            if dataset_type in project.datasets and self._existing(project.datasets[dataset_type]) is not None:
                raise errors.already_exists(f"The project already has a {dataset_type} dataset.")
            entries, failure = self._initial_entries(source or {})
            now = self.clock.now()
            arn = f"{project.arn.rsplit('/', 1)[0]}/dataset/{dataset_type.lower()}/{int(now * 1000)}"
            dataset = Dataset(arn, project.arn, dataset_type, now)
            dataset.begin(
                now, self.timing.create_seconds, creating=True, entries=entries, failure=failure, limits=self.limits
            )
            self._datasets[arn] = dataset
            project.datasets[dataset_type] = arn
            return arn

    def _initial_entries(self, source: dict[str, Any]) -> tuple[list[CheckedEntry] | None, str | None]:
        manifest, copy_from = source.get("GroundTruthManifest"), source.get("DatasetArn")
        if manifest is not None and copy_from is not None:
            raise CustomLabelsError(
                "InvalidParameterException", "Specify either GroundTruthManifest or DatasetArn, not both."
            )
        if copy_from is not None:
            return list(self._settled(copy_from).order), None
        if manifest is None:
            return None, None
        return self._decide(parse_change(self._read_manifest(manifest.get("S3Object") or {})), frozenset())

    def _read_manifest(self, s3_object: dict[str, Any]) -> bytes:
        from moto.s3.models import s3_backends

        bucket, name, version = s3_object.get("Bucket"), s3_object.get("Name"), s3_object.get("Version")
        try:
            key = s3_backends[self.account_id][self.partition].get_object(str(bucket), str(name), version_id=version)
        except Exception:  # moto raises a different class per missing thing
            key = None
        if key is None:
            raise CustomLabelsError(
                "InvalidS3ObjectException",
                f"Unable to get object s3://{bucket}/{name}. Check the bucket, the key and the permissions.",
            )
        return bytes(key.value)

    def _decide(self, change: ParsedChange, buckets: frozenset[str]) -> tuple[list[CheckedEntry] | None, str | None]:
        """Entries to apply, or the terminal failure of the whole change (`buckets`: the dataset's images').

        md-create-manifest-file-validation-rules: an empty manifest is an error; blank and invalid lines
        count as dataset objects; images must be in one bucket; missing or inaccessible images are a
        warning under 20% and an error over it, counted with the other invalid lines ("15% invalid JSON
        and 15% invalid images" fail the import).
        """
        if change.empty:
            return None, EMPTY_MANIFEST
        if change.lines > MAX_ROWS_PER_CHANGE:
            return None, TOO_MANY_ROWS
        names = sorted(buckets | {bucket_and_key(e.source_ref)[0] for e in change.entries})
        if len(names) > 1:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            return None, (
                "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS: The manifest file contains images from multiple S3 "
                f"buckets ({shown}); the images of a dataset must be in one bucket."
            )
        entries, unusable = self._check_images(change.entries)
        if (change.invalid + unusable) * 5 > change.lines:
            return None, TOO_MANY_RECORDS
        return entries, None

    def _check_images(self, entries: list[CheckedEntry]) -> tuple[list[CheckedEntry], int]:
        """Each entry's image looked up in the local S3; an unusable one flags its line ERROR_INVALID_IMAGE."""
        checked: list[CheckedEntry] = []
        unusable = 0
        for entry in entries:
            problem = image_problem(self.images.image(*bucket_and_key(entry.source_ref)), entry.source_ref)
            if problem is None:
                checked.append(entry)
            else:
                unusable += 1
                checked.append(with_line_error(entry, INVALID_IMAGE, problem))
        return checked, unusable

    def describe_dataset(self, dataset_arn: str) -> dict[str, Any]:
        with self._lock:
            return self._settled(dataset_arn).description()

    def update_dataset_entries(self, dataset_arn: str, ground_truth: bytes) -> None:
        limit = self.faults.max_changes_bytes
        if not 1 <= len(ground_truth) <= limit:
            raise errors.validation(
                "1 validation error detected: Value at 'changes.groundTruth' failed to satisfy constraint: "
                f"Member must have length between 1 and {limit} bytes (got {len(ground_truth)} bytes)."
            )
        with self._lock:
            dataset = self._settled(dataset_arn)
            if dataset.busy:
                raise errors.in_use(f"The dataset is {dataset.status}; try again when it has finished.")
            if dataset.status == "CREATE_FAILED":
                raise CustomLabelsError(
                    "InvalidParameterException",
                    "The dataset could not be created (CREATE_FAILED): delete it and create it again.",
                )
            forced = self.faults.take_update_failure()
            entries: list[CheckedEntry] | None = None
            failure: str | None = forced
            if forced is None:
                entries, failure = self._decide(parse_change(ground_truth), dataset.buckets)
            seconds = self.timing.update_seconds_for(dataset_arn, ground_truth)
            lines = sum(1 for line in ground_truth.split(b"\n") if line.strip())
            self.updates.append(UpdateRecord(dataset_arn, lines, len(ground_truth), self.clock.now()))
            dataset.begin(
                self.clock.now(), seconds, creating=False, entries=entries, failure=failure, limits=self.limits
            )

    def list_dataset_entries(
        self,
        dataset_arn: str,
        entry_filter: EntryFilter | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        with self._lock:
            dataset = self._ready(dataset_arn)
            keep = entry_filter or EntryFilter()
            key = ("ListDatasetEntries", dataset_arn, keep)
            page, after = take_page(dataset.order, self._tokens.position(key, next_token), max_results, keep)
            return [e.render(self.entry_form) for e in page], None if after is None else self._tokens.issue(key, after)

    def list_dataset_labels(
        self, dataset_arn: str, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self._lock:
            dataset = self._ready(dataset_arn)
            key = ("ListDatasetLabels", dataset_arn)
            names = list(dataset.labels)
            page, after = take_page(names, self._tokens.position(key, next_token), max_results, lambda _: True)
            labels = [
                {
                    "LabelName": name,
                    "LabelStats": {
                        "EntryCount": dataset.labels[name].entry_count,
                        "BoundingBoxCount": dataset.labels[name].box_count,
                    },
                }
                for name in page
            ]
            return labels, None if after is None else self._tokens.issue(key, after)

    def delete_dataset(self, dataset_arn: str) -> None:
        """DELETE_IN_PROGRESS for `timing.delete_seconds`, then gone (md-delete-dataset waits for
        ResourceNotFoundException from DescribeDataset)."""
        with self._lock:
            dataset = self._settled(dataset_arn)
            if dataset.busy:
                raise errors.in_use(f"The dataset is {dataset.status}; try again when it has finished.")
            dataset.begin(self.clock.now(), self.timing.delete_seconds, creating=False, entries=None, deleting=True)
            self._existing(dataset_arn)  # gone at once when deletions take no time

    def distribute_dataset_entries(self, arns: list[str]) -> None:
        """Move 20% of the training dataset's entries to the empty test dataset of the same project.

        Both datasets are UPDATE_IN_PROGRESS, then UPDATE_COMPLETE, or UPDATE_FAILED with
        ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE when 20% cannot move while every label keeps an
        image in training (md-distributing-datasets; debugging-datasets-terminal-errors).
        """
        with self._lock:
            datasets = [self._settled(arn) for arn in arns]
            if len({d.arn for d in datasets}) != 2 or {d.dataset_type for d in datasets} != {"TRAIN", "TEST"}:
                raise CustomLabelsError("InvalidParameterException", "Give the ARNs of one TRAIN and one TEST dataset.")
            train, test = sorted(datasets, key=lambda d: d.dataset_type != "TRAIN")
            if train.project_arn != test.project_arn:
                raise CustomLabelsError("InvalidParameterException", "The datasets must belong to the same project.")
            for dataset in (train, test):
                if dataset.busy:
                    raise CustomLabelsError("ResourceNotReadyException", f"The dataset is {dataset.status}.")
                if dataset.status == "CREATE_FAILED":
                    raise CustomLabelsError(
                        "InvalidParameterException", "A dataset could not be created (CREATE_FAILED)."
                    )
            if test.order:
                raise CustomLabelsError("InvalidParameterException", "The test dataset must be empty.")
            if not train.order:
                raise CustomLabelsError(
                    "InvalidParameterException", "The training dataset has no entries to distribute."
                )
            moved = _share_to_move(train, DISTRIBUTED_SHARE)
            failure = None if moved is not None else INSUFFICIENT_FOR_DISTRIBUTE
            now, seconds = self.clock.now(), self.timing.update_seconds
            refs = frozenset(e.source_ref for e in moved or [])
            train.begin(now, seconds, creating=False, entries=None, failure=failure, limits=self.limits, removals=refs)
            test.begin(now, seconds, creating=False, entries=list(moved or []), failure=failure, limits=self.limits)

    def begin_outside_update(self, dataset_arn: str, seconds: float) -> None:
        """UPDATE_IN_PROGRESS for `seconds` more simulated seconds, as if another client updated it."""
        with self._lock:
            self._settled(dataset_arn).extend(self.clock.now(), seconds)

    def end_outside_update(self, dataset_arn: str) -> None:
        """The other client's update ends now (tests that hold a dataset busy only as long as they need)."""
        with self._lock:
            dataset = self._settled(dataset_arn)
            if dataset.pending is not None and dataset.pending.entries is None:
                dataset.pending.ends_at = min(dataset.pending.ends_at, self.clock.now())

    def dataset(self, dataset_arn: str) -> Dataset:
        """The dataset's current state (for tests and the offline stack)."""
        with self._lock:
            return self._settled(dataset_arn)

    def _settled(self, arn: str) -> Dataset:
        dataset = self._existing(arn)
        if dataset is None:
            raise errors.not_found(f"The dataset {arn} does not exist.")
        return dataset

    def _existing(self, arn: str) -> Dataset | None:
        """The dataset brought up to the clock; None once it is gone (its deletion has ended)."""
        dataset = self._datasets.get(arn)
        if dataset is None:
            return None
        dataset.settle(self.clock.now())
        if dataset.status != DELETED:
            return dataset
        del self._datasets[arn]
        project = self._projects.get(dataset.project_arn)
        if project is not None and project.datasets.get(dataset.dataset_type) == arn:
            del project.datasets[dataset.dataset_type]
        return None

    def _ready(self, arn: str) -> Dataset:
        dataset = self._settled(arn)
        if dataset.status == "CREATE_IN_PROGRESS":
            raise CustomLabelsError("ResourceNotReadyException", "The dataset is still being created.")
        return dataset


def _share_to_move(train: Dataset, share: int) -> list[CheckedEntry] | None:
    """One entry in `share` (rounded down), chosen so that every label keeps an image in training;
    None when that many cannot move. The choice is repeatable: entries in a fixed pseudo-random order."""
    target = len(train.order) // share
    if target == 0:
        return None
    remaining = {name: stats.entry_count for name, stats in train.labels.items()}
    order = sorted(train.order, key=lambda e: hashlib.sha256(e.source_ref.encode()).digest())
    moved: list[CheckedEntry] = []
    for entry in order:
        if all(remaining.get(name, 0) > 1 for name in entry.labels):
            moved.append(entry)
            for name in entry.labels:
                remaining[name] -= 1
            if len(moved) == target:
                return moved
    return None


custom_labels_backends: BackendDict[CustomLabelsBackend] = BackendDict(CustomLabelsBackend, "rekognition")


def get_backend(account_id: str = "123456789012", region: str = "us-east-1") -> CustomLabelsBackend:
    return custom_labels_backends[account_id][region]


def configure(clock: Clock | None = None, timing: ServiceTiming | None = None) -> None:
    """Set the clock and timing of every backend, now and after moto resets."""
    if clock is not None:
        DEFAULTS.clock = clock
    if timing is not None:
        DEFAULTS.timing = replace(timing)
    for _, _, base in custom_labels_backends.iter_backends():
        backend = cast(CustomLabelsBackend, base)
        if clock is not None:
            backend.clock = clock
        if timing is not None:
            backend.timing = replace(timing)
