"""Plan one manifest: classify every line, keep the last line per source-ref, pack chunks.

Two passes over the stream keep memory flat: the first classifies lines and learns
which line wins for each source-ref; the second packs the winners in manifest order.
Every line read ends up counted exactly once: blank, rejected, superseded or accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from labelsync.domain.lines import read_lines
from labelsync.domain.packing import ChunkInfo, ChunkPacker, ChunkSink
from labelsync.domain.validation import MAX_LINE_BYTES, Rejection, check_line

MAX_INVALID_FRACTION = 0.20  # the service fails an import with more invalid lines than this

PLAN_READY = "READY"
PLAN_REJECTED = "REJECTED"


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

    def as_dict(self) -> dict[str, int]:
        return {
            "linesRead": self.lines_read,
            "blank": self.blank,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "superseded": self.superseded,
            "chunks": self.chunks,
            "bytesAccepted": self.bytes_accepted,
        }


@dataclass
class ManifestPlan:
    status: str
    counts: PlanCounts
    chunks: list[ChunkInfo] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)
    source_refs: list[str] = field(default_factory=list)
    reason: tuple[str, str] | None = None  # (code, message) when the whole manifest is refused


def plan_manifest(open_stream: Callable[[], BinaryIO], *, chunk_limit: int, sink: ChunkSink) -> ManifestPlan:
    """Classify and pack; `open_stream` is called once per pass and must return the same bytes."""
    counts = PlanCounts()
    rejections: list[Rejection] = []
    superseded: list[Superseded] = []
    winner: dict[str, int] = {}  # source-ref -> line number of its last valid line

    with open_stream() as stream:
        for line in read_lines(stream, max_bytes=MAX_LINE_BYTES):
            counts.lines_read += 1
            if line.blank:
                counts.blank += 1
                continue
            verdict = check_line(line, chunk_limit=chunk_limit)
            if isinstance(verdict, Rejection):
                rejections.append(verdict)
                continue
            previous = winner.get(verdict)
            if previous is not None:
                superseded.append(Superseded(previous, verdict, line.number))
            winner[verdict] = line.number

    counts.rejected = len(rejections)
    counts.superseded = len(superseded)
    counts.accepted = len(winner)
    plan = ManifestPlan(PLAN_READY, counts, rejections=rejections, superseded=superseded)

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

    keep = {number: ref for ref, number in winner.items()}
    del winner
    packer = ChunkPacker(chunk_limit, sink)
    with open_stream() as stream:
        for line in read_lines(stream, max_bytes=MAX_LINE_BYTES):
            ref = keep.get(line.number)
            if ref is not None:
                packer.add(line.number, line.data)
                plan.source_refs.append(ref)
                counts.bytes_accepted += len(line.data) + 1
    plan.chunks = packer.finish()
    counts.chunks = len(plan.chunks)
    if len(plan.source_refs) != counts.accepted:
        raise RuntimeError(
            f"the manifest changed between passes: {counts.accepted} lines classified, {len(plan.source_refs)} packed"
        )
    return plan
