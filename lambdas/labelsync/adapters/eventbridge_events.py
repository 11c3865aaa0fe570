"""RunEvents over EventBridge's default bus.

PutEvents answers 200 even when it refuses an entry (FailedEntryCount), so a refusal is raised
here: the report step fails and the state machine retries it (the SNS message is not sent twice).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from labelsync.event_contract import SOURCE


class EventNotAccepted(RuntimeError):
    """EventBridge refused the completion event (its error code and message)."""


class EventBridgeEvents:
    def __init__(self, events: Any) -> None:
        self._events = events

    def emit(self, *, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Resources": list(resources),
        }
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            failed = (response.get("Entries") or [{}])[0]
            raise EventNotAccepted(
                f"EventBridge refused the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
