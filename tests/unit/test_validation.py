import json

import pytest

from labelsync.domain.checker import Checker, Rejection
from labelsync.domain.lines import RawLine
from labelsync.domain.rules import (
    INVALID_JSON,
    INVALID_SOURCE_REF,
    INVALID_UTF8,
    LINE_EXCEEDS_CHUNK,
    LINE_TOO_LONG,
    MISSING_SOURCE_REF,
    NOT_AN_OBJECT,
)

LIMIT = 5_242_880


def check(data: bytes, length: int | None = None) -> str | Rejection:
    verdict = Checker(LIMIT, label_rules=False).check(RawLine(7, data, len(data) if length is None else length))
    return verdict if isinstance(verdict, Rejection) else verdict.source_ref


def test_valid_line_returns_its_source_ref() -> None:
    assert check(b'{"source-ref": "s3://bucket/a b/\xc3\xa9.jpg", "x": 1}') == "s3://bucket/a b/\u00e9.jpg"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"source-ref": "s3://b/k"', INVALID_JSON),
        (b"\xff\xfe{}", INVALID_UTF8),
        (b"[1, 2]", NOT_AN_OBJECT),
        (b'"just a string"', NOT_AN_OBJECT),
        (b'{"label": 1}', MISSING_SOURCE_REF),
        (b'{"source-ref": "/local/path.jpg"}', INVALID_SOURCE_REF),
        (b'{"source-ref": "s3://bucket-only"}', INVALID_SOURCE_REF),
        (b'{"source-ref": "s3:///key"}', INVALID_SOURCE_REF),
        (b'{"source-ref": 12}', INVALID_SOURCE_REF),
    ],
)
def test_each_silent_drop_rule_is_named(data: bytes, code: str) -> None:
    verdict = check(data)
    assert isinstance(verdict, Rejection)
    assert verdict.code == code and verdict.line == 7 and verdict.message


def test_an_integer_python_cannot_read_is_invalid_json_not_a_crash() -> None:
    # json.loads raises ValueError (not JSONDecodeError) past sys.get_int_max_str_digits() digits.
    verdict = check(b'{"source-ref": "s3://b/k.jpg", "n": ' + b"9" * 5000 + b"}")
    assert isinstance(verdict, Rejection) and verdict.code == INVALID_JSON and "4,300 digits" in verdict.message
    assert check(b'{"source-ref": "s3://b/k.jpg", "n": ' + b"9" * 4000 + b"}") == "s3://b/k.jpg"


def test_line_over_100000_characters_is_rejected_even_when_valid_json() -> None:
    line = json.dumps({"source-ref": "s3://b/k", "pad": "x" * 100_000}).encode()
    verdict = check(line)
    assert isinstance(verdict, Rejection) and verdict.code == LINE_TOO_LONG


def test_exactly_100000_characters_is_fine() -> None:
    head = json.dumps({"source-ref": "s3://b/k", "pad": ""}).encode()
    line = head[:-2] + b"x" * (100_000 - len(head)) + b'"}'
    assert len(line.decode()) == 100_000
    assert check(line) == "s3://b/k"


def test_multibyte_characters_count_as_characters_not_bytes() -> None:
    head = json.dumps({"source-ref": "s3://b/k", "pad": ""}).encode()
    line = head[:-2] + "\u00e9".encode() * (99_000) + b'"}'
    assert len(line) > 100_000 and check(line) == "s3://b/k"


def test_oversize_marker_from_the_reader_is_rejected() -> None:
    verdict = check(b"", length=500_000)
    assert isinstance(verdict, Rejection) and verdict.code == LINE_TOO_LONG


def test_line_that_cannot_fit_a_chunk_is_rejected() -> None:
    verdict = Checker(20, label_rules=False).check(RawLine(1, b'{"source-ref": "s3://b/k"}', 26))
    assert isinstance(verdict, Rejection) and verdict.code == LINE_EXCEEDS_CHUNK and verdict.source_ref == "s3://b/k"
