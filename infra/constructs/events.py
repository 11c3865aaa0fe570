"""Where the completion events go (the account's default event bus) and what a publisher may send there.

PutEvents supports the `events:source` and `events:detail-type` condition keys (EventBridge user
guide, "Using IAM policy conditions in Amazon EventBridge"), so a role that may publish our
completion events cannot publish anything else on the shared default bus.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from constructs import Construct

from labelsync.event_contract import SOURCE


def default_event_bus_arn(scope: Construct) -> str:
    return Stack.of(scope).format_arn(service="events", resource="event-bus", resource_name="default")


def completion_event_conditions(detail_types: Sequence[str]) -> dict[str, dict[str, object]]:
    return {"StringEquals": {"events:source": SOURCE, "events:detail-type": list(detail_types)}}
