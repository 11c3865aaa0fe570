"""The completion event: its detail-type per outcome, a detail bounded whatever the report holds, and
one event per run even when the report step is retried between the SNS message and the event."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from labelsync.adapters.eventbridge_events import EventBridgeEvents, EventNotAccepted
from labelsync.domain.completion_event import MAX_TEXT, completion_event, detail_type
from labelsync.event_contract import RUN_COMPLETED, RUN_FAILED, RUN_REJECTED
from labelsync.usecases.report_run import report_run
from tests.unit.test_reconciliation import ACCEPTED, planned
from tests.unit.test_usecases import FakeDatasets, FakeNotifier


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("SUCCEEDED", RUN_COMPLETED),
        ("SUCCEEDED_WITH_ERRORS", RUN_COMPLETED),
        ("REJECTED", RUN_REJECTED),
        ("FAILED", RUN_FAILED),
    ],
)
def test_each_outcome_has_its_detail_type(outcome: str, expected: str) -> None:
    assert detail_type(outcome) == expected


def test_the_detail_carries_no_list_and_cuts_long_text() -> None:
    report = {
        "outcome": "FAILED",
        "summary": "x" * 100_000,
        "counts": {"linesRead": 3},
        "entryErrors": [{"sourceRef": "s3://b/k", "code": "E", "message": "m" * 1000}] * 1000,
        "failure": {"stage": "apply-chunk", "error": "DatasetUpdateFailed", "statusMessage": "s" * 50_000, "chunk": 3},
        "target": {"project": "p", "datasetType": "TRAIN"},
        "readiness": {"verdict": "UNUSABLE", "reason": "r" * 10_000},
    }
    kind, detail = completion_event(report)
    assert kind == RUN_FAILED and "entryErrors" not in detail
    assert len(detail["summary"]) <= MAX_TEXT and detail["summary"].endswith("(100,000 characters)")
    assert detail["failure"]["chunk"] == 3 and len(detail["failure"]["statusMessage"]) <= MAX_TEXT
    assert detail["verdict"] == "UNUSABLE" and detail["kind"] == "alert"
    assert len(json.dumps(detail)) < 16_000  # EventBridge takes 256 KB an entry


class Events:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[tuple[str, Mapping[str, Any], Sequence[str]]] = []
        self.fail = fail

    def emit(self, *, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]) -> None:
        if self.fail:
            self.fail -= 1
            raise EventNotAccepted("EventBridge refused the event: InternalFailure")
        self.sent.append((detail_type, detail, resources))


def test_a_report_step_retried_after_its_sns_message_sends_only_the_event() -> None:
    store, state = planned()
    notifier, events = FakeNotifier(), Events(fail=1)
    event = {"outcome": "COMPLETED", "executionId": "arn:exec", "state": state}
    ports: dict[str, Any] = {
        "store": store,
        "datasets": FakeDatasets({}, present=ACCEPTED),
        "notifier": notifier,
        "max_items": 5,
    }
    with pytest.raises(EventNotAccepted):
        report_run(event, **ports, events=events)
    assert len(notifier.published) == 1 and events.sent == []
    report_run(event, **ports, events=events)  # the state machine's retry
    report_run(event, **ports, events=events)  # and once more: nothing new
    assert len(notifier.published) == 1
    ((kind, detail, resources),) = events.sent
    assert kind == RUN_COMPLETED and detail["execution"] == "arn:exec" and resources == ["arn:ds"]


class Client:
    def __init__(self, failed: int) -> None:
        self.failed = failed
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        if self.failed:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def test_the_adapter_raises_when_eventbridge_refuses_the_entry_it_answered_200_for() -> None:
    EventBridgeEvents(Client(0)).emit(detail_type=RUN_FAILED, detail={"a": 1}, resources=[])
    with pytest.raises(EventNotAccepted, match="InternalFailure try again"):
        EventBridgeEvents(Client(1)).emit(detail_type=RUN_FAILED, detail={"a": 1}, resources=[])
    client = Client(0)
    EventBridgeEvents(client).emit(detail_type=RUN_COMPLETED, detail={"a": 1}, resources=["arn:ds"])
    (entry,) = client.entries
    assert entry == {
        "Source": "labelsync",
        "DetailType": RUN_COMPLETED,
        "Detail": '{"a": 1}',
        "Resources": ["arn:ds"],
    }
