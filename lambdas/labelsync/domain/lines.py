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


class Batch:
    """Consecutive complete lines read in one block: the fast paths work on these, not line by line.

    The lines are buffer[lo:hi], the block as read: nothing is copied for the native scan,
    which reads the buffer itself. `raw` (that span as bytes) and `lines` (split) are made
    only when asked for.
    """

    __slots__ = ("_count", "_lines", "_raw", "buffer", "first", "hi", "lo", "oversize")

    def __init__(
        self,
        first: int,
        lines: list[bytes] | None,
        raw: bytes,
        oversize: dict[int, int],
        lo: int = 0,
        hi: int | None = None,
    ) -> None:
        self.first = first  # number of lines[0]
        self.buffer = raw  # the lines are buffer[lo:hi] (joined by LF, CRs kept); b"" with an oversize line
        self.lo = lo
        self.hi = len(raw) if hi is None else hi
        self.oversize = oversize  # index in `lines` -> length of an oversize line
        self._lines = lines
        self._count = None if lines is None else len(lines)
        self._raw: bytes | None = raw if lo == 0 and self.hi == len(raw) else None

    @property
    def raw(self) -> bytes:
        """The lines joined by LF (CRs kept), as bytes."""
        if self._raw is None:
            self._raw = self.buffer[self.lo : self.hi]
        return self._raw

    @property
    def lines(self) -> list[bytes]:
        """Without line ends (CR stripped); b"" for an oversize line."""
        if self._lines is None:
            self._lines = _split(self.raw)
        return self._lines

    @property
    def count(self) -> int:
        """Lines in the batch (a reader that found them all sets it, so nobody counts twice)."""
        if self._count is None:
            self._count = self.buffer.count(b"\n", self.lo, self.hi) + 1
        return self._count

    @count.setter
    def count(self, value: int) -> None:
        self._count = value

    def raw_lines(self, lo: int = 0, hi: int | None = None) -> Iterator[RawLine]:
        """Lines lo..hi-1 (all by default)."""
        lines, oversize = self.lines, self.oversize
        for index in range(lo, len(lines) if hi is None else hi):
            data = lines[index]
            length = oversize.get(index)
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
        start = 0
        if pending:  # the line across the blocks: a batch of its own, so the block is not copied
            start = block.find(b"\n") + 1
            bridge = _batch(number, pending + block[: start - 1], max_bytes)
            yield bridge
            number += bridge.count
        pending = block[end + 1 :]
        if start <= end:
            batch = _batch(number, block, max_bytes, start, end)
            yield batch
            number += batch.count  # after the consumer: its scan may have counted the lines already
        if len(pending) > max_bytes + 1:  # one more: a CR before the LF is not counted
            dropped, pending = len(pending), b""
    if dropped:
        yield _oversize(number, dropped - (1 if pending.endswith(b"\r") else 0))
    elif pending:
        yield _batch(number, pending, max_bytes)


def _oversize(number: int, length: int) -> Batch:
    return Batch(number, [b""], b"", {0: length})


def _split(whole: bytes) -> list[bytes]:
    lines = whole.split(b"\n")
    if b"\r" in whole:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return lines


def _no_line_over(buffer: bytes, lo: int, hi: int, max_bytes: int) -> bool:
    """True when no line of buffer[lo:hi] can be over max_bytes, without splitting: a line of
    2w - 1 bytes or more covers a whole aligned window of w bytes, so an LF in every window rules it out."""
    window = max_bytes // 2
    if window < 1:
        return hi - lo <= max_bytes
    return all(buffer.find(b"\n", start, start + window) >= 0 for start in range(lo, hi - window + 1, window))


def _batch(number: int, buffer: bytes, max_bytes: int, lo: int = 0, hi: int | None = None) -> Batch:
    hi = len(buffer) if hi is None else hi
    if _no_line_over(buffer, lo, hi, max_bytes):
        return Batch(number, None, buffer, {}, lo, hi)
    whole = buffer[lo:hi]
    lines = _split(whole)
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
