"""Apply one chunk: read it from S3 and hand it to UpdateDatasetEntries.

Chunks travel by key, not through state data (Step Functions caps payloads at 256 KB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelsync.domain.runs import RunLayout
from labelsync.ports import Datasets, ObjectStore


def apply_chunk(
    run: Mapping[str, Any], dataset_arn: str, chunk: int, store: ObjectStore, datasets: Datasets
) -> dict[str, Any]:
    key = RunLayout(str(run["prefix"])).chunk_key(chunk)
    data = store.get_bytes(str(run["bucket"]), key)
    datasets.update_entries(dataset_arn, data)
    return {"chunk": chunk, "key": key, "bytes": len(data), "lines": data.count(b"\n")}
