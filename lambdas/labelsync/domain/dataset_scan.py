"""The report step's listings of the dataset, in bounded steps with a checkpoint between them.

After the last chunk the report lists (1) the entries with errors (HasErrors=true, the whole
dataset) to find this manifest's, and (2) every entry, until each image the manifest sent has
been seen. A 250,000-entry dataset is 2,500 pages a listing: with network latency and
throttling that can outlast one invocation, so each invocation reads at most a page budget
(and stops early when its time runs short), stores where it stopped, and the state machine
invokes it again until the scan is done. Nothing here talks to AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ERRORS = "errors"  # listing HasErrors=true
PRESENCE = "presence"  # listing every entry, striking off the manifest's images
DONE = "done"
MAX_PAGES_PER_STEP = 500  # 50,000 entries: a few minutes at most, well inside the report function's timeout
TIME_SHARE = 0.5  # stop once half the invocation's time is used: a page, a write and the report still fit


@dataclass
class ScanState:
    """Where the scan stopped: the phase, the NextToken to go on from, and what is left to find."""

    execution: str
    phase: str = ERRORS
    token: str | None = None
    pages: int = 0  # pages read so far, both phases
    steps: int = 0  # invocations that read pages
    parts: int = 0  # files of this manifest's entry findings written so far
    remaining: list[str] | None = None  # PRESENCE: distinct refs not yet seen, in manifest order
    expected: int = 0
    throttled: int = 0  # throttled pages: the step stopped there and the state machine retried it

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "phase": self.phase,
            "token": self.token,
            "pages": self.pages,
            "steps": self.steps,
            "parts": self.parts,
            "remaining": self.remaining,
            "expected": self.expected,
            "throttled": self.throttled,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanState:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def start(execution: str) -> ScanState:
    return ScanState(execution)


def begin_presence(state: ScanState, refs: Sequence[str]) -> None:
    """The errors listing ended: from now on, strike off the manifest's distinct refs."""
    distinct = list(dict.fromkeys(refs))
    state.phase, state.token, state.remaining, state.expected = PRESENCE, None, distinct, len(distinct)
    if not distinct:
        state.phase = DONE


@dataclass
class Presence:
    """The refs still to be seen, as a set while a step reads pages (the state keeps them as a list)."""

    left: set[str] = field(default_factory=set)

    def strike(self, refs: Sequence[str]) -> bool:
        """Strike the refs of one page; True when none is left."""
        self.left.difference_update(refs)
        return not self.left


def keep_order(remaining: Sequence[str], left: set[str]) -> list[str]:
    return [ref for ref in remaining if ref in left]
