"""Scale: 2,000 chunks of one manifest through the real definition, offline, far from Step Functions' quotas.

One line per chunk (a tiny chunk limit), 0.5 s updates at time scale 1e-6, so each chunk costs one
DescribeDataset and the run is bound by the engine's own speed. The figures at full scale (and the
polling, cost and end-to-end measurements) are in benchmarks/scale_and_cost.py, which this test reuses.
"""

from benchmarks.scale_and_cost import HISTORY_QUOTA, MAX_CALLS, STATE_DATA_QUOTA, run_scale

CHUNKS = 2000
CHILD_EVENTS_BOUND = 21 + 11 * (MAX_CALLS - 1)  # a child with the whole 12-call poll budget


def test_two_thousand_chunks_run_in_constant_parent_history_and_small_children() -> None:
    result = run_scale(CHUNKS, queued=False, timeout=280)

    assert result.status == "SUCCEEDED"
    assert result.outcome == "SUCCEEDED_WITH_ERRORS"  # the manifest's rejected lines are reported
    assert result.chunks == CHUNKS
    # Every chunk applied exactly once, in its own child execution.
    assert sorted(result.applies) == list(range(CHUNKS))
    assert result.updates == CHUNKS
    assert result.child_status == {"SUCCEEDED": CHUNKS}
    # The parent's history does not grow with the chunks: the same as a 2-chunk run's.
    assert result.parent_events == result.parent_events_small
    assert result.parent_events < HISTORY_QUOTA // 100
    # Each child's history is small (one poll here; the whole poll budget stays far below the quota too).
    assert result.max_child_events <= CHILD_EVENTS_BOUND < HISTORY_QUOTA // 100
    # State data stays small: the chunk list lives in S3, read by the Map's ItemReader.
    assert result.any_payload[0] < STATE_DATA_QUOTA // 20
    assert 0 < result.child_input_max < STATE_DATA_QUOTA // 100
