"""Plan one manifest: classify every line, keep the last line per source-ref, pack chunks.

Two passes over the stream keep memory flat. The first classifies lines (rejected, or
accepted with warnings and conversions) and keeps, per accepted line, 16 bytes (a
64-bit hash of its source-ref and its line number); repeated hashes are found at the
end and confirmed on the lines' real source-refs (a short extra read of those lines
only). The first pass also packs chunks while every line so far is kept as it is; when
that holds to the end and no image repeats (the usual case) the plan is done, else the
second pass re-reads the stream and packs the winners, without checking them again.
Every line read is counted exactly once: blank, rejected, superseded or accepted (a
warned or converted line is accepted). Whether a line is sent is the rulebook's call
(`rules`, applied by `checker.Checker`), never this module's.
"""

from __future__ import annotations

import gc
import json
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import compress
from typing import BinaryIO, Protocol, TypeVar

from labelsync.domain import rules
from labelsync.domain.checker import Accepted, Checker, ConversionRecord, Rejection, Warning_
from labelsync.domain.jsonl import dump_lines, dump_strings
from labelsync.domain.lines import BLOCK_SIZE, Batch, BudgetReader, OverBudget, RawLine, read_batches, read_lines
from labelsync.domain.packing import ChunkInfo, ChunkPacker

Finding = TypeVar("Finding", Rejection, Warning_)
KEPT_ITEMS = 1000  # warnings and conversions kept in the plan itself; the side files have all
KEPT_LABELS = 10_000  # distinct label names counted exactly; past this the plan says "over"
SET_CHECK_BELOW = 500_000  # up to this many accepted lines, a set finds "no repeats" faster than sorting

PLAN_READY = "READY"
PLAN_REJECTED = "REJECTED"

SOURCE_REFS = "source-refs"
WARNINGS = "warnings"
CONVERSIONS = "conversions"
REJECTS = "rejects"


class PlanSink(Protocol):
    def write_chunk(self, index: int, data: bytes) -> str:
        """Store one chunk; return where it went (for the plan)."""
        ...

    def append(self, name: str, data: bytes) -> None:
        """Append JSON lines to one of the side files (SOURCE_REFS, WARNINGS, CONVERSIONS, REJECTS)."""
        ...


@dataclass(frozen=True, slots=True)
class Superseded:
    line: int
    source_ref: str
    by_line: int

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "sourceRef": self.source_ref, "supersededBy": self.by_line}


@dataclass
class PlanCounts:
    lines_read: int = 0
    blank: int = 0
    accepted: int = 0
    rejected: int = 0
    superseded: int = 0
    chunks: int = 0
    bytes_accepted: int = 0
    warned: int = 0  # accepted lines with at least one warning
    warnings: int = 0  # warning items
    converted: int = 0  # accepted lines with a multi-label conversion

    def as_dict(self) -> dict[str, int]:
        return {
            "linesRead": self.lines_read,
            "blank": self.blank,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "superseded": self.superseded,
            "chunks": self.chunks,
            "bytesAccepted": self.bytes_accepted,
            "warned": self.warned,
            "warnings": self.warnings,
            "converted": self.converted,
        }


@dataclass
class ManifestPlan:
    status: str
    counts: PlanCounts
    chunks: list[ChunkInfo] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)  # the first KEPT_ITEMS; REJECTS has all
    superseded: list[Superseded] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)  # the first KEPT_ITEMS
    conversions: list[ConversionRecord] = field(default_factory=list)  # the first KEPT_ITEMS
    warning_codes: dict[str, int] = field(default_factory=dict)
    reason: tuple[str, str] | None = None  # (code, message) when the whole manifest is refused
    readiness: Readiness | None = None  # None without label rules
    labels: list[str] | None = None  # the distinct label names of the lines sent; None past KEPT_LABELS


# Status of an accepted line with findings (a line without any is usable).
_USABLE, _USABLE_FLAGGED, _UNUSABLE_FLAGGED, _IGNORED = 1, 2, 3, 4


@dataclass(frozen=True)
class Readiness:
    """Whether the lines sent can train a model: counts of accepted lines, and the verdict."""

    sent: int
    usable: int
    flagged: int  # with an error-level finding (some are still usable)
    ignored: int  # warnings only: kept, left out of training
    rejected: int
    verdict: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "sent": self.sent,
            "usable": self.usable,
            "flagged": self.flagged,
            "ignored": self.ignored,
            "rejected": self.rejected,
        }


def assess(sent: int, statuses: Iterable[int], rejected: int) -> Readiness:
    """The readiness of `sent` accepted lines, from the statuses of those with findings."""
    counted = Counter(statuses)
    flagged = counted[_USABLE_FLAGGED] + counted[_UNUSABLE_FLAGGED]
    ignored = counted[_IGNORED]
    usable = sent - counted[_UNUSABLE_FLAGGED] - ignored
    verdict, reason = rules.readiness(sent=sent, usable=usable, flagged=flagged, ignored=ignored, rejected=rejected)
    return Readiness(sent, usable, flagged, ignored, rejected, verdict, reason)


class LineNumbers:
    """The line numbers of the accepted lines, in order, as runs: consecutive lines take one entry."""

    def __init__(self) -> None:
        self.starts = array("q")  # position (in accepted order) where each run begins
        self.firsts = array("q")  # the line number there
        self.count = 0

    def add_run(self, first: int, count: int) -> None:
        if count <= 0:
            return
        if not (self.starts and self.firsts[-1] + self.count - self.starts[-1] == first):
            self.starts.append(self.count)
            self.firsts.append(first)
        self.count += count

    def extend(self, numbers: Iterable[int]) -> None:
        for number in numbers:
            self.add_run(number, 1)

    def __getitem__(self, position: int) -> int:
        run = bisect_right(self.starts, position) - 1
        return self.firsts[run] + position - self.starts[run]


class _Pass1:
    """State of the classifying pass."""

    def __init__(self, sink: PlanSink, checker: Checker, plan: ManifestPlan, limit: int) -> None:
        self.sink, self.checker, self.plan = sink, checker, plan
        self.hashes = array("q")
        self.numbers = LineNumbers()
        self.packer: ChunkPacker | None = ChunkPacker(limit, sink)  # None once a line is dropped or changed
        self.skip: set[int] = set()  # blank and rejected lines
        self.converted: set[int] = set()
        self.warned: dict[int, int] = {}  # line number -> status; counted once superseded lines are known
        self.codes: Counter[str] = Counter()
        self.labels: set[str] | None = set() if checker.label_rules else None  # None: over KEPT_LABELS

    def batch(self, batch: Batch) -> None:
        counts = self.plan.counts
        counts.lines_read += batch.count
        check = self.checker.check
        rejected: list[Rejection] = []
        refs: list[str] = []
        numbers: list[int] = []
        for line in batch.raw_lines():
            if line.blank:
                counts.blank += 1
                self.skip.add(line.number)
                self.packer = None
                continue
            verdict = check(line)
            if type(verdict) is Rejection:
                rejected.append(verdict)
                self.skip.add(line.number)
                self.packer = None
                continue
            assert type(verdict) is Accepted
            if verdict.converted:
                self.packer = None
            elif self.packer is not None:
                self.packer.add(line.number, verdict.data)
            refs.append(verdict.source_ref)
            numbers.append(line.number)
            if verdict.labels and self.labels is not None:
                self.labels |= verdict.labels
                if len(self.labels) > KEPT_LABELS:
                    self.labels = None
            if verdict.warnings or verdict.converted:
                self._record(verdict, line)
        if refs:
            self.hashes.extend(map(hash, refs))
            self.numbers.extend(numbers)
            self.sink.append(SOURCE_REFS, dump_strings(refs))  # accepted refs are valid Unicode
        if rejected:  # all to the side file; in memory, a count and the first KEPT_ITEMS
            counts.rejected += len(rejected)
            room = KEPT_ITEMS - len(self.plan.rejections)
            if room > 0:
                self.plan.rejections += [_sampled(r) for r in rejected[:room]]
            self.sink.append(REJECTS, dump_lines(r.as_dict() for r in rejected))

    def _record(self, verdict: Accepted, line: RawLine) -> None:
        counts = self.plan.counts
        if verdict.warnings:
            if verdict.usable:
                status = _USABLE_FLAGGED if verdict.flagged else _USABLE
            else:
                status = _UNUSABLE_FLAGGED if verdict.flagged else _IGNORED
            self.warned[line.number] = status
            counts.warnings += len(verdict.warnings)
            self.codes.update(w.code for w in verdict.warnings)
            room = KEPT_ITEMS - len(self.plan.warnings)
            if room > 0:
                self.plan.warnings += [_sampled(w) for w in verdict.warnings[:room]]
            self.sink.append(WARNINGS, dump_lines(w.as_dict() for w in verdict.warnings))
        if verdict.converted:
            self.converted.add(line.number)
            room = KEPT_ITEMS - len(self.plan.conversions)
            if room > 0:
                self.plan.conversions += verdict.conversions[:room]
            self.sink.append(CONVERSIONS, dump_lines(c.as_dict() for c in verdict.conversions))


def _sampled(item: Finding) -> Finding:
    """The item as the plan keeps it in memory: its source-ref bounded (the side file has it whole)."""
    ref = item.source_ref
    if ref is None or len(ref) <= rules.MAX_SAMPLE_REF_CHARS:
        return item
    return replace(item, source_ref=rules.sample_ref(ref))


def _repeats(state: _Pass1) -> list[list[int]]:
    """Line numbers of the accepted lines whose source-ref hash repeats, grouped by hash, in order."""
    hashes = state.hashes
    if len(hashes) < 2:
        return []
    if len(hashes) <= SET_CHECK_BELOW and len(set(hashes)) == len(hashes):
        return []
    ordered = sorted(hashes)  # less memory than a set for millions of lines
    repeated = set(compress(ordered[1:], map(int.__eq__, ordered[1:], ordered)))
    del ordered
    groups: dict[int, list[int]] = {}
    for position in compress(range(len(hashes)), map(repeated.__contains__, hashes)):
        groups.setdefault(hashes[position], []).append(state.numbers[position])
    return list(groups.values())


def _superseded(open_stream: Callable[[], BinaryIO], groups: list[list[int]]) -> list[Superseded]:
    """Confirm repeats on the real source-refs (a hash can collide): every line but the last of a ref."""
    refs = _refs_at(open_stream, {number for group in groups for number in group})
    found = []
    for group in groups:
        by_ref: dict[str, list[int]] = {}
        for number in group:
            by_ref.setdefault(refs[number], []).append(number)
        for ref, numbers in by_ref.items():
            found += [Superseded(number, ref, numbers[-1]) for number in numbers[:-1]]
    found.sort(key=lambda s: s.line)
    return found


def plan_manifest(
    open_stream: Callable[[], BinaryIO],
    *,
    chunk_limit: int,
    sink: PlanSink,
    warnings_as_rejections: bool = False,
    label_rules: bool = True,
    refuse_unusable: bool = False,
    block_size: int = BLOCK_SIZE,
) -> ManifestPlan:
    """Classify and pack; `open_stream` is called once per pass and must return the same bytes.

    `label_rules=False` checks only what the service drops silently (and converts multi-label lines).
    `refuse_unusable` refuses a manifest whose lines could not train a model (verdict UNUSABLE).
    """
    enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: the collector only costs time here
    try:
        return _plan(open_stream, chunk_limit, sink, warnings_as_rejections, label_rules, refuse_unusable, block_size)
    finally:
        if enabled:
            gc.enable()


def _plan(
    open_stream: Callable[[], BinaryIO],
    chunk_limit: int,
    sink: PlanSink,
    warnings_as_rejections: bool,
    label_rules: bool,
    refuse_unusable: bool,
    block_size: int,
) -> ManifestPlan:
    counts = PlanCounts()
    plan = ManifestPlan(PLAN_READY, counts)
    checker = Checker(chunk_limit, warnings_as_rejections=warnings_as_rejections, label_rules=label_rules)
    state = _Pass1(sink, checker, plan, chunk_limit)
    over = None
    with open_stream() as stream:
        reader = BudgetReader(stream, rules.MAX_MANIFEST_BYTES)
        try:
            for batch in read_batches(reader, max_bytes=rules.MAX_LINE_BYTES, block_size=block_size):
                over = rules.manifest_over_limit(counts.lines_read + batch.count, reader.size)
                if over:
                    break
                state.batch(batch)
        except OverBudget as exc:
            over = rules.manifest_over_limit(counts.lines_read, exc.size)
    if over:  # refused as soon as a limit is crossed: the counts are of the lines read until then
        plan.status, plan.reason = PLAN_REJECTED, over
        counts.accepted = len(state.hashes)
        counts.warned, counts.converted = len(state.warned), len(state.converted)
        return plan

    groups = _repeats(state)
    plan.superseded = _superseded(open_stream, groups) if groups else []
    counts.superseded = len(plan.superseded)
    counts.accepted = len(state.hashes) - len(plan.superseded)
    plan.warning_codes = dict(sorted(state.codes.items()))
    skip = state.skip
    superseded_lines = {s.line for s in plan.superseded}
    skip.update(superseded_lines)
    # Warned and converted count accepted lines only: a superseded line is not sent.
    for number in superseded_lines:
        state.warned.pop(number, None)
    counts.warned = len(state.warned)
    counts.converted = len(state.converted - superseded_lines)
    del state.hashes, state.numbers, groups
    if label_rules:
        plan.readiness = assess(counts.accepted, state.warned.values(), counts.rejected)
        plan.labels = sorted(state.labels) if state.labels is not None else None

    refusal = rules.manifest_refusal(counts.lines_read - counts.blank, counts.rejected)
    if refusal is None and label_rules:
        if plan.labels is None:
            refusal = rules.label_limit_finding(KEPT_LABELS + 1, at_least=True)
        else:
            refusal = rules.label_limit_finding(len(plan.labels))
    if refusal is None and checker.other_bucket and checker.first_bucket is not None:
        refusal = rules.buckets_refusal(checker.first_bucket, checker.other_bucket, checker.lines_in_other_buckets)
    if refusal is None and refuse_unusable and plan.readiness and plan.readiness.verdict == rules.UNUSABLE:
        refusal = rules.UNUSABLE_MANIFEST, f"{plan.readiness.reason}; refused because refuseUnusable is set"
    if refusal:
        plan.status, plan.reason = PLAN_REJECTED, refusal
        return plan

    if state.packer is not None and not plan.superseded:  # every line kept as it is: packed already
        plan.chunks = state.packer.finish()
        counts.chunks = len(plan.chunks)
        counts.bytes_accepted = sum(chunk.bytes for chunk in plan.chunks)
        return plan
    state.packer = None
    packer = ChunkPacker(chunk_limit, sink)
    converter = Checker(chunk_limit, label_rules=False)
    packed = 0
    with open_stream() as stream:
        for line in read_lines(stream, max_bytes=rules.MAX_LINE_BYTES, block_size=block_size):
            if line.number in skip:
                continue
            data = line.data
            if line.number in state.converted:
                verdict = converter.check(line)
                if not isinstance(verdict, Accepted):  # pragma: no cover - the first pass accepted it
                    raise RuntimeError(f"line {line.number} changed between passes")
                data = verdict.data
            packer.add(line.number, data)
            packed += 1
    plan.chunks = packer.finish()
    counts.chunks = len(plan.chunks)
    counts.bytes_accepted = sum(chunk.bytes for chunk in plan.chunks)
    if packed != counts.accepted:
        raise RuntimeError(f"the manifest changed between passes: {counts.accepted} lines classified, {packed} packed")
    return plan


def _refs_at(open_stream: Callable[[], BinaryIO], numbers: set[int]) -> dict[int, str]:
    """Source-refs of a few lines (the superseded ones), by number: a third, cheap pass."""
    found: dict[int, str] = {}
    with open_stream() as stream:
        for line in read_lines(stream, max_bytes=rules.MAX_LINE_BYTES):
            if line.number in numbers:
                found[line.number] = str(json.loads(line.data)["source-ref"])
    return found
