"""Each label rule: one line that breaks it, one that does not (FACTS section 1, issue 3 item 2)."""

import copy
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
        edit(DETECTION, "bb.annotations", []),
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
    import io

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
