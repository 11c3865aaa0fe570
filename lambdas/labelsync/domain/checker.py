"""One line's verdict: rejected (not sent), or accepted with its warnings and conversions.

This is the reference check, on the standard library only. `fastcheck` may certify
clean lines faster (msgspec), but only lines this function would accept unchanged and
without a warning; anything else comes back here, so results never depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labelsync.domain.jsonl import utf8_json
from labelsync.domain.label_rules import MULTIPLE_BUCKETS, Finding, label_warnings, source_ref_warnings
from labelsync.domain.lines import RawLine
from labelsync.domain.multilabel import MULTILABEL_MARKER, Conversion, NotConvertible, convert
from labelsync.domain.validation import LINE_EXCEEDS_CHUNK, LINE_TOO_LONG, MAX_LINE_CHARS, Rejection, parse


@dataclass(frozen=True, slots=True)
class Warning_:
    line: int
    code: str
    message: str
    source_ref: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message, "sourceRef": self.source_ref}


@dataclass(frozen=True, slots=True)
class ConversionRecord:
    line: int
    source_ref: str
    conversion: Conversion

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "sourceRef": self.source_ref,
            "attribute": self.conversion.attribute,
            "labels": list(self.conversion.labels),
            "newAttributes": list(self.conversion.new_attributes),
        }


@dataclass(slots=True)
class Accepted:
    source_ref: str
    data: bytes  # what is sent: the line itself, or its conversion
    converted: bool = False
    warnings: list[Warning_] = field(default_factory=list)
    conversions: list[ConversionRecord] = field(default_factory=list)


Verdict = Accepted | Rejection


def bucket_of(source_ref: str) -> str:
    return source_ref[5:].split("/", 1)[0]


def dumps(doc: Any) -> bytes:
    return utf8_json(doc, separators=(",", ":"))


@dataclass
class LineChecker:
    """Checks lines in manifest order; remembers the manifest's first bucket."""

    chunk_limit: int
    warnings_as_rejections: bool = False
    label_rules: bool = True  # False: only what the service drops silently, and conversions
    first_bucket: str | None = None

    def check(self, line: RawLine) -> Verdict:
        parsed = parse(line)
        if isinstance(parsed, Rejection):
            return parsed
        doc, ref = parsed
        data = line.data
        conversions: list[ConversionRecord] = []
        findings: list[Finding] = []
        if MULTILABEL_MARKER in data:
            try:
                converted, done = convert(doc)
            except NotConvertible as exc:
                findings.append(("ERROR_UNSUPPORTED_USE_CASE_TYPE", f"multi-label attribute not converted: {exc}"))
                converted, done = doc, []
            if done:
                doc, data = converted, dumps(converted)
                conversions = [ConversionRecord(line.number, ref, c) for c in done]
                if len(data.decode("utf-8")) > MAX_LINE_CHARS:
                    return Rejection(
                        line.number,
                        LINE_TOO_LONG,
                        f"the converted line has over {MAX_LINE_CHARS:,} characters",
                        ref,
                    )
        if len(data) + 1 >= self.chunk_limit:
            return Rejection(
                line.number,
                LINE_EXCEEDS_CHUNK,
                f"line is {len(data):,} bytes and cannot fit in a chunk under the {self.chunk_limit:,}-byte limit",
                ref,
            )
        if self.label_rules:
            findings += label_warnings(doc)
            findings += source_ref_warnings(ref)
            findings += self.bucket_findings(ref)
        if findings and self.warnings_as_rejections:
            message = "; ".join(f"{code}: {text}" for code, text in findings)
            return Rejection(line.number, findings[0][0], f"rejected because warnings are rejections: {message}", ref)
        warnings = [Warning_(line.number, code, text, ref) for code, text in findings]
        return Accepted(ref, data, bool(conversions), warnings, conversions)

    def bucket_findings(self, ref: str) -> list[Finding]:
        bucket = bucket_of(ref)
        if self.first_bucket is None:
            self.first_bucket = bucket
            return []
        if bucket != self.first_bucket:
            return [
                (
                    MULTIPLE_BUCKETS,
                    f"image is in bucket {bucket!r}; the manifest's first image is in {self.first_bucket!r} "
                    "and all images of a manifest must be in one bucket",
                )
            ]
        return []
