"""`labelsync status`: per dataset, the run holding its turn, the queue in write order and the last
finished run, read from the ledger table the pipeline keeps (labelsync.adapters.dynamodb_ledger)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from labelsync.adapters.dynamodb_ledger import LOCK, DynamoDBLedger
from labelsync.domain import turns


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str  # <project>/<TRAIN|TEST>
    holder: str  # run id holding the turn, "" when free
    queued: list[dict[str, Any]]  # write order
    last: dict[str, Any] | None  # the newest finished run

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "turn": self.holder or None, "queue": self.queued, "last": self.last}

    def lines(self) -> list[str]:
        out = [f"{self.dataset}: " + (f"turn held by {self.holder}" if self.holder else "free")]
        for position, ticket in enumerate(self.queued, start=1):
            out.append(
                f"  {position}. {ticket['run']}  {ticket['status']}  {ticket['manifest']}  ({ticket['planned']})"
            )
        if self.last:
            out.append(f"  last: {self.last['run']}  {self.last['status']}  ({self.last['planned']})")
        return out


def datasets(table: Any) -> list[str]:
    """Every dataset the ledger knows (a Scan of the lock items: one per dataset that ever had a run)."""
    names: set[str] = set()
    kwargs: dict[str, Any] = {
        "ProjectionExpression": "#d, #e",
        "ExpressionAttributeNames": {"#d": "dataset", "#e": "entry"},
    }
    while True:
        page = table.scan(**kwargs)
        names.update(str(item["dataset"]) for item in page.get("Items", []) if item.get("entry") == LOCK)
        if "LastEvaluatedKey" not in page:
            return sorted(names)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def dataset_status(table: Any, dataset: str) -> DatasetStatus:
    ledger = DynamoDBLedger(table)
    lock = ledger.lock(dataset)
    tickets = ledger.tickets(dataset)  # write order
    waiting = [t for t in tickets if t.status in (turns.QUEUED, turns.APPLYING) and t.run != lock.holder]
    finished = [t for t in tickets if t.status in (turns.DONE, turns.FAILED)]
    return DatasetStatus(
        dataset=dataset,
        holder=lock.holder,
        queued=[_ticket(t) for t in waiting],
        last=_ticket(finished[-1]) if finished else None,
    )


def _ticket(ticket: turns.Ticket) -> dict[str, Any]:
    planned = datetime.datetime.fromtimestamp(ticket.registered_at, datetime.UTC) if ticket.registered_at else None
    return {
        "run": ticket.run,
        "status": ticket.status,
        "manifest": ticket.manifest,
        "execution": ticket.execution,
        "planned": planned.strftime("%Y-%m-%d %H:%M:%S UTC") if planned else "-",
    }
