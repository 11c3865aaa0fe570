import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelsync.domain import rules
from labelsync.domain.jsonl import dump_lines, dump_strings
from labelsync.domain.planning import KEPT_ITEMS, PLAN_READY, PLAN_REJECTED, LineNumbers, plan_manifest


class MemorySink:
    """Chunks by index: a later write of the same index replaces the earlier one, as an S3 key does."""

    def __init__(self) -> None:
        self.written: dict[int, bytes] = {}
        self.side: dict[str, bytes] = {}
        self.planned = 0

    @property
    def chunks(self) -> list[bytes]:
        return [self.written[i] for i in range(self.planned)]

    def write_chunk(self, index: int, data: bytes) -> str:
        self.written[index] = data
        self.planned = index + 1
        return f"c{index}"

    def append(self, name: str, data: bytes) -> None:
        self.side[name] = self.side.get(name, b"") + data

    def refs(self) -> list[str]:
        return [json.loads(x) for x in self.side.get("source-refs", b"").splitlines()]


def opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)


def line(ref: str, **extra: object) -> bytes:
    return json.dumps({"source-ref": ref, **extra}).encode()


def test_last_line_per_source_ref_wins_and_order_is_kept() -> None:
    data = b"\n".join([line("s3://b/1", v=1), line("s3://b/2"), line("s3://b/1", v=2), b"", line("s3://b/3")]) + b"\n"
    sink = MemorySink()
    plan = plan_manifest(opener(data), chunk_limit=1000, sink=sink)
    assert plan.status == PLAN_READY
    body = b"".join(sink.chunks)
    assert body == b"\n".join([line("s3://b/2"), line("s3://b/1", v=2), line("s3://b/3")]) + b"\n"
    assert [(s.line, s.by_line) for s in plan.superseded] == [(1, 3)]
    counts = plan.counts
    assert (counts.lines_read, counts.blank, counts.accepted, counts.superseded, counts.rejected) == (5, 1, 3, 1, 0)
    assert set(sink.refs()) == {"s3://b/2", "s3://b/1", "s3://b/3"}


def test_empty_manifest_is_refused_with_a_reason() -> None:
    plan = plan_manifest(opener(b"\n\n"), chunk_limit=1000, sink=MemorySink())
    assert plan.status == PLAN_REJECTED and plan.reason and plan.reason[0] == "ERROR_EMPTY_MANIFEST"


def test_more_than_20_percent_invalid_sends_nothing() -> None:
    good = [line(f"s3://b/{i}") for i in range(3)]
    data = b"\n".join([*good, b"not json"]) + b"\n"  # 25% invalid
    sink = MemorySink()
    plan = plan_manifest(opener(data), chunk_limit=1000, sink=sink)
    assert plan.status == PLAN_REJECTED and plan.reason and plan.reason[0] == "ERROR_TOO_MANY_RECORDS_IN_ERROR"
    assert plan.chunks == [] and plan.counts.rejected == 1


def test_exactly_20_percent_invalid_still_goes() -> None:
    data = b"\n".join([*(line(f"s3://b/{i}") for i in range(4)), b"{"]) + b"\n"
    plan = plan_manifest(opener(data), chunk_limit=1000, sink=MemorySink())
    assert plan.status == PLAN_READY and plan.counts.rejected == 1 and plan.rejections[0].line == 5


refs = st.sampled_from([f"s3://bucket/img-{i}.jpg" for i in range(12)])
good_line = st.builds(lambda r, n: line(r, n=n), refs, st.integers(0, 10**6))
any_line = st.one_of(good_line, st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), st.just(b""))


@settings(max_examples=200)
@given(st.lists(any_line, max_size=40), st.integers(60, 400))
def test_every_line_is_classified_exactly_once(lines: list[bytes], limit: int) -> None:
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    sink = MemorySink()
    plan = plan_manifest(opener(data), chunk_limit=limit, sink=sink)
    c = plan.counts
    assert c.lines_read == c.blank + c.rejected + c.superseded + c.accepted
    if plan.status == PLAN_READY:
        sent = [json.loads(x) for chunk in sink.chunks for x in chunk.splitlines()]
        refs = [d["source-ref"] for d in sent]
        assert set(refs) == set(sink.refs())
        assert len(set(refs)) == len(refs) == c.accepted
        assert all(len(chunk) < limit for chunk in sink.chunks)
    else:
        assert plan.chunks == [] and plan.reason is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 6)), max_size=30))
def test_line_numbers_kept_as_runs_read_back_as_a_list(gaps_and_runs: list[tuple[int, int]]) -> None:
    kept, expected = LineNumbers(), list[int]()
    number = 0
    for gap, run in gaps_and_runs:
        number += gap
        if run == 1:
            kept.extend([number])
        else:
            kept.add_run(number, run)
        expected += range(number, number + run)
        number += run
    assert kept.count == len(expected)
    assert [kept[position] for position in range(len(expected))] == expected
    assert len(kept.starts) <= len(gaps_and_runs)  # consecutive lines share a run


def test_a_manifest_over_the_services_line_limit_is_refused_when_reading_crosses_it() -> None:
    limit = rules.MAX_MANIFEST_LINES
    at_limit = plan_manifest(opener(line("s3://b/a.jpg") + b"\n" * limit), chunk_limit=5 << 20, sink=MemorySink())
    assert at_limit.status == PLAN_READY and at_limit.counts.lines_read == limit
    over = plan_manifest(opener(b"\n" * (limit + 1)), chunk_limit=5 << 20, sink=MemorySink())
    assert over.status == PLAN_REJECTED and over.reason is not None
    assert over.reason[0] == "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM" and "250,000 lines" in over.reason[1]
    assert over.counts.lines_read < limit  # stopped at the block that crossed, nothing after it read


def test_a_gzip_that_expands_past_the_size_limit_is_refused_as_soon_as_it_crosses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "MAX_MANIFEST_BYTES", 100_000)
    read: list[int] = []

    class Endless(io.RawIOBase):
        """One line that never ends, as a gzip bomb decompresses."""

        def readinto(self, buffer: Any) -> int:
            buffer[:] = b"x" * len(buffer)
            read.append(len(buffer))
            return len(buffer)

    plan = plan_manifest(lambda: Endless(), chunk_limit=5 << 20, sink=MemorySink(), block_size=4096)  # type: ignore[arg-type,return-value]
    assert plan.status == PLAN_REJECTED and plan.reason is not None
    assert plan.reason[0] == "ERROR_MANIFEST_SIZE_TOO_LARGE" and "over 100,000 bytes" in plan.reason[1]
    assert 100_000 < sum(read) <= 100_000 + 4096


def test_a_long_bad_source_ref_is_quoted_short() -> None:
    bad = "x" * 99_000
    plan = plan_manifest(opener(json.dumps({"source-ref": bad}).encode()), chunk_limit=5 << 20, sink=MemorySink())
    (rejection,) = plan.rejections
    assert rejection.code == "ERROR_INVALID_SOURCE_REF_FORMAT" and "(99,000 characters)" in rejection.message
    assert len(rejection.message) < 400


def test_rejected_lines_go_to_the_side_file_and_memory_keeps_a_count_and_the_first() -> None:
    body = b"not json\n" * (KEPT_ITEMS + 500) + b"".join(line(f"s3://b/{n}.jpg") + b"\n" for n in range(10_000))
    sink = MemorySink()
    plan = plan_manifest(opener(body), chunk_limit=5 << 20, sink=sink, block_size=4096)
    assert plan.status == PLAN_READY and plan.counts.rejected == KEPT_ITEMS + 500
    assert len(plan.rejections) == KEPT_ITEMS and plan.rejections[-1].line == KEPT_ITEMS
    listed = [json.loads(x) for x in sink.side["rejects"].splitlines()]
    assert [r["line"] for r in listed] == list(range(1, KEPT_ITEMS + 501))
    assert listed[:KEPT_ITEMS] == [r.as_dict() for r in plan.rejections]


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20), max_size=10))
def test_the_source_refs_side_file_is_written_as_json_dumps_would(refs: list[str]) -> None:
    assert dump_strings(refs) == dump_lines(refs)
