"""The report step's listings of the dataset, in bounded steps with a checkpoint between them.

After the last chunk the report lists (1) the entries with errors (HasErrors=true, the whole
dataset) to find this manifest's, and (2) every entry, until each image the manifest sent has
been seen; or, when the run sent at most LOOKUP_MAX images (delta sync sends only what changed),
looks each one up instead (SourceRefContains): a few calls instead of the whole dataset's pages. A 250,000-entry dataset is 2,500 pages a listing: with network latency and
throttling that can outlast one invocation, so each invocation reads at most a page budget
(and stops early when its time runs short), stores where it stopped, and the state machine
invokes it again until the scan is done. Nothing here talks to AWS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

ERRORS = "errors"  # listing HasErrors=true
PRESENCE = "presence"  # listing every entry, striking off the manifest's images
LOOKUP = "lookup"  # looking each sent image up by its source-ref (few images sent)
LOOKUP_MAX = 100  # up to this many: one lookup each costs less than listing 250,000 entries (2,500 pages)
DONE = "done"
MAX_PAGES_PER_STEP = 500  # 50,000 entries: a few minutes at most, well inside the report function's timeout
TIME_SHARE = 0.5  # stop once half the invocation's time is used: a page, a write and the report still fit


def ref_key(ref: str) -> bytes:
    """A source-ref as the scan holds it: 16 bytes, however long the ref (S3 keys reach 1,024 bytes,
    so 250,000 refs could be 275 MB as text; as digests they are about 12 MB; a collision needs ~2^64)."""
    return hashlib.blake2b(ref.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class RunRefs:
    """The run's recorded source-refs (one per accepted or superseded line) as the report needs them."""

    lines: int
    distinct: tuple[bytes, ...]  # ref_key of each distinct ref, in first-seen order

    def without(self, keys: frozenset[bytes]) -> RunRefs:
        """The refs less `keys` (lines delta sync did not send); `lines` counts the distinct ones left."""
        if not keys:
            return self
        kept = tuple(key for key in self.distinct if key not in keys)
        return RunRefs(len(kept), kept)

    @classmethod
    def read(cls, refs: Iterable[str]) -> RunRefs:
        lines, seen = 0, dict[bytes, None]()
        for ref in refs:
            lines += 1
            seen.setdefault(ref_key(ref), None)
        return cls(lines, tuple(seen))


def first_missing(refs: Iterable[str], missing: Iterable[str], limit: int) -> list[str]:
    """The first `limit` distinct refs (in `refs` order) whose key is one of `missing` (hex keys)."""
    left = {bytes.fromhex(key) for key in missing}
    found: list[str] = []
    for ref in refs:
        key = ref_key(ref)
        if key in left:
            left.discard(key)
            found.append(ref)
            if len(found) >= limit or not left:
                break
    return found


@dataclass
class ScanState:
    """Where the scan stopped: the phase, the NextToken to go on from, and what is left to find."""

    execution: str
    phase: str = ERRORS
    token: str | None = None
    pages: int = 0  # pages read so far, both phases
    steps: int = 0  # invocations that read pages
    parts: int = 0  # files of this manifest's entry findings written so far
    remaining: list[str] | None = None  # PRESENCE: hex ref_key of the distinct refs not yet seen, in manifest order
    lookups: list[str] | None = None  # LOOKUP: the source-refs still to look up, in manifest order
    expected: int = 0
    throttled: int = 0  # throttled pages: the step stopped there and the state machine retried it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanState:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def start(execution: str) -> ScanState:
    return ScanState(execution)


def begin_presence(state: ScanState, refs: RunRefs, texts: Iterable[str] = ()) -> None:
    """The errors listing ended: from now on, strike off the manifest's distinct refs; with `texts` (the
    refs themselves, at most LOOKUP_MAX) by looking each up rather than listing the dataset."""
    state.phase, state.token, state.expected = PRESENCE, None, len(refs.distinct)
    state.remaining = [key.hex() for key in refs.distinct]
    lookups = list(texts)
    if lookups:
        state.phase, state.lookups = LOOKUP, lookups
    if not refs.distinct:
        state.phase = DONE


def unseen(state: ScanState) -> set[bytes]:
    """The keys still to be seen, as a set while a step reads pages (the state keeps them as a list)."""
    return {bytes.fromhex(key) for key in state.remaining or ()}


def keep_order(remaining: Sequence[str], left: set[bytes]) -> list[str]:
    return [key for key in remaining if bytes.fromhex(key) in left]


def keys_of(refs: Iterable[str | None]) -> Iterator[bytes]:
    return (ref_key(ref) for ref in refs if ref is not None)
