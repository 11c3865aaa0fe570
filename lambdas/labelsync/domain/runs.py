"""Identity of one manifest drop and where its run keeps its files.

The execution name is derived from bucket, key and version (or ETag), so a duplicated
S3 event maps to the same name and Step Functions refuses to start it twice.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_EXECUTION_NAME = 80


@dataclass(frozen=True)
class ManifestRef:
    """One object version as the S3 event describes it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    size: int | None = None
    event_time: str | None = None  # the S3 event's eventTime: with the sequencer, the write order

    @property
    def revision(self) -> str:
        """What distinguishes two drops of the same key: the version when versioned, else the ETag."""
        if self.version_id and self.version_id != "null":
            return f"v:{self.version_id}"
        return f"e:{(self.etag or '').strip(chr(34))}"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def as_dict(self) -> dict[str, object]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "etag": self.etag,
            "sequencer": self.sequencer,
            "size": self.size,
            "eventTime": self.event_time,
        }


def execution_name(ref: ManifestRef) -> str:
    """A readable, deterministic Step Functions execution name (<= 80 chars of [A-Za-z0-9_-])."""
    digest = hashlib.sha256(f"{ref.bucket}\n{ref.key}\n{ref.revision}".encode()).hexdigest()[:32]
    stem = posixpath.basename(ref.key).split(".", 1)[0]
    stem = _NAME_UNSAFE.sub("-", stem).strip("-_")[: MAX_EXECUTION_NAME - len(digest) - 1] or "manifest"
    return f"{stem}-{digest}"


@dataclass(frozen=True)
class RunLayout:
    """Object keys of one run, all under the work prefix (never under the watched prefix)."""

    prefix: str

    @classmethod
    def for_run(cls, work_prefix: str, run_id: str) -> RunLayout:
        return cls(prefix=f"{work_prefix}{run_id}/")

    def chunk_key(self, index: int) -> str:
        return f"{self.prefix}chunks/{index:06d}.jsonl"

    @property
    def plan_key(self) -> str:
        return f"{self.prefix}plan.json"

    @property
    def rejects_key(self) -> str:
        return f"{self.prefix}rejects.jsonl"

    @property
    def superseded_key(self) -> str:
        return f"{self.prefix}superseded.jsonl"

    @property
    def source_refs_key(self) -> str:
        return f"{self.prefix}source-refs.jsonl"

    @property
    def warnings_key(self) -> str:
        return f"{self.prefix}warnings.jsonl"

    @property
    def conversions_key(self) -> str:
        return f"{self.prefix}conversions.jsonl"

    def part_key(self, chunk: int, part: str) -> str:
        """A part of a chunk the service refused for its size: `chunks/000012.p1.jsonl`, `...p1.p2.jsonl`."""
        return f"{self.prefix}chunks/{chunk:06d}.{part}.jsonl"

    @property
    def report_key(self) -> str:
        return f"{self.prefix}report.json"

    def published_key(self, execution: str, outcome: str) -> str:
        """Written after the report message of this execution and requested outcome went out."""
        digest = hashlib.sha256(f"{execution}\n{outcome}".encode()).hexdigest()[:24]
        return f"{self.prefix}published/{digest}"

    def event_key(self, execution: str, outcome: str) -> str:
        """Written after the completion event of this execution and requested outcome was accepted."""
        return self.published_key(execution, outcome).replace("/published/", "/events/", 1)

    @property
    def items_key(self) -> str:
        """The chunks this execution applies: the Distributed Map's item list (a JSON array)."""
        return f"{self.prefix}items.json"

    @property
    def superseded_by_newer_key(self) -> str:
        return f"{self.prefix}superseded-by-newer.jsonl"

    def scan_prefix(self, execution: str) -> str:
        """The report's listing of the dataset, for one execution (a resume lists again, after its own chunks)."""
        digest = hashlib.sha256(execution.encode()).hexdigest()[:24]
        return f"{self.prefix}scan/{digest}/"

    def scan_state_key(self, execution: str) -> str:
        return f"{self.scan_prefix(execution)}state.json"

    def scan_findings_key(self, execution: str, part: int) -> str:
        """This manifest's entry errors and warnings found by one step of the listing (JSON lines)."""
        return f"{self.scan_prefix(execution)}findings-{part:06d}.jsonl"

    @property
    def delta_key(self) -> str:
        """Delta sync's decision for the run: where the dataset's state came from, and why."""
        return f"{self.prefix}delta.json"

    @property
    def delta_prefix(self) -> str:
        return f"{self.prefix}delta/"

    def delta_chunk_key(self, chunk: int) -> str:
        """Per chunk: the lines left out as unchanged, and the digests of the lines sent."""
        return f"{self.delta_prefix}{chunk:06d}.json"

    @property
    def delta_listing_key(self) -> str:
        """Where a listing of the dataset that takes several steps stopped (SkipUnchanged)."""
        return f"{self.prefix}delta-listing/state.json"

    def delta_listing_part_key(self, part: int) -> str:
        """The entries one listing step read (ref key, digest: 32 bytes each)."""
        return f"{self.prefix}delta-listing/part-{part:06d}.bin"

    @property
    def changed_items_key(self) -> str:
        """The Distributed Map's items once unchanged lines are left out."""
        return f"{self.prefix}items-changed.json"

    @property
    def replace_prefix(self) -> str:
        """Replace mode's files (domain/replace.py): what the listing kept, the joined manifests, the steps."""
        return f"{self.prefix}replace/"

    def replace_backup_part_key(self, part: int) -> str:
        """The old dataset's entries one listing step read, as manifest lines (service keys removed)."""
        return f"{self.replace_prefix}backup-{part:06d}.jsonl"

    def replace_removed_part_key(self, part: int) -> str:
        """The source-refs one listing step found in the dataset and not in the manifest (JSON strings)."""
        return f"{self.replace_prefix}removed-{part:06d}.jsonl"

    @property
    def replace_manifest_refs_key(self) -> str:
        """The manifest's source-refs, as 16-byte ref keys (what the listing compares with)."""
        return f"{self.replace_prefix}manifest-refs.bin"

    @property
    def replace_backup_key(self) -> str:
        """The old dataset as one manifest: what a failed replace restores, and what a user can drop again."""
        return f"{self.replace_prefix}backup.manifest"

    @property
    def replace_removed_key(self) -> str:
        return f"{self.replace_prefix}removed.jsonl"

    @property
    def replace_manifest_key(self) -> str:
        """The manifest's accepted lines as one object: CreateDataset's GroundTruthManifest."""
        return f"{self.replace_prefix}new.manifest"

    @property
    def replace_state_key(self) -> str:
        """Which step of the rebuild the run is at, and what each step learned."""
        return f"{self.replace_prefix}state.json"

    @property
    def applied_prefix(self) -> str:
        return f"{self.prefix}applied/"

    def applied_key(self, chunk: int) -> str:
        """Written once the chunk's update completed: what resumes skip and the report counts."""
        return f"{self.applied_prefix}{chunk:06d}.json"


def dataset_index_key(work_prefix: str, dataset_key: str) -> str:
    """Delta sync's index of one dataset (`<project>/<TRAIN|TEST>`): beside the runs, never a run's folder
    (run folders are `<name>-<digest>`)."""
    return f"{work_prefix}datasets/{dataset_key}/index.bin"
