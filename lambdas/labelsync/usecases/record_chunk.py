"""After a chunk's update completed: its applied marker, and the update's duration for the poll schedule.

The marker is what a resume skips and what the report counts as applied, so it is written
only once DescribeDataset said UPDATE_COMPLETE for the chunk's last part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from labelsync import clock
from labelsync.domain.poll_schedule import UpdateHistory, UpdateObservation, epoch_seconds
from labelsync.domain.runs import RunLayout
from labelsync.ports import ObjectStore, RunLedger


def record_chunk(
    event: Mapping[str, Any], *, store: ObjectStore, ledger: RunLedger, now: float | None = None
) -> dict[str, Any]:
    run, applied = event["run"], event["applied"]
    chunk = int(event["chunk"])
    wait = applied.get("wait") or {}
    polls = int(wait.get("polls", 0)) + 1
    waited = float(wait.get("waited", 0)) + float(wait.get("delay", 0))
    now = clock.now() if now is None else now
    sent_at = float(applied.get("sentAt") or now)
    finished = epoch_seconds(event.get("finishedAt"))
    seconds = (finished if finished is not None else now) - sent_at
    marker = {
        "chunk": chunk,
        "key": event.get("key") or applied.get("key"),
        "lines": int(event.get("lines", applied.get("lines", 0))),
        "bytes": int(applied.get("bytes", 0)),
        "polls": polls,
        "waitedSeconds": waited,
        "updateSeconds": round(seconds, 3),
        "sentAt": sent_at,
        # LastUpdatedTimestamp before the chunk's (last) update and once it completed: delta sync's index chain.
        "before": applied.get("before"),
        "finishedAt": finished,
    }
    layout = RunLayout(str(run["prefix"]))
    parts = event.get("parts") or []
    if len(parts) > 1:  # several chunks sent in one update: a marker each, with its own lines and key
        for part in parts:
            own = {**marker, "chunk": int(part["chunk"]), "key": part["key"], "lines": int(part["lines"])}
            own["joinedWith"] = [int(p["chunk"]) for p in parts]
            store.put_bytes(str(run["bucket"]), layout.applied_key(own["chunk"]), json.dumps(own).encode())
    else:
        store.put_bytes(str(run["bucket"]), layout.applied_key(chunk), json.dumps(marker).encode())
    dataset = str(event.get("datasetKey") or "")
    if dataset and seconds > 0:
        history = UpdateHistory.from_json(ledger.load_timings(dataset))
        history.add(
            UpdateObservation(
                bytes=marker["bytes"], entries=int(applied.get("lines", 0)), seconds=seconds, at=sent_at, polls=polls
            )
        )
        ledger.save_timings(dataset, history.to_json())
    return marker
