"""A deliberately simple, independent line splitter: the oracle the block reader is tested against.

It reads the whole stream (tests give it small data) and splits it: nothing about blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from labelsync.domain.lines import BOM, RawLine


def oracle_lines(stream: BinaryIO, *, max_bytes: int) -> Iterator[RawLine]:
    """Split on LF after a leading UTF-8 BOM; one CR before the LF (or at the end) is no part of the line.
    A line over `max_bytes` keeps only its length."""
    data = stream.read().removeprefix(BOM)
    if not data:
        return
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    for number, line in enumerate(lines, 1):
        line = line.removesuffix(b"\r")
        yield RawLine(number, b"" if len(line) > max_bytes else line, len(line))
