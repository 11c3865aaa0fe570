"""JSON Lines encoding for the run's side files (rejects, superseded lines, source-refs)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from labelsync.domain.lines import split_lines

_encode = msgspec.json.encode


def utf8_json(item: Any, **options: Any) -> bytes:
    """JSON as UTF-8; a string with a lone surrogate (a `\\ud800` escape in the manifest) stays escaped.

    Such a string cannot be encoded as UTF-8 (it would raise UnicodeEncodeError); escaped
    (ASCII) output is the same JSON value.
    """
    try:
        return json.dumps(item, ensure_ascii=False, **options).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(item, ensure_ascii=True, **options).encode("ascii")


def dump_lines(items: Iterable[Any]) -> bytes:
    return b"".join(utf8_json(item) + b"\n" for item in items)


def dump_strings(items: list[str]) -> bytes:
    """JSON strings one per line: the bytes `dump_lines` writes for strings that are valid Unicode
    (msgspec escapes as json.dumps(ensure_ascii=False) does), several times faster; the plan step
    writes one per accepted line."""
    if not items:
        return b""
    return b"\n".join(map(_encode, items)) + b"\n"


def load_lines(data: bytes) -> Iterator[Any]:
    for line in split_lines(data):
        if line.strip():
            yield json.loads(line)
