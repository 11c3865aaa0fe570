"""Properties of the checker and the packer (hypothesis).

- No input crashes the plan step, and every line is classified exactly once.
- The plan is the rulebook applied line by line: the same verdict for every line as
  `Checker.check` on the line alone, whatever the read block size.
- JSON is read as Python's decoder reads it (msgspec reads the usual line, `json` the rest).
- The block reader numbers lines like the line reader; chunks are in order, strictly under
  the limit, and as few as possible.
"""

import io
import json
import random
from collections.abc import Callable
from typing import Any, BinaryIO

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelsync.domain import rules
from labelsync.domain.checker import Accepted, Checker, Rejection
from labelsync.domain.lines import read_batches
from labelsync.domain.packing import ChunkPacker
from labelsync.domain.planning import PLAN_READY, ManifestPlan, plan_manifest
from tests.unit import edge_lines
from tests.unit.line_oracle import oracle_lines


class Sink:
    def __init__(self) -> None:
        self.written: dict[int, bytes] = {}
        self.side: dict[str, bytes] = {}

    def write_chunk(self, index: int, data: bytes) -> str:
        self.written[index] = data
        return str(index)

    def append(self, name: str, data: bytes) -> None:
        self.side[name] = self.side.get(name, b"") + data


def opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)


def detection(rnd: random.Random, index: int) -> dict[str, Any]:
    width, height = rnd.choice([(640, 480), (4000, 3000), (100, 100)])
    boxes = [
        {
            "class_id": rnd.randrange(3),
            "top": rnd.randrange(height),
            "left": rnd.randrange(width),
            "width": rnd.choice([1, 3, 50, 300]),
            "height": rnd.choice([2, 40, 200]),
        }
        for _ in range(rnd.randrange(4))
    ]
    return {
        "source-ref": f"s3://{rnd.choice(['bucket', 'bucket', 'other'])}/img-{index % 9}.jpg",
        "bb": {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": boxes},
        "bb-metadata": {
            "objects": [{"confidence": 1}] * rnd.choice([len(boxes), max(0, len(boxes) - 1)]),
            "class-map": {"0": "cat", "1": "dog"},
            "type": "groundtruth/object-detection",
        },
    }


def classification(index: int) -> dict[str, Any]:
    return {
        "source-ref": f"s3://bucket/c-{index}.jpg",
        "a": 1,
        "a-metadata": {"class-name": "sun", "type": "groundtruth/image-classification"},
    }


def multilabel(index: int) -> dict[str, Any]:
    return {
        "source-ref": f"s3://bucket/m-{index}.jpg",
        "t": [0, 1],
        "t-metadata": {"class-map": {"0": "a", "1": "b"}, "type": "groundtruth/image-classification-multilabel"},
    }


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    rnd = random.Random(draw(st.integers(0, 2**32)))
    lines: list[bytes] = []
    for index in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(["det", "det", "det", "cls", "multi", "blank", "junk", "mutated", "ws"]))
        if kind == "det":
            lines.append(json.dumps(detection(rnd, index), separators=(",", ":")).encode())
        elif kind == "cls":
            lines.append(json.dumps(classification(index)).encode())
        elif kind == "multi":
            lines.append(json.dumps(multilabel(index)).encode())
        elif kind == "blank":
            lines.append(b"")
        elif kind == "ws":
            lines.append(b"  \t")
        elif kind == "junk":
            lines.append(draw(st.binary(max_size=30)).replace(b"\n", b" "))
        else:
            data = bytearray(json.dumps(detection(rnd, index)).encode())
            for _ in range(draw(st.integers(1, 3))):
                data[rnd.randrange(len(data))] = draw(st.sampled_from(b'{}[]",:0\xff\x00 a-'))
            lines.append(bytes(data).replace(b"\n", b" "))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    trailing = draw(st.booleans())
    body = end.join(lines) + (end if lines and trailing else b"")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


def summary(plan: ManifestPlan, sink: Sink) -> dict[str, Any]:
    return {
        "status": plan.status,
        "reason": plan.reason,
        "counts": plan.counts.as_dict(),
        "rejections": [r.as_dict() for r in plan.rejections],
        "superseded": [s.as_dict() for s in plan.superseded],
        "warnings": [w.as_dict() for w in plan.warnings],
        "conversions": [c.as_dict() for c in plan.conversions],
        "chunks": [sink.written[c.index] for c in plan.chunks],
        "refs": set(json.loads(x) for x in sink.side.get("source-refs", b"").splitlines()),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), st.integers(150, 3000), st.booleans(), st.booleans())
def test_no_input_crashes_and_every_line_is_classified(data: bytes, limit: int, strict: bool, labels: bool) -> None:
    sink = Sink()
    plan = plan_manifest(opener(data), chunk_limit=limit, sink=sink, warnings_as_rejections=strict, label_rules=labels)
    c = plan.counts
    assert c.lines_read == c.blank + c.rejected + c.superseded + c.accepted
    assert c.lines_read == len(list(oracle_lines(io.BytesIO(data), max_bytes=400_000)))
    if plan.status == PLAN_READY:
        sent = [line for chunk in summary(plan, sink)["chunks"] for line in chunk.splitlines()]
        assert len(sent) == c.accepted and all(len(chunk) < limit for chunk in sink.written.values())
        assert len({json.loads(line)["source-ref"] for line in sent}) == c.accepted
        assert c.converted <= c.accepted and c.warned <= c.accepted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), st.integers(150, 3000), st.booleans(), st.booleans(), st.integers(64, 4096))
def test_the_plan_is_the_rulebook_applied_line_by_line(
    data: bytes, limit: int, strict: bool, labels: bool, block: int
) -> None:
    sink = Sink()
    plan = plan_manifest(
        opener(data), chunk_limit=limit, sink=sink, warnings_as_rejections=strict, label_rules=labels, block_size=block
    )
    checker = Checker(limit, warnings_as_rejections=strict, label_rules=labels)
    rejected: list[Rejection] = []
    warnings, accepted = [], 0
    for line in oracle_lines(io.BytesIO(data), max_bytes=rules.MAX_LINE_BYTES):
        if line.blank:
            continue
        verdict = checker.check(line)
        if isinstance(verdict, Rejection):
            rejected.append(verdict)
        else:
            assert isinstance(verdict, Accepted)
            warnings += verdict.warnings
            accepted += 1
    assert plan.rejections == rejected
    assert plan.warnings == warnings[: len(plan.warnings)] and plan.counts.warnings == len(warnings)
    assert plan.counts.accepted + plan.counts.superseded == accepted
    # The read block size changes nothing.
    again = Sink()
    same = plan_manifest(opener(data), chunk_limit=limit, sink=again, warnings_as_rejections=strict, label_rules=labels)
    assert summary(same, again) == summary(plan, sink)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edge_lines.lines())
def test_json_is_read_as_a_strict_parser_reads_it(data: bytes) -> None:
    """msgspec reads the usual line; whatever it reads must be what `json` reads when told to refuse
    what a strict parser refuses (NaN and Infinity literals, a key twice in one object)."""

    def refuse(what: object) -> Any:
        raise ValueError(what)

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        expected: Any = json.loads(data.decode("utf-8"), parse_constant=refuse, object_pairs_hook=unique)
    except (ValueError, RecursionError):  # invalid UTF-8 or JSON, too many digits, too deep, not strict
        expected = None
    parsed = rules.parse(data, len(data))
    if len(parsed) == 2:
        assert json.dumps(parsed[0]) == json.dumps(expected)  # dumps: NaN reads as NaN, key order counts
    elif parsed[0] in (rules.INVALID_JSON, rules.INVALID_UTF8):
        assert expected is None
    else:
        assert not isinstance(expected, dict) or parsed[0] in (
            rules.MISSING_SOURCE_REF,
            rules.INVALID_SOURCE_REF,
            rules.LINE_TOO_LONG,
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.booleans(),
    st.integers(1, 50),
    st.integers(8, 64),
)
def test_batches_number_lines_like_the_line_reader(
    parts: list[bytes], end: bytes, bom: bool, last_end: bool, block: int, max_bytes: int
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + end.join(parts) + (end if last_end and parts else b"")
    expected = [(x.number, x.data, x.length) for x in oracle_lines(io.BytesIO(data), max_bytes=max_bytes)]
    got = [
        (x.number, x.data, x.length)
        for batch in read_batches(io.BytesIO(data), max_bytes=max_bytes, block_size=block)
        for x in batch.raw_lines()
    ]
    assert got == expected


class ListSink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write_chunk(self, index: int, data: bytes) -> str:
        self.chunks.append(data)
        return str(index)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    st.integers(42, 200),
)
def test_packing_keeps_every_line_in_order_and_is_minimal(lines: list[bytes], limit: int) -> None:
    lines = [line for line in lines if len(line) + 1 < limit]  # the plan step rejects the others
    one = ListSink()
    single = ChunkPacker(limit, one)
    for number, data in enumerate(lines, 1):
        single.add(number, data)
    infos = single.finish()
    assert sum(info.lines for info in infos) == len(lines)
    assert b"".join(one.chunks) == b"".join(line + b"\n" for line in lines)  # exactly the lines, in order
    assert all(len(chunk) < limit for chunk in one.chunks)
    for chunk, following in zip(one.chunks, one.chunks[1:], strict=False):  # greedy: the next line did not fit
        assert len(chunk) + len(following.split(b"\n", 1)[0]) + 1 >= limit
