"""Delta sync's memory of a dataset: for each source-ref, the digest of the entry the dataset holds.

The index is true `as_of` one moment: the dataset's LastUpdatedTimestamp when it was written. It is
trusted only while DescribeDataset still says that timestamp (and the dataset ARN is the same): any
update since, ours or anyone's, could have changed an entry. A source-ref missing from the index is
simply sent. Stored as one S3 object: a JSON header line, then 32 bytes per entry (ref key, digest).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RECORD = 32  # 16-byte ref key + 16-byte content digest
SCHEMA = "labelsync.dataset-index/v1"
# Where a run's knowledge of the dataset came from (SkipUnchanged's decision, the report's `delta.source`).
INDEX = "index"  # this index, current
LISTING = "listing"  # a listing of the whole dataset
EMPTY = "empty"  # a dataset without entries


@dataclass
class DatasetIndex:
    dataset_arn: str
    as_of: float | None  # LastUpdatedTimestamp (epoch seconds) the entries are true at; None: never trusted
    entries: dict[bytes, bytes] = field(default_factory=dict)
    source: str = ""  # "listing" (read from the dataset) or "applied" (what runs sent, on a checked chain)

    def fresh(self, dataset_arn: str, last_updated: float | None) -> bool:
        """Whether the dataset can have changed since the index was written."""
        return (
            self.as_of is not None
            and last_updated is not None
            and self.dataset_arn == dataset_arn
            and abs(self.as_of - last_updated) < 0.0005  # the same timestamp (ms precision)
        )

    def unchanged(self, ref: bytes, digest: bytes) -> bool:
        return self.entries.get(ref) == digest

    def with_entries(self, pairs: Iterable[tuple[bytes, bytes]], *, as_of: float | None, source: str) -> DatasetIndex:
        merged = dict(self.entries)
        merged.update(pairs)
        return DatasetIndex(self.dataset_arn, as_of, merged, source)

    def to_bytes(self) -> bytes:
        header = {
            "schema": SCHEMA,
            "datasetArn": self.dataset_arn,
            "asOf": self.as_of,
            "entries": len(self.entries),
            "source": self.source,
        }
        return json.dumps(header).encode() + b"\n" + pack(sorted(self.entries.items()))

    @classmethod
    def from_bytes(cls, data: bytes) -> DatasetIndex:
        head, _, body = data.partition(b"\n")
        header: Mapping[str, Any] = json.loads(head)
        if header.get("schema") != SCHEMA or len(body) != RECORD * int(header["entries"]):
            raise ValueError("not a dataset index of this version, or a truncated one")
        as_of = header.get("asOf")
        return cls(
            str(header["datasetArn"]), None if as_of is None else float(as_of), unpack(body), str(header["source"])
        )


def pack(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """(ref key, digest) pairs as 32-byte records."""
    return b"".join(ref + digest for ref, digest in pairs)


def unpack(body: bytes) -> dict[bytes, bytes]:
    view = memoryview(body)
    return {bytes(view[i : i + 16]): bytes(view[i + 16 : i + RECORD]) for i in range(0, len(body), RECORD)}
