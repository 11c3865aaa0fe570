"""The fast hostile cases of `make hostile` (benchmarks/hostile.py), through the same checks: one SNS
message per drop, counts that add up, the expected outcome, no crash without a message. Run in this
process for speed, but one sandboxed, where memory and time limits hold and peak RSS is measured."""

from __future__ import annotations

import pytest

from benchmarks.hostile import CASES, Case, run_case

FAST = [case for case in CASES if case.fast]
SANDBOXED = "lone-cr-resumed"  # the whole path: plan, turn, resolve, apply, record, report, resume


@pytest.mark.parametrize("case", FAST, ids=[case.name for case in FAST])
def test_a_hostile_input_keeps_every_promise(case: Case) -> None:
    result = run_case(case, timeout=120, sandboxed=case.name == SANDBOXED)
    assert result.ok, result.violations
    if case.name == SANDBOXED:
        assert set(result.peaks) >= {"labelsync-PlanManifest", "labelsync-TakeTurn", "labelsync-ReportRun"}
        assert all(0 < peak < memory for peak, memory in result.peaks.values())


def test_the_slow_cases_are_left_to_make_hostile() -> None:
    slow = {case.name for case in CASES if not case.fast}
    assert slow == {"invalid-4m-lines", "newlines-1gb", "single-line-4gb", "bad-refs-3000x99k", "utf16-250k"}
