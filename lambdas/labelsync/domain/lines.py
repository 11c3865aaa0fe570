"""Numbered lines from a byte stream, in constant memory.

A line longer than `max_bytes` is not kept (only its length), so a manifest with no
newline at all cannot exhaust the function's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"
BLOCK_SIZE = 1 << 20


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
    """Consecutive complete lines read in one block: the fast path works on these, not line by line."""

    first: int  # number of lines[0]
    lines: list[bytes]  # without line ends (CR stripped); b"" for an oversize line
    raw: bytes  # the block as read (lines joined by LF, CRs kept); b"" when it holds an oversize line
    oversize: dict[int, int]  # index in `lines` -> length of an oversize line

    def raw_lines(self) -> Iterator[RawLine]:
        for index, data in enumerate(self.lines):
            length = self.oversize.get(index)
            yield RawLine(self.first + index, data, len(data) if length is None else length)


def read_batches(stream: BinaryIO, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[Batch]:
    """The same lines as `read_lines`, numbered the same way, a block at a time."""
    number = 1
    pending = b""
    dropped = 0  # > 0 while skipping the rest of an oversize line
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
                continue
            head = block.find(b"\n")
            yield _oversize(number, dropped + head)
            number += 1
            dropped = 0
            block = block[head + 1 :]
            end -= head + 1
            if end < 0:
                pending = block
                if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
                    dropped, pending = len(pending), b""
                continue
        if end < 0:
            pending += block
            if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
                dropped, pending = len(pending), b""
            continue
        whole = pending + block[:end] if pending else block[:end]
        pending = block[end + 1 :]
        batch = _batch(number, whole, max_bytes)
        number += len(batch.lines)
        yield batch
        if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
            dropped, pending = len(pending), b""
    if dropped:
        yield _oversize(number, dropped - (1 if pending.endswith(b"\r") else 0))
    elif pending:
        yield _batch(number, pending, max_bytes)


def _oversize(number: int, length: int) -> Batch:
    return Batch(number, [b""], b"", {0: length})


def _batch(number: int, whole: bytes, max_bytes: int) -> Batch:
    lines = whole.split(b"\n")
    if b"\r" in whole:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    oversize: dict[int, int] = {}
    if max(map(len, lines)) > max_bytes:
        for index, line in enumerate(lines):
            if len(line) > max_bytes:
                oversize[index] = len(line)
                lines[index] = b""
        whole = b""
    return Batch(number, lines, whole, oversize)


def read_lines(stream: BinaryIO, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[RawLine]:
    """One line at a time (for callers that do not need blocks)."""
    for batch in read_batches(stream, max_bytes=max_bytes, block_size=block_size):
        yield from batch.raw_lines()
