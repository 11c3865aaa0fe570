"""The run report: one JSON document per run, and the SNS message cut from it.

Schema `labelsync.report/v1` is documented in docs/report-schema.md. The full report goes
to S3; the message carries the counts and the first N items of each list and must stay
under SNS's 256 KB cap, so lists are cut until it fits and the cut is flagged. The message
has two bodies (SNS MessageStructure json): the JSON document for machines (SQS, Lambda,
HTTPS: the `default` body) and a short text for people (the `email` body), cut at the
same number of items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelsync.domain import rules
from labelsync.domain.dataset_scan import RunRefs
from labelsync.domain.entry_errors import EntryError, EntryFindings
from labelsync.domain.jsonl import utf8_json
from labelsync.domain.side_files import SideFile

SCHEMA = "labelsync.report/v1"
SNS_MESSAGE_BUDGET = 240_000  # bytes; SNS allows 262,144 including attributes

SUCCEEDED = "SUCCEEDED"
SUCCEEDED_WITH_ERRORS = "SUCCEEDED_WITH_ERRORS"
FAILED = "FAILED"
REJECTED = "REJECTED"
ALERT_OUTCOMES = frozenset({FAILED, REJECTED})

_LISTS = (
    "entryErrors",
    "entryWarnings",
    "rejectedLines",
    "supersededLines",
    "supersededByNewerManifest",
    "warnings",
    "conversions",
)

RECONCILE_STAGE = "reconcile"
ENTRIES_MISSING = "ERROR_ENTRIES_MISSING_AFTER_UPDATE"
LINES_UNACCOUNTED = "ERROR_LINES_UNACCOUNTED"
MISSING_SAMPLE = 20  # source-refs named in `reconciliation.missingSample`


@dataclass(frozen=True)
class Failure:
    stage: str
    error: str
    cause: str
    chunk: int | None = None
    status_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "error": self.error,
            "cause": self.cause,
            "chunk": self.chunk,
            "statusMessage": self.status_message,
        }


def failure_from_state(state: Mapping[str, Any]) -> Failure:
    """Describe where and why a run failed, from the state the state machine hands over."""
    raw = state.get("failure") or {}
    error = str(raw.get("Error", "Unknown"))
    cause = raw.get("Cause", "")
    if isinstance(cause, str):
        try:  # Lambda errors arrive as a JSON string with errorMessage/errorType
            parsed = json.loads(cause)
            if isinstance(parsed, dict) and "errorMessage" in parsed:
                cause = str(parsed["errorMessage"])
        except json.JSONDecodeError:
            pass
    description = raw.get("description") or {}
    status_message = description.get("StatusMessage") if isinstance(description, dict) else None
    chunk = state.get("chunk")
    if error.startswith("Execution"):  # stopped, timed out, or failed without reporting (EventBridge)
        stage = "execution"
    elif chunk is not None:
        stage = "apply-chunk"
    elif not (state.get("turn") or {}).get("granted"):
        stage = "take-turn"
    elif "dataset" not in state:
        stage = "resolve-dataset"
    elif error.startswith("DatasetCreation"):
        stage = "create-dataset"
    elif error.startswith("Replace"):
        stage = "replace"
    elif error.startswith("States."):  # the map run itself (its item list, a child that could not start)
        stage = "apply-chunks"
    else:
        stage = "report"
    return Failure(stage, error, str(cause), chunk if isinstance(chunk, int) else None, status_message)


@dataclass(frozen=True)
class DatasetCheck:
    """Whether this manifest's source-refs were all found in the dataset after the last update."""

    checked: bool
    expected: int = 0
    missing: int = 0
    sample: tuple[str, ...] = ()


NOT_CHECKED = DatasetCheck(checked=False)


def applied_lines(markers: Sequence[Mapping[str, Any]]) -> int:
    """Accepted lines whose chunk's update completed: the sum over the run's applied markers.

    A marker is written only after UPDATE_COMPLETE (and copied from the run a resume
    continues), so this is exact whatever failed, and wherever.
    """
    return sum(int(marker.get("lines", 0)) for marker in markers)


def reconcile(
    counts: Mapping[str, Any],
    *,
    applied: int,
    rejected_lines: SideFile,
    superseded_lines: SideFile,
    refs: RunRefs | None,
    check: DatasetCheck,
    superseded_by_newer: int = 0,
    unchanged: int = 0,
    complete: bool = False,
) -> dict[str, Any]:
    """Account for every line read: the `reconciliation` object of the report.

    Balanced when blank + rejected + superseded + supersededByNewer + unchanged + applied + notApplied =
    linesRead (supersededByNewer: accepted lines left out because a manifest written later was
    already applied to the dataset; unchanged: accepted lines delta sync left out because the dataset
    holds them as they are), every
    rejected line is listed with a code and a message, every superseded line is listed, and
    (when the run's source-refs are at hand) they hold exactly one ref per accepted or
    superseded line and one distinct ref per accepted line.
    """
    lines_read = int(counts.get("linesRead", 0))
    blank, rejected = int(counts.get("blank", 0)), int(counts.get("rejected", 0))
    superseded, accepted = int(counts.get("superseded", 0)), int(counts.get("accepted", 0))
    accounted = {
        "blank": blank,
        "rejected": rejected,
        "superseded": superseded,
        "supersededByNewer": superseded_by_newer,
        "unchanged": unchanged,
        "applied": applied,
        "notApplied": accepted - applied - superseded_by_newer - unchanged,
    }
    balanced = (
        0 <= applied <= accepted - superseded_by_newer - unchanged
        and not (complete and accounted["notApplied"])  # after the last chunk every accepted line is accounted
        and sum(accounted.values()) == lines_read
        and rejected_lines.count == rejected
        and rejected_lines.complete  # each with a code and a message
        and superseded_lines.count == superseded
        and superseded_lines.complete
    )
    if refs is not None:
        balanced = balanced and refs.lines == accepted + superseded and len(refs.distinct) == accepted
    return {
        "linesRead": lines_read,
        "accounted": accounted,
        "balanced": balanced,
        "checked": check.checked,
        "missingFromDataset": check.missing,
        "missingSample": list(check.sample),
    }


def reconcile_failure(reconciliation: Mapping[str, Any], check: DatasetCheck) -> Failure | None:
    """The failure a completed run ends with when its lines do not reconcile; None when they do."""
    if check.missing:
        sample = ", ".join(check.sample[:3])
        return Failure(
            RECONCILE_STAGE,
            ENTRIES_MISSING,
            f"{check.missing:,} of the {check.expected:,} images this manifest sent are not in the dataset "
            f"after UPDATE_COMPLETE (ListDatasetEntries); first: {sample}",
        )
    if not reconciliation["balanced"]:
        return Failure(
            RECONCILE_STAGE,
            LINES_UNACCOUNTED,
            f"the line counts do not add up to the {reconciliation['linesRead']:,} lines read: "
            f"{json.dumps(reconciliation['accounted'])}",
        )
    return None


def decide_outcome(requested: str, *, entry_errors: int, rejected_lines: int, verdict: str | None = None) -> str:
    """SUCCEEDED only when nothing was left out or flagged and every line can train a model."""
    if requested == "COMPLETED":
        clean = not entry_errors and not rejected_lines and verdict in (None, rules.READY)
        return SUCCEEDED if clean else SUCCEEDED_WITH_ERRORS
    if requested in (FAILED, REJECTED):
        return requested
    raise ValueError(f"unknown outcome {requested!r}")


def readiness_after_update(predicted: Mapping[str, Any] | None, service_flagged: int | None) -> dict[str, Any] | None:
    """The plan's readiness, with the service's own count of flagged images once it has one.

    The verdict takes the larger of the predicted and the service's flagged lines: the
    service can flag what the plan step cannot see (images it could not read, say).
    """
    if not predicted:
        return None
    readiness = dict(predicted)
    if service_flagged is not None:
        readiness["serviceFlagged"] = service_flagged
        if service_flagged > int(predicted.get("flagged", 0)):
            verdict, reason = rules.readiness(
                sent=int(predicted["sent"]),
                usable=int(predicted["usable"]),
                flagged=service_flagged,
                ignored=int(predicted["ignored"]),
                rejected=int(predicted["rejected"]),
            )
            readiness |= {"verdict": verdict, "reason": f"{reason} (the service flagged {service_flagged:,})"}
    return readiness


def finding_kind(code: str) -> str:
    """Where a finding's code belongs: the service's errors or warnings (predicted), or this project's advisories."""
    if rules.is_advisory(code):
        return "advisories"
    return "serviceWarnings" if rules.level(code) == rules.WARNING else "serviceErrors"


def codes_by_kind(codes: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """The finding codes and their counts, split by `finding_kind`."""
    kinds: dict[str, dict[str, int]] = {"serviceErrors": {}, "serviceWarnings": {}, "advisories": {}}
    for code, count in codes.items():
        kinds[finding_kind(code)][code] = count
    return kinds


def summary_line(report: Mapping[str, Any]) -> str:
    counts = report["counts"]
    target = report.get("target") or {}
    where = f"{target.get('project')}/{target.get('datasetType')}" if target else "no dataset"
    head = f"{report['outcome']}: {rules.printable(str(report['manifest']['key']))} -> {where}"
    tail = (
        f"{counts.get('linesRead', 0)} lines read, {counts.get('accepted', 0)} accepted, "
        f"{counts.get('rejected', 0)} rejected, {counts.get('superseded', 0)} superseded, "
        f"{counts.get('entriesWithErrors', 0)} with errors"
    )
    if report.get("supersededByNewerManifest"):
        tail += f", {len(report['supersededByNewerManifest'])} left out (a newer manifest was applied first)"
    if counts.get("unchanged"):
        tail += f", {counts['unchanged']} unchanged (the dataset holds them as they are: not sent)"
    if report.get("replace"):
        tail += "; " + replace_line(report["replace"]).replace("Replace:", "replace:", 1)
    if report.get("resume"):
        tail += f"; resumed: {len(report['resume'].get('skippedChunks') or [])} chunk(s) already applied"
    if counts.get("warned") or counts.get("converted"):
        tail += f", {counts.get('warned', 0)} with warnings, {counts.get('converted', 0)} converted"
    if report.get("chunkSplits"):
        tail += f"; {len(report['chunkSplits'])} chunk(s) split after a size rejection"
    readiness = report.get("readiness")
    if readiness and not report.get("rejection"):
        tail += f"; training readiness {readiness['verdict']}: {readiness['reason']}"
    if report.get("rejection"):
        tail += f"; rejected: {report['rejection']['message']}"
    if report.get("failure"):
        failure = report["failure"]
        chunk = f" at chunk {failure['chunk']}" if failure.get("chunk") is not None else ""
        detail = failure.get("statusMessage") or failure.get("cause")
        tail += f"; failed in {failure['stage']}{chunk}: {failure['error']}: {detail}"
    return rules.printable(f"{head} ({tail})")


def build_report(
    *,
    requested: str,
    execution_id: str,
    plan: Mapping[str, Any],
    dataset_arn: str | None,
    entry_findings: EntryFindings | Iterable[EntryError],
    rejected_lines: Sequence[Mapping[str, Any]],
    superseded_lines: Sequence[Mapping[str, Any]],
    failure: Failure | None,
    report_uri: str,
    reconciliation: Mapping[str, Any] | None = None,
    superseded_by_newer: Sequence[Mapping[str, Any]] = (),
    resume: Mapping[str, Any] | None = None,
    side_files: Mapping[str, str] | None = None,
    delta: Mapping[str, Any] | None = None,
    replace: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`failure` with `requested` COMPLETED is a reconciliation failure: the outcome becomes FAILED.

    `entry_findings` are what the service wrote into the flagged entries: errors make the outcome,
    warnings (level `warning`) are listed apart and never count as errors. `rejected_lines` and
    `superseded_lines` are the first items of their side files (`side_files`: `rejectsUri`,
    `supersededUri`), which hold them all; `entry_findings` keeps the first KEPT_FINDINGS of each
    level, and `entryFindingsUri` names the files holding every one.
    """
    counts = dict(plan.get("counts") or {})
    found = entry_findings if isinstance(entry_findings, EntryFindings) else EntryFindings.collect(entry_findings)
    counts["entriesWithErrors"] = found.entries_with_errors
    counts["entryErrors"] = found.error_count
    counts["entryWarnings"] = found.warning_count
    counts["unchanged"] = int((delta or {}).get("unchanged", 0))
    checked = bool(reconciliation and reconciliation.get("checked"))
    readiness = readiness_after_update(plan.get("readiness"), counts["entriesWithErrors"] if checked else None)
    outcome = decide_outcome(
        requested,
        entry_errors=found.error_count,
        rejected_lines=int(counts.get("rejected", 0)),
        verdict=readiness["verdict"] if readiness else None,
    )
    if failure is not None:
        outcome = FAILED
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "outcome": outcome,
        "manifest": plan.get("manifest"),
        "target": plan.get("target"),
        "datasetArn": dataset_arn,
        "execution": execution_id,
        "counts": counts,
        "readiness": readiness,
        "rejection": plan.get("rejection"),
        "failure": failure.as_dict() if failure else None,
        "entryErrors": [e.as_dict() for e in found.errors],
        "entryWarnings": [e.as_dict() for e in found.warnings],
        "rejectedLines": list(rejected_lines),
        "supersededLines": list(superseded_lines),
        "supersededByNewerManifest": list(superseded_by_newer),
        "resume": dict(resume) if resume else None,
        "delta": dict(delta) if delta else None,
        "replace": dict(replace) if replace else None,
        "warnings": list(plan.get("warnings") or []),
        "warningCodes": dict(plan.get("warningCodes") or {}),
        "codes": codes_by_kind(plan.get("warningCodes") or {}),
        "conversions": list(plan.get("conversions") or []),
        "chunkSplits": list(plan.get("splits") or []),
        "warningsUri": plan.get("warningsUri"),
        "conversionsUri": plan.get("conversionsUri"),
        "rejectsUri": (side_files or {}).get("rejectsUri"),
        "supersededUri": (side_files or {}).get("supersededUri"),
        "entryFindingsUri": (side_files or {}).get("entryFindingsUri"),
        "reconciliation": dict(reconciliation) if reconciliation is not None else None,
        "reportUri": report_uri,
    }
    report["summary"] = summary_line(report)
    return report


def message_from_report(report: Mapping[str, Any], *, max_items: int, budget: int = SNS_MESSAGE_BUDGET) -> str:
    """The JSON body: the report with each list cut to `max_items`, then cut further to fit `budget`."""
    return _fitted(report, max_items, budget, structured=False)


def structured_message(report: Mapping[str, Any], *, max_items: int, budget: int = SNS_MESSAGE_BUDGET) -> str:
    """The SNS message with MessageStructure json: `default` (the JSON body) and `email` (the text),
    both cut at the same number of items, the whole under `budget` bytes."""
    return _fitted(report, max_items, budget, structured=True)


def _fitted(report: Mapping[str, Any], max_items: int, budget: int, *, structured: bool) -> str:
    limit = max_items
    counts = report.get("counts") or {}
    cut_in_plan = {  # lists that report.json itself holds cut (their side files have them all)
        "warnings": len(report.get("warnings") or []) < int(counts.get("warnings", 0)),
        "conversions": len(report.get("conversions") or []) < int(counts.get("converted", 0)),
        "rejectedLines": len(report.get("rejectedLines") or []) < int(counts.get("rejected", 0)),
        "entryErrors": len(report.get("entryErrors") or []) < int(counts.get("entryErrors", 0)),
        "entryWarnings": len(report.get("entryWarnings") or []) < int(counts.get("entryWarnings", 0)),
        "supersededLines": len(report.get("supersededLines") or []) < int(counts.get("superseded", 0)),
    }
    while True:
        message = dict(report)
        truncated = {}
        for name in _LISTS:
            items = report.get(name) or []
            message[name] = items[:limit]
            truncated[name] = len(items) > limit or cut_in_plan.get(name, False)
        message["truncated"] = truncated
        text = utf8_json(message, separators=(",", ":")).decode("utf-8")
        if structured:
            text = json.dumps({"default": text, "email": email_text(message)}, ensure_ascii=False)
        if len(text.encode("utf-8")) <= budget or limit == 0:
            return text
        limit //= 2


EMAIL_LINE_CHARS = 300  # a listed item's line in the email, at most


def email_text(message: Mapping[str, Any]) -> str:
    """The plain-text report for people: outcome, verdict, counts, the first items of each list, the link.

    `message` is the cut report (its lists hold what the JSON body holds); every value is shown
    with invisible and control characters escaped.
    """
    show = rules.printable
    counts = message.get("counts") or {}
    manifest = message.get("manifest") or {}
    target = message.get("target") or {}
    lines = [f"Custom Labels sync: {message['outcome']}"]
    lines.append(f"Manifest: s3://{show(str(manifest.get('bucket')))}/{show(str(manifest.get('key')))}")
    if target:
        lines.append(f"Dataset: {show(str(target.get('project')))} {target.get('datasetType')}")
    readiness = message.get("readiness")
    if readiness and not message.get("rejection"):
        lines.append(f"Training readiness: {readiness['verdict']}: {show(str(readiness['reason']))}")
    unchanged = int(counts.get("unchanged", 0))
    kept = f", {unchanged:,} unchanged (already in the dataset as they are, not sent again)" if unchanged else ""
    lines.append(
        f"Lines: {counts.get('linesRead', 0):,} read, {int(counts.get('accepted', 0)) - unchanged:,} sent{kept}, "
        f"{counts.get('rejected', 0):,} rejected, {counts.get('superseded', 0):,} superseded, "
        f"{counts.get('blank', 0):,} blank; {counts.get('entriesWithErrors', 0):,} images flagged by the service"
    )
    replaced = message.get("replace")
    if replaced:
        lines.append(replace_line(replaced))
    if message.get("rejection"):
        rejection = message["rejection"]
        lines.append(f"Not sent: {rejection['code']}: {show(str(rejection['message']))}")
    if message.get("failure"):
        failure = message["failure"]
        detail = failure.get("statusMessage") or failure.get("cause")
        lines.append(f"Failed in {failure['stage']}: {failure['error']}: {show(str(detail))[:EMAIL_LINE_CHARS]}")
    truncated = message.get("truncated") or {}
    totals = {
        "rejectedLines": counts.get("rejected", 0),
        "entryErrors": counts.get("entryErrors", 0),
        "entryWarnings": counts.get("entryWarnings", 0),
        "warnings": counts.get("warnings", 0),
    }
    sections = (
        ("Rejected lines (not sent)", "rejectedLines", None),
        ("Errors the service reported (ListDatasetEntries)", "entryErrors", None),
        ("Warnings the service wrote beside them (ignored for training)", "entryWarnings", None),
        ("Errors the service will flag (predicted)", "warnings", "serviceErrors"),
        ("Warnings: lines the service keeps but ignores for training (predicted)", "warnings", "serviceWarnings"),
        ("Advisories of this project (no service code)", "warnings", "advisories"),
    )
    for title, name, kind in sections:
        items = [
            item for item in message.get(name) or [] if kind is None or finding_kind(str(item.get("code"))) == kind
        ]
        if not items:
            continue
        more = (
            f", the first {len(message.get(name) or []):,} of {totals[name]:,} findings listed"
            if truncated.get(name)
            else ""
        )
        lines.append("")
        lines.append(f"{title}{more}:")
        for item in items:
            where = [f"line {item['line']}"] if item.get("line") is not None else []
            where += [show(str(item["sourceRef"]))] if item.get("sourceRef") else []
            text = f"  {' '.join(where) or '-'}: {item.get('code')}: {show(str(item.get('message')))}"
            lines.append(text[:EMAIL_LINE_CHARS])
    lines.append("")
    lines.append(f"Full report (every list complete): {message.get('reportUri')}")
    return "\n".join(lines) + "\n"


def message_attributes(report: Mapping[str, Any]) -> dict[str, str]:
    """String attributes for SNS filter policies. An UNUSABLE verdict is an alert: the dataset cannot train."""
    target = report.get("target") or {}
    verdict = str((report.get("readiness") or {}).get("verdict") or "-")
    alert = report["outcome"] in ALERT_OUTCOMES or verdict == rules.UNUSABLE
    return {
        "outcome": str(report["outcome"]),
        "verdict": verdict,
        "kind": "alert" if alert else "report",
        "project": str(target.get("project") or "-"),
        "datasetType": str(target.get("datasetType") or "-"),
    }


def replace_line(replaced: Mapping[str, Any]) -> str:
    """The email's line for a replace: what it removed (or would have), and where the lists are."""
    removed, entries = int(replaced.get("removed", 0)), int(replaced.get("datasetEntries", 0))
    if replaced.get("refused"):
        return f"Replace: refused, nothing removed ({removed:,} of {entries:,} entries would have gone)"
    if not replaced.get("rebuild"):
        return f"Replace: every one of the dataset's {entries:,} entries is in the manifest: nothing to remove"
    if replaced.get("datasetArn"):
        sample = [rules.printable(str(ref)) for ref in replaced.get("removedSample") or []]
        named = f": {', '.join(sample)}{', ...' if removed > len(sample) else ''}" if sample else ""
        return (
            f"Replace: {removed:,} of {entries:,} entries removed{named} (not in the manifest; all of them: "
            f"{replaced.get('removedUri')}); the old dataset's backup: {replaced.get('backupUri')}"
        )
    return f"Replace: not finished (step {replaced.get('step')}); the old dataset's backup: {replaced.get('backupUri')}"
