"""What a replace reads before it decides: the manifest's source-refs, and the dataset's entries kept as a
backup manifest while SkipUnchanged lists them (domain/replace.py has the rules).

Everything is written to the run's `replace/` files as it is read, a bounded buffer at a time, so a
250,000-entry dataset never sits in a function's memory as lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from labelsync.domain.dataset_scan import ref_key
from labelsync.domain.entry_digest import canonical
from labelsync.domain.lines import split_lines
from labelsync.domain.runs import RunLayout
from labelsync.ports import ObjectStore

FLUSH_BYTES = 16 * 1024 * 1024  # backup lines held before they are written as a part
_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True)
class Source:
    """One chunk of the manifest as a replace sends it: TakeTurn's item when it has one, else the plan's chunk
    (a chunk a resumed run applied before: the new dataset must hold it too)."""

    chunk: int
    key: str
    lines: int
    size: int


def rebuild_sources(
    store: ObjectStore, bucket: str, layout: RunLayout, items: Iterable[Mapping[str, Any]]
) -> list[Source]:
    by_chunk = {int(item["chunk"]): item for item in items}
    sources: list[Source] = []
    for chunk in json.loads(store.get_bytes(bucket, layout.plan_key)).get("chunks") or []:
        index = int(chunk["index"])
        item = by_chunk.get(index, chunk)
        sources.append(Source(index, str(item["key"]), int(item["lines"]), int(chunk["bytes"])))
    return sources


def manifest_refs(store: ObjectStore, bucket: str, layout: RunLayout, sources: Sequence[Source]) -> frozenset[bytes]:
    """The ref keys of every line the replace sends: read once, then kept as 16-byte records."""
    key = layout.replace_manifest_refs_key
    if key in store.keys(bucket, key):
        body = store.get_bytes(bucket, key)
        return frozenset(body[i : i + 16] for i in range(0, len(body), 16))
    refs: set[bytes] = set()
    for source in sources:
        for line in split_lines(store.get_bytes(bucket, source.key)):
            ref = _source_ref(line)
            if ref is not None:
                refs.add(ref_key(ref))
    store.put_bytes(bucket, key, b"".join(sorted(refs)), content_type="application/octet-stream")
    return frozenset(refs)


class BackupKeeper:
    """Fed every entry a listing step reads: keeps it as a backup line (the service's own keys removed, so
    CreateDataset takes it back as the entry it was) and records its source-ref when the manifest lacks it.

    Parts are numbered across steps (the counters live in the listing's progress), so a listing that starts
    over writes its parts from 0 again and the joined backup holds each entry once."""

    def __init__(
        self, store: ObjectStore, bucket: str, layout: RunLayout, refs: frozenset[bytes], counters: Mapping[str, int]
    ) -> None:
        self._store, self._bucket, self._layout, self._refs = store, bucket, layout, refs
        self.counters = {"listed": 0, "removed": 0, "backupParts": 0, "removedParts": 0, **counters}
        self._backup: list[bytes] = []
        self._removed: list[bytes] = []
        self._size = 0

    def add(self, line: str) -> None:
        try:
            entry = _DECODER.decode(line)
        except msgspec.DecodeError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("source-ref"), str):
            return  # the service lists entries only; nothing here to keep or remove
        self.counters["listed"] += 1
        if ref_key(entry["source-ref"]) not in self._refs:
            self.counters["removed"] += 1
            self._removed.append(json.dumps(entry["source-ref"], ensure_ascii=False).encode() + b"\n")
        line_bytes = _ENCODER.encode(canonical(entry)) + b"\n"
        self._backup.append(line_bytes)
        self._size += len(line_bytes)
        if self._size >= FLUSH_BYTES:
            self._write_backup()

    def flush(self) -> dict[str, int]:
        """Write what is held; the counters to store with the listing's progress."""
        self._write_backup()
        if self._removed:
            key = self._layout.replace_removed_part_key(self.counters["removedParts"])
            self._store.put_bytes(self._bucket, key, b"".join(self._removed), content_type="application/x-ndjson")
            self.counters["removedParts"] += 1
            self._removed = []
        return dict(self.counters)

    def _write_backup(self) -> None:
        if not self._backup:
            return
        key = self._layout.replace_backup_part_key(self.counters["backupParts"])
        self._store.put_bytes(self._bucket, key, b"".join(self._backup), content_type="application/x-ndjson")
        self.counters["backupParts"] += 1
        self._backup, self._size = [], 0


def _source_ref(line: bytes) -> str | None:
    if not line.strip():
        return None
    try:
        entry = _DECODER.decode(line)
    except msgspec.DecodeError:
        return None
    ref = entry.get("source-ref") if isinstance(entry, dict) else None
    return ref if isinstance(ref, str) else None
