"""When to call DescribeDataset after UpdateDatasetEntries: a wait schedule learned per dataset.

Updates take from 30 s to 30 min. A fixed or doubling schedule cannot both keep the number of
DescribeDataset calls small for long updates and notice short ones soon after they end. How long an
update takes is fairly predictable per dataset and chunk size, so each dataset keeps its last few
update durations; the apply step predicts this update's duration, then asks for one poll just before
the expected end, polls in steps proportional to the elapsed time around it (relative lateness stays
about `target_lateness`), and backs off to the timeout after that. Without history it is capped doubling.

Pure and deterministic: no clock, no AWS. The apply Lambda computes the whole list once and the state
machine walks it (wait, describe, wait, ...); the list always ends exactly at the poll timeout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HISTORY_LIMIT = 32  # observations kept per dataset (the JSON document stays ~3 KB)
FIT_WINDOW = 16  # the estimate uses only the most recent observations: the service's speed drifts
HALF_LIFE = 8.0  # observations; an observation this many updates old counts half
MIN_FIT = 4  # fewer observations than this: no slope, a weighted median
MIN_RELATIVE_RANGE = 0.2  # sizes must differ by this fraction of the largest before a slope is fitted
PRIOR_SPREAD = 0.35  # relative spread assumed before the history says otherwise
PRIOR_WEIGHT = 3.0  # in observations: the prior dominates the spread of a 1-2 update history
MIN_SPREAD = 0.05
MAX_SPREAD = 1.0
MIN_SECONDS = 0.001  # LastUpdatedTimestamp has millisecond precision
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation for normal noise
_VERSION = 1


@dataclass(frozen=True, slots=True)
class UpdateObservation:
    """One finished update: its size, how long it took (LastUpdatedTimestamp - send time), when, and the polls it cost."""

    bytes: int
    entries: int
    seconds: float
    at: float  # epoch seconds of the send
    polls: int = 0

    def __post_init__(self) -> None:
        for name in ("bytes", "entries", "polls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("seconds", "at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds!r}")

    def to_dict(self) -> dict[str, int | float]:
        return {
            "bytes": self.bytes,
            "entries": self.entries,
            "seconds": self.seconds,
            "at": self.at,
            "polls": self.polls,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> UpdateObservation:
        """Raises ValueError (or KeyError/TypeError) on anything that is not a sound observation."""
        return cls(
            bytes=raw["bytes"],
            entries=raw["entries"],
            seconds=raw["seconds"],
            at=raw["at"],
            polls=raw.get("polls", 0),
        )


def epoch_seconds(value: object) -> float | None:
    """A DescribeDataset timestamp as epoch seconds, whatever carried it; None if it is not one.

    The JSON protocol sends epoch numbers, boto3 turns them into datetimes, and a Step Functions
    aws-sdk task hands them on as ISO-8601 strings ("2024-05-01T10:00:00.123Z"; moto: isoformat()).
    A naive datetime or string is taken as UTC.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return None


class UpdateHistory:
    """A dataset's recent update observations, oldest first, at most `limit` of them."""

    def __init__(self, observations: Iterable[UpdateObservation] = (), limit: int = HISTORY_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._items: list[UpdateObservation] = list(observations)[-limit:]

    @property
    def observations(self) -> tuple[UpdateObservation, ...]:
        return tuple(self._items)

    def add(self, observation: UpdateObservation) -> None:
        self._items.append(observation)
        del self._items[: -self.limit]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[UpdateObservation]:
        return iter(self._items)

    def to_json(self) -> str:
        return json.dumps(
            {"version": _VERSION, "observations": [o.to_dict() for o in self._items]}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str | bytes | None, limit: int = HISTORY_LIMIT) -> UpdateHistory:
        """Never fails: a missing or garbled document is an empty history, a garbled observation is skipped.

        The history only tunes polling; losing it costs a few extra calls, never a run.
        """
        try:
            raw = json.loads(text) if text else None
        except (ValueError, TypeError):
            raw = None
        items = raw.get("observations") if isinstance(raw, dict) else raw
        kept: list[UpdateObservation] = []
        for item in items if isinstance(items, list) else []:
            try:
                kept.append(UpdateObservation.from_dict(item))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return cls(kept, limit)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Expected duration of an update and its relative spread (standard deviation of log duration)."""

    seconds: float
    spread: float
    samples: int  # observations the estimate rests on
    basis: str  # "median", "bytes" or "entries": what the duration was fitted against

    def as_dict(self) -> dict[str, float | int | str]:
        """For the state and the logs: why the schedule looks the way it does."""
        return {
            "expectedSeconds": round(self.seconds, 1),
            "spread": round(self.spread, 3),
            "samples": self.samples,
            "basis": self.basis,
        }


def expected_duration(history: Iterable[UpdateObservation], chunk_bytes: int, chunk_entries: int) -> Estimate | None:
    """Predict how long an update of this size will take on this dataset; None without usable history.

    Three candidate models, each fitted on the last FIT_WINDOW observations with weights halving every
    HALF_LIFE updates: a weighted median (size does not matter), and weighted Theil-Sen lines
    seconds = a + b*size over bytes and over entries (only when sizes differ and the slope is
    positive). Medians and Theil-Sen shrug off a stray slow update that least squares would chase.
    The model and the spread come from honest errors: each recent observation forecast from the ones
    before it. In-sample residuals would understate the spread and make the window too narrow.
    """
    usable = [o for o in history if o.seconds >= MIN_SECONDS]  # less: a clock-skewed record, not a duration
    if not usable:
        return None
    start = max(1, len(usable) - FIT_WINDOW)  # the observations forecast from the ones before them
    weights = _recency_weights(len(usable) - start)
    best_basis, best_error = "median", math.inf
    for basis in _BASES if weights else ():
        errors = [
            abs(math.log(usable[i].seconds / _forecast(usable[max(0, i - FIT_WINDOW) : i], basis, usable[i])))
            for i in range(start, len(usable))
        ]
        error = _weighted_median(errors, weights)
        if error < 0.95 * best_error:  # a slope must earn its place
            best_basis, best_error = basis, error
    target = UpdateObservation(max(0, chunk_bytes), max(0, chunk_entries), 0.0, 0.0)
    seconds = _forecast(usable[-FIT_WINDOW:], best_basis, target)
    samples = len(weights)
    observed = MAD_TO_SIGMA * best_error if samples else 0.0
    spread = (samples * observed + PRIOR_WEIGHT * PRIOR_SPREAD) / (samples + PRIOR_WEIGHT)
    return Estimate(seconds, min(MAX_SPREAD, max(MIN_SPREAD, spread)), len(usable[-FIT_WINDOW:]), best_basis)


_BASES = ("median", "bytes", "entries")


def _recency_weights(n: int) -> list[float]:
    return [0.5 ** ((n - 1 - i) / HALF_LIFE) for i in range(n)]


def _size(observation: UpdateObservation, basis: str) -> float:
    return float(observation.bytes if basis == "bytes" else observation.entries)


def _forecast(past: Sequence[UpdateObservation], basis: str, target: UpdateObservation) -> float:
    """Seconds for `target` from `past` (non-empty) under one model; a line falls back to the median."""
    ys = [o.seconds for o in past]
    weights = _recency_weights(len(past))
    line = _theil_sen([_size(o, basis) for o in past], ys, weights) if basis != "median" else None
    x = _size(target, basis)
    if line is None or x <= 0:
        return _weighted_median(ys, weights)
    slope, intercept, xs = line
    # Keep an extrapolated line sane: within [min/2, 2*max] of what was seen, scaled beyond the seen sizes.
    low, high = min(ys) / 2 * min(1.0, x / min(xs)), 2 * max(ys) * max(1.0, x / max(xs))
    return max(MIN_SECONDS / 2, min(high, max(low, intercept + slope * x)))


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


def _theil_sen(xs: list[float], ys: list[float], weights: list[float]) -> tuple[float, float, list[float]] | None:
    """(slope, intercept, xs) of the weighted Theil-Sen line, or None when sizes barely differ or the slope is <= 0."""
    if len(xs) < MIN_FIT or min(xs) <= 0:
        return None
    top = max(xs)
    if top - min(xs) < MIN_RELATIVE_RANGE * top:
        return None
    slopes: list[float] = []
    pair_weights: list[float] = []
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx = xs[j] - xs[i]
            if abs(dx) >= 0.05 * top:  # near-equal sizes say nothing about the slope, only noise
                slopes.append((ys[j] - ys[i]) / dx)
                pair_weights.append(weights[i] * weights[j])
    if not slopes:
        return None
    slope = _weighted_median(slopes, pair_weights)
    if slope <= 0:
        return None
    intercept = _weighted_median([y - slope * x for x, y in zip(xs, ys, strict=True)], weights)
    return slope, intercept, xs


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The knobs of the schedule (seconds unless said); the first three are the deployment's poll settings.

    `max_seconds` caps the fallback's doubling and the backoff after the expected end; the first wait
    and the steps around the expected end scale with the estimate instead. `max_calls` bounds every
    learned schedule; the fallback fits it only when max_seconds >= `max_seconds_for_budget(...)`.
    """

    initial_seconds: int = 5
    max_seconds: int = 600
    timeout_seconds: int = 3600
    target_lateness: float = 0.05  # wanted median (time seen - time finished) / duration near the expected end
    max_calls: int = 12  # DescribeDataset calls per update, at most, when there is history
    tail_calls: int = 2  # of max_calls, kept for after the expected window (late updates)
    min_wait_seconds: int = 1
    early_spreads: float = 1.75  # first poll at expected * exp(-early_spreads * spread)
    late_spreads: float = 2.25  # fine steps until expected * exp(late_spreads * spread)

    def __post_init__(self) -> None:
        for name in ("initial_seconds", "max_seconds", "timeout_seconds", "max_calls", "min_wait_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.tail_calls < 0 or self.early_spreads < 0 or self.late_spreads < 0:
            raise ValueError("tail_calls, early_spreads and late_spreads must be >= 0")
        if not 0 < self.target_lateness < 1:
            raise ValueError("target_lateness must be between 0 and 1")


def capped_doubling(initial: int, maximum: int, timeout: int) -> list[int]:
    """The state machine's original loop: wait initial, then double the wait, capped at maximum, until the
    waits add up to the timeout (the last one cut to land on it)."""
    waits: list[int] = []
    total, delay = 0, max(1, initial)
    while total < timeout:
        step = min(delay, timeout - total)
        waits.append(step)
        total += step
        delay = min(2 * delay, max(1, maximum))
    return waits


def max_seconds_for_budget(initial: int, timeout: int, max_calls: int) -> int | None:
    """Smallest cap for which capped doubling reaches the timeout within max_calls waits (None: none does)."""
    low, high = 1, timeout
    if len(capped_doubling(initial, high, timeout)) > max_calls:
        return None
    while low < high:
        middle = (low + high) // 2
        if len(capped_doubling(initial, middle, timeout)) <= max_calls:
            high = middle
        else:
            low = middle + 1
    return low


def poll_schedule(estimate: Estimate | None, policy: PollPolicy) -> list[int]:
    """Waits (whole seconds >= min_wait) before each DescribeDataset call; they add up to the timeout.

    Without an estimate: capped doubling, as before there was any history. With one: the first call
    at expected*exp(-early_spreads*spread), which few updates beat; then each wait is about
    2*target_lateness of the time elapsed, until expected*exp(late_spreads*spread), so an update
    ending in that window is seen about target_lateness late (median) whatever its length; after it
    the elapsed time doubles (waits capped at max_seconds). Never more than max_calls waits: a window
    that would need more gets coarser steps, and the last call allowed is at the timeout, so a late
    update costs lateness, never calls.
    """
    timeout = policy.timeout_seconds
    if estimate is None:
        return capped_doubling(policy.initial_seconds, policy.max_seconds, timeout)
    if policy.max_calls == 1:
        return [timeout]
    floor = policy.min_wait_seconds
    # Expected near or past the timeout (an outlier in the history?): do not bet the whole wait on it.
    expected = min(max(estimate.seconds, MIN_SECONDS), timeout * 2 / 3)
    first = min(timeout, max(floor, round(expected * math.exp(-policy.early_spreads * estimate.spread))))
    window_end = expected * math.exp(policy.late_spreads * estimate.spread)
    window_calls = max(1, min(policy.max_calls - 1, policy.max_calls - policy.tail_calls))
    ratio = 1 + 2 * policy.target_lateness
    if window_calls > 1 and window_end > first:
        ratio = max(ratio, (window_end / first) ** (1 / (window_calls - 1)))

    waits, elapsed = [first], first
    while elapsed < timeout and elapsed < window_end and len(waits) < window_calls:
        elapsed = _advance(waits, elapsed, round(elapsed * ratio), floor, timeout)
    while elapsed < timeout:
        # Late: the elapsed time doubles (waits capped at max_seconds); the last call allowed is at the timeout.
        last = len(waits) >= policy.max_calls - 1
        target = timeout if last else elapsed + min(elapsed, policy.max_seconds)
        elapsed = _advance(waits, elapsed, target, floor, timeout)
    return waits


def _advance(waits: list[int], elapsed: int, target: int, floor: int, timeout: int) -> int:
    step = max(floor, min(target, timeout) - elapsed)
    waits.append(step)
    return elapsed + step
