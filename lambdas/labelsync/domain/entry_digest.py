"""What "the same entry" means for delta sync: a line in canonical form, digested.

Two lines are the same entry when their canonical forms are equal: the JSON parsed, the keys the
service adds when it stores a line removed (`errors`/`cl-errors`, `warnings`/`cl-warnings` at the
four levels it writes them, and the top-level `cl-metadata`), object keys sorted, and a number that
is a whole float written as the integer (`1.0` and `1` are one value). So a line read back with
ListDatasetEntries and the same line in a re-exported manifest digest alike, whatever the key order
or spacing. Anything else that differs (a label, a box, a date) makes a different entry, which is
sent: a wrong "unchanged" would lose an edit, a wrong "changed" costs one line resent.

An entry the service flagged with an error is never "unchanged" (`stored_digest` gives it none): sending
its line again is how it gets checked again, e.g. once its missing image has been uploaded.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from labelsync.domain.dataset_scan import ref_key
from labelsync.domain.entry_errors import ERROR_KEYS, WARNING_KEYS, errors_in_entry

SERVICE_KEYS = frozenset((*ERROR_KEYS, *WARNING_KEYS))
TOP_LEVEL_SERVICE_KEYS = SERVICE_KEYS | {"cl-metadata"}
_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODER = msgspec.json.Decoder()


def canonical(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without the service's own keys, numbers in one form (a copy; `entry` is not changed)."""
    result: dict[str, Any] = {}
    for key, value in entry.items():
        if key in TOP_LEVEL_SERVICE_KEYS:
            continue
        if isinstance(value, dict):  # a label attribute (bounding boxes) or its metadata
            value = _without_findings(value)
            annotations = value.get("annotations")
            if isinstance(annotations, list):
                value["annotations"] = [
                    _without_findings(item) if isinstance(item, dict) else item for item in annotations
                ]
        result[key] = _numbers(value)
    return result


def entry_digest(line: bytes | str) -> tuple[bytes, bytes] | None:
    """(ref_key of its source-ref, digest of its canonical form); None for a line that is not an entry."""
    return _digest(line, flagged_too=True)


def stored_digest(line: bytes | str) -> tuple[bytes, bytes] | None:
    """`entry_digest` of an entry as ListDatasetEntries returns it; None when the service flagged an error in it."""
    return _digest(line, flagged_too=False)


def _digest(line: bytes | str, *, flagged_too: bool) -> tuple[bytes, bytes] | None:
    try:
        entry = _DECODER.decode(line)
        if not isinstance(entry, dict) or not isinstance(entry.get("source-ref"), str):
            return None
        if not flagged_too and any(e.level == "error" for e in errors_in_entry(entry)):
            return None
        return ref_key(entry["source-ref"]), content_digest(entry)
    except (msgspec.DecodeError, RecursionError):  # not JSON, or nested too deep to compare: always sent
        return None


def content_digest(entry: dict[str, Any]) -> bytes:
    return hashlib.blake2b(_ENCODER.encode(canonical(entry)), digest_size=16).digest()


def _without_findings(container: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in container.items() if key not in SERVICE_KEYS}


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value
