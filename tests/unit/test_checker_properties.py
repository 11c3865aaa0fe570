"""Properties of the checker and the packer (hypothesis).

- No input crashes the plan step, and every line is classified exactly once.
- The accelerators (native C scan, msgspec) change nothing but speed: the same plan as the reference check.
- The block reader numbers lines like the line reader; run packing equals line packing;
  chunks are in order, strictly under the limit, and as few as possible.
"""

import io
import json
import random
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any, BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelsync.domain import fastcheck, nativecheck
from labelsync.domain.lines import read_batches
from labelsync.domain.packing import ChunkPacker
from labelsync.domain.planning import ENGINES, PLAN_READY, ManifestPlan, available_engines, plan_manifest
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
@given(manifests(), st.integers(150, 3000), st.booleans(), st.booleans(), st.integers(1, 8), st.integers(64, 4096))
def test_every_engine_gives_the_same_plan(
    data: bytes, limit: int, strict: bool, labels: bool, repeat: int, block: int
) -> None:
    data = data * repeat  # repeated layouts let msgspec learn and certify batches
    plans = []
    for engine in available_engines():
        sink = Sink()
        plan = plan_manifest(
            opener(data),
            chunk_limit=limit,
            sink=sink,
            warnings_as_rejections=strict,
            label_rules=labels,
            block_size=block,
            **ENGINES[engine],
        )
        plans.append(summary(plan, sink))
    assert all(plan == plans[0] for plan in plans)


def clean_manifest(lines: int = 5000) -> bytes:
    rnd = random.Random(1)
    out = []
    for index in range(lines):
        doc = detection(rnd, 0)
        doc["source-ref"] = f"s3://bucket/img-{index}.jpg"
        doc["bb"]["annotations"] = [{"class_id": 1, "top": 5, "left": 5, "width": 30, "height": 30}]
        doc["bb-metadata"]["objects"] = [{"confidence": 1}]
        out.append(json.dumps(doc).encode())
    return b"\n".join(out) + b"\n"


@pytest.mark.skipif(not fastcheck.available(), reason="msgspec is not installed")
def test_msgspec_certifies_clean_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = fastcheck.FastChecker.certify

    def spy(self: fastcheck.FastChecker, batch: Any) -> list[str] | None:
        result = original(self, batch)
        calls.append(0 if result is None else len(result))
        return result

    monkeypatch.setattr(fastcheck.FastChecker, "certify", spy)
    plan = plan_manifest(opener(clean_manifest()), chunk_limit=100_000, sink=Sink(), **ENGINES["msgspec"])
    assert sum(calls) > 4000  # all but the first block
    assert plan.counts.accepted == 5000 and plan.counts.warned == 0


@pytest.mark.skipif(not nativecheck.available(), reason="the native library is not built")
def test_the_native_scan_certifies_clean_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    clean: list[int] = []
    original = nativecheck.NativeChecker.scan

    def spy(self: nativecheck.NativeChecker, buffer: bytes, lo: int = 0, hi: int | None = None) -> nativecheck.Scan:
        scan = original(self, buffer, lo, hi)
        clean.append(scan.count - scan.status.count(nativecheck.UNSURE, 0, scan.count))
        return scan

    monkeypatch.setattr(nativecheck.NativeChecker, "scan", spy)
    plan = plan_manifest(opener(clean_manifest()), chunk_limit=100_000, sink=Sink(), **ENGINES["native"])
    # Every line (the first is scanned too, once it has set the bucket through the reference check).
    assert sum(clean) == 5000
    assert plan.counts.accepted == 5000 and plan.counts.warned == 0


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
    expected = [(x.number, x.data, x.oversize) for x in oracle_lines(io.BytesIO(data), max_bytes=max_bytes)]
    got = [
        (x.number, x.data, x.oversize)
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


class PieceSink:
    """Takes chunks as pieces, as a local file can (ChunkPacker does not join them)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write_chunk(self, index: int, data: bytes) -> str:
        raise AssertionError("a sink with write_chunk_pieces gets pieces")

    def write_chunk_pieces(self, index: int, pieces: Sequence[bytes | memoryview]) -> str:
        self.chunks.append(b"".join(pieces))
        return str(index)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    st.integers(42, 200),
    st.lists(st.integers(1, 20), min_size=1, max_size=8),
)
def test_run_packing_equals_line_packing_and_is_minimal(lines: list[bytes], limit: int, runs: list[int]) -> None:
    one, many = ListSink(), ListSink()
    single, multi = ChunkPacker(limit, one), ChunkPacker(limit, many)
    for number, data in enumerate(lines, 1):
        single.add(number, data)
    start, index = 0, 0
    while start < len(lines):
        size = runs[index % len(runs)]
        part = lines[start : start + size]
        multi.add_run(start + 1, part, b"\n".join(part) if index % 2 else None)
        start, index = start + size, index + 1
    spans = PieceSink()
    spans_packer = ChunkPacker(limit, spans)
    raw = b"\n".join(lines)
    ends = [end - 1 for end in accumulate(len(line) + 1 for line in lines)]  # where each line's LF is (or would be)
    fits = all(len(line) + 1 < limit for line in lines)
    start = 0
    while fits and start < len(lines):  # the native path: spans of one block, pieces to the sink
        stop = min(len(lines), start + runs[start % len(runs)])
        spans_packer.add_spans(start + 1, raw, ends, start, stop, ends[start - 1] + 1 if start else 0)
        start = stop
    assert [c.as_dict() for c in single.finish()] == [c.as_dict() for c in multi.finish()]
    assert one.chunks == many.chunks
    if fits:
        infos = spans_packer.finish()
        assert [c.as_dict() for c in infos] == [c.as_dict() for c in single.chunks]
        assert spans.chunks == one.chunks
    assert b"".join(one.chunks) == b"".join(line + b"\n" for line in lines)  # exactly the lines, in order
    assert all(len(chunk) < limit for chunk in one.chunks)
    for chunk, following in zip(one.chunks, one.chunks[1:], strict=False):  # greedy: the next line did not fit
        assert len(chunk) + len(following.split(b"\n", 1)[0]) + 1 >= limit
