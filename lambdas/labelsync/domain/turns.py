"""Whose turn it is to update a dataset: one run at a time, in the order manifests were written.

Every planned run leaves a ticket in the dataset's ledger, ordered by when its object was
written (the S3 event's eventTime, then its sequencer). A run may take the dataset's lock
only when no live run written earlier is still waiting and the lock is free or held by a
run whose execution has ended (failed, timed out, stopped: the lock is then stale). No
release is needed for correctness, so a run stopped by hand never blocks a dataset.

A run whose event arrived late (a manifest written later was already applied) still goes
through, but the source-refs of those newer runs are left out of its chunks: the newest
written manifest's line wins, whatever the delivery order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

QUEUED = "QUEUED"  # planned, waiting for its turn
APPLYING = "APPLYING"  # holds (or held, if its execution died) the dataset's lock
DONE = "DONE"  # every chunk applied, report sent
FAILED = "FAILED"  # stopped with an alert; may be resumed

PLAN_GRACE_SECONDS = 900.0  # a ticket whose execution does not exist yet is alive this long (the plan Lambda's timeout)
_SEQUENCER_WIDTH = 32


def order_key(event_time: str | None, sequencer: str | None, run: str) -> str:
    """Sortable write order: ISO eventTime, then the hex sequencer (left-padded), then the run for ties."""
    return f"{event_time or ''}#{(sequencer or '').upper().rjust(_SEQUENCER_WIDTH, '0')}#{run}"


@dataclass(frozen=True)
class Ticket:
    """One run of one manifest for one dataset, as the ledger holds it."""

    dataset: str
    order: str
    run: str
    prefix: str  # the run's folder (plan, chunks, markers) in the pipeline bucket
    manifest: str  # s3:// URI, for messages
    digest: str  # the plan's digest: the same manifest planned the same way has the same digest
    status: str = QUEUED
    execution: str = ""  # the execution now in charge of the run (a resume starts a new one)
    registered_at: float = 0.0

    def as_item(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "order": self.order,
            "run": self.run,
            "prefix": self.prefix,
            "manifest": self.manifest,
            "digest": self.digest,
            "status": self.status,
            "execution": self.execution,
            "registeredAt": self.registered_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Ticket:
        return cls(
            dataset=str(item["dataset"]),
            order=str(item["order"]),
            run=str(item["run"]),
            prefix=str(item.get("prefix", "")),
            manifest=str(item.get("manifest", "")),
            digest=str(item.get("digest", "")),
            status=str(item.get("status", QUEUED)),
            execution=str(item.get("execution", "")),
            registered_at=float(item.get("registeredAt", 0.0)),
        )


@dataclass(frozen=True)
class LastRun:
    """The run that held the lock before: a resume may skip what it applied."""

    run: str
    prefix: str
    digest: str
    complete: bool

    def as_item(self) -> dict[str, Any]:
        return {"run": self.run, "prefix": self.prefix, "digest": self.digest, "complete": self.complete}

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> LastRun | None:
        if not item:
            return None
        return cls(str(item["run"]), str(item.get("prefix", "")), str(item.get("digest", "")), bool(item["complete"]))


@dataclass(frozen=True)
class Lock:
    holder: str = ""  # run id, "" when free
    execution: str = ""
    prefix: str = ""
    digest: str = ""
    last: LastRun | None = None


@dataclass(frozen=True)
class TurnDecision:
    go: bool
    reason: str
    waiting_for: str = ""  # run id we wait for
    last: LastRun | None = None  # what the lock says ran before us (after taking over a stale lock: that run)
    newer: tuple[Ticket, ...] = field(default_factory=tuple)  # later-written runs already applied: their refs win


def decide_turn(me: Ticket, tickets: Iterable[Ticket], lock: Lock, alive: Callable[[Ticket], bool]) -> TurnDecision:
    """Whether `me` may take the lock now; `alive(ticket)` says whether a ticket's execution still runs."""
    others = [t for t in tickets if t.run != me.run]
    if lock.holder and lock.holder != me.run:
        holder = next((t for t in others if t.run == lock.holder), None)
        if holder is not None and alive(holder):
            return TurnDecision(False, f"run {holder.run} ({holder.manifest}) is updating the dataset", holder.run)
    ahead = [t for t in others if t.status == QUEUED and t.order < me.order and alive(t)]
    if ahead:
        first = min(ahead, key=lambda t: t.order)
        return TurnDecision(False, f"run {first.run} ({first.manifest}) was written earlier", first.run)
    last = lock.last
    retried = lock.holder == me.run and lock.execution == me.execution  # this very execution took it already
    if lock.holder and not retried:  # a stale lock (its run ended without releasing), or ours from an earlier execution
        last = LastRun(lock.holder, lock.prefix, lock.digest, complete=False)
    newer = tuple(
        sorted(
            (t for t in others if t.order > me.order and t.status in (APPLYING, DONE, FAILED)), key=lambda t: t.order
        )
    )
    return TurnDecision(True, "free", last=last, newer=newer)


def skips_applied_chunks(me: Ticket, last: LastRun | None) -> bool:
    """A resume: the previous holder stopped mid-way with the very same plan, and nothing ran since."""
    return last is not None and not last.complete and last.digest == me.digest and bool(me.digest)


def ticket_of(run: Mapping[str, Any], target: Mapping[str, Any], execution: str) -> Ticket:
    """The ticket of the run described by the state machine's `run` and `target` objects."""
    manifest = run.get("manifest") or {}
    return Ticket(
        dataset=str(target["key"]),
        order=str(run["order"]),
        run=str(run["id"]),
        prefix=str(run["prefix"]),
        manifest=f"s3://{manifest.get('bucket', '')}/{manifest.get('key', '')}",
        digest=str(run.get("digest", "")),
        execution=execution,
    )
