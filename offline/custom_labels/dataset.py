"""One dataset's entries and status; transitions are computed lazily from the clock.

A change (creation or update) is decided when requested and applied atomically when its
simulated duration has passed, the first time anyone looks at the dataset after that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from offline.custom_labels.entry_rules import CheckedEntry, bucket_and_key

MAX_LABELS_PER_DATASET = 250  # limits: unique labels per dataset
MAX_IMAGES_PER_DATASET = 250_000  # limits: images per dataset (classification: 500,000 on request only)
IN_PROGRESS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"})
DELETED = "DELETED"  # not a service status: the dataset is gone once its deletion has ended
_MESSAGES = {
    "CREATE_IN_PROGRESS": "The dataset is being created.",
    "CREATE_COMPLETE": "The dataset was successfully created.",
    "UPDATE_IN_PROGRESS": "The dataset is being updated.",
    "UPDATE_COMPLETE": "The dataset was successfully updated.",
    "DELETE_IN_PROGRESS": "The dataset is being deleted.",
}


@dataclass(frozen=True)
class DatasetLimits:
    """The per-dataset limits, as settings: a test can lower one to reach it with a few lines."""

    max_labels: int = MAX_LABELS_PER_DATASET
    max_images: int = MAX_IMAGES_PER_DATASET


@dataclass
class PendingChange:
    """What happens when the change ends: entries upserted (and some removed), or a failure with a message."""

    verb: str  # CREATE, UPDATE or DELETE
    ends_at: float
    entries: list[CheckedEntry] | None
    failure: str | None
    limits: DatasetLimits = field(default_factory=DatasetLimits)
    removals: frozenset[str] = frozenset()  # source-refs that leave the dataset (DistributeDatasetEntries)


@dataclass(frozen=True)
class LabelStats:
    entry_count: int
    box_count: int


class Dataset:
    def __init__(self, arn: str, project_arn: str, dataset_type: str, created_at: float) -> None:
        self.arn = arn
        self.project_arn = project_arn
        self.dataset_type = dataset_type
        self.created_at = created_at
        self.last_updated = created_at
        self.entries: dict[str, CheckedEntry] = {}  # by source-ref, in the order first added
        self.order: list[CheckedEntry] = []
        self.labels: dict[str, LabelStats] = {}
        self.buckets: frozenset[str] = frozenset()  # of the images in the dataset
        self._stats = _stats_of(self.order, self.labels)
        self.status = "CREATE_IN_PROGRESS"
        self.status_message = _MESSAGES[self.status]
        self.status_code = "SUCCESS"
        self.pending: PendingChange | None = None

    @property
    def busy(self) -> bool:
        return self.status in IN_PROGRESS

    def begin(
        self,
        now: float,
        seconds: float,
        *,
        creating: bool,
        entries: list[CheckedEntry] | None,
        failure: str | None = None,
        limits: DatasetLimits | None = None,
        removals: frozenset[str] = frozenset(),
        deleting: bool = False,
    ) -> None:
        verb = "DELETE" if deleting else "CREATE" if creating else "UPDATE"
        self.status = f"{verb}_IN_PROGRESS"
        self.status_message, self.status_code = _MESSAGES[self.status], "SUCCESS"
        self.last_updated = now
        self.pending = PendingChange(
            verb, now + max(0.0, seconds), entries, failure, limits or DatasetLimits(), removals
        )

    def extend(self, now: float, seconds: float) -> None:
        """Keep the dataset busy until at least `now + seconds` (an outside update)."""
        self.settle(now)
        if self.pending is None:
            self.begin(now, seconds, creating=False, entries=None)
        else:
            self.pending.ends_at = max(self.pending.ends_at, now + seconds)

    def settle(self, now: float) -> None:
        pending = self.pending
        if pending is None or now < pending.ends_at:
            return
        self.pending = None
        self.last_updated = pending.ends_at
        verb = pending.verb
        if verb == "DELETE":
            self.status = DELETED
            return
        failure = pending.failure
        if failure is None and (pending.entries or pending.removals):
            failure = self._apply(pending.entries or [], pending.limits, pending.removals)
        if failure is None:
            self.status = f"{verb}_COMPLETE"
            self.status_message, self.status_code = _MESSAGES[self.status], "SUCCESS"
        else:
            self.status, self.status_message, self.status_code = f"{verb}_FAILED", failure, "CLIENT_ERROR"

    def _apply(self, changes: Iterable[CheckedEntry], limits: DatasetLimits, removals: frozenset[str]) -> str | None:
        merged = {ref: entry for ref, entry in self.entries.items() if ref not in removals}
        for entry in changes:
            merged[entry.source_ref] = entry
        if len(merged) > limits.max_images:
            return (
                f"ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM: The dataset would have {len(merged):,} images; "
                f"at most {limits.max_images:,} are allowed."
            )
        labels = _label_stats(merged.values())
        if len(labels) > limits.max_labels:
            return (
                f"ERROR_MANIFEST_TOO_MANY_LABELS: The dataset would have {len(labels):,} unique labels; "
                f"at most {limits.max_labels} are allowed."
            )
        self.entries, self.order, self.labels = merged, list(merged.values()), labels
        self.buckets = frozenset(bucket_and_key(ref)[0] for ref in merged)
        self._stats = _stats_of(self.order, labels)
        return None

    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    def status_fields(self) -> dict[str, Any]:
        return {"Status": self.status, "StatusMessage": self.status_message, "StatusMessageCode": self.status_code}

    def description(self) -> dict[str, Any]:
        return {
            "CreationTimestamp": _epoch(self.created_at),
            "LastUpdatedTimestamp": _epoch(self.last_updated),
            **self.status_fields(),
            "DatasetStats": self.stats(),
        }

    def metadata(self) -> dict[str, Any]:
        """The dataset as DescribeProjects lists it."""
        return {
            "CreationTimestamp": _epoch(self.created_at),
            "DatasetType": self.dataset_type,
            "DatasetArn": self.arn,
            **self.status_fields(),
        }


def _stats_of(entries: list[CheckedEntry], labels: dict[str, LabelStats]) -> dict[str, int]:
    return {
        "LabeledEntries": sum(1 for e in entries if e.labeled),
        "TotalEntries": len(entries),
        "TotalLabels": len(labels),
        "ErrorEntries": sum(1 for e in entries if e.flagged),
    }


def _label_stats(entries: Iterable[CheckedEntry]) -> dict[str, LabelStats]:
    counts: Counter[str] = Counter()
    boxes: Counter[str] = Counter()
    for entry in entries:
        counts.update(entry.labels)
        boxes.update(entry.box_counts)
    return {name: LabelStats(counts[name], boxes[name]) for name in sorted(counts)}


def _epoch(seconds: float) -> float:
    """Epoch seconds with millisecond precision, as the JSON protocol carries timestamps."""
    return round(seconds, 3)
