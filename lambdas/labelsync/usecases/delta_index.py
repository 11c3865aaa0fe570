"""After a run: what delta sync left out (for the report), and the dataset's index brought up to date.

The index is rewritten from what this run applied only when the run's updates form an unbroken chain:
the first one started from the timestamp the index (or listing) was true at, and each later one from
the timestamp the previous one completed at (ApplyChunk and RecordChunk record both). Any other
update in between (the console, another tool) breaks the chain and the index is left as it is: its
timestamp is then older than the dataset's, so the next run lists the dataset instead of trusting it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelsync.domain.dataset_index import EMPTY, INDEX, LISTING, DatasetIndex
from labelsync.domain.dataset_scan import ref_key
from labelsync.domain.entry_digest import entry_digest
from labelsync.domain.lines import split_lines
from labelsync.domain.runs import RunLayout
from labelsync.ports import ObjectStore

TRUSTED_SOURCES = (INDEX, LISTING, EMPTY)


@dataclass(frozen=True)
class DeltaOutcome:
    decision: Mapping[str, Any]  # delta.json: where the dataset's state came from, and why
    unchanged: int = 0
    unchanged_refs: frozenset[bytes] = field(default_factory=frozenset)

    def as_report(self, index_note: str | None) -> dict[str, Any]:
        return {
            "enabled": bool(self.decision.get("enabled", False)),
            "source": self.decision.get("source"),
            "reason": self.decision.get("reason"),
            "unchanged": self.unchanged,
            "index": index_note,
        }


def read_delta(store: ObjectStore, bucket: str, layout: RunLayout) -> DeltaOutcome:
    """The run's decision and every line it left out as unchanged (as ref keys)."""
    if layout.delta_key not in store.keys(bucket, layout.delta_key):
        return DeltaOutcome({})
    unchanged, refs = 0, set[bytes]()
    for record in _chunk_records(store, bucket, layout):
        unchanged += int(record.get("unchanged", 0))
        refs.update(bytes.fromhex(ref) for ref in record.get("unchangedRefs") or ())
    return DeltaOutcome(json.loads(store.get_bytes(bucket, layout.delta_key)), unchanged, frozenset(refs))


def update_index(
    store: ObjectStore,
    bucket: str,
    layout: RunLayout,
    *,
    delta: DeltaOutcome,
    markers: Sequence[Mapping[str, Any]],
    dataset_arn: str,
    split: bool,
    flagged: Iterable[str] = (),
) -> str:
    """Write the index this completed run leaves behind, or say why it is left as it was.

    `flagged`: the source-refs the service flagged with an error in this run's listing; they are left out
    of the index (and removed from it), so the next drop sends them again."""
    decision = delta.decision
    key = decision.get("indexKey")
    if not decision.get("enabled") or not key:
        return "not kept: deltaSync is off"
    applied = sorted((m for m in markers if int(m.get("lines", 0)) > 0), key=lambda m: float(m.get("sentAt") or 0))
    if not applied:
        return "unchanged: the run sent nothing"
    rebuilt = next((m for m in applied if m.get("replacedBy")), None)
    if rebuilt is not None:  # a replace created the dataset from the manifest: the index starts again from it
        as_of = rebuilt.get("finishedAt")
        pairs = [pair for marker in applied for pair in _sent(store, bucket, layout, marker)]
        index = DatasetIndex(dataset_arn, None if as_of is None else float(as_of), dict(pairs), "replaced")
        return _write(store, bucket, str(key), index, flagged, "the run's new dataset")
    if split:
        return "not updated: a chunk was split after a size rejection (its parts' timestamps are not chained)"
    base = _base(store, bucket, decision, dataset_arn)
    expected = base.as_of if base.entries or decision.get("source") == EMPTY else None
    previous: tuple[Any, Any] | None = None
    for marker in applied:
        before, finished = marker.get("before"), marker.get("finishedAt")
        if before is None or finished is None:
            return "not updated: an update's timestamps were not recorded"
        if (before, finished) == previous:  # another chunk of the same update (joined parts)
            continue
        previous = (before, finished)
        if expected is not None and abs(float(before) - expected) > 0.0005:
            return (
                "not updated: the dataset was also changed outside this run (its LastUpdatedTimestamp moved between "
                "two of the run's updates); the next run lists the dataset instead"
            )
        expected = float(finished)
    sent = [pair for marker in applied for pair in _sent(store, bucket, layout, marker)]
    index = base.with_entries(sent, as_of=expected, source="applied")
    return _write(store, bucket, str(key), index, flagged, "the run's last update")


def _write(store: ObjectStore, bucket: str, key: str, index: DatasetIndex, flagged: Iterable[str], when: str) -> str:
    for ref in flagged:
        index.entries.pop(ref_key(ref), None)
    store.put_bytes(bucket, key, index.to_bytes(), content_type="application/octet-stream")
    return f"updated: {len(index.entries):,} entries, true as of {when}"


def _base(store: ObjectStore, bucket: str, decision: Mapping[str, Any], dataset_arn: str) -> DatasetIndex:
    """The entries the run compared with, if they were true when it started; else none (only ours count)."""
    key, as_of = decision.get("indexKey"), decision.get("asOf")
    if decision.get("source") not in TRUSTED_SOURCES or as_of is None:
        return DatasetIndex(dataset_arn, None)
    if decision.get("source") == EMPTY:
        return DatasetIndex(dataset_arn, float(as_of))
    stored = DatasetIndex.from_bytes(store.get_bytes(bucket, str(key)))
    return stored if stored.fresh(dataset_arn, float(as_of)) else DatasetIndex(dataset_arn, None)


def _sent(
    store: ObjectStore, bucket: str, layout: RunLayout, marker: Mapping[str, Any]
) -> Iterator[tuple[bytes, bytes]]:
    """(ref key, digest) of each line the marker's chunk sent: from SkipUnchanged's record, else the chunk."""
    key = layout.delta_chunk_key(int(marker["chunk"]))
    if key in store.keys(bucket, key):
        for ref, digest in json.loads(store.get_bytes(bucket, key)).get("sent") or ():
            yield bytes.fromhex(ref), bytes.fromhex(digest)
        return
    for line in split_lines(store.get_bytes(bucket, str(marker["key"]))):
        pair = entry_digest(line) if line.strip() else None
        if pair is not None:
            yield pair


def _chunk_records(store: ObjectStore, bucket: str, layout: RunLayout) -> Iterator[dict[str, Any]]:
    for key in store.keys(bucket, layout.delta_prefix):
        yield json.loads(store.get_bytes(bucket, key))
