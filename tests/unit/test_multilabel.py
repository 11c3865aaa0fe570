import json
from pathlib import Path

from labelsync.domain.checker import Accepted, Checker
from labelsync.domain.lines import RawLine
from labelsync.domain.rules import label_warnings

DOC_EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples" / "doc-example-lines.jsonl"
MULTI = {
    "source-ref": "s3://my-bucket/example_image.jpg",
    "image-label-attribute-name": [1, 0],
    "image-label-attribute-name-metadata": {
        "job-name": "labeling-job/x",
        "class-map": {"1": "bicycle", "0": "person"},
        "human-annotated": "yes",
        "creation-date": "2020-02-27T21:36:25.000201",
        "confidence-map": {"1": 0.95, "0": 0.77},
        "type": "groundtruth/image-classification-multilabel",
    },
}


def check(doc: object, checker: Checker | None = None) -> Accepted:
    data = json.dumps(doc).encode()
    verdict = (checker or Checker(5_000_000)).check(RawLine(1, data, len(data)))
    assert isinstance(verdict, Accepted)
    return verdict


def test_multilabel_becomes_one_classification_attribute_per_label() -> None:
    verdict = check(MULTI)
    assert verdict.converted and not verdict.warnings
    doc = json.loads(verdict.data)
    assert list(doc) == [
        "source-ref",
        "image-label-attribute-name-1",
        "image-label-attribute-name-1-metadata",
        "image-label-attribute-name-0",
        "image-label-attribute-name-0-metadata",
    ]
    meta = doc["image-label-attribute-name-0-metadata"]
    assert meta["class-name"] == "person" and meta["confidence"] == 0.77
    assert meta["type"] == "groundtruth/image-classification" and meta["job-name"] == "labeling-job/x"
    assert label_warnings(doc) == []
    (conversion,) = verdict.conversions
    assert conversion.as_dict()["labels"] == ["bicycle", "person"]


def test_an_unconvertible_multilabel_line_is_sent_with_a_warning() -> None:
    broken = {**MULTI, "image-label-attribute-name": [5]}
    verdict = check(broken)
    assert not verdict.converted and verdict.data == json.dumps(broken).encode()
    assert "ERROR_UNSUPPORTED_USE_CASE_TYPE" in {w.code for w in verdict.warnings}


def test_the_documented_example_lines_are_clean_after_conversion() -> None:
    if not DOC_EXAMPLES.is_file():  # shared/ sits beside the repository
        return
    checker = Checker(5_000_000)
    verdicts = [check(json.loads(line), checker) for line in DOC_EXAMPLES.read_text().splitlines() if line.strip()]
    assert [v.converted for v in verdicts] == [False, False, True, False]
    assert all(not v.warnings for v in verdicts)
