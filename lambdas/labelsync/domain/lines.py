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


def read_lines(stream: BinaryIO, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[RawLine]:
    """Split on LF; strip one CR before it (CRLF files) and a UTF-8 BOM at the start."""
    number = 0
    pending = bytearray()
    dropped = 0  # bytes of the current line not kept because it is already oversize
    first = True
    while True:
        block = stream.read(block_size)
        if not block:
            break
        if first:
            if block.startswith(BOM):
                block = block[len(BOM) :]
            elif len(block) < len(BOM) and BOM.startswith(block):
                # A BOM split across reads: read the rest before deciding.
                block += stream.read(len(BOM))
                block = block[len(BOM) :] if block.startswith(BOM) else block
            first = False
        start = 0
        while True:
            end = block.find(b"\n", start)
            if end < 0:
                piece = block[start:]
                if dropped or len(pending) + len(piece) > max_bytes:
                    dropped += len(pending) + len(piece)
                    pending.clear()
                else:
                    pending += piece
                break
            piece = block[start:end]
            number += 1
            yield _finish(number, pending, piece, dropped, max_bytes)
            pending.clear()
            dropped = 0
            start = end + 1
    if pending or dropped:
        number += 1
        yield _finish(number, pending, b"", dropped, max_bytes)


def _finish(number: int, pending: bytearray, piece: bytes, dropped: int, max_bytes: int) -> RawLine:
    data = bytes(pending) + piece if pending else piece
    length = dropped + len(data)
    if data.endswith(b"\r"):
        data = data[:-1]
        length -= 1
    if dropped or length > max_bytes:
        return RawLine(number=number, data=b"", length=length)
    return RawLine(number=number, data=data, length=length)
