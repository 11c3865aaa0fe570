"""The run's side files (rejected and superseded lines) as the report step keeps them: streamed.

A manifest can have 250,000 rejected lines (a UTF-16 export at the service's row limit); the report
holds their count, whether each one is complete, and the first few, never the whole list. The full
lists stay in S3, where the report links them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from labelsync.domain import rules
from labelsync.domain.lines import read_lines

KEPT_LINES = 1000  # items of each list in report.json (the plan keeps as many of its own lists)
MAX_SIDE_LINE_BYTES = 8 * 1024 * 1024  # a side file line quotes one manifest line's fields: far less


@dataclass
class SideFile:
    """How many lines a side file has, whether each holds its `required` fields, and the first KEPT_LINES."""

    count: int = 0
    complete: bool = True
    sample: list[dict[str, Any]] = field(default_factory=list)


def summarize(items: Iterable[Mapping[str, Any]], *, required: Sequence[str], keep: int = KEPT_LINES) -> SideFile:
    summary = SideFile()
    for item in items:
        summary.count += 1
        if not all(item.get(name) not in (None, "") for name in required):
            summary.complete = False
        if len(summary.sample) < keep:
            kept = dict(item)
            if isinstance(kept.get("sourceRef"), str):
                kept["sourceRef"] = rules.sample_ref(kept["sourceRef"])
            summary.sample.append(kept)
    return summary


def side_file_values(stream: BinaryIO) -> Iterator[Any]:
    """Each JSON line of a side file, read a block at a time; a line that is not JSON reads as None."""
    with stream:
        for line in read_lines(stream, max_bytes=MAX_SIDE_LINE_BYTES):
            if line.blank:
                continue
            try:
                yield json.loads(line.data)
            except ValueError:
                yield None


def side_file_items(stream: BinaryIO) -> Iterator[dict[str, Any]]:
    """Each JSON line of a side file; a line that is not an object reads as {}."""
    for item in side_file_values(stream):
        yield item if isinstance(item, dict) else {}
