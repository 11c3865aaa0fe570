"""One line's verdict: rejected (not sent), or accepted with its warnings and conversions.

`Checker` applies the rulebook (`rules`) in order and converts multi-label lines
(`multilabel`); the rules themselves live in `rules` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labelsync.domain import rules
from labelsync.domain.jsonl import utf8_json
from labelsync.domain.lines import RawLine
from labelsync.domain.multilabel import MULTILABEL_MARKER, Conversion, NotConvertible, convert
from labelsync.domain.rules import Finding


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    code: str
    message: str
    source_ref: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message, "sourceRef": self.source_ref}


@dataclass(frozen=True, slots=True)
class Warning_:
    line: int
    code: str
    message: str
    source_ref: str

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "code": self.code,
            "message": self.message,
            "sourceRef": self.source_ref,
            "level": rules.level(self.code),
            "advisory": rules.is_advisory(self.code),
        }


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
    labels: frozenset[str] = frozenset()  # label names of its valid annotations
    usable: bool = True  # can train a model (assumed without label rules)
    flagged: bool = False  # has an error-level finding: counts toward the service's 20% threshold

    @property
    def ignored(self) -> bool:
        """Kept by the service but left out of training: only warnings, no usable label."""
        return not self.usable and not self.flagged


Verdict = Accepted | Rejection


def dumps(doc: Any) -> bytes:
    return utf8_json(doc, separators=(",", ":"))


@dataclass
class Checker:
    """Checks lines in manifest order; remembers the manifest's first bucket, and the first line sent
    from another one (the plan refuses such a manifest)."""

    chunk_limit: int
    warnings_as_rejections: bool = False
    label_rules: bool = True  # False: only what the service drops silently, and conversions
    first_bucket: str | None = None
    other_bucket: tuple[str, int] | None = None  # (bucket, line number) of the first line in another bucket
    lines_in_other_buckets: int = 0

    def check(self, line: RawLine) -> Verdict:
        parsed = rules.parse(line.data, line.length)
        if len(parsed) == 3:
            code, message, named = parsed
            return Rejection(line.number, code, message, named)
        doc, ref = parsed
        data = line.data
        conversions: list[ConversionRecord] = []
        findings: list[Finding] = []
        if MULTILABEL_MARKER in data:
            try:
                converted, done = convert(doc)
            except NotConvertible as exc:
                findings.append((rules.UNSUPPORTED_USE_CASE_TYPE, f"multi-label attribute not converted: {exc}"))
                converted, done = doc, []
            if done:
                doc, data = converted, dumps(converted)
                conversions = [ConversionRecord(line.number, ref, c) for c in done]
                too_long = rules.converted_too_long(data)
                if too_long:
                    return Rejection(line.number, rules.LINE_TOO_LONG, too_long, ref)
        too_big = rules.over_chunk_limit(len(data), self.chunk_limit)
        if too_big:
            return Rejection(line.number, rules.LINE_EXCEEDS_CHUNK, too_big, ref)
        labels: frozenset[str] = frozenset()
        usable = True
        if self.label_rules:
            checked = rules.label_check(doc)
            findings += checked.findings
            labels, usable = checked.labels, checked.usable
            findings += rules.source_ref_warnings(ref)
            bucket = rules.bucket_of(ref)
            if self.first_bucket is None:
                self.first_bucket = bucket
            else:
                other = rules.bucket_finding(bucket, self.first_bucket)
                if other:
                    findings.append(other)
                    usable = False
                    if not self.warnings_as_rejections:  # else the line is rejected, not sent
                        self.other_bucket = self.other_bucket or (bucket, line.number)
                        self.lines_in_other_buckets += 1
        if not findings:
            return Accepted(ref, data, bool(conversions), [], conversions, labels, usable)
        if self.warnings_as_rejections:
            message = "; ".join(f"{code}: {text}" for code, text in findings)
            return Rejection(line.number, findings[0][0], f"rejected because warnings are rejections: {message}", ref)
        warnings = [Warning_(line.number, code, text, ref) for code, text in findings]
        flagged = any(rules.level(code) == rules.ERROR for code, _ in findings)
        return Accepted(ref, data, bool(conversions), warnings, conversions, labels, usable, flagged)
