import json

from labelsync.domain.entry_errors import EntryError, errors_for_refs, errors_in_entry
from labelsync.domain.report import (
    FAILED,
    SUCCEEDED,
    SUCCEEDED_WITH_ERRORS,
    build_report,
    failure_from_state,
    message_attributes,
    message_from_report,
)


def test_errors_are_found_at_all_four_levels_and_both_keys() -> None:
    entry = {
        "source-ref": "s3://b/k.jpg",
        "errors": [{"code": "ERROR_NO_VALID_LABEL_ATTRIBUTES", "message": "top"}],
        "box": {
            "cl-errors": [{"code": "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "message": "attr"}],
            "annotations": [
                {"class_id": 0},
                {"class_id": 9, "errors": [{"code": "ERROR_MISSING_CLASS_MAP_ID", "message": "ann"}]},
            ],
        },
        "box-metadata": {"errors": [{"code": "ERROR_UNSUPPORTED_USE_CASE_TYPE", "message": "meta"}]},
        "cl-metadata": {"is_labeled": True},
    }
    found = {(e.code, e.location) for e in errors_in_entry(entry)}
    assert found == {
        ("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line"),
        ("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "box"),
        ("ERROR_MISSING_CLASS_MAP_ID", "box.annotations[1]"),
        ("ERROR_UNSUPPORTED_USE_CASE_TYPE", "box-metadata"),
    }


def test_warnings_are_read_at_their_level_and_never_counted_as_errors() -> None:
    """tm-debugging-json-line-errors: the service writes warnings under `warnings`, beside `errors`."""
    entry = {
        "source-ref": "s3://b/k.jpg",
        "warnings": [{"code": "WARNING_NO_ANNOTATIONS", "message": "none"}],
        "bb": {"annotations": [], "warnings": [{"code": "WARNING_NO_ATTRIBUTE_ANNOTATIONS", "message": "empty"}]},
        "c-metadata": {"errors": [{"code": "ERROR_UNSUPPORTED_USE_CASE_TYPE", "message": "meta"}]},
    }
    found = {(e.code, e.location, e.level) for e in errors_in_entry(entry)}
    assert found == {
        ("WARNING_NO_ANNOTATIONS", "line", "warning"),
        ("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "bb", "warning"),
        ("ERROR_UNSUPPORTED_USE_CASE_TYPE", "c-metadata", "error"),
    }
    report = build_report(
        requested="COMPLETED",
        execution_id="e",
        plan={**PLAN, "counts": {"linesRead": 1, "accepted": 1, "rejected": 0, "superseded": 0}},
        dataset_arn="arn",
        entry_findings=[e for e in errors_in_entry(entry) if e.level == "warning"],
        rejected_lines=[],
        superseded_lines=[],
        failure=None,
        report_uri="s3://b/r.json",
    )
    assert report["outcome"] == SUCCEEDED
    assert report["counts"]["entriesWithErrors"] == 0 and report["counts"]["entryWarnings"] == 2
    assert report["entryErrors"] == [] and {w["level"] for w in report["entryWarnings"]} == {"warning"}


def test_only_this_manifests_entries_are_kept() -> None:
    lines = [
        json.dumps({"source-ref": r, "errors": [{"code": "X", "message": ""}]}) for r in ("s3://b/a", "s3://b/other")
    ]
    assert [e.source_ref for e in errors_for_refs([*lines, "garbage"], {"s3://b/a"}.__contains__)] == ["s3://b/a"]


PLAN = {
    "manifest": {"bucket": "b", "key": "incoming/p/train/m.jsonl"},
    "target": {"project": "p", "datasetType": "TRAIN"},
    "counts": {"linesRead": 3, "accepted": 2, "rejected": 1, "superseded": 0},
}


def test_outcomes_and_summary() -> None:
    clean = build_report(
        requested="COMPLETED",
        execution_id="x",
        plan={**PLAN, "counts": {"linesRead": 2, "accepted": 2, "rejected": 0}},
        dataset_arn="arn",
        entry_findings=[],
        rejected_lines=[],
        superseded_lines=[],
        failure=None,
        report_uri="s3://b/r",
    )
    assert clean["outcome"] == SUCCEEDED
    errs = [EntryError("s3://b/a", "ERROR_INVALID_BOUNDING_BOX", "off", "box.annotations[0]")]
    report = build_report(
        requested="COMPLETED",
        execution_id="x",
        plan=PLAN,
        dataset_arn="arn",
        entry_findings=errs,
        rejected_lines=[{"line": 3}],
        superseded_lines=[],
        failure=None,
        report_uri="s3://b/r",
    )
    assert report["outcome"] == SUCCEEDED_WITH_ERRORS and report["counts"]["entriesWithErrors"] == 1
    assert "incoming/p/train/m.jsonl" in report["summary"]
    assert message_attributes(report)["kind"] == "report"


def test_failure_names_chunk_and_status_message() -> None:
    state = {
        "run": {},
        "dataset": {"arn": "a"},
        "chunk": 3,
        "failure": {
            "Error": "DatasetUpdateFailed",
            "Cause": "x",
            "description": {"StatusMessage": "ERROR_MANIFEST_TOO_MANY_LABELS"},
        },
    }
    failure = failure_from_state(state)
    assert (failure.stage, failure.chunk, failure.status_message) == (
        "apply-chunk",
        3,
        "ERROR_MANIFEST_TOO_MANY_LABELS",
    )
    lambda_error = failure_from_state(
        {"failure": {"Error": "ProjectNotFoundError", "Cause": json.dumps({"errorMessage": "no such project"})}}
    )
    assert lambda_error.stage == "take-turn" and lambda_error.cause == "no such project"
    resolve_error = failure_from_state({"turn": {"granted": True}, "failure": {"Error": "ProjectNotFoundError"}})
    assert resolve_error.stage == "resolve-dataset"
    report = build_report(
        requested=FAILED,
        execution_id="x",
        plan=PLAN,
        dataset_arn="a",
        entry_findings=[],
        rejected_lines=[],
        superseded_lines=[],
        failure=failure,
        report_uri="s3://b/r",
    )
    assert "chunk 3" in report["summary"] and message_attributes(report)["kind"] == "alert"


def test_message_is_cut_to_fit_sns() -> None:
    errs = [EntryError(f"s3://b/{i}", "ERROR_INVALID_BOUNDING_BOX", "m" * 200, "box") for i in range(5000)]
    report = build_report(
        requested="COMPLETED",
        execution_id="x",
        plan=PLAN,
        dataset_arn="a",
        entry_findings=errs,
        rejected_lines=[],
        superseded_lines=[],
        failure=None,
        report_uri="s3://b/r",
    )
    text = message_from_report(report, max_items=5000, budget=100_000)
    message = json.loads(text)
    assert (
        len(text.encode()) <= 100_000
        and message["truncated"]["entryErrors"]
        and message["counts"]["entryErrors"] == 5000
    )
