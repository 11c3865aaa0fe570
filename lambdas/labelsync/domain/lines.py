"""Numbered lines from a byte stream, in constant memory.

A line longer than `max_bytes` is not kept (only its length), so a manifest with no
newline at all cannot exhaust the function's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

BOM = b"\xef\xbb\xbf"
BLOCK_SIZE = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class OverBudget(Exception):
    """More bytes came out of a stream than its budget allows."""

    def __init__(self, size: int) -> None:
        super().__init__(f"over {size:,} bytes read")
        self.size = size


class BudgetReader:
    """Reads a stream and raises OverBudget as soon as more than `budget` bytes came out of it:
    a gzip that expands without end is stopped at the budget, not read to its end."""

    def __init__(self, stream: Readable, budget: int) -> None:
        self.stream, self.budget, self.size = stream, budget, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.stream.read(size)
        self.size += len(data)
        if self.size > self.budget:
            raise OverBudget(self.size)
        return data


@dataclass(slots=True)
class RawLine:
    number: int  # 1-based, counting every line of the file, blank ones included
    data: bytes  # without the line end; empty when oversize
    length: int  # bytes in the line as read (without the line end)

    @property
    def oversize(self) -> bool:
        return self.length != len(self.data)

    @property
    def blank(self) -> bool:
        return self.length == 0 or (not self.oversize and not self.data.strip())


@dataclass(slots=True)
class Batch:
    """Consecutive lines read in one block, numbered from `first`."""

    first: int
    lines: list[bytes]  # without line ends (CR stripped); b"" for an oversize line
    oversize: dict[int, int]  # index in `lines` -> length of an oversize line

    @property
    def count(self) -> int:
        return len(self.lines)

    def raw_lines(self) -> Iterator[RawLine]:
        lines, oversize = self.lines, self.oversize
        for index, data in enumerate(lines):
            length = oversize.get(index)
            yield RawLine(self.first + index, data, len(data) if length is None else length)


def read_batches(stream: Readable, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[Batch]:
    """The same lines as `read_lines`, numbered the same way, a block at a time."""
    number = 1
    pending = b""
    dropped = 0  # > 0 while skipping the rest of an oversize line
    dropped_cr = False  # the last byte skipped is a CR (not counted if an LF follows, or at the end)
    first = True
    while True:
        block = stream.read(block_size)
        if not block:
            break
        if first:
            first = False
            if len(block) < len(BOM) and BOM.startswith(block):
                block += stream.read(len(BOM))
            block = block.removeprefix(BOM)
            if not block:
                continue
        end = block.rfind(b"\n")
        if dropped:
            if end < 0:
                dropped += len(block)
                dropped_cr = block.endswith(b"\r")
                continue
            head = block.find(b"\n")
            cr = block[head - 1] == 13 if head else dropped_cr  # a CR before the LF is no part of the line
            yield _oversize(number, dropped + head - cr)
            number += 1
            dropped = 0
            block = block[head + 1 :]
            end -= head + 1
            if end < 0:
                pending = block
                if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
                    dropped, dropped_cr, pending = len(pending), pending.endswith(b"\r"), b""
                continue
        if end < 0:
            pending += block
            if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
                dropped, dropped_cr, pending = len(pending), pending.endswith(b"\r"), b""
            continue
        start = 0
        if pending:  # the line across the blocks: a batch of its own
            start = block.find(b"\n") + 1
            bridge = _batch(number, pending + block[: start - 1], max_bytes)
            yield bridge
            number += bridge.count
        pending = block[end + 1 :]
        if start <= end:
            batch = _batch(number, block, max_bytes, start, end)
            yield batch
            number += batch.count
        if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
            dropped, dropped_cr, pending = len(pending), pending.endswith(b"\r"), b""
    if dropped:
        yield _oversize(number, dropped - dropped_cr)
    elif pending:
        yield _batch(number, pending, max_bytes)


def _oversize(number: int, length: int) -> Batch:
    return Batch(number, [b""], {0: length})


def split_lines(data: bytes) -> list[bytes]:
    """The one way this project splits lines: on LF, one CR before it dropped (CRLF files).

    A CR anywhere else is part of the line (JSON whitespace), so never `bytes.splitlines()`,
    which also splits on a lone CR. A final LF ends the last line; it starts no empty one.
    """
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if b"\r" in data:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return lines


def _batch(number: int, buffer: bytes, max_bytes: int, lo: int = 0, hi: int | None = None) -> Batch:
    """The lines of buffer[lo:hi]: LF-separated, the last one without its LF."""
    lines = split_lines(buffer[lo:hi] + b"\n")
    oversize: dict[int, int] = {}
    if max(map(len, lines)) > max_bytes:
        for index, line in enumerate(lines):
            if len(line) > max_bytes:
                oversize[index] = len(line)
                lines[index] = b""
    return Batch(number, lines, oversize)


def read_lines(stream: Readable, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[RawLine]:
    """One line at a time (for callers that do not need blocks)."""
    for batch in read_batches(stream, max_bytes=max_bytes, block_size=block_size):
        yield from batch.raw_lines()
