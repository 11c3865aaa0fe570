"""Greedy packing of accepted lines into chunks strictly under the byte limit, in order.

Greedy is optimal here: lines must stay in order, so closing a chunk only when the
next line does not fit gives the fewest chunks. Only the open chunk is in memory.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add
from typing import Protocol


class ChunkSink(Protocol):
    """Where chunks go. A sink may also have `write_chunk_pieces(index, pieces) -> str`, storing a
    chunk given as consecutive pieces (a local file can; S3 needs one body): the packer then uses it."""

    def write_chunk(self, index: int, data: bytes) -> str:
        """Store one chunk; return where it went (for the plan)."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    index: int
    location: str
    lines: int
    bytes: int
    first_line: int
    last_line: int

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "key": self.location,
            "lines": self.lines,
            "bytes": self.bytes,
            "firstLine": self.first_line,
            "lastLine": self.last_line,
        }


class ChunkPacker:
    """Greedy packer; pieces of a chunk are kept as slices until the chunk is written (one copy)."""

    def __init__(self, limit: int, sink: ChunkSink) -> None:
        if limit < 2:
            raise ValueError("chunk limit must be at least 2 bytes")
        self._limit = limit
        self._sink = sink
        # Pieces go to a sink that takes them as they are: no join, one copy fewer per chunk.
        self._write_pieces: Callable[[int, Sequence[bytes | memoryview]], str] | None = getattr(
            sink, "write_chunk_pieces", None
        )
        self._parts: list[bytes | memoryview] = []
        self._size = 0
        self._lines = 0
        self._first = 0
        self._last = 0
        self.chunks: list[ChunkInfo] = []

    def add(self, number: int, data: bytes) -> None:
        """Append one line (without its newline); each chunk stays strictly under the limit."""
        size = len(data) + 1
        if size >= self._limit:
            raise ValueError(f"line {number} ({len(data)} bytes) cannot fit under the {self._limit}-byte limit")
        if self._size + size >= self._limit:
            self._flush()
        if not self._lines:
            self._first = number
        self._parts += (data, b"\n")
        self._size += size
        self._lines += 1
        self._last = number

    def add_run(self, first: int, lines: list[bytes], raw: bytes | None = None) -> None:
        """Append consecutive lines numbered from `first`: the same chunks as `add` one by one, cut in C.

        `raw`, when given, is `lines` joined by LF: chunk pieces are then slices of it, not copies.
        """
        if not lines:
            return
        if max(map(len, lines)) + 1 >= self._limit:
            for offset, data in enumerate(lines):
                self.add(first + offset, data)
            return
        ends = list(accumulate(map(add, map(len, lines), repeat(1))))  # bytes up to and including line i's LF
        view = memoryview(raw) if raw is not None and len(raw) == ends[-1] - 1 else None
        start = 0
        while start < len(lines):
            before = ends[start - 1] if start else 0
            room = self._limit - 1 - self._size  # the chunk must stay strictly under the limit
            stop = bisect_right(ends, before + room, lo=start)
            if stop == start:
                self._flush()
                continue
            if not self._lines:
                self._first = first + start
            if view is not None:
                self._parts += (view[before : ends[stop - 1] - 1], b"\n")
            else:
                self._parts += (b"\n".join(lines[start:stop]), b"\n")
            self._size += ends[stop - 1] - before
            self._lines += stop - start
            self._last = first + stop - 1
            start = stop

    def add_spans(self, first: int, raw: bytes, ends: Sequence[int], lo: int, hi: int, start: int) -> None:
        """Append lines lo..hi-1 of a block with one LF between lines (no CR): line lo is
        raw[start:ends[lo]], line i after it raw[ends[i - 1] + 1:ends[i]]; numbered from `first`.

        The same chunks as `add` one by one, cut by bisection on `ends`; pieces are slices.
        Every line must fit an empty chunk (the native scan certifies only such lines).
        """
        view = memoryview(raw)
        begin = start
        index = lo
        while index < hi:
            room = self._limit - 1 - self._size  # the chunk must stay strictly under the limit
            stop = bisect_right(ends, begin + room - 1, lo=index, hi=hi)
            if stop == index:
                if not self._lines:
                    raise ValueError(f"line {first + index - lo} cannot fit under the {self._limit}-byte limit")
                self._flush()
                continue
            if not self._lines:
                self._first = first + index - lo
            end = ends[stop - 1]
            self._parts += (view[begin:end], b"\n")
            self._size += end + 1 - begin
            self._lines += stop - index
            self._last = first + stop - 1 - lo
            index, begin = stop, end + 1

    def finish(self) -> list[ChunkInfo]:
        if self._lines:
            self._flush()
        return self.chunks

    def _flush(self) -> None:
        index = len(self.chunks)
        if self._write_pieces is not None:
            location = self._write_pieces(index, self._parts)
        else:
            location = self._sink.write_chunk(index, b"".join(self._parts))
        self.chunks.append(ChunkInfo(index, location, self._lines, self._size, self._first, self._last))
        self._parts.clear()
        self._size = 0
        self._lines = 0
