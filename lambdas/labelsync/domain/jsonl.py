"""JSON Lines encoding for the run's side files (rejects, superseded lines, source-refs)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def dump_lines(items: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n" for item in items)


def load_lines(data: bytes) -> Iterator[Any]:
    for line in data.splitlines():
        if line.strip():
            yield json.loads(line)
