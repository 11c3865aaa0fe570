"""Plan one manifest: classify every line, keep the last line per source-ref, pack chunks.

Two passes over the stream keep memory flat. The first classifies lines (rejected, or
accepted with warnings and conversions) and keeps, per accepted line, 16 bytes (a
64-bit hash of its source-ref and its line number); repeated hashes are found at the
end and confirmed on the lines' real source-refs (a short extra read of those lines
only). The first pass also packs chunks while every line so far is kept as it is; when
that holds to the end and no image repeats (the usual case) the plan is done, else the
second pass re-reads the stream and packs the winners, without checking them again. Every line read is counted exactly once:
blank, rejected, superseded or accepted (a warned or converted line is accepted).
"""

from __future__ import annotations

import gc
import json
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress
from typing import BinaryIO, Protocol

from labelsync.domain import fastcheck, nativecheck
from labelsync.domain.checker import Accepted, ConversionRecord, LineChecker, Warning_
from labelsync.domain.fastcheck import FastChecker
from labelsync.domain.jsonl import dump_lines
from labelsync.domain.lines import BLOCK_SIZE, Batch, RawLine, read_batches
from labelsync.domain.nativecheck import NativeChecker, Scan
from labelsync.domain.packing import ChunkInfo, ChunkPacker
from labelsync.domain.validation import MAX_LINE_BYTES, Rejection

MAX_INVALID_FRACTION = 0.20  # the service fails an import with more invalid lines than this
KEPT_ITEMS = 1000
SPLIT_PARTS = 16  # a block the fast path refuses is retried in this many parts
SPLIT_BELOW = 64
SET_CHECK_BELOW = 500_000  # up to this many accepted lines, a set finds "no repeats" faster than sorting  # blocks with fewer lines go straight to the reference check  # warnings and conversions kept in the plan itself; the side files have all

# The ways to plan, as plan_manifest options: same plans, different speeds (tests and the fuzzer compare them).
ENGINES: dict[str, dict[str, bool]] = {
    "native": {"fast": True, "native": True},  # C scan (nativecheck), reference check for the rest
    "msgspec": {"fast": True, "native": False},  # msgspec batches (fastcheck), reference check for the rest
    "reference": {"fast": False, "native": False},  # the reference check alone
}


def available_engines() -> list[str]:
    """ENGINES whose accelerator is installed here (the reference always is)."""
    missing = {"native": not nativecheck.available(), "msgspec": not fastcheck.available()}
    return [name for name in ENGINES if not missing.get(name, False)]


PLAN_READY = "READY"
PLAN_REJECTED = "REJECTED"

SOURCE_REFS = "source-refs"
WARNINGS = "warnings"
CONVERSIONS = "conversions"


class PlanSink(Protocol):
    def write_chunk(self, index: int, data: bytes) -> str:
        """Store one chunk; return where it went (for the plan)."""
        ...

    def append(self, name: str, data: bytes) -> None:
        """Append JSON lines to one of the side files (SOURCE_REFS, WARNINGS, CONVERSIONS)."""
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
    rejections: list[Rejection] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)  # the first KEPT_ITEMS
    conversions: list[ConversionRecord] = field(default_factory=list)  # the first KEPT_ITEMS
    warning_codes: dict[str, int] = field(default_factory=dict)
    reason: tuple[str, str] | None = None  # (code, message) when the whole manifest is refused


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

    def __init__(
        self,
        sink: PlanSink,
        checker: LineChecker,
        fast: FastChecker | None,
        native: NativeChecker | None,
        plan: ManifestPlan,
        limit: int,
    ) -> None:
        self.sink, self.checker, self.fast, self.native, self.plan = sink, checker, fast, native, plan
        # One hash for every accepted line of a run: the native scan's when it certifies lines.
        self.hash_ref: Callable[[str], int] = native.hash_ref if native is not None else hash
        self.hashes = array("q")
        self.numbers = LineNumbers()
        self.packer: ChunkPacker | None = ChunkPacker(limit, sink)  # None once a line is dropped or changed
        self.skip: set[int] = set()  # blank and rejected lines
        self.converted: set[int] = set()
        self.warned: set[int] = set()  # line numbers; counted once superseded lines are known
        self.codes: Counter[str] = Counter()

    def batch(self, batch: Batch) -> None:
        if self.native is not None and not batch.oversize:
            self._native(batch)
            self.plan.counts.lines_read += batch.count
            return
        self.plan.counts.lines_read += len(batch.lines)
        if self.fast is None or batch.oversize:
            self._slow(batch)
            return
        if self._fast(batch):
            return
        if len(batch.lines) < SPLIT_BELOW:
            self._slow(batch)
            return
        # One bad line should not send its whole block down the slow path: retry in parts.
        step = -(-len(batch.lines) // SPLIT_PARTS)
        for start in range(0, len(batch.lines), step):
            lines = batch.lines[start : start + step]
            part = Batch(batch.first + start, lines, b"\n".join(lines), {})
            if not self._fast(part):
                self._slow(part)

    def _fast(self, batch: Batch) -> bool:
        """Accept and pack the whole batch if the fast path certifies it; False leaves it to `_slow`."""
        assert self.fast is not None
        refs = self.fast.certify(batch)
        if refs is None:
            return False
        self._accept_refs(refs)
        self.numbers.add_run(batch.first, len(refs))
        if self.packer is not None:
            self.packer.add_run(batch.first, batch.lines, batch.raw)
        return True

    def _native(self, batch: Batch) -> None:
        """Clean lines in runs (a few calls per run), the others through the reference check."""
        assert self.native is not None
        start = 0
        if self.checker.label_rules and self.checker.first_bucket is None:
            # The first accepted line sets the bucket every line is held to.
            while start < len(batch.lines) and self.checker.first_bucket is None:
                self._slow(batch, start, start + 1)
                start += 1
            if start == len(batch.lines):
                return
        scan = self.native.scan(batch.buffer, batch.lo, batch.hi)
        batch.count = count = scan.count
        spans = batch.buffer.find(b"\r", batch.lo, batch.hi) < 0  # else lines are not LF-separated spans
        while start < count:
            stop = scan.next_unsure(start)
            if stop > start:
                self._clean_run(batch, scan, start, stop, spans)
            if stop < count:
                self._slow(batch, stop, stop + 1)
            start = stop + 1

    def _clean_run(self, batch: Batch, scan: Scan, lo: int, hi: int, spans: bool) -> None:
        first = batch.first + lo
        self.hashes.extend(scan.hashes[lo:hi])
        self.numbers.add_run(first, hi - lo)
        self.sink.append(SOURCE_REFS, scan.refs_between(lo, hi))
        if self.packer is None:
            return
        if spans:
            self.packer.add_spans(first, batch.buffer, scan.ends, lo, hi, scan.starts[lo])
        else:
            self.packer.add_run(first, batch.lines[lo:hi])

    def _slow(self, batch: Batch, lo: int = 0, hi: int | None = None) -> None:
        counts = self.plan.counts
        learn = self.fast is not None
        accepted_refs: list[str] = []
        accepted_numbers: list[int] = []
        for line in batch.raw_lines(lo, hi):
            if line.blank:
                counts.blank += 1
                self.skip.add(line.number)
                self.packer = None
                continue
            verdict = self.checker.check(line)
            if isinstance(verdict, Rejection):
                self.plan.rejections.append(verdict)
                self.skip.add(line.number)
                self.packer = None
                continue
            if verdict.converted:
                self.packer = None
            elif self.packer is not None:
                self.packer.add(line.number, verdict.data)
            accepted_refs.append(verdict.source_ref)
            accepted_numbers.append(line.number)
            self._record(verdict, line)
            if learn and self.fast is not None and not verdict.warnings and not verdict.converted:
                self.fast.learn(line.data)
                learn = False
        self._accept_refs(accepted_refs)
        self.numbers.extend(accepted_numbers)

    def _record(self, verdict: Accepted, line: RawLine) -> None:
        counts = self.plan.counts
        if verdict.warnings:
            self.warned.add(line.number)
            counts.warnings += len(verdict.warnings)
            self.codes.update(w.code for w in verdict.warnings)
            room = KEPT_ITEMS - len(self.plan.warnings)
            if room > 0:
                self.plan.warnings += verdict.warnings[:room]
            self.sink.append(WARNINGS, dump_lines(w.as_dict() for w in verdict.warnings))
        if verdict.converted:
            self.converted.add(line.number)
            room = KEPT_ITEMS - len(self.plan.conversions)
            if room > 0:
                self.plan.conversions += verdict.conversions[:room]
            self.sink.append(CONVERSIONS, dump_lines(c.as_dict() for c in verdict.conversions))

    def _accept_refs(self, refs: list[str]) -> None:
        """Hashes and side-file lines of accepted lines (their numbers go to `self.numbers`, in the same order)."""
        if not refs:
            return
        self.hashes.extend(map(self.hash_ref, refs))
        self.sink.append(SOURCE_REFS, encode_refs(refs))


def encode_refs(refs: list[str]) -> bytes:
    """One JSON string per line (the same bytes with or without msgspec)."""
    if fastcheck.msgspec is None:
        return dump_lines(refs)
    return b"\n".join(map(fastcheck.msgspec.json.encode, refs)) + b"\n"


def _repeats(state: _Pass1) -> list[list[int]]:
    """Line numbers of the accepted lines whose source-ref hash repeats, grouped by hash, in order."""
    hashes = state.hashes
    if len(hashes) < 2:
        return []
    if state.native is not None and nativecheck.all_different(hashes):
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
    fast: bool = True,
    native: bool = True,
    block_size: int = BLOCK_SIZE,
) -> ManifestPlan:
    """Classify and pack; `open_stream` is called once per pass and must return the same bytes.

    `label_rules=False` checks only what the service drops silently (and converts multi-label
    lines). `fast=False` uses the reference check alone; `native=False` skips the C scan
    (`nativecheck`) for the msgspec fast path. Same results every way, only slower.
    """
    enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: the collector only costs time here
    try:
        return _plan(open_stream, chunk_limit, sink, warnings_as_rejections, label_rules, fast, native, block_size)
    finally:
        if enabled:
            gc.enable()


def _plan(
    open_stream: Callable[[], BinaryIO],
    chunk_limit: int,
    sink: PlanSink,
    warnings_as_rejections: bool,
    label_rules: bool,
    fast: bool,
    native: bool,
    block_size: int,
) -> ManifestPlan:
    counts = PlanCounts()
    plan = ManifestPlan(PLAN_READY, counts)
    checker = LineChecker(chunk_limit, warnings_as_rejections=warnings_as_rejections, label_rules=label_rules)
    native_checker = NativeChecker.create(checker) if fast and native else None
    fast_checker = FastChecker.create(checker) if fast and native_checker is None else None
    state = _Pass1(sink, checker, fast_checker, native_checker, plan, chunk_limit)
    with open_stream() as stream:
        for batch in read_batches(stream, max_bytes=MAX_LINE_BYTES, block_size=block_size):
            state.batch(batch)

    groups = _repeats(state)
    plan.superseded = _superseded(open_stream, groups) if groups else []
    counts.rejected = len(plan.rejections)
    counts.superseded = len(plan.superseded)
    counts.accepted = len(state.hashes) - len(plan.superseded)
    plan.warning_codes = dict(sorted(state.codes.items()))
    skip = state.skip
    superseded_lines = {s.line for s in plan.superseded}
    skip.update(superseded_lines)
    # Warned and converted count accepted lines only: a superseded line is not sent.
    counts.warned = len(state.warned - superseded_lines)
    counts.converted = len(state.converted - superseded_lines)
    del state.hashes, state.numbers, groups

    non_blank = counts.lines_read - counts.blank
    if non_blank == 0:
        plan.status, plan.reason = PLAN_REJECTED, ("ERROR_EMPTY_MANIFEST", "the manifest has no lines")
        return plan
    if counts.rejected > MAX_INVALID_FRACTION * non_blank:
        plan.status = PLAN_REJECTED
        plan.reason = (
            "ERROR_TOO_MANY_RECORDS_IN_ERROR",
            f"{counts.rejected:,} of {non_blank:,} lines are invalid (over {MAX_INVALID_FRACTION:.0%}); "
            "the service would fail the whole update, so nothing was sent",
        )
        return plan

    if state.packer is not None and not plan.superseded:  # every line kept as it is: packed already
        plan.chunks = state.packer.finish()
        counts.chunks = len(plan.chunks)
        counts.bytes_accepted = sum(chunk.bytes for chunk in plan.chunks)
        return plan
    state.packer = None
    packer = ChunkPacker(chunk_limit, sink)
    converter = LineChecker(chunk_limit, label_rules=False)
    packed = 0
    with open_stream() as stream:
        for batch in read_batches(stream, max_bytes=MAX_LINE_BYTES, block_size=block_size):
            last = batch.first + batch.count
            if (
                not batch.oversize
                and skip.isdisjoint(range(batch.first, last))
                and (not state.converted or state.converted.isdisjoint(range(batch.first, last)))
            ):
                packer.add_run(batch.first, batch.lines, batch.raw)
                packed += len(batch.lines)
                continue
            for line in batch.raw_lines():
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
        for batch in read_batches(stream, max_bytes=MAX_LINE_BYTES):
            if numbers.isdisjoint(range(batch.first, batch.first + batch.count)):
                continue
            for line in batch.raw_lines():
                if line.number in numbers:
                    found[line.number] = str(json.loads(line.data)["source-ref"])
    return found
