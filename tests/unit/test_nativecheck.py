"""The native scan certifies only what the reference check accepts clean (hypothesis, differential).

The property: a line the C scan calls CLEAN is one the reference check (`LineChecker`) accepts
unchanged, without a warning, with the same source-ref; its hash and side-file bytes are the
ones the plan would compute for it. The lines (tests/unit/edge_lines.py) sit at every rule's
edge. A planted bug in any rule of native/linecheck.c fails these tests (checked by hand for
the box edge, the 1-px limit, image sides, name length, label count, duplicate keys, the
multi-label check, nesting, class ids, confidences and the bucket).
"""

from __future__ import annotations

import json
from array import array

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labelsync.domain import nativecheck
from labelsync.domain.checker import Accepted, LineChecker
from labelsync.domain.lines import RawLine
from labelsync.domain.planning import encode_refs
from tests.unit.edge_lines import BUCKET, Seeded, lines, make_line

pytestmark = pytest.mark.skipif(not nativecheck.available(), reason="the native library is not built")


def verdicts(batch: list[bytes], *, label_rules: bool, limit: int) -> list[tuple[bytes, int, bytes | None]]:
    checker = LineChecker(limit, label_rules=label_rules, first_bucket=BUCKET if label_rules else None)
    native = nativecheck.NativeChecker.create(checker)
    assert native is not None
    raw = b"\n".join(batch)
    scan = native.scan(raw)
    assert scan.count == len(batch)
    out = []
    for index in range(scan.count):
        refs = scan.refs_between(index, index + 1) if scan.status[index] == nativecheck.CLEAN else None
        out.append((raw[scan.starts[index] : scan.ends[index]], scan.hashes[index], refs))
    return out


def assert_clean_means_clean(batch: list[bytes], *, label_rules: bool, limit: int) -> int:
    """The property, for one block; returns how many lines were CLEAN."""
    reference = LineChecker(limit, label_rules=label_rules, first_bucket=BUCKET if label_rules else None)
    native = nativecheck.NativeChecker.create(reference)
    assert native is not None
    clean = 0
    for number, (data, ref_hash, refs) in enumerate(verdicts(batch, label_rules=label_rules, limit=limit), 1):
        if refs is None:
            continue
        clean += 1
        verdict = reference.check(RawLine(number, data, len(data)))
        assert isinstance(verdict, Accepted), (data, verdict)
        assert not verdict.warnings and not verdict.converted and verdict.data == data, (data, verdict)
        assert refs == encode_refs([verdict.source_ref])
        assert ref_hash == native.hash_ref(verdict.source_ref)
    return clean


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(lines(), min_size=1, max_size=12), st.booleans(), st.sampled_from([5 << 20, 5 << 20, 2000, 300]))
@example([b'{"source-ref": "s3://bucket/a.jpg", "a": 1, "a-metadata": {"class-name": "sun", "type": "groundtruth/image-classification"}}'], True, 5 << 20)  # fmt: skip
def test_a_clean_verdict_is_the_reference_checks_clean_acceptance(batch: list[bytes], labels: bool, limit: int) -> None:
    assert_clean_means_clean(batch, label_rules=labels, limit=limit)


@pytest.mark.parametrize("label_rules", [True, False])
def test_forty_thousand_seeded_lines_agree_with_the_reference(label_rules: bool) -> None:
    """Volume where shrinking is not needed: every rule edge is hit hundreds of times."""
    choices = Seeded(20261123)
    batch = [make_line(choices) for _ in range(40_000)]
    clean = assert_clean_means_clean(batch, label_rules=label_rules, limit=5 << 20)
    assert clean > 10_000  # the property is not vacuous


def test_typical_lines_are_clean_and_broken_rules_are_not() -> None:
    good = {
        "source-ref": "s3://bucket/a.jpg",
        "bb": {
            "image_size": [{"width": 4032, "height": 3024, "depth": 3}],
            "annotations": [{"class_id": 0, "top": 1, "left": 2, "width": 3.2, "height": 3.2}],
        },
        "bb-metadata": {
            "objects": [{"confidence": 0.9}],
            "class-map": {"0": "cat"},
            "type": "groundtruth/object-detection",
        },
    }
    bad_box = json.loads(json.dumps(good))
    bad_box["bb"]["annotations"][0]["width"] = 3.1  # under 1 px once 4032 px is scaled to 1280
    no_class = json.loads(json.dumps(good))
    no_class["bb"]["annotations"][0]["class_id"] = 7
    other_bucket = good | {"source-ref": "s3://elsewhere/a.jpg"}
    multi = good | {"tags": [0], "tags-metadata": {"type": "groundtruth/image-classification-multilabel"}}
    batch = [json.dumps(doc).encode() for doc in (good, bad_box, no_class, other_bucket, multi)]
    batch += [b"", b"   ", b"[1]", b'{"source-ref": "s3://bucket/a.jpg"}', json.dumps(good).encode() + b"\r"]
    clean = [refs is not None for _, _, refs in verdicts(batch, label_rules=True, limit=5 << 20)]
    assert clean == [True, False, False, False, False, False, False, False, False, True]
    silent_drops_only = [refs is not None for _, _, refs in verdicts(batch, label_rules=False, limit=5 << 20)]
    assert silent_drops_only == [True, True, True, True, False, False, False, False, True, True]


def test_a_block_with_more_lines_than_the_buffers_is_scanned_whole() -> None:
    line = b'{"source-ref": "s3://bucket/a.jpg", "a": 1, "a-metadata": {"class-name": "s", "type": "groundtruth/image-classification"}}'
    count = nativecheck.MIN_LINES * 3 + 7
    scan = verdicts([line] * count, label_rules=True, limit=5 << 20)
    assert len(scan) == count and all(refs is not None for _, _, refs in scan)


def test_all_different_finds_a_repeat_anywhere() -> None:
    assert nativecheck.all_different(array("q", range(1, 100_000)))
    assert nativecheck.all_different(array("q", [0, 1, -1]))
    assert not nativecheck.all_different(array("q", [0, 5, 0]))
    assert not nativecheck.all_different(array("q", [*range(1, 5000), 4999]))
    assert nativecheck.all_different(array("q"))
