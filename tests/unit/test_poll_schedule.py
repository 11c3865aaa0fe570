import json
import math
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.polling_sim import MAX_CALLS, MAX_MEDIAN_DELAY_PCT, simulate
from labelsync.domain.poll_schedule import (
    HISTORY_LIMIT,
    MAX_SPREAD,
    MIN_SECONDS,
    MIN_SPREAD,
    PRIOR_SPREAD,
    Estimate,
    PollPolicy,
    UpdateHistory,
    UpdateObservation,
    capped_doubling,
    epoch_seconds,
    expected_duration,
    max_seconds_for_budget,
    poll_schedule,
)

MB = 1_000_000

policies = st.builds(
    PollPolicy,
    initial_seconds=st.integers(1, 120),
    max_seconds=st.integers(1, 1200),
    timeout_seconds=st.integers(1, 20_000),
    target_lateness=st.floats(0.01, 0.5),
    max_calls=st.integers(1, 30),
    tail_calls=st.integers(0, 5),
    min_wait_seconds=st.integers(1, 10),
    early_spreads=st.floats(0, 4),
    late_spreads=st.floats(0, 4),
)
estimates = st.builds(
    Estimate,
    seconds=st.floats(1e-3, 1e5),
    spread=st.floats(0, 1),
    samples=st.integers(1, 16),
    basis=st.sampled_from(["median", "bytes", "entries"]),
)
observations = st.builds(
    UpdateObservation,
    bytes=st.integers(0, 6 * MB),
    entries=st.integers(0, 20_000),
    seconds=st.floats(0, 1e4),
    at=st.floats(0, 2e9),
    polls=st.integers(0, 50),
)


def asl_capped_doubling(initial: int, maximum: int, timeout: int) -> list[int]:
    """The state machine's original loop (StartPolling / NextPollDelay / CapPollDelay / CheckPollTimeout)."""
    waits, elapsed, delay = [], 0, initial
    while True:
        waits.append(delay)
        elapsed += delay
        if elapsed >= timeout:
            return waits
        delay = min(2 * delay, maximum)


def obs(seconds: float, size: int = 3 * MB, entries: int | None = None, at: float = 0.0) -> UpdateObservation:
    return UpdateObservation(size, size // 1000 if entries is None else entries, seconds, at)


# -- the schedule ------------------------------------------------------------------------------


@given(st.one_of(st.none(), estimates), policies)
def test_waits_are_whole_seconds_that_end_exactly_at_the_timeout(estimate: Estimate | None, policy: PollPolicy) -> None:
    waits = poll_schedule(estimate, policy)
    assert waits
    assert all(isinstance(w, int) and w >= 1 for w in waits)
    totals = list(accumulate(waits))
    assert totals[-1] >= policy.timeout_seconds
    assert all(t < policy.timeout_seconds for t in totals[:-1])  # no call after the timeout is reached
    assert waits == poll_schedule(estimate, policy)  # deterministic


@given(estimates, policies)
def test_learned_schedule_stays_within_budget_and_minimum_wait(estimate: Estimate, policy: PollPolicy) -> None:
    waits = poll_schedule(estimate, policy)
    assert len(waits) <= policy.max_calls
    assert all(w >= min(policy.min_wait_seconds, policy.timeout_seconds) for w in waits)
    assert sum(waits) == policy.timeout_seconds or policy.min_wait_seconds > 1


@given(policies)
def test_without_history_it_is_the_state_machines_capped_doubling(policy: PollPolicy) -> None:
    waits = poll_schedule(None, policy)
    assert waits == capped_doubling(policy.initial_seconds, policy.max_seconds, policy.timeout_seconds)
    reference = asl_capped_doubling(policy.initial_seconds, policy.max_seconds, policy.timeout_seconds)
    assert waits[:-1] == reference[:-1]
    assert waits[-1] == policy.timeout_seconds - sum(reference[:-1])  # the last wait cut to land on the timeout


def test_default_fallback_reaches_the_timeout_within_the_budget() -> None:
    policy = PollPolicy()
    assert poll_schedule(None, policy) == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 565]
    assert max_seconds_for_budget(5, 3600, 12) == 593
    assert policy.max_seconds >= 593
    assert len(capped_doubling(5, 60, 3600)) == 63  # the old default: 63 calls before timing out
    assert max_seconds_for_budget(5, 3600, 3) is None


@given(st.floats(20, 2100), st.floats(0.55, 1.7))  # ends before the 3600 s timeout
def test_an_update_near_its_estimate_is_seen_within_twice_the_target_lateness(expected: float, ratio: float) -> None:
    policy = PollPolicy()
    estimate = Estimate(expected, 0.15, 16, "bytes")
    waits = poll_schedule(estimate, policy)
    assert waits[0] <= expected  # the first call comes before the expected end
    duration = expected * ratio
    low, high = expected * math.exp(-1.75 * 0.15), expected * math.exp(2.25 * 0.15)
    times = list(accumulate(waits))
    seen = next(t for t in times if t >= duration)
    if low <= duration <= min(high, policy.timeout_seconds):
        assert seen - duration <= 2 * policy.target_lateness * duration + 1
    assert times.index(seen) + 1 <= policy.max_calls


def test_an_estimate_beyond_the_timeout_still_polls_before_it() -> None:
    waits = poll_schedule(Estimate(10_000, 0.2, 8, "median"), PollPolicy())  # an outlier learned
    assert waits[0] <= 2400 and sum(waits) == 3600 and 1 < len(waits) <= 12
    assert poll_schedule(Estimate(100, 0.2, 8, "median"), PollPolicy(max_calls=1)) == [3600]


def test_a_late_update_doubles_the_elapsed_time_then_the_last_call_is_at_the_timeout() -> None:
    waits = poll_schedule(Estimate(30, 0.15, 16, "median"), PollPolicy())
    times = list(accumulate(waits))
    assert len(waits) == 12 and times[-1] == 3600
    assert times[-2] == 2 * times[-3]  # a 2x-slow update is seen at most one doubling late


@pytest.mark.parametrize(
    "changes",
    [
        {"initial_seconds": 0},
        {"max_calls": 0},
        {"min_wait_seconds": 0},
        {"timeout_seconds": 0},
        {"target_lateness": 0},
        {"target_lateness": 1},
        {"tail_calls": -1},
    ],
)
def test_policy_rejects_nonsense(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PollPolicy(**changes)  # type: ignore[arg-type]


# -- the estimate ------------------------------------------------------------------------------


def test_no_usable_history_means_no_estimate() -> None:
    assert expected_duration(UpdateHistory(), MB, 1000) is None
    assert expected_duration([obs(0.0), obs(0.0)], MB, 1000) is None


def test_one_observation_is_the_estimate_with_the_prior_spread() -> None:
    estimate = expected_duration([obs(120.0)], 3 * MB, 3000)
    assert estimate is not None
    assert (estimate.seconds, estimate.samples, estimate.basis) == (120.0, 1, "median")
    assert estimate.spread == pytest.approx(PRIOR_SPREAD)


def test_steady_durations_give_a_narrow_estimate() -> None:
    estimate = expected_duration([obs(300.0) for _ in range(16)], 3 * MB, 3000)
    assert estimate is not None
    assert estimate.seconds == 300.0
    assert MIN_SPREAD <= estimate.spread < 0.1


def sized_history(seconds_per_mb: float, overhead: float, count: int = 16) -> list[UpdateObservation]:
    sizes = [1 * MB + (i * 7 % 5) * MB for i in range(count)]  # 1..5 MB, mixed order
    return [obs(overhead + seconds_per_mb * size / MB, size) for size in sizes]


def test_duration_grows_with_chunk_size_when_the_history_says_so() -> None:
    history = sized_history(100.0, 60.0)
    for size in (1 * MB, 2_500_000, 5 * MB):
        estimate = expected_duration(history, size, size // 1000)
        assert estimate is not None
        assert estimate.basis in {"bytes", "entries"}
        assert estimate.seconds == pytest.approx(60 + 100 * size / MB, rel=0.01)


def test_entries_are_the_basis_when_they_explain_the_durations_and_bytes_do_not() -> None:
    history = [
        UpdateObservation(size, entries, 10 + entries / 10, 0.0)
        for size, entries in [(5 * MB, 100), (MB, 900), (3 * MB, 400), (2 * MB, 1500), (4 * MB, 700)] * 3
    ]
    estimate = expected_duration(history, 2 * MB, 1000)
    assert estimate is not None
    assert estimate.basis == "entries"
    assert estimate.seconds == pytest.approx(110, rel=0.01)


def test_one_stray_slow_update_does_not_move_the_estimate() -> None:
    history = sized_history(100.0, 60.0)
    history[-3] = obs(history[-3].seconds * 10, history[-3].bytes)
    estimate = expected_duration(history, 3 * MB, 3000)
    assert estimate is not None
    assert estimate.seconds == pytest.approx(360, rel=0.1)


def test_recent_updates_outweigh_old_ones() -> None:
    history = [obs(100.0) for _ in range(16)] + [obs(200.0) for _ in range(8)]
    estimate = expected_duration(history, 3 * MB, 3000)
    assert estimate is not None
    assert estimate.seconds == 200.0


def test_an_extrapolated_size_stays_within_sane_bounds() -> None:
    history = sized_history(100.0, 60.0)
    longest = max(o.seconds for o in history)
    estimate = expected_duration(history, 500 * MB, 500_000)
    assert estimate is not None
    assert estimate.seconds <= 2 * longest * 100
    tiny = expected_duration(history, 10, 1)
    assert tiny is not None and tiny.seconds > 0


@given(st.lists(observations, max_size=40), st.integers(0, 6 * MB), st.integers(0, 20_000))
def test_estimate_is_positive_bounded_and_deterministic(
    history: list[UpdateObservation], chunk_bytes: int, entries: int
) -> None:
    estimate = expected_duration(history, chunk_bytes, entries)
    usable = [o.seconds for o in history if o.seconds >= MIN_SECONDS]
    if not usable:
        assert estimate is None
        return
    assert estimate is not None
    assert estimate.seconds > 0
    assert MIN_SPREAD <= estimate.spread <= MAX_SPREAD
    assert estimate == expected_duration(history, chunk_bytes, entries)
    assert poll_schedule(estimate, PollPolicy())  # any estimate gives a schedule


# -- observations and the stored history -------------------------------------------------------


@given(st.lists(observations, max_size=50))
def test_history_round_trips_through_json_and_keeps_the_newest(items: list[UpdateObservation]) -> None:
    history = UpdateHistory()
    for item in items:
        history.add(item)
    assert len(history) == min(len(items), HISTORY_LIMIT)
    assert list(history) == items[-HISTORY_LIMIT:]
    assert UpdateHistory.from_json(history.to_json()).observations == history.observations


@pytest.mark.parametrize(
    "document",
    [None, "", b"", "{", "null", "[]", "3", '"x"', b"\xff\xfe", '{"observations": 3}', '{"observations": {"a": 1}}'],
)
def test_missing_or_garbled_documents_are_an_empty_history(document: str | bytes | None) -> None:
    assert len(UpdateHistory.from_json(document)) == 0


def test_garbled_observations_are_skipped_and_the_limit_applies_on_load() -> None:
    good = [obs(float(i + 1), at=float(i)).to_dict() for i in range(5)]
    bad: list[object] = [
        {"bytes": -1, "entries": 1, "seconds": 1, "at": 0},
        {"bytes": 1, "entries": 1, "seconds": "slow", "at": 0},
        {"bytes": 1, "entries": 1, "seconds": 1},
        {"bytes": True, "entries": 1, "seconds": 1, "at": 0},
        {"bytes": 1, "entries": 1, "seconds": float("nan"), "at": 0},
        [1, 2, 3],
        "text",
    ]
    document = json.dumps({"version": 1, "observations": bad + good})
    history = UpdateHistory.from_json(document, limit=3)
    assert [o.seconds for o in history] == [3.0, 4.0, 5.0]
    assert len(UpdateHistory.from_json(json.dumps(good))) == 5  # a bare list is accepted too


@pytest.mark.parametrize(
    "fields",
    [
        {"bytes": -1},
        {"entries": 1.5},
        {"polls": -2},
        {"seconds": -0.5},
        {"seconds": math.inf},
        {"at": math.nan},
        {"seconds": True},
    ],
)
def test_observation_rejects_impossible_values(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"bytes": 1, "entries": 1, "seconds": 1.0, "at": 0.0, "polls": 1}
    with pytest.raises(ValueError):
        UpdateObservation.from_dict(base | fields)


def test_observation_dict_defaults_polls() -> None:
    item = UpdateObservation.from_dict({"bytes": 10, "entries": 2, "seconds": 3, "at": 4})
    assert item == UpdateObservation(10, 2, 3, 4, 0)
    assert item.to_dict() == {"bytes": 10, "entries": 2, "seconds": 3, "at": 4, "polls": 0}


# -- the targets, on the simulation ----------------------------------------------------


def test_simulation_learned_schedule_meets_the_targets_and_doubling_does_not() -> None:
    rows = simulate(seeds=3, updates=20)
    learned = [r for r in rows if r.policy.startswith("learned")]
    assert len(learned) == 7
    for row in learned:
        assert row.timeouts == 0
        assert row.max_calls <= MAX_CALLS
        assert row.median_delay_pct <= MAX_MEDIAN_DELAY_PCT
    for name in ("doubling 5->60 (today)", "doubling 5->600"):
        assert not all(r.meets_target for r in rows if r.policy == name)


@pytest.mark.parametrize(
    "value",
    [
        1_700_000_208.5,
        "2023-11-14T22:16:48.500Z",
        "2023-11-14T22:16:48.500000+00:00",
        "2023-11-14T23:16:48.5+01:00",
        "2023-11-14T22:16:48.500",
        datetime(2023, 11, 14, 22, 16, 48, 500_000, tzinfo=UTC),
        datetime(2023, 11, 14, 17, 16, 48, 500_000, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_timestamps_in_every_form_describe_dataset_reaches_us_in(value: object) -> None:
    assert epoch_seconds(value) == pytest.approx(1_700_000_208.5)


@pytest.mark.parametrize("value", [None, True, "yesterday", "", math.nan, [1], {"t": 1}])
def test_what_is_not_a_timestamp_is_none(value: object) -> None:
    assert epoch_seconds(value) is None
