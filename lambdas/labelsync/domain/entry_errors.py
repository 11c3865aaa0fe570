"""Errors and warnings the service wrote into returned dataset entries, from all four levels.

ListDatasetEntries returns JSON lines with `errors` (console form: `cl-errors`) and `warnings`
lists at the top level, in a label attribute, in each of its annotations and in its metadata.
Only errors make an entry unusable; warnings (an ignored annotation, an empty attribute) are
kept beside them with `level: warning` so the report shows the service's whole view of an entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ERROR_KEYS = ("errors", "cl-errors")
WARNING_KEYS = ("warnings", "cl-warnings")
LEVEL_OF_KEY = {**dict.fromkeys(ERROR_KEYS, "error"), **dict.fromkeys(WARNING_KEYS, "warning")}
METADATA_SUFFIX = "-metadata"


@dataclass(frozen=True, slots=True)
class EntryError:
    source_ref: str
    code: str
    message: str
    location: str  # "line", "<attr>", "<attr>.annotations[i]", "<attr>-metadata"
    level: str = "error"  # "error" or "warning": the list the service wrote it in

    def as_dict(self) -> dict[str, str]:
        return {
            "sourceRef": self.source_ref,
            "code": self.code,
            "message": self.message,
            "location": self.location,
            "level": self.level,
        }


def _listed(container: Any, source_ref: str, location: str) -> Iterator[EntryError]:
    if not isinstance(container, dict):
        return
    for key, level in LEVEL_OF_KEY.items():
        items = container.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                code, message = str(item.get("code", "UNKNOWN")), str(item.get("message", ""))
            else:
                code, message = str(item), ""
            yield EntryError(source_ref, code, message, location, level)


def errors_in_entry(entry: dict[str, Any]) -> list[EntryError]:
    """Every error and warning of one entry, errors and warnings each in the order written."""
    source_ref = str(entry.get("source-ref", ""))
    found = list(_listed(entry, source_ref, "line"))
    for key, value in entry.items():
        if key in LEVEL_OF_KEY or key == "source-ref" or key == "cl-metadata":
            continue
        found += _listed(value, source_ref, key)
        if key.endswith(METADATA_SUFFIX) or not isinstance(value, dict):
            continue
        annotations = value.get("annotations")
        if isinstance(annotations, list):
            for index, annotation in enumerate(annotations):
                found += _listed(annotation, source_ref, f"{key}.annotations[{index}]")
    return found


def errors_for_refs(lines: Iterable[str], wanted: Callable[[str], bool]) -> Iterator[EntryError]:
    """Errors of the entries whose source-ref is `wanted` (HasErrors covers the whole dataset)."""
    for text in lines:
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue
        ref = entry.get("source-ref") if isinstance(entry, dict) else None
        if isinstance(ref, str) and wanted(ref):
            yield from errors_in_entry(entry)


def entry_source_ref(text: str) -> str | None:
    """The `source-ref` of one listed entry; None when the line is not an entry with one."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    ref = entry.get("source-ref") if isinstance(entry, dict) else None
    return ref if isinstance(ref, str) else None


KEPT_FINDINGS = 1000  # errors and warnings each kept as a list in the report; counts are of all


@dataclass
class EntryFindings:
    """This manifest's entry findings as the report keeps them: counts of all, the first of each level."""

    errors: list[EntryError] = field(default_factory=list)
    warnings: list[EntryError] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    flagged: set[str] = field(default_factory=set)  # source-refs with at least one error

    @property
    def entries_with_errors(self) -> int:
        return len(self.flagged)

    @classmethod
    def collect(cls, findings: Iterable[EntryError], *, keep: int = KEPT_FINDINGS) -> EntryFindings:
        found = cls()
        for finding in findings:
            if finding.level == "error":
                found.error_count += 1
                found.flagged.add(finding.source_ref)
                if len(found.errors) < keep:
                    found.errors.append(finding)
            else:
                found.warning_count += 1
                if len(found.warnings) < keep:
                    found.warnings.append(finding)
        return found
