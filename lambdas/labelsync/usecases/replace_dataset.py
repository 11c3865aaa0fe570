"""Rebuild a dataset from a replace manifest: back up, delete, create from the manifest; restore on failure.

The state machine invokes one step at a time and waits `wait` seconds between polls. Where the run is
goes to `replace/state.json` after every step; each step first asks the service what is true (a
dataset gone, already deleting, already created), so a retried or resumed step does no harm twice.
The order and its reasons are in domain/replace.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from labelsync import clock
from labelsync.domain import replace as steps
from labelsync.domain.errors import DatasetCreateRefusedError, ReplaceFailedError, ReplaceRefusedError
from labelsync.domain.jsonl import utf8_json
from labelsync.domain.routing import forced_folder
from labelsync.domain.runs import RunLayout
from labelsync.domain.side_files import side_file_values
from labelsync.ports import Datasets, ObjectStore
from labelsync.usecases.replace_listing import rebuild_sources

NDJSON = "application/x-ndjson"
REMOVED_SAMPLE = 10  # removed source-refs the report and the email name (the list holds them all)


def replace_dataset(event: Mapping[str, Any], *, store: ObjectStore, datasets: Datasets) -> dict[str, Any]:
    run, target = event["run"], event["target"]
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    record = _load(store, bucket, layout) or _prepare(event, store, bucket, layout)
    rebuild = _Rebuild(record, store, datasets, bucket, layout, str(target["datasetType"]), event.get("poll") or {})
    return rebuild.advance()


def _load(store: ObjectStore, bucket: str, layout: RunLayout) -> dict[str, Any] | None:
    key = layout.replace_state_key
    return json.loads(store.get_bytes(bucket, key)) if key in store.keys(bucket, key) else None


def _prepare(event: Mapping[str, Any], store: ObjectStore, bucket: str, layout: RunLayout) -> dict[str, Any]:
    """Join the listing's backup parts, its removed source-refs and the manifest's chunks, one object each."""
    decision = json.loads(store.get_bytes(bucket, layout.delta_key))
    counters = json.loads(store.get_bytes(bucket, layout.delta_listing_key))["replace"]
    items = json.loads(store.get_bytes(bucket, str(event["itemsKey"])))
    sources = rebuild_sources(store, bucket, layout, items)
    backup_parts = [layout.replace_backup_part_key(i) for i in range(int(counters["backupParts"]))]
    removed_parts = [layout.replace_removed_part_key(i) for i in range(int(counters["removedParts"]))]
    record = {
        "phase": steps.DELETE,
        "oldArn": str(event["datasetArn"]),
        "projectArn": str(event["projectArn"]),
        "listedAt": decision["replace"]["listedAt"],
        "backup": {
            "key": layout.replace_backup_key,
            "version": store.join(bucket, layout.replace_backup_key, backup_parts, content_type=NDJSON),
            "entries": int(counters["listed"]),
        },
        "removed": {
            "key": layout.replace_removed_key,
            "count": int(counters["removed"]),
            "version": store.join(bucket, layout.replace_removed_key, removed_parts, content_type=NDJSON),
        },
        "manifest": {
            "key": layout.replace_manifest_key,
            "version": store.join(bucket, layout.replace_manifest_key, [s.key for s in sources], content_type=NDJSON),
            "lines": sum(s.lines for s in sources),
        },
        "chunks": [{"chunk": s.chunk, "key": s.key, "lines": s.lines, "bytes": s.size} for s in sources],
        "forcedFolder": forced_folder(str(event["run"]["manifest"]["key"])),
        "phaseStartedAt": clock.now(),
        "polls": 0,
        "history": [],
    }
    store.put_bytes(bucket, layout.replace_state_key, utf8_json(record))
    return record


class _Rebuild:
    def __init__(
        self,
        record: dict[str, Any],
        store: ObjectStore,
        datasets: Datasets,
        bucket: str,
        layout: RunLayout,
        dataset_type: str,
        poll: Mapping[str, Any],
    ) -> None:
        self.record, self.store, self.datasets, self.bucket, self.layout = record, store, datasets, bucket, layout
        self.dataset_type = dataset_type
        self.initial = int(poll.get("initialSeconds", 5))
        self.max = int(poll.get("maxSeconds", 600))
        self.timeout = float(poll.get("timeoutSeconds", 3600))

    def advance(self) -> dict[str, Any]:
        """Run steps until one has to wait or the rebuild has ended."""
        while True:
            phase = self.record["phase"]
            if phase == steps.DONE:
                return {"done": True, "datasetArn": self.record["newArn"], "removed": self.record["removed"]["count"]}
            wait = getattr(self, "_" + phase.replace("-", "_"))()
            if wait is not None:
                return {"wait": wait, "phase": self.record["phase"]}

    # -- the steps: each returns seconds to wait, or None to go on at once --------------------------------
    def _delete(self) -> int | None:
        old = self.datasets.describe_if_exists(self.record["oldArn"])
        if old is None:
            return self._to(steps.CREATE)
        if old.status != "DELETE_IN_PROGRESS":
            listed_at = self.record["listedAt"]
            if (
                old.status.endswith("_IN_PROGRESS")
                or old.last_updated is None
                or listed_at is None
                or (abs(old.last_updated - float(listed_at)) >= 0.0005)
            ):
                raise ReplaceRefusedError(
                    f"replace refused: the dataset changed after it was listed (it is {old.status}, last updated "
                    f"{old.last_updated}, listed at {listed_at}); nothing was deleted and the old dataset is in "
                    "place. Drop the manifest again"
                )
            self.datasets.delete(self.record["oldArn"])
        return self._to(steps.DELETING, wait=True)

    def _deleting(self) -> int | None:
        return self._until_gone(self.record["oldArn"], steps.CREATE, "the old dataset")

    def _create(self) -> int | None:
        try:
            arn = self._create_from(self.record["manifest"])
        except DatasetCreateRefusedError as exc:  # no dataset was made (the manifest unreadable, say): restore
            self.record["failure"] = f"CreateDataset refused the manifest: {exc}"
            return self._to(steps.RESTORE_CREATE)
        self.record["newArn"] = arn
        return self._to(steps.CREATING, wait=True)

    def _creating(self) -> int | None:
        state = self.datasets.describe(self.record["newArn"])
        if state.status == "CREATE_COMPLETE":
            self._mark_applied(state.last_updated)
            return self._to(steps.DONE)
        if state.status == "CREATE_FAILED":
            self.record["failure"] = f"the new dataset is CREATE_FAILED: {state.status_message or 'no message'}"
            return self._to(steps.RESTORE_DELETE)
        return self._poll(f"the new dataset {self.record['newArn']} is still {state.status}")

    def _restore_delete(self) -> int | None:
        self.datasets.delete(self.record["newArn"])
        return self._to(steps.RESTORE_DELETING, wait=True)

    def _restore_deleting(self) -> int | None:
        return self._until_gone(self.record["newArn"], steps.RESTORE_CREATE, "the failed dataset")

    def _restore_create(self) -> int | None:
        try:
            arn = self._create_from(self.record["backup"])
        except DatasetCreateRefusedError as exc:
            raise ReplaceFailedError(self._unrestored(f"CreateDataset refused the backup too: {exc}", None)) from exc
        self.record["restoredArn"] = arn
        return self._to(steps.RESTORE_CREATING, wait=True)

    def _restore_creating(self) -> int | None:
        arn = self.record["restoredArn"]
        state = self.datasets.describe(arn)
        if state.status == "CREATE_COMPLETE":
            self._save()
            raise ReplaceFailedError(
                f"replace failed and was undone: {self.record['failure']}. The old entries were restored from the "
                f"backup {self._uri(self.record['backup']['key'])} into dataset {arn} "
                f"({self.record['backup']['entries']:,} entries); nothing was removed"
            )
        if state.status == "CREATE_FAILED":
            raise ReplaceFailedError(self._unrestored(f"restoring the backup failed too: {state.status_message}", arn))
        return self._poll(f"the restored dataset {arn} is still {state.status}")

    # -- helpers ---------------------------------------------------------------------------------------
    def _until_gone(self, arn: str, then: str, what: str) -> int | None:
        if self.datasets.describe_if_exists(arn) is None:
            return self._to(then)
        return self._poll(f"{what} {arn} is still being deleted")

    def _create_from(self, manifest: Mapping[str, Any]) -> str:
        """CreateDataset from one of the run's joined objects (that version), for the routed dataset type."""
        return self.datasets.create_from_manifest(
            self.record["projectArn"], self.dataset_type, self.bucket, str(manifest["key"]), manifest.get("version")
        )

    def _unrestored(self, why: str, failed_arn: str | None) -> str:
        where = (
            f"The project's {self.dataset_type} dataset {failed_arn} is CREATE_FAILED: delete it"
            if failed_arn
            else f"The project has no {self.dataset_type} dataset"
        )
        return (
            f"replace failed: {self.record['failure']}; {why}. {where}, then drop the backup "
            f"{self._uri(self.record['backup']['key'])} ({self.record['backup']['entries']:,} entries, the old "
            f"dataset) under {self.record['forcedFolder']} to restore it"
        )

    def _mark_applied(self, created_at: float | None) -> None:
        """Every chunk is in the new dataset: the same markers ApplyChunk writes, so the report counts them."""
        done = set(self.store.keys(self.bucket, self.layout.applied_prefix))
        for chunk in self.record["chunks"]:
            key = self.layout.applied_key(int(chunk["chunk"]))
            if key in done:
                continue
            marker = {
                **chunk,
                "replacedBy": "CreateDataset",
                "datasetArn": self.record["newArn"],
                "finishedAt": created_at,
            }
            self.store.put_bytes(self.bucket, key, utf8_json(marker))

    def _to(self, phase: str, *, wait: bool = False) -> int | None:
        self.record["history"].append({"phase": self.record["phase"], "endedAt": clock.now()})
        self.record |= {"phase": phase, "phaseStartedAt": clock.now(), "polls": 0}
        self._save()
        return self.initial if wait else None

    def _poll(self, still: str) -> int:
        waited = clock.now() - float(self.record["phaseStartedAt"])
        if waited >= self.timeout:
            raise ReplaceFailedError(
                f"replace stopped: {still} after {waited:,.0f} s (pollTimeoutSeconds {self.timeout:,.0f}). "
                f"The step it was at: {self.record['phase']}. The old dataset's entries are in the backup "
                f"{self._uri(self.record['backup']['key'])}"
            )
        self.record["polls"] += 1
        self._save()
        return int(min(self.max, self.initial * 2 ** min(self.record["polls"], 16)))  # a Wait takes whole seconds

    def _save(self) -> None:
        self.store.put_bytes(self.bucket, self.layout.replace_state_key, utf8_json(self.record))

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def replace_summary(
    store: ObjectStore, bucket: str, layout: RunLayout, decision: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The report's `replace` block: what the guard saw, and, for a rebuild, where it got to and its files."""
    note = decision.get("replace")
    if not note:
        return None
    summary: dict[str, Any] = {
        "removed": int(note.get("removed", 0)),
        "datasetEntries": int(note.get("datasetEntries", 0)),
        "maxRemovedPercent": note.get("maxRemovedPercent"),
        "force": bool(note.get("force")),
        "rebuild": bool(note.get("rebuild")),
        "refused": note.get("refused"),
    }
    record = _load(store, bucket, layout)
    if record is not None:
        uri = f"s3://{bucket}/"
        summary |= {
            "step": record["phase"],
            "previousDatasetArn": record["oldArn"],
            "datasetArn": record.get("newArn") if record["phase"] == steps.DONE else None,
            "restoredDatasetArn": record.get("restoredArn"),
            "failure": record.get("failure"),
            "removedSample": _first(store, bucket, str(record["removed"]["key"]), REMOVED_SAMPLE),
            "removedUri": uri + record["removed"]["key"],
            "backupUri": uri + record["backup"]["key"],
            "manifestUri": uri + record["manifest"]["key"],
        }
    return summary


def _first(store: ObjectStore, bucket: str, key: str, count: int) -> list[str]:
    """The first `count` source-refs of the removed list, streamed (it can hold 250,000)."""
    if key not in store.keys(bucket, key):
        return []
    return [str(ref) for ref in itertools.islice(side_file_values(store.open(bucket, key)), count)]
