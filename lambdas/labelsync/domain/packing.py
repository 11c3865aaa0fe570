"""Greedy packing of accepted lines into chunks strictly under the byte limit, in order.

Greedy is optimal here: lines must stay in order, so closing a chunk only when the
next line does not fit gives the fewest chunks. Only the open chunk is in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ChunkSink(Protocol):
    """Where chunks go."""

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
    """Greedy packer; only the open chunk's lines are in memory, joined once when it is written."""

    def __init__(self, limit: int, sink: ChunkSink) -> None:
        if limit < 2:
            raise ValueError("chunk limit must be at least 2 bytes")
        self._limit = limit
        self._sink = sink
        self._parts: list[bytes] = []
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

    def finish(self) -> list[ChunkInfo]:
        if self._lines:
            self._flush()
        return self.chunks

    def _flush(self) -> None:
        index = len(self.chunks)
        location = self._sink.write_chunk(index, b"".join(self._parts))
        self.chunks.append(ChunkInfo(index, location, self._lines, self._size, self._first, self._last))
        self._parts.clear()
        self._size = 0
        self._lines = 0
