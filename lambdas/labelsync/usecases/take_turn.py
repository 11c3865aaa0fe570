"""Take the dataset's turn, then lay out the chunks this execution still has to apply.

Not our turn yet: say how long to wait (capped doubling) and why. Our turn: take the
lock, mark the ticket APPLYING, and write `items.json` (the Distributed Map's items):

- a resume (the previous holder ran the very same plan and stopped mid-way) skips the
  chunks that run applied: their markers are copied into this run, naming who applied them;
- a late run (manifests written after ours were already applied) leaves out the
  source-refs those runs applied; the left-out lines are listed in
  `superseded-by-newer.jsonl` and the filtered chunk is written next to the original.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from labelsync import clock
from labelsync.domain import turns
from labelsync.domain.jsonl import dump_lines
from labelsync.domain.lines import split_lines
from labelsync.domain.runs import RunLayout
from labelsync.domain.turns import LastRun, Ticket, TurnDecision
from labelsync.ports import ExecutionStatus, ObjectStore, RunLedger

# 9 history events a round: 300 s apart, a run can queue ~230 hours before the 25,000-event quota.
FIRST_WAIT_SECONDS, MAX_WAIT_SECONDS = 10, 300


def take_turn(
    event: Mapping[str, Any],
    *,
    ledger: RunLedger,
    executions: ExecutionStatus,
    store: ObjectStore,
    now: float | None = None,
) -> dict[str, Any]:
    run, target = event["run"], event["target"]
    me = turns.ticket_of(run, target, str(event["execution"]))
    attempt = int((event.get("turn") or {}).get("attempt", 0)) + 1
    now = clock.now() if now is None else now
    ledger.register(replace(me, registered_at=now))  # a no-op unless planning lost it

    def alive(ticket: Ticket) -> bool:
        status = executions.status(ticket.execution or ticket.run)
        if status is None:  # planned, execution not started yet (or never will be)
            return now - ticket.registered_at < turns.PLAN_GRACE_SECONDS
        return status == "RUNNING"

    lock = ledger.lock(me.dataset)
    decision = turns.decide_turn(me, ledger.tickets(me.dataset), lock, alive)
    if decision.go and not ledger.take_lock(me.dataset, me, observed_holder=lock.holder, last=decision.last):
        decision = TurnDecision(False, "another run took the lock first")
    if not decision.go:
        wait = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** min(attempt - 1, 8))
        return {"granted": False, "attempt": attempt, "waitSeconds": wait, "reason": decision.reason}
    ledger.set_status(me, turns.APPLYING, execution=me.execution)
    layout = RunLayout(me.prefix)
    return {"granted": True, "attempt": attempt, **_lay_out_items(store, str(run["bucket"]), layout, me, decision)}


def _lay_out_items(
    store: ObjectStore, bucket: str, layout: RunLayout, me: Ticket, decision: TurnDecision
) -> dict[str, Any]:
    plan = json.loads(store.get_bytes(bucket, layout.plan_key))
    chunks = {int(c["index"]): c for c in plan.get("chunks") or []}
    done = _already_applied(store, bucket, layout, me, decision.last)
    newer_refs, by = _newer_refs(store, bucket, decision.newer)
    items: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    for index in sorted(chunks):
        if index in done:
            continue
        key: str | None = layout.chunk_key(index)
        lines = int(chunks[index].get("lines", 0))
        if newer_refs:
            key, dropped = _without_refs(store, bucket, layout, index, layout.chunk_key(index), newer_refs)
            left_out += [{"sourceRef": ref, "chunk": index, **by[ref]} for ref in dropped]
            lines -= len(dropped)
        if key is None:  # every line of the chunk is superseded: nothing to send
            marker = {"chunk": index, "key": layout.chunk_key(index), "lines": 0, "bytes": 0, "supersededByNewer": True}
            store.put_bytes(bucket, layout.applied_key(index), json.dumps(marker).encode())
            continue
        items.append({"chunk": index, "key": key, "lines": lines})
    store.put_bytes(bucket, layout.superseded_by_newer_key, dump_lines(left_out), content_type="application/x-ndjson")
    store.put_bytes(bucket, layout.items_key, json.dumps(items).encode())
    return {
        "itemsKey": layout.items_key,
        "chunks": len(items),
        "skipped": sorted(done),
        "resumedFrom": decision.last.run if done and decision.last else None,
        "supersededByNewer": len(left_out),
    }


def _already_applied(store: ObjectStore, bucket: str, layout: RunLayout, me: Ticket, last: LastRun | None) -> set[int]:
    """Chunks a stopped run of the same plan applied; their markers are copied into this run."""
    if not turns.skips_applied_chunks(me, last) or last is None:
        return set()
    source = RunLayout(last.prefix)
    done: set[int] = set()
    for key in store.keys(bucket, source.applied_prefix):
        marker = json.loads(store.get_bytes(bucket, key))
        index = int(marker["chunk"])
        done.add(index)
        if source.prefix != layout.prefix:
            marker.setdefault("appliedBy", last.run)
            store.put_bytes(bucket, layout.applied_key(index), json.dumps(marker).encode())
    return done


def _newer_refs(
    store: ObjectStore, bucket: str, newer: tuple[Ticket, ...]
) -> tuple[set[str], dict[str, dict[str, str]]]:
    """The source-refs later-written runs have applied: only chunks with a marker count (a failed run's rest does not)."""
    refs: set[str] = set()
    by: dict[str, dict[str, str]] = {}
    for ticket in newer:
        for marker_key in store.keys(bucket, RunLayout(ticket.prefix).applied_prefix):
            marker = json.loads(store.get_bytes(bucket, marker_key))
            if not marker.get("lines") or not marker.get("key"):
                continue
            for ref in chunk_refs(store.get_bytes(bucket, str(marker["key"]))):
                refs.add(ref)
                by[ref] = {"by": ticket.run, "byManifest": ticket.manifest}  # the newest one wins (sorted by order)
    return refs, by


def chunk_refs(data: bytes) -> list[str]:
    return [str(json.loads(line).get("source-ref", "")) for line in split_lines(data) if line.strip()]


def _without_refs(
    store: ObjectStore, bucket: str, layout: RunLayout, index: int, key: str, refs: set[str]
) -> tuple[str | None, list[str]]:
    """The chunk minus lines whose source-ref a newer run applied: (key to send or None, refs left out)."""
    kept: list[bytes] = []
    dropped: list[str] = []
    for line in split_lines(store.get_bytes(bucket, key)):
        (ref,) = chunk_refs(line)
        if ref in refs:
            dropped.append(ref)
        else:
            kept.append(line + b"\n")
    if not dropped:
        return key, dropped
    if not kept:
        return None, dropped
    filtered = layout.part_key(index, "newer")
    store.put_bytes(bucket, filtered, b"".join(kept), content_type="application/x-ndjson")
    return filtered, dropped
