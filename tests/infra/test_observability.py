"""The handlers' metrics: the names the alarms and dashboard use, off when Powertools metrics are disabled."""

from __future__ import annotations

import json

import pytest

from infra.constructs import monitoring
from labelsync import observability
from statemachine.definition import definition_text


@pytest.fixture(autouse=True)
def _clean() -> None:
    observability.metrics.clear_metrics()


def test_plan_counts_become_metrics_and_missing_counts_are_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setattr(observability.metrics, "namespace", monitoring.NAMESPACE)
    monkeypatch.setattr(observability.metrics, "service", monitoring.SERVICE)

    @observability.log_metrics
    def handler() -> None:
        observability.count_plan(
            {"linesRead": 10, "accepted": 7, "rejected": 2, "superseded": 1, "chunks": 1, "bytesAccepted": 900}
        )

    handler()
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "LabelSync" and directive["Dimensions"] == [["service"]]
    assert emf["service"] == "labelsync"
    values = {m["Name"]: emf[m["Name"]] for m in directive["Metrics"]}
    values = {
        name: value[0] if isinstance(value, list) and len(value) == 1 else value for name, value in values.items()
    }
    assert values == {
        "LinesRead": 10.0,
        "LinesAccepted": 7.0,
        "LinesRejected": 2.0,
        "LinesSuperseded": 1.0,
        "LinesWarned": 0.0,
        "Chunks": 1.0,
        "BytesAccepted": 900.0,
    }


def test_disabled_metrics_record_and_print_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    @observability.log_metrics
    def handler() -> None:
        observability.count("ChunksSent", 1)

    handler()
    assert observability.metrics.metric_set == {}
    assert capsys.readouterr().out == ""


def test_report_outcomes_map_to_run_metrics() -> None:
    assert set(observability.RUN_OUTCOME_METRICS) == {"SUCCEEDED", "SUCCEEDED_WITH_ERRORS", "FAILED", "REJECTED"}


def test_dashboard_queries_name_states_of_the_definition() -> None:
    """The Logs Insights widgets filter on state names: a renamed state would silently empty them."""
    names: set[str] = set()

    def collect(states: dict[str, object]) -> None:
        for name, state in states.items():
            names.add(name)
            if isinstance(state, dict):
                for key in ("Iterator", "ItemProcessor"):
                    if key in state:
                        collect(state[key]["States"])

    collect(json.loads(definition_text())["States"])
    assert set(monitoring.POLL_STATES) <= names
    assert set(monitoring.CHUNK_STATES) <= names
