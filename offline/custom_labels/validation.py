"""Request checks the real service makes before anything else (the service model's constraints).

Clients may skip validation (the Step Functions engine disables botocore's), so the
server checks; messages follow AWS's "1 validation error detected: ..." form.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from offline.custom_labels.errors import validation

PROJECT_NAME = re.compile(r"[a-zA-Z0-9_.\-]+")
PROJECT_ARN = re.compile(r"(^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project\/[a-zA-Z0-9_.\-]{1,255}\/[0-9]+$)")
DATASET_ARN = re.compile(
    r"(^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project\/[a-zA-Z0-9_.\-]{1,255}\/dataset\/(train|test)\/[0-9]+$)"
)
NON_BLANK = re.compile(r".*\S.*", re.DOTALL)
ANY = re.compile(r".{1,}", re.DOTALL)


def _member(path: str) -> str:
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


class Request:
    """Reads members of a request body, collecting constraint violations; `done()` raises them."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.problems: list[str] = []

    def _fail(self, path: str, value: Any, constraint: str) -> None:
        shown = "null" if value is None else f"'{value}'"
        self.problems.append(f"Value {shown} at '{_member(path)}' failed to satisfy constraint: Member {constraint}")

    def value(self, path: str) -> Any:
        value: Any = self.params
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def text(
        self, path: str, *, pattern: re.Pattern[str] | None = None, min_len: int = 0, max_len: int | None = None
    ) -> str:
        """A required string ("" when missing or invalid: `done()` will raise)."""
        if self.value(path) is None:
            self._fail(path, None, "must not be null")
            return ""
        return self.optional_text(path, pattern=pattern, min_len=min_len, max_len=max_len) or ""

    def optional_text(
        self, path: str, *, pattern: re.Pattern[str] | None = None, min_len: int = 0, max_len: int | None = None
    ) -> str | None:
        value = self.value(path)
        if value is None:
            return None
        if not isinstance(value, str):
            self._fail(path, value, "must be a string")
            return None
        if len(value) < min_len:
            self._fail(path, value, f"must have length greater than or equal to {min_len}")
        elif max_len is not None and len(value) > max_len:
            self._fail(path, value, f"must have length less than or equal to {max_len}")
        elif pattern is not None and pattern.fullmatch(value) is None:
            self._fail(path, value, f"must satisfy regular expression pattern: {pattern.pattern}")
        else:
            return value
        return None

    def enum(self, path: str, values: Collection[str]) -> str:
        value = self.value(path)
        if value not in values:
            constraint = "must not be null" if value is None else f"must satisfy enum value set: [{', '.join(values)}]"
            self._fail(path, value, constraint)
            return ""
        return str(value)

    def integer(self, path: str, low: int, high: int, default: int) -> int:
        value = self.value(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(path, value, "must be an integer")
        elif value < low:
            self._fail(path, value, f"must have value greater than or equal to {low}")
        elif value > high:
            self._fail(path, value, f"must have value less than or equal to {high}")
        else:
            return value
        return default

    def boolean(self, path: str) -> bool | None:
        value = self.value(path)
        if value is None or isinstance(value, bool):
            return value
        self._fail(path, value, "must be a boolean")
        return None

    def strings(
        self, path: str, *, min_items: int, max_items: int, pattern: re.Pattern[str], max_len: int
    ) -> list[str] | None:
        value = self.value(path)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail(path, value, "must be a list of strings")
            return None
        if not min_items <= len(value) <= max_items:
            self._fail(path, value, f"must have length between {min_items} and {max_items}")
            return None
        bad = [v for v in value if not 1 <= len(v) <= max_len or pattern.fullmatch(v) is None]
        if bad:
            self._fail(path, bad[0], f"must satisfy regular expression pattern: {pattern.pattern}")
            return None
        return list(value)

    def done(self) -> None:
        if self.problems:
            count = len(self.problems)
            noun = "error" if count == 1 else "errors"
            raise validation(f"{count} validation {noun} detected: " + "; ".join(self.problems))
