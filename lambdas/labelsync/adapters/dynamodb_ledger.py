"""RunLedger over one DynamoDB table: key `dataset` (partition) and `entry` (sort).

Entries of a dataset: `lock` (holder and the run before it), `timings` (past update
durations, for the poll schedule) and `run#<write order>` (one ticket per planned run,
expiring after TICKET_DAYS). One Query reads a dataset's whole queue in write order.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from labelsync.domain.turns import LastRun, Lock, Ticket

LOCK, TIMINGS, RUN = "lock", "timings", "run#"
TICKET_DAYS = 30
_E = {"#e": "entry"}  # attribute names go through placeholders: no reserved-word surprises
_H = {"#h": "holder"}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDBLedger:
    def __init__(self, table: Any) -> None:
        self._table = table  # a boto3 resource Table (high-level types, no AttributeValue plumbing)

    def register(self, ticket: Ticket) -> None:
        item = {**ticket.as_item(), "entry": RUN + ticket.order, "expiresAt": int(time.time()) + TICKET_DAYS * 86400}
        item["registeredAt"] = str(ticket.registered_at)  # boto3 wants Decimal for numbers; a string is exact
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(#e)", ExpressionAttributeNames=_E)
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def tickets(self, dataset: str) -> list[Ticket]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "#d = :d AND begins_with(#e, :r)",
            "ExpressionAttributeNames": {"#d": "dataset", **_E},
            "ExpressionAttributeValues": {":d": dataset, ":r": RUN},
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [Ticket.from_item(item) for item in items]

    def lock(self, dataset: str) -> Lock:
        item = self._table.get_item(Key={"dataset": dataset, "entry": LOCK}, ConsistentRead=True).get("Item")
        if not item:
            return Lock()
        return Lock(
            holder=str(item.get("holder", "")),
            execution=str(item.get("execution", "")),
            prefix=str(item.get("prefix", "")),
            digest=str(item.get("digest", "")),
            last=LastRun.from_item(item.get("last")),
        )

    def take_lock(self, dataset: str, me: Ticket, *, observed_holder: str, last: LastRun | None) -> bool:
        condition = "attribute_not_exists(#h) OR #h = :observed OR #h = :me"
        try:
            self._table.put_item(
                Item={
                    "dataset": dataset,
                    "entry": LOCK,
                    "holder": me.run,
                    "execution": me.execution,
                    "prefix": me.prefix,
                    "digest": me.digest,
                    "since": str(time.time()),
                    **({"last": last.as_item()} if last else {}),
                },
                ConditionExpression=condition,
                ExpressionAttributeNames=_H,
                ExpressionAttributeValues={":observed": observed_holder or "-", ":me": me.run},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release(self, dataset: str, run: str, *, last: LastRun) -> None:
        try:
            self._table.put_item(
                Item={"dataset": dataset, "entry": LOCK, "last": last.as_item()},
                ConditionExpression="#h = :run",
                ExpressionAttributeNames=_H,
                ExpressionAttributeValues={":run": run},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):  # not ours (any more): nothing to release
                raise

    def set_status(self, ticket: Ticket, status: str, *, execution: str | None = None) -> None:
        names = {"#s": "status"}
        values: dict[str, Any] = {":s": status}
        update = "SET #s = :s"
        if execution is not None:
            update += ", #x = :x"
            names["#x"] = "execution"
            values[":x"] = execution
        self._table.update_item(
            Key={"dataset": ticket.dataset, "entry": RUN + ticket.order},
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def load_timings(self, dataset: str) -> str | None:
        item = self._table.get_item(Key={"dataset": dataset, "entry": TIMINGS}).get("Item")
        return str(item["document"]) if item else None

    def save_timings(self, dataset: str, document: str) -> None:
        self._table.put_item(Item={"dataset": dataset, "entry": TIMINGS, "document": document})
