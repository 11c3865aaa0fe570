"""Certify clean lines in C (native/linecheck.c), when its library is built for this CPU.

The same contract as `fastcheck`, line by line instead of batch by batch: a line is CLEAN
only when the reference check (`checker`) would accept it unchanged and without a
warning; every other line goes to the reference check, so plans never depend on the
library, only their speed. For the clean lines of a block the library also returns what
the plan keeps of them (where each line is, its source-ref's hash and JSON), so a block
of clean lines costs a few Python calls, not a few per line.

The library is plain C loaded with ctypes: no Python ABI, so one build per CPU serves the
tests' interpreter and the Lambda runtime's (`python -m native.build`; the Lambda asset
builds the arm64 one). Without it, `available()` is False and the plan uses msgspec or
the reference check.
"""

from __future__ import annotations

import ctypes
import os
import platform
from array import array
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from labelsync.domain.checker import LineChecker
from labelsync.domain.validation import MAX_LINE_CHARS

LIBRARY_DIR = Path(__file__).resolve().parents[1] / "_native"
VERSION = 3  # LC_VERSION in native/linecheck.c: a stale build is not loaded
DISABLE_ENV = "LABELSYNC_NATIVE"  # "0": do not load the library (to compare paths)

CLEAN, UNSURE = 0, 1
MORE_LINES = -2  # lc_scan: the block has more lines than the buffers hold
MIN_LINES = 4096
OPT_LABEL_RULES = 1
_P = ctypes.c_void_p
_I = ctypes.c_int64


def library_path(cpu: str | None = None) -> Path:
    return LIBRARY_DIR / f"liblinecheck-{cpu or platform.machine()}.so"


@cache
def _library() -> ctypes.CDLL | None:
    path = library_path()
    if os.environ.get(DISABLE_ENV) == "0" or not path.exists():
        return None
    lib = ctypes.CDLL(str(path))
    lib.lc_version.restype = ctypes.c_int32
    if lib.lc_version() != VERSION:
        return None
    lib.lc_hash.argtypes = [ctypes.c_char_p, _I]
    lib.lc_hash.restype = _I
    lib.lc_scan.argtypes = [ctypes.c_char_p, _I, _I, ctypes.c_char_p, _I, _I, _I, _I, _P, _P, _P, _P, _P, _P]
    lib.lc_scan.restype = _I
    lib.lc_all_different.argtypes = [_P, _I]
    lib.lc_all_different.restype = ctypes.c_int32
    return lib


def available() -> bool:
    return _library() is not None


def all_different(values: array[int]) -> bool | None:
    """Whether no value repeats (one pass in C); None without the library (or its memory)."""
    lib = _library()
    if lib is None:
        return None
    if not values:
        return True
    answer = int(lib.lc_all_different(values.buffer_info()[0], len(values)))
    return None if answer < 0 else bool(answer)


class _Buffers:
    """Output buffers reused block after block (allocating and zeroing them each time costs more than the scan)."""

    def __init__(self) -> None:
        self.lines = 0
        self.status = bytearray()
        self.starts: array[int] = array("q")
        self.ends: array[int] = array("q")
        self.hashes: array[int] = array("q")
        self.refs_ends: array[int] = array("q")
        self.refs = bytearray()
        self.addresses: tuple[int, ...] = ()

    def fit(self, lines: int, refs: int) -> tuple[int, ...]:
        if lines > self.lines or refs > len(self.refs):
            self.lines = max(lines, self.lines)
            self.status = bytearray(self.lines)
            self.starts, self.ends, self.hashes, self.refs_ends = (array("q", bytes(8 * self.lines)) for _ in range(4))
            self.refs = bytearray(max(refs, len(self.refs)))
            self.addresses = (
                ctypes.addressof((ctypes.c_char * len(self.status)).from_buffer(self.status)),
                self.starts.buffer_info()[0],
                self.ends.buffer_info()[0],
                self.hashes.buffer_info()[0],
                ctypes.addressof((ctypes.c_char * len(self.refs)).from_buffer(self.refs)),
                self.refs_ends.buffer_info()[0],
            )
        return self.addresses


@dataclass(slots=True)
class Scan:
    """One block's lines: status (CLEAN/UNSURE) and, for clean lines, what the plan keeps.

    Views of the checker's buffers: valid until its next scan.
    """

    count: int
    status: bytearray  # CLEAN or UNSURE per line (longer than `count`: the tail is stale)
    starts: array[int]  # line i is buffer[starts[i]:ends[i]] (line end and CR excluded)
    ends: array[int]
    hashes: array[int]  # source-ref hash (`NativeChecker.hash_ref`) of each clean line
    refs: bytearray  # '"<source-ref>"\n' of each clean line, in order
    refs_ends: array[int]  # refs[:refs_ends[i]] covers lines 0..i

    def next_unsure(self, start: int) -> int:
        """Index of the first UNSURE line at or after `start`; `count` when there is none."""
        found = self.status.find(UNSURE, start, self.count)
        return self.count if found < 0 else found

    def refs_between(self, lo: int, hi: int) -> bytes:
        return bytes(self.refs[self.refs_ends[lo - 1] if lo else 0 : self.refs_ends[hi - 1]])


class NativeChecker:
    """Scans blocks for one `LineChecker` (same chunk limit, first bucket, rules)."""

    def __init__(self, lib: ctypes.CDLL, checker: LineChecker) -> None:
        self.lib = lib
        self.checker = checker
        self.max_line = min(MAX_LINE_CHARS, checker.chunk_limit - 2)  # bytes: within both limits
        self.buffers = _Buffers()

    @classmethod
    def create(cls, checker: LineChecker) -> NativeChecker | None:
        lib = _library()
        return cls(lib, checker) if lib is not None else None

    def hash_ref(self, source_ref: str) -> int:
        """The hash the scan gives a clean line's source-ref, for lines the reference check accepted."""
        data = source_ref.encode("utf-8")
        return int(self.lib.lc_hash(data, len(data)))

    def scan(self, buffer: bytes, lo: int = 0, hi: int | None = None) -> Scan:
        """The lines of buffer[lo:hi] (LF-joined), in place. With label rules, the first bucket must be known."""
        hi = len(buffer) if hi is None else hi
        options = 0
        bucket = b""
        if self.checker.label_rules:
            if self.checker.first_bucket is None:
                raise ValueError("the manifest's first bucket is not known yet")
            options |= OPT_LABEL_RULES
            bucket = self.checker.first_bucket.encode("utf-8")
        b = self.buffers
        room = max(b.lines, MIN_LINES)
        while True:
            addresses = b.fit(room, hi - lo + 3 * room + 1)
            count = self.lib.lc_scan(buffer, hi, lo, bucket, len(bucket), options, self.max_line, room, *addresses)
            if count != MORE_LINES:
                break
            room *= 2
        if count < 0:
            raise MemoryError("the native scan could not allocate its parser memory")
        return Scan(count, b.status, b.starts, b.ends, b.hashes, b.refs, b.refs_ends)
