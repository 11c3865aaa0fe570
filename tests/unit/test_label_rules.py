"""Each label rule: one line that breaks it, one that does not (FACTS section 1, issue 3 item 2)."""

import copy
import io
import json
from typing import Any

import pytest

from labelsync.domain import rules
from labelsync.domain.checker import Accepted, Checker, Rejection
from labelsync.domain.lines import RawLine

DETECTION: dict[str, Any] = {
    "source-ref": "s3://bucket/a.jpg",
    "bb": {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [{"class_id": 0, "top": 10, "left": 20, "width": 100, "height": 50}],
    },
    "bb-metadata": {
        "objects": [{"confidence": 0.9}],
        "class-map": {"0": "cat"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2023-01-01T00:00:00",
    },
}
CLASSIFICATION: dict[str, Any] = {
    "source-ref": "s3://bucket/b.jpg",
    "sunny": 1,
    "sunny-metadata": {"class-name": "Sunny", "confidence": 1, "type": "groundtruth/image-classification"},
}


def edit(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


DELETE = object()
many_boxes = [{"class_id": 0, "top": 1, "left": 1, "width": 10, "height": 10}] * 51


@pytest.mark.parametrize(
    ("broken", "code"),
    [
        (edit(DETECTION, "bb.annotations.0.left", 600), rules.INVALID_BOUNDING_BOX),
        (edit(DETECTION, "bb.annotations.0.top", -1), rules.INVALID_BOUNDING_BOX),
        (
            edit(edit(DETECTION, "bb.image_size.0.width", 4000), "bb.annotations.0.width", 2),
            rules.BOUNDING_BOX_TOO_SMALL,
        ),
        (edit(DETECTION, "bb.annotations", many_boxes), rules.TOO_MANY_BOUNDING_BOXES),
        (edit(DETECTION, "bb.annotations.0.class_id", 7), rules.MISSING_CLASS_MAP_ID),
        (edit(DETECTION, "bb-metadata.objects", []), rules.MISSING_BOUNDING_BOX_CONFIDENCE),
        (edit(DETECTION, "bb-metadata.type", "groundtruth/semantic-segmentation"), rules.UNSUPPORTED_USE_CASE_TYPE),
        (edit(DETECTION, "bb", "not an object"), rules.INVALID_LABEL_ATTRIBUTE_FORMAT),
        (edit(DETECTION, "bb-metadata", [1]), rules.INVALID_METADATA_FORMAT),
        (edit(DETECTION, "bb-metadata.class-map", {"0": ""}), rules.INVALID_LABEL_NAME_LENGTH),
        (edit(CLASSIFICATION, "sunny-metadata.class-name", "x" * 257), rules.INVALID_LABEL_NAME_LENGTH),
        (edit(CLASSIFICATION, "sunny-metadata.class-name", DELETE), rules.INVALID_METADATA_FORMAT),
        (edit(DETECTION, "bb.image_size.0.height", 0), rules.INVALID_IMAGE_DIMENSION),
        (edit(DETECTION, "bb.image_size.0.width", 5000), rules.INVALID_IMAGE_DIMENSION),
        (edit(DETECTION, "bb.image_size.0.width", 32), rules.INVALID_IMAGE_DIMENSION),
        (
            edit(edit(DETECTION, "bb.image_size.0.width", 4000), "bb.image_size.0.height", 190),
            rules.INVALID_IMAGE_DIMENSION,
        ),
        (edit(DETECTION, "bb.annotations", []), rules.NO_ATTRIBUTE_ANNOTATIONS),
        (edit(DETECTION, "bb.annotations", []), rules.NO_ANNOTATIONS),
        ({"source-ref": "s3://bucket/e.jpg"}, rules.UNANNOTATED_RECORD),
        ({"source-ref": "s3://bucket/c.jpg", "bb": 1}, rules.NO_LABEL_ATTRIBUTES),
        (edit(CLASSIFICATION, "sunny-metadata", "text"), rules.NO_VALID_LABEL_ATTRIBUTES),
        (
            {
                "source-ref": "s3://bucket/d.jpg",
                **{f"l{i}": 1 for i in range(51)},
                **{f"l{i}-metadata": {"class-name": f"n{i}", "type": rules.CLASSIFICATION} for i in range(51)},
            },
            rules.TOO_MANY_LABELS,
        ),
    ],
)
def test_each_rule_is_reported_with_the_service_code(broken: dict[str, Any], code: str) -> None:
    assert code in {c for c, _ in rules.label_warnings(broken)}


@pytest.mark.parametrize(
    "clean",
    [
        DETECTION,
        CLASSIFICATION,
        edit(DETECTION, "bb.annotations.0.top", 429.60000000000002),  # float coordinates touching the edge
        edit(edit(DETECTION, "bb.annotations", many_boxes[:50]), "bb-metadata.objects", [{"confidence": 0}] * 50),
        edit(edit(DETECTION, "bb.image_size.0.width", 2560), "bb.annotations.0.width", 2),  # 1 px once scaled
        edit(DETECTION, "bb-metadata.class-map", {"0": "x" * 256}),
        edit(DETECTION, "bb.image_size.0.width", 1280),  # 1280x480: within 20:1
        {**DETECTION, "cl-metadata": {"is_labeled": True}, "extra": "tolerated"},
    ],
)
def test_lines_that_keep_the_rules_have_no_warning(clean: dict[str, Any]) -> None:
    assert rules.label_warnings(clean) == []


def check(checker: Checker, doc: dict[str, Any], number: int = 1) -> Accepted | Rejection:
    return checker.check(RawLine(number, json.dumps(doc).encode(), len(json.dumps(doc).encode())))


def test_images_from_a_second_bucket_are_warned() -> None:
    checker = Checker(5_000_000)
    first = check(checker, DETECTION)
    same = check(checker, edit(DETECTION, "source-ref", "s3://bucket/other.jpg"), 2)
    other = check(checker, edit(DETECTION, "source-ref", "s3://elsewhere/a.jpg"), 3)
    assert isinstance(first, Accepted) and not first.warnings
    assert isinstance(same, Accepted) and not same.warnings
    assert isinstance(other, Accepted) and [w.code for w in other.warnings] == [rules.MULTIPLE_BUCKETS]


def test_warnings_become_rejections_when_asked() -> None:
    broken = edit(DETECTION, "bb.annotations.0.class_id", 7)
    kept = check(Checker(5_000_000), broken)
    refused = check(Checker(5_000_000, warnings_as_rejections=True), broken)
    assert isinstance(kept, Accepted) and kept.data == json.dumps(broken).encode()
    assert isinstance(refused, Rejection) and refused.code == rules.MISSING_CLASS_MAP_ID
    assert refused.source_ref == "s3://bucket/a.jpg"
    assert isinstance(check(Checker(5_000_000, warnings_as_rejections=True), DETECTION), Accepted)


def test_invisible_characters_in_the_key_are_a_warning_and_visible_unicode_is_not() -> None:
    from labelsync.domain.rules import INVISIBLE_IN_SOURCE_REF, source_ref_warnings

    ((code, message),) = source_ref_warnings("s3://bucket/cats/\u200bimg.jpg")
    assert code == INVISIBLE_IN_SOURCE_REF and "U+200B" in message
    assert source_ref_warnings("s3://bucket/chats/\u00e9t\u00e9 & co (1).jpg") == []
    assert source_ref_warnings("s3://bucket/plain.jpg") == []


def test_an_escaped_invisible_character_in_an_ascii_line_is_found() -> None:
    from labelsync.domain.planning import plan_manifest

    lines = [dict(DETECTION, **{"source-ref": f"s3://bucket/img-{i}.jpg"}) for i in range(50)]
    lines[30]["source-ref"] = "s3://bucket/img-\u200b30.jpg"
    data = b"".join(json.dumps(doc).encode() + b"\n" for doc in lines)  # \u200b escaped: an ASCII line

    class Sink:
        def write_chunk(self, index: int, data: bytes) -> str:
            return str(index)

        def append(self, name: str, data: bytes) -> None:
            pass

    plan = plan_manifest(lambda: io.BytesIO(data), chunk_limit=5_242_880, sink=Sink(), block_size=4096)
    assert [(w.line, w.code) for w in plan.warnings] == [(31, "WARNING_INVISIBLE_CHARACTER_IN_SOURCE_REF")]


def test_a_manifest_with_images_in_two_buckets_is_refused_naming_the_line() -> None:
    """tm-debugging-aggregate-errors ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS: the service fails the whole
    manifest, so the plan refuses it before a chunk could half-apply; with warnings as rejections the
    lines from the other bucket are rejected instead and the rest is sent."""
    from labelsync.domain.planning import PLAN_REJECTED, plan_manifest

    lines = [dict(DETECTION, **{"source-ref": f"s3://bucket/img-{i}.jpg"}) for i in range(10)]
    lines[6]["source-ref"] = lines[8]["source-ref"] = "s3://elsewhere/x.jpg"
    lines[8]["source-ref"] = "s3://elsewhere/y.jpg"
    data = b"".join(json.dumps(doc).encode() + b"\n" for doc in lines)

    class Sink:
        def write_chunk(self, index: int, data: bytes) -> str:
            return str(index)

        def append(self, name: str, data: bytes) -> None:
            pass

    plan = plan_manifest(lambda: io.BytesIO(data), chunk_limit=5_242_880, sink=Sink())
    assert plan.status == PLAN_REJECTED and plan.reason is not None
    code, message = plan.reason
    assert code == "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
    assert "line 7's in 'elsewhere'" in message and "2 lines in another bucket" in message
    strict = plan_manifest(lambda: io.BytesIO(data), chunk_limit=5_242_880, sink=Sink(), warnings_as_rejections=True)
    assert strict.status != PLAN_REJECTED and strict.counts.rejected == 2


def test_levels_and_advisories_are_told_apart() -> None:
    assert rules.level(rules.NO_ANNOTATIONS) == rules.WARNING and rules.level(rules.INVALID_BOUNDING_BOX) == rules.ERROR
    assert rules.is_advisory(rules.TOO_MANY_LABELS) and rules.is_advisory(rules.INVISIBLE_IN_SOURCE_REF)
    assert not rules.is_advisory(rules.MULTIPLE_BUCKETS)  # the service's own code
    assert not rules.is_advisory(rules.NO_ANNOTATIONS) and not rules.is_advisory(rules.INVALID_IMAGE_DIMENSION)


def test_an_empty_annotation_list_leaves_the_line_ignored_not_invalid() -> None:
    """WARNING_NO_ANNOTATIONS: the line is kept, left out of training, and not counted as invalid."""
    checked = rules.label_check(edit(DETECTION, "bb.annotations", []))
    assert [code for code, _ in checked.findings] == [rules.NO_ATTRIBUTE_ANNOTATIONS, rules.NO_ANNOTATIONS]
    assert not checked.usable and all(rules.level(code) == rules.WARNING for code, _ in checked.findings)
    line = json.dumps(edit(DETECTION, "bb.annotations", [])).encode()
    verdict = Checker(5_000_000).check(RawLine(1, line, len(line)))
    assert isinstance(verdict, Accepted) and verdict.ignored and not verdict.flagged


def test_one_bad_box_of_two_leaves_the_line_usable_but_flagged() -> None:
    two = edit(
        edit(
            DETECTION,
            "bb.annotations",
            [*DETECTION["bb"]["annotations"], {**DETECTION["bb"]["annotations"][0], "left": 600}],
        ),
        "bb-metadata.objects",
        [{"confidence": 1}, {"confidence": 1}],
    )
    line = json.dumps(two).encode()
    verdict = Checker(5_000_000).check(RawLine(1, line, len(line)))
    assert isinstance(verdict, Accepted) and verdict.usable and verdict.flagged and verdict.labels == {"cat"}


def test_an_oversized_image_makes_the_line_unusable() -> None:
    line = json.dumps(edit(edit(DETECTION, "bb.image_size.0.width", 3509), "bb.image_size.0.height", 4963)).encode()
    verdict = Checker(5_000_000).check(RawLine(1, line, len(line)))
    assert isinstance(verdict, Accepted) and not verdict.usable and verdict.flagged
    assert [w.code for w in verdict.warnings] == [rules.INVALID_IMAGE_DIMENSION, rules.NO_VALID_LABEL_ATTRIBUTES]


def test_no_label_attributes_names_the_orphan_keys() -> None:
    ((code, message),) = rules.label_warnings(
        {"source-ref": "s3://b/x.jpg", "normal": 1, "other-metadata": {}, "zero\u200bwidth": 2}
    )
    assert code == rules.NO_LABEL_ATTRIBUTES
    assert "'normal' has no 'normal-metadata'" in message and "'other-metadata' has no 'other'" in message
    assert "\\u200b" in message  # an invisible character in a key is shown escaped


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b'{"source-ref":"s3://b/x.jpg","v":NaN}', "NaN is not a JSON value"),
        (b'{"source-ref":"s3://b/x.jpg","v":-Infinity}', "-Infinity is not a JSON value"),
        (b'{"source-ref":"s3://b/x.jpg","v":1,"v":2}', "the key 'v' appears twice in one object"),
        (b'{"source-ref":"s3://b/x.jpg","a":{"k" :1,"k":2}}', "the key 'k' appears twice"),
        (b'{"source-ref":"s3://b/x.jpg","a":[{"\\u0022":1,"\\"":2}]}', "appears twice"),
        (b'{"source-ref":"s3://b/x.jpg","source-ref":"s3://b/y.jpg"}', "the key 'source-ref' appears twice"),
        (b'{"source-ref":"s3://b/x.jpg","t":"a\\u003ab","t":1}', "the key 't' appears twice"),  # an escaped colon
        (b'{"source-ref":"s3://b/x.jpg","t"\t:\t"x:y","t" : 1}', "the key 't' appears twice"),
        ('{"source-ref":1}\n'.encode("utf-16-le"), "looks like UTF-16"),
        (b'\xff\xfe{\x00"\x00', "looks like UTF-16"),
        (b'{"source-ref":"s3://b/x.jpg"}\r{"source-ref":"s3://b/y.jpg"}', "ends lines with CR alone"),
    ],
)
def test_what_a_strict_parser_refuses_is_named(line: bytes, words: str) -> None:
    code, message, _ = rules.parse(line, len(line))  # type: ignore[misc]
    assert code in (rules.INVALID_JSON, rules.INVALID_UTF8) and words in message, message


@pytest.mark.parametrize(
    "line",
    [
        b'{"source-ref":"s3://b/x.jpg","a":{"k":1},"b":{"k":2}}',  # the same key in two objects
        b'{"source-ref":"s3://b/x.jpg","note":"say \\"k\\": twice \\"k\\":"}',  # `":` inside a string
        b'{"source-ref" : "s3://b/x.jpg", "k" : 1}',  # spaces before colons (the exact check runs)
        b'{"source-ref":"s3://b/x.jpg","v":1e400}',  # a number past a double: valid JSON
        b'{"source-ref":"s3://b/x.jpg","t":"a\\u003Ab"}',  # an escaped colon (the exact check runs)
    ],
)
def test_strict_reading_accepts_what_is_valid(line: bytes) -> None:
    assert len(rules.parse(line, len(line))) == 2


def test_readiness_verdicts() -> None:
    assert rules.readiness(sent=10, usable=10, flagged=0, ignored=0, rejected=0)[0] == rules.READY
    assert rules.readiness(sent=10, usable=9, flagged=1, ignored=0, rejected=0)[0] == rules.DEGRADED
    assert rules.readiness(sent=10, usable=10, flagged=0, ignored=0, rejected=1)[0] == rules.DEGRADED
    # 2 of 10 with errors is the threshold itself; 3 is over it.
    assert rules.readiness(sent=10, usable=8, flagged=2, ignored=0, rejected=0)[0] == rules.DEGRADED
    assert rules.readiness(sent=10, usable=7, flagged=3, ignored=0, rejected=0)[0] == rules.UNUSABLE
    # Ignored lines are outside the threshold: 2 of the 9 counted have errors (22%), of 10 sent (20%).
    assert rules.readiness(sent=10, usable=7, flagged=2, ignored=1, rejected=0)[0] == rules.UNUSABLE
    assert rules.readiness(sent=11, usable=8, flagged=2, ignored=1, rejected=0)[0] == rules.DEGRADED
    verdict, reason = rules.readiness(sent=404, usable=0, flagged=404, ignored=0, rejected=0)
    assert verdict == rules.UNUSABLE and "none of the 404 lines" in reason
    # Nothing sent: every line rejected (it said DEGRADED, "0 of the 0 lines sent are usable"), or no line.
    verdict, reason = rules.readiness(sent=0, usable=0, flagged=0, ignored=0, rejected=3)
    assert verdict == rules.UNUSABLE and reason == "no line can be sent: all 3 were rejected before sending"
    assert rules.readiness(sent=0, usable=0, flagged=0, ignored=0, rejected=0)[0] == rules.UNUSABLE


def test_the_dataset_label_limit() -> None:
    assert rules.label_limit_finding(250) is None
    code, message = rules.label_limit_finding(251, in_dataset=200)  # type: ignore[misc]
    assert code == rules.MANIFEST_TOO_MANY_LABELS and "251" in message and "200 it has now" in message


def test_printable_escapes_what_a_person_cannot_see() -> None:
    assert rules.printable("key\u200bname\uf025\nend") == "key\\u200bname\\uf025\\nend"
    assert rules.printable("été") == "été"
