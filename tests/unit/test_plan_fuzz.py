"""The plan step under random and mutated manifests (hypothesis over benchmarks/fuzz_plan.py's generators).

The script runs the same checks over a million lines; here a few hundred small manifests,
plus one regression test per crash the fuzzing found.
"""

import io
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_plan import (
    BYTE_MUTATIONS,
    DOC_MUTATIONS,
    NON_OBJECTS,
    Generator,
    Sink,
    Tally,
    check_plan,
    classification,
    detection,
    expected_lines,
    fuzz_one,
    multilabel,
    plan_once,
    summary,
)
from labelsync.domain.planning import plan_manifest
from labelsync.domain.report import message_from_report
from labelsync.domain.rules import number


def plan_all_ways(data: bytes, limit: int, strict: bool, block: int) -> None:
    """No exception, every property of fuzz_plan.check_plan, and the read block size changes nothing."""
    results = []
    for size in (block, 1 << 20):
        plan, sink = plan_once(data, limit=limit, strict=strict, block=size)
        check_plan(data, plan, sink, limit)
        results.append(summary(plan, sink))
    assert results[0] == results[1]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**32),
    st.integers(0, 40),
    st.sampled_from([5 << 20, 4096, 600]),
    st.booleans(),
    st.sampled_from([1 << 20, 4096, 256]),
)
def test_generated_manifests_never_crash_and_every_line_is_classified(
    seed: int, lines: int, limit: int, strict: bool, block: int
) -> None:
    plan_all_ways(Generator(seed).manifest(lines), limit, strict, block)


@st.composite
def mutated_manifests(draw: st.DrawFn) -> bytes:
    """Valid lines of the three kinds, each mutated by a mutation hypothesis picks (and shrinks)."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    body = []
    for index in range(draw(st.integers(1, 12))):
        maker = draw(st.sampled_from([classification, detection, multilabel]))
        doc: dict[str, Any] = maker(rnd, f"s3://bucket/img-{index % 5}.jpg")
        kind = draw(st.sampled_from(["none", "doc", "bytes", "non-object", "blank"]))
        if kind == "doc":
            _, mutate = draw(st.sampled_from(DOC_MUTATIONS))
            body.append(mutate(rnd, doc))
        elif kind == "bytes":
            _, flip = draw(st.sampled_from(BYTE_MUTATIONS))
            body.append(flip(rnd, json.dumps(doc).encode()))
        elif kind == "non-object":
            body.append(draw(st.sampled_from(NON_OBJECTS)))
        elif kind == "blank":
            body.append(draw(st.sampled_from([b"", b" ", b"\r"])))
        else:
            body.append(json.dumps(doc).encode())
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = end.join(body) + draw(st.sampled_from([b"", end]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_manifests(), st.sampled_from([5 << 20, 600]), st.booleans(), st.sampled_from([1 << 20, 128]))
def test_every_mutation_is_classified_with_a_reason(data: bytes, limit: int, strict: bool, block: int) -> None:
    plan_all_ways(data, limit, strict, block)


def test_the_fuzz_driver_counts_lines_and_reports_nothing_on_a_clean_run() -> None:
    tally = Tally()
    generator = Generator(3)
    for size in (0, 1, 50, 300):
        fuzz_one(generator.manifest(size), random.Random(size), tally, "test")
    assert (tally.crashes, tally.unclassified, tally.divergences) == (0, 0, 0)
    assert tally.lines == 351 and tally.manifests == 4
    assert expected_lines(b"\xef\xbb\xbfa\nb") == 2 and expected_lines(b"\xef\xbb\xbf") == 0


# -- regressions: crashes the fuzzing found ------------------------------------------------------
def plan(data: bytes, *, block: int = 1 << 20) -> Any:
    return plan_manifest(lambda: io.BytesIO(data), chunk_limit=5 << 20, sink=Sink(), block_size=block)


def clean(index: int) -> dict[str, Any]:
    return {
        "source-ref": f"s3://bucket/{index}.jpg",
        "a": 1,
        "a-metadata": {"class-name": "sun", "type": "groundtruth/image-classification"},
        "other": 1,
    }


def test_json_nested_past_the_recursion_limit_in_a_known_layout_is_rejected() -> None:
    # msgspec raises RecursionError (not a DecodeError): the line must still be rejected.
    deep = json.dumps(clean(999)).replace('"other": 1', '"other": ' + "[" * 5000 + "]" * 5000)
    lines = [json.dumps(clean(i)) for i in range(100)] + [deep] + [json.dumps(clean(i)) for i in range(100, 200)]
    result = plan("\n".join(lines).encode() + b"\n", block=4096)
    assert [(r.line, r.code) for r in result.rejections] == [(101, "ERROR_INVALID_JSON_LINE")]
    assert result.counts.accepted == 200


def test_an_integer_too_large_for_a_float_is_an_invalid_value_not_a_crash() -> None:
    assert number(10**400) is None and number(10**300) == 1e300
    doc = detection(random.Random(1), "s3://bucket/a.jpg")
    doc["bounding-box"]["image_size"][0]["width"] = 10**400
    result = plan(json.dumps(doc).encode())
    assert result.counts.accepted == 1 and "ERROR_INVALID_IMAGE_DIMENSION" in result.warning_codes


def test_a_lone_surrogate_in_a_converted_line_is_kept_escaped() -> None:
    # The converted line was encoded as UTF-8 with the surrogate: UnicodeEncodeError.
    doc = multilabel(random.Random(1), "s3://bucket/m.jpg")
    doc["tags"] = [0, 1]
    doc["tags-metadata"]["job-name"] = "job-\ud800"
    doc["tags-metadata"]["class-map"]["0"] = "person-\udc00"
    sink = Sink()
    result = plan_manifest(lambda: io.BytesIO(json.dumps(doc).encode()), chunk_limit=5 << 20, sink=sink)
    assert result.counts.converted == 1
    sent = sink.chunks[0]
    assert b"\\ud800" in sent and json.loads(sent.decode("utf-8"))["tags-0-metadata"]["class-name"] == "person-\udc00"
    conversions = b"".join(sink.side["conversions"])
    assert json.loads(conversions)["labels"] == ["person-\udc00", "bicycle"]


def test_a_lone_surrogate_in_a_key_is_accepted() -> None:
    # msgspec refuses the escape: the line is read by json, as Python reads it.
    first = clean(0) | {"\ud800": 1}
    lines = [json.dumps(first)] + [json.dumps(clean(i)) for i in range(1, 50)]
    result = plan("\n".join(lines).encode(), block=256)
    assert result.counts.accepted == 50 and not result.rejections


def test_a_report_naming_a_lone_surrogate_is_still_a_valid_message() -> None:
    report = {"outcome": "SUCCEEDED", "warnings": [{"message": "label 'x\ud800' is odd"}], "counts": {}}
    message = message_from_report(report, max_items=10)
    message.encode("utf-8")  # SNS takes UTF-8 text
    assert json.loads(message)["warnings"][0]["message"] == "label 'x\ud800' is odd"
