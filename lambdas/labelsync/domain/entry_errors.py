"""Errors the service wrote into returned dataset entries, from all four levels.

ListDatasetEntries returns JSON lines with `errors` (console form: `cl-errors`) lists at
the top level, in a label attribute, in each of its annotations and in its metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

ERROR_KEYS = ("errors", "cl-errors")
METADATA_SUFFIX = "-metadata"


@dataclass(frozen=True, slots=True)
class EntryError:
    source_ref: str
    code: str
    message: str
    location: str  # "line", "<attr>", "<attr>.annotations[i]", "<attr>-metadata"

    def as_dict(self) -> dict[str, str]:
        return {"sourceRef": self.source_ref, "code": self.code, "message": self.message, "location": self.location}


def _listed(container: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(container, dict):
        return
    for key in ERROR_KEYS:
        items = container.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                yield str(item.get("code", "UNKNOWN")), str(item.get("message", ""))
            else:
                yield str(item), ""


def errors_in_entry(entry: dict[str, Any]) -> list[EntryError]:
    source_ref = str(entry.get("source-ref", ""))
    found = [EntryError(source_ref, code, msg, "line") for code, msg in _listed(entry)]
    for key, value in entry.items():
        if key in ERROR_KEYS or key == "source-ref" or key == "cl-metadata":
            continue
        if key.endswith(METADATA_SUFFIX):
            found += [EntryError(source_ref, code, msg, key) for code, msg in _listed(value)]
            continue
        if not isinstance(value, dict):
            continue
        found += [EntryError(source_ref, code, msg, key) for code, msg in _listed(value)]
        annotations = value.get("annotations")
        if isinstance(annotations, list):
            for index, annotation in enumerate(annotations):
                location = f"{key}.annotations[{index}]"
                found += [EntryError(source_ref, code, msg, location) for code, msg in _listed(annotation)]
    return found


def errors_for_refs(lines: Iterable[str], refs: set[str]) -> Iterator[EntryError]:
    """Errors of the entries whose source-ref is one of `refs` (HasErrors covers the whole dataset)."""
    for text in lines:
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("source-ref") in refs:
            yield from errors_in_entry(entry)
