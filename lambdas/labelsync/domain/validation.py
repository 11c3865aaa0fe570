"""Line checks for what the service drops without a word (FACTS section 1).

Every rejected line gets a code and a message naming the rule, so a user can fix it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from labelsync.domain.lines import RawLine

MAX_LINE_CHARS = 100_000
# UTF-8 needs at most 4 bytes per character: longer lines cannot be valid, shorter ones are counted exactly.
MAX_LINE_BYTES = MAX_LINE_CHARS * 4

INVALID_UTF8 = "ERROR_INVALID_UTF8"
INVALID_JSON = "ERROR_INVALID_JSON_LINE"
NOT_AN_OBJECT = "ERROR_NOT_A_JSON_OBJECT"
LINE_TOO_LONG = "ERROR_LINE_TOO_LONG"
MISSING_SOURCE_REF = "ERROR_MISSING_SOURCE_REF"
INVALID_SOURCE_REF = "ERROR_INVALID_SOURCE_REF_FORMAT"
LINE_EXCEEDS_CHUNK = "ERROR_LINE_EXCEEDS_CHUNK_LIMIT"

SOURCE_REF = re.compile(r"s3://([^/\s]+)/(.+)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    code: str
    message: str
    source_ref: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message, "sourceRef": self.source_ref}


def parse(line: RawLine) -> tuple[dict[str, Any], str] | Rejection:
    """The line's object and source-ref, or why the service would drop it without a word."""
    if line.oversize:
        return Rejection(
            line.number, LINE_TOO_LONG, f"line is {line.length:,} bytes, over the {MAX_LINE_CHARS:,}-character limit"
        )
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(line.number, INVALID_UTF8, f"line is not valid UTF-8 (byte {exc.start + 1})")
    if len(text) > MAX_LINE_CHARS:
        return Rejection(
            line.number, LINE_TOO_LONG, f"line has {len(text):,} characters, over the {MAX_LINE_CHARS:,} limit"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection(line.number, INVALID_JSON, f"line is not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return Rejection(line.number, INVALID_JSON, "line is not valid JSON: nested too deeply")
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits())
        return Rejection(
            line.number,
            INVALID_JSON,
            f"line has an integer of over {sys.get_int_max_str_digits():,} digits, more than can be read",
        )
    if not isinstance(document, dict):
        return Rejection(line.number, NOT_AN_OBJECT, f"line is JSON {type(document).__name__}, not an object")
    if "source-ref" not in document:
        return Rejection(line.number, MISSING_SOURCE_REF, "line has no 'source-ref'")
    source_ref = document["source-ref"]
    if not isinstance(source_ref, str) or not SOURCE_REF.fullmatch(source_ref) or not _encodable(source_ref):
        shown = source_ref if isinstance(source_ref, str) else json.dumps(source_ref)[:80]
        return Rejection(
            line.number,
            INVALID_SOURCE_REF,
            f"'source-ref' {shown!r} is not an s3://bucket/key URI",
            source_ref if isinstance(source_ref, str) and _encodable(source_ref) else None,
        )
    return document, source_ref


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape
        return False
    return True
