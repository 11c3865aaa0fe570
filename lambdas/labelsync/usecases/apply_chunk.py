"""Apply one chunk: read it from S3 and hand it to UpdateDatasetEntries.

Chunks travel by key, not through state data (Step Functions caps payloads at 256 KB).
If the service refuses a chunk for its size, the chunk is split in two at a line end,
the parts are stored next to it (`chunks/000012.p1.jsonl`, `...p2.jsonl`; a part still
too big is split again), the first part is sent and the other keys are returned as
`pending`: the state machine waits for the update, then calls this again with them
(`run.pending`), one part per update, until none remain. The split is recorded in the
run's plan, so the report names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labelsync import clock
from labelsync.domain.errors import ChunkRejectedError, ChunkTooLargeError
from labelsync.domain.runs import RunLayout
from labelsync.ports import Datasets, ObjectStore


def split_in_two(data: bytes) -> tuple[bytes, bytes] | None:
    """Two halves, cut at the line end nearest the middle; None for a single line."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines < 2:
        return None
    middle = len(data) // 2
    after = data.find(b"\n", middle)
    before = data.rfind(b"\n", 0, middle)
    candidates = [cut for cut in (before, after) if 0 <= cut < len(data) - 1]
    cut = min(candidates, key=lambda c: abs(c + 1 - middle))
    return data[: cut + 1], data[cut + 1 :]


Schedule = Callable[[int, int], list[int]]  # (bytes, lines) -> the waits before each DescribeDataset call


def wait_state(waits: list[int]) -> dict[str, Any]:
    """What the state machine's poll loop walks: the first wait, then `rest[polls]` after each describe."""
    if not waits:
        raise ValueError("a poll schedule needs at least one wait")
    return {"delay": waits[0], "rest": waits[1:], "restCount": len(waits) - 1, "polls": 0, "waited": 0}


def apply_chunk(
    run: Mapping[str, Any],
    dataset_arn: str,
    chunk: int,
    store: ObjectStore,
    datasets: Datasets,
    *,
    schedule: Schedule,
    key: str | None = None,
    parts: Sequence[Mapping[str, Any]] = (),
    now: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Send the chunk (at `key`, else its planned key), the chunks `parts` lists together (delta sync joins
    what is left of several), or the next pending part; return the poll schedule."""
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    pending = [str(k) for k in run.get("pending") or []]
    if pending:
        key = pending.pop(0)
        data = store.get_bytes(bucket, key)
    elif len(parts) > 1:
        data = b"".join(_ending(store.get_bytes(bucket, str(part["key"]))) for part in parts)
        key = layout.part_key(chunk, "joined")  # one file, so a size refusal has something to split
        store.put_bytes(bucket, key, data, content_type="application/x-ndjson")
    else:
        key = key or layout.chunk_key(chunk)
        data = store.get_bytes(bucket, key)
    split = False
    # The dataset's LastUpdatedTimestamp just before our update: the report links each update to the one
    # before it, so an update by anyone else in between keeps the dataset's index from being trusted.
    before = datasets.describe(dataset_arn).last_updated
    while True:
        try:
            datasets.update_entries(dataset_arn, data)
            break
        except ChunkTooLargeError as exc:
            halves = split_in_two(data)
            if halves is None:
                raise ChunkRejectedError(f"{exc} (a single line: it cannot be split)") from exc
            stem = key.removesuffix(".jsonl")
            halves_keys = [f"{stem}.p1.jsonl", f"{stem}.p2.jsonl"]
            for part_key, half in zip(halves_keys, halves, strict=True):
                store.put_bytes(bucket, part_key, half, content_type="application/x-ndjson")
            _record_split(store, bucket, layout, chunk, key, len(data), halves_keys, str(exc))
            pending.insert(0, halves_keys[1])
            key, data, split = halves_keys[0], halves[0], True
    sent_at = (now or clock.now)()
    lines = data.count(b"\n")
    return {
        "chunk": chunk,
        "key": key,
        "bytes": len(data),
        "lines": lines,
        "split": split,
        "pending": pending,
        "sentAt": sent_at,
        "before": before,
        "wait": wait_state(schedule(len(data), lines)),
    }


def _ending(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def _record_split(
    store: ObjectStore, bucket: str, layout: RunLayout, chunk: int, key: str, size: int, parts: list[str], reason: str
) -> None:
    """Add the split to the run's plan (chunks are applied one at a time, so nothing races)."""
    plan = json.loads(store.get_bytes(bucket, layout.plan_key))
    plan.setdefault("splits", []).append({"chunk": chunk, "key": key, "bytes": size, "parts": parts, "reason": reason})
    store.put_bytes(bucket, layout.plan_key, json.dumps(plan, indent=1).encode("utf-8"))
