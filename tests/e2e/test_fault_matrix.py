"""A fast subset of the fault matrix (benchmarks/fault_matrix.py runs the whole of it).

Every fault kind is forced into at least one small seeded scenario, with parameters that make
it strike; each scenario must either complete, or fail with an alert naming what failed and
then complete on resume: no line lost, no image left with an older line than the newest
manifest's, every line of every manifest accounted for in its report, nothing hung.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from benchmarks.fault_scenarios import (
    CONCURRENT,
    CRASH,
    DUPLICATE_EVENTS,
    LATENCY,
    OUT_OF_ORDER,
    OUTSIDE_UPDATE,
    SERVER_ERRORS,
    STOPPED,
    THROTTLING,
    UPDATE_FAILED,
    VIOLATED,
    WRONG_VERSION,
    DatasetSpec,
    Fault,
    expected_datasets,
    fault_kinds,
    lambda_functions,
    make_scenario,
    manifest_of,
    run_scenario,
)

LIMIT_SECONDS = 30.0
FUNCTIONS = lambda_functions()


def _crash_cases() -> list[tuple[int, list[str], dict[str, dict[str, Any]]]]:
    """Two functions per scenario, first invocation: one crashing before its work (until fixed, in two of
    three scenarios), one after it (its result lost, once: it must strike after the first is fixed)."""
    cases = []
    for number, start in enumerate(range(0, len(FUNCTIONS), 2)):
        pair = FUNCTIONS[start : start + 2]
        params = {
            f"{CRASH}:{name}": {"when": ("before", "after")[i], "nth": 0, "persistent": i == 0 and number != 1}
            for i, name in enumerate(pair)
        }
        cases.append((700 + number, [f"{CRASH}:{name}" for name in pair], params))
    return cases


CASES: list[tuple[int, list[str], dict[str, dict[str, Any]]]] = [
    (
        101,
        [THROTTLING, SERVER_ERRORS, LATENCY],
        {
            THROTTLING: {"operation": "*", "rate": 0.3},
            SERVER_ERRORS: {"operation": "UpdateDatasetEntries", "rate": 0.3},
            LATENCY: {"operation": "DescribeDataset", "seconds": 20},
        },
    ),
    (202, [OUTSIDE_UPDATE, CONCURRENT], {OUTSIDE_UPDATE: {"after_ms": 0, "seconds": 200, "times": 2}}),
    (303, [UPDATE_FAILED, OUT_OF_ORDER], {UPDATE_FAILED: {"nth": 0, "persistent": False}}),
    (404, [DUPLICATE_EVENTS, STOPPED], {DUPLICATE_EVENTS: {"rate": 1.0, "late": True}, STOPPED: {"after_ms": 0}}),
    *_crash_cases(),
]


def test_the_cases_cover_every_fault_kind() -> None:
    covered = {kind for _, kinds, _ in CASES for kind in kinds}
    assert covered == set(fault_kinds(FUNCTIONS))


def test_scenarios_are_seeded_and_the_oracle_takes_the_newest_written_line() -> None:
    first, again = make_scenario(42, small=True), make_scenario(42, small=True)
    assert first == again
    expected = expected_datasets(first)
    for label, refs in expected.items():
        for ref, tag in refs.items():
            writers = [m for m in first.manifests if m.dataset.label == label and ref in m.final_lines()]
            assert tag == writers[-1].final_lines()[ref]  # the last-written manifest that has an accepted line


@pytest.mark.parametrize(
    ("seed", "kinds", "params"), CASES, ids=["+".join(k.removeprefix("crash:") for k in c[1]) for c in CASES]
)
def test_fault_scenario_completes_or_alerts_and_completes_on_resume(
    seed: int, kinds: Sequence[str], params: dict[str, dict[str, Any]]
) -> None:
    scenario = make_scenario(seed, kinds=kinds, functions=FUNCTIONS, small=True, params=params)
    outcome = run_scenario(scenario, limit_seconds=LIMIT_SECONDS)
    struck = {kind for kind, times in outcome.fired.items() if times}
    assert struck >= set(kinds) - {STOPPED}, (struck, scenario.describe())
    assert outcome.status != VIOLATED, "\n".join(
        [scenario.describe(), *(f"{kind}: {detail}" for kind, ds in outcome.violations.items() for detail in ds)]
    )


def test_a_late_run_does_not_leave_out_lines_a_failed_newer_run_never_applied() -> None:
    """m0 applied; m2 (written last) fails its only update; m1's event comes last. m2 applied nothing,
    so m1 must apply all its lines: once m1 reported success, no image of m1 may hold m0's older line,
    whether or not m2 is ever resumed."""
    dataset = DatasetSpec("fm-a", "TRAIN", exists=True)
    images = ["img-x", "img-y", "img-z"]
    base = make_scenario(1, kinds=[OUT_OF_ORDER, UPDATE_FAILED], functions=FUNCTIONS, small=True)
    scenario = replace(
        base,
        datasets=(dataset,),
        manifests=(
            manifest_of(0, dataset, images),
            manifest_of(1, dataset, [*images, "img-w"]),
            manifest_of(2, dataset, images),
        ),
        faults=(Fault(OUT_OF_ORDER), Fault(UPDATE_FAILED, {"nth": 1, "persistent": False})),
        chunk_limit=5_242_880,
        delivery={"mode": "late", "order": [0, 2, 1]},
    )
    outcome = run_scenario(scenario, limit_seconds=LIMIT_SECONDS)
    assert outcome.fired[UPDATE_FAILED] == 1
    assert WRONG_VERSION not in outcome.violations, outcome.violations[WRONG_VERSION]
    assert outcome.status != VIOLATED, outcome.violations


def test_a_retried_turn_still_accounts_for_the_lines_it_left_out() -> None:
    """m1 (written last) is applied first; m0's event comes late, so its whole chunk is superseded.
    m0's TakeTurn dies after it did its work (the lock taken, the chunk marked): the retry must still
    report m0's lines as superseded by m1, not as not applied in a completed run."""
    dataset = DatasetSpec("fm-a", "TRAIN", exists=True)
    images = ["img-x", "img-y"]
    base = make_scenario(1, kinds=[OUT_OF_ORDER], functions=FUNCTIONS, small=True)
    turn = f"{CRASH}:TakeTurn"
    scenario = replace(
        base,
        datasets=(dataset,),
        manifests=(manifest_of(0, dataset, images), manifest_of(1, dataset, images)),
        faults=(
            Fault(OUT_OF_ORDER),
            Fault(turn, {"function": "TakeTurn", "when": "after", "nth": 1, "times": 1, "persistent": False}),
        ),
        chunk_limit=5_242_880,
        delivery={"mode": "late", "order": [1, 0]},
    )
    outcome = run_scenario(scenario, limit_seconds=LIMIT_SECONDS)
    assert outcome.fired[turn] == 1
    assert outcome.status != VIOLATED, outcome.violations
