"""A deliberately simple, independent line splitter: the oracle the block reader is tested against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from labelsync.domain.lines import BLOCK_SIZE, BOM, RawLine


def oracle_lines(stream: BinaryIO, *, max_bytes: int, block_size: int = BLOCK_SIZE) -> Iterator[RawLine]:
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
