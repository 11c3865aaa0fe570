"""The rulebook: every check a manifest line goes through, with its limit and its code.

This module is the only place a line rule is written (FACTS section 1). Two kinds:

- what the service drops without a word (`parse`, `over_chunk_limit`): such a line is
  rejected before sending, with its line number, its code and the rule in words;
- what the service keeps but flags (`label_check`, `source_ref_warnings`,
  `bucket_finding`): the line is sent and reported as a finding (or rejected when
  `warningsAsRejections` is set). A finding is an error (the service counts the line as
  invalid), a warning (the service ignores the line for training) or one of this project's
  advisories (`ADVISORY_CODES`: no service code exists, or the service says nothing).

And the rules of the whole manifest: its file limits while it is read (`manifest_over_limit`),
then its content (`manifest_refusal`, `label_limit_finding`), and whether what is sent can
train a model at all (`readiness`). `checker.Checker` applies the line rules in order;
nothing else decides whether a line is sent.

Every rule is cheap when the line passes: messages are built only for lines that
fail, and numbers are type-checked inline (a plan reads up to 250,000 lines of up
to 50 boxes each).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from math import isfinite
from operator import itemgetter
from typing import Any

import msgspec

# -- limits ----------------------------------------------------------------------------------------
MAX_LINE_CHARS = 100_000  # longer lines are dropped silently
MAX_LINE_BYTES = MAX_LINE_CHARS * 4  # UTF-8 needs at most 4 bytes a character: longer lines cannot be valid
MAX_BOUNDING_BOXES = 50  # per object-detection attribute
MAX_LABELS_PER_IMAGE = 50
MAX_LABEL_NAME_CHARS = 256
MAX_DATASET_LABELS = 250  # distinct labels of one dataset: more fails the update (ERROR_MANIFEST_TOO_MANY_LABELS)
MIN_IMAGE_SIDE = 64  # px, width and height
MAX_IMAGE_SIDE = 4096
MAX_ASPECT_RATIO = 20  # longest side / shortest side
BOX_CHECK_MAX_SIDE = 1280  # boxes are measured after scaling the image to this longest side ...
MIN_BOX_SIDE = 1  # ... and must then be at least 1x1 px
EDGE_SLACK = 1e-6  # float coordinates such as 143.60000000000002 are not off the frame
MAX_INVALID_FRACTION = 0.20  # the service fails an update (or a training) with more invalid lines than this
MAX_MANIFEST_LINES = 250_000  # lines of one manifest file, blank and invalid ones included
MAX_MANIFEST_BYTES = 1 << 30  # "1 GB", read as 1 GiB (the larger reading), counted after decompression
MAX_QUOTED_CHARS = 200  # a message quotes at most this much of a value (a source-ref can be 100,000 characters)
MAX_SAMPLE_REF_CHARS = 1_100  # "s3://" + a 63-character bucket + "/" + a 1,024-byte key, and some
MAX_NAMED_KEYS = 5  # a message names at most this many keys of a line

# -- codes: what the service drops silently (the line is rejected, never sent) -----------------------
INVALID_UTF8 = "ERROR_INVALID_UTF8"
INVALID_JSON = "ERROR_INVALID_JSON_LINE"
NOT_AN_OBJECT = "ERROR_NOT_A_JSON_OBJECT"
LINE_TOO_LONG = "ERROR_LINE_TOO_LONG"
MISSING_SOURCE_REF = "ERROR_MISSING_SOURCE_REF"
INVALID_SOURCE_REF = "ERROR_INVALID_SOURCE_REF_FORMAT"
LINE_EXCEEDS_CHUNK = "ERROR_LINE_EXCEEDS_CHUNK_LIMIT"  # ours: no chunk under the limit can carry the line

# -- codes: what the service keeps and flags (the service's own codes, predicted) ---------------------
NO_LABEL_ATTRIBUTES = "ERROR_NO_LABEL_ATTRIBUTES"
INVALID_LABEL_ATTRIBUTE_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
INVALID_METADATA_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
NO_VALID_LABEL_ATTRIBUTES = "ERROR_NO_VALID_LABEL_ATTRIBUTES"
INVALID_BOUNDING_BOX = "ERROR_INVALID_BOUNDING_BOX"
BOUNDING_BOX_TOO_SMALL = "ERROR_BOUNDING_BOX_TOO_SMALL"
TOO_MANY_BOUNDING_BOXES = "ERROR_TOO_MANY_BOUNDING_BOXES"
MISSING_CLASS_MAP_ID = "ERROR_MISSING_CLASS_MAP_ID"
MISSING_BOUNDING_BOX_CONFIDENCE = "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
UNSUPPORTED_USE_CASE_TYPE = "ERROR_UNSUPPORTED_USE_CASE_TYPE"
INVALID_LABEL_NAME_LENGTH = "ERROR_INVALID_LABEL_NAME_LENGTH"
INVALID_IMAGE_DIMENSION = "ERROR_INVALID_IMAGE_DIMENSION"
NO_VALID_ANNOTATIONS = "ERROR_NO_VALID_ANNOTATIONS"
# The service's warnings: the line is kept but ignored for training, and not counted as invalid.
UNANNOTATED_RECORD = "WARNING_UNANNOTATED_RECORD"  # no label attribute at all: only the image
NO_ANNOTATIONS = "WARNING_NO_ANNOTATIONS"  # no label attribute of the line has an annotation
NO_ATTRIBUTE_ANNOTATIONS = "WARNING_NO_ATTRIBUTE_ANNOTATIONS"  # this object-detection attribute has none
# tm-debugging-aggregate-errors: a manifest's images must be in one bucket (a terminal error of the
# whole manifest: the plan step names the lines and refuses the manifest).
MULTIPLE_BUCKETS = "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
# Documented limits without a service code of their own: named by this project.
TOO_MANY_LABELS = "ERROR_TOO_MANY_LABELS_ON_IMAGE"
# Ours: a legal S3 key, but an invisible character usually means a copy-paste accident.
INVISIBLE_IN_SOURCE_REF = "WARNING_INVISIBLE_CHARACTER_IN_SOURCE_REF"

# -- codes: the whole manifest is refused (nothing is sent) -------------------------------------------
EMPTY_MANIFEST = "ERROR_EMPTY_MANIFEST"
TOO_MANY_RECORDS_IN_ERROR = "ERROR_TOO_MANY_RECORDS_IN_ERROR"
MANIFEST_ROWS_EXCEEDS_MAXIMUM = "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
MANIFEST_SIZE_TOO_LARGE = "ERROR_MANIFEST_SIZE_TOO_LARGE"
MANIFEST_INACCESSIBLE = "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"  # the event's version is gone
MANIFEST_TOO_MANY_LABELS = "ERROR_MANIFEST_TOO_MANY_LABELS"  # the dataset would have over 250 labels
UNREADABLE_MANIFEST = "ERROR_UNREADABLE_MANIFEST"  # ours: not a gzip, or a truncated one
UNUSABLE_MANIFEST = "ERROR_MANIFEST_UNUSABLE_FOR_TRAINING"  # ours: refused with `refuseUnusable`

REJECTION_CODES = (
    INVALID_UTF8,
    INVALID_JSON,
    NOT_AN_OBJECT,
    LINE_TOO_LONG,
    MISSING_SOURCE_REF,
    INVALID_SOURCE_REF,
    LINE_EXCEEDS_CHUNK,
)
WARNING_CODES = (
    NO_LABEL_ATTRIBUTES,
    INVALID_LABEL_ATTRIBUTE_FORMAT,
    INVALID_METADATA_FORMAT,
    NO_VALID_LABEL_ATTRIBUTES,
    INVALID_BOUNDING_BOX,
    BOUNDING_BOX_TOO_SMALL,
    TOO_MANY_BOUNDING_BOXES,
    MISSING_CLASS_MAP_ID,
    MISSING_BOUNDING_BOX_CONFIDENCE,
    UNSUPPORTED_USE_CASE_TYPE,
    INVALID_LABEL_NAME_LENGTH,
    INVALID_IMAGE_DIMENSION,
    NO_VALID_ANNOTATIONS,
    UNANNOTATED_RECORD,
    NO_ANNOTATIONS,
    NO_ATTRIBUTE_ANNOTATIONS,
    TOO_MANY_LABELS,
    MULTIPLE_BUCKETS,
    INVISIBLE_IN_SOURCE_REF,
)
# This project's own findings: the service has no code for them (or says nothing at all).
ADVISORY_CODES = frozenset({TOO_MANY_LABELS, INVISIBLE_IN_SOURCE_REF})
# Findings that follow from others: listed after their causes.
_CONSEQUENCES = frozenset({NO_VALID_ANNOTATIONS, NO_VALID_LABEL_ATTRIBUTES, NO_ANNOTATIONS})

ERROR = "error"  # the line counts as invalid (the 20% thresholds)
WARNING = "warning"  # the line is kept, and not counted as invalid


def level(code: str) -> str:
    """A finding's level: the service's codes say it in their prefix, and so do ours."""
    return WARNING if code.startswith("WARNING_") else ERROR


def is_advisory(code: str) -> bool:
    return code in ADVISORY_CODES


# -- the Ground Truth format ----------------------------------------------------------------------------
CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
MULTILABEL = "groundtruth/image-classification-multilabel"  # converted (multilabel.py), never sent as it is
METADATA_SUFFIX = "-metadata"
ERROR_KEYS = frozenset({"errors", "cl-errors", "warnings"})
NOT_ATTRIBUTES = frozenset({"source-ref", "cl-metadata", *ERROR_KEYS})
BOX_FIELDS = ("class_id", "top", "left", "width", "height")
_box_fields = itemgetter(*BOX_FIELDS)
SOURCE_REF = re.compile(r"s3://([^/\s]+)/(.+)", re.DOTALL)

Finding = tuple[str, str]  # (code, message)
Parsed = tuple[dict[str, Any], str]  # the line's object and its source-ref
Failure = tuple[str, str, str | None]  # (code, message, source-ref when it can be named)

_decode = msgspec.json.Decoder().decode
_NUMBER_TYPES = frozenset((int, float))  # bool is neither (type(True) is bool)


# -- what the service drops silently ----------------------------------------------------------------
def parse(data: bytes, length: int) -> Parsed | Failure:
    """The line's object and source-ref, or why the service would drop it without a word.

    `length` is the line's size as read: more than `data` when the reader kept only its length.
    JSON is read strictly, as the service reads it: msgspec reads the usual line, and whatever it
    refuses (`NaN`, `1e400`, a lone surrogate escape, an error to word) goes to `json`, which is
    told to refuse what it would otherwise accept (`NaN`, `Infinity`, a key twice in one object).
    """
    if length != len(data):
        return LINE_TOO_LONG, f"line is {length:,} bytes, over the {MAX_LINE_CHARS:,}-character limit", None
    if data.isascii():
        chars = len(data)
    else:
        try:
            chars = len(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return INVALID_UTF8, f"line is not valid UTF-8 (byte {exc.start + 1}){_encoding_hint(data)}", None
    if chars > MAX_LINE_CHARS:
        message = f"line has {chars:,} characters, over the {MAX_LINE_CHARS:,} limit{_encoding_hint(data)}"
        return LINE_TOO_LONG, message, None
    try:
        document = _decode(data)
        strict = type(document) is not dict or not _may_repeat_keys(data, document)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        strict = False
    if not strict:
        try:
            document = _strict_loads(data.decode("utf-8"))  # text: bytes would let json guess UTF-16 or skip a BOM
        except json.JSONDecodeError as exc:
            message = f"line is not valid JSON: {exc.msg} at column {exc.colno}{_encoding_hint(data)}"
            return INVALID_JSON, message, None
        except NotStrictJson as exc:
            return INVALID_JSON, f"line is not valid JSON: {exc}", None
        except RecursionError:
            return INVALID_JSON, "line is not valid JSON: nested too deeply", None
        except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits())
            limit = sys.get_int_max_str_digits()
            return INVALID_JSON, f"line has an integer of over {limit:,} digits, more than can be read", None
    if type(document) is not dict:
        return NOT_AN_OBJECT, f"line is JSON {type(document).__name__}, not an object", None
    if "source-ref" not in document:
        return MISSING_SOURCE_REF, "line has no 'source-ref'", None
    source_ref = document["source-ref"]
    if (
        type(source_ref) is str
        and SOURCE_REF.fullmatch(source_ref)
        and (source_ref.isascii() or _encodable(source_ref))
    ):
        return document, source_ref
    if type(source_ref) is not str:
        return INVALID_SOURCE_REF, f"'source-ref' {json.dumps(source_ref)[:80]!r} is not an s3://bucket/key URI", None
    named = source_ref if _encodable(source_ref) else None
    return INVALID_SOURCE_REF, f"'source-ref' {quote(source_ref)} is not an s3://bucket/key URI", named


class NotStrictJson(ValueError):
    """What Python's decoder accepts and a strict JSON parser (the service's) refuses."""


def _reject_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not a JSON value (JSON numbers are finite: no NaN or Infinity)")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise NotStrictJson(f"the key {quote(key)} appears twice in one object")
            seen.add(key)
    return document


def _strict_loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)


_encode = msgspec.json.Encoder().encode
_COLON = b":"
_COLON_ESCAPE = b"\\u003"  # `\u003a` / `\u003A`: a colon written as an escape (and 0-9, ;<=>?)


def _may_repeat_keys(data: bytes, document: dict[str, Any]) -> bool:
    """False only when no object of the line can hold a key twice (msgspec, like json, keeps the last).

    Outside strings, every key of the text is followed by one colon, whitespace or not; inside
    strings, a colon is written as itself in the text and in msgspec's re-encoding (which never
    escapes one), unless the text wrote it as an escape. So without such an escape, a re-encoding
    with fewer colons means a key was lost. Costs about a re-encoding of the line.
    """
    if _COLON_ESCAPE in data:
        return True
    try:
        return data.count(_COLON) != _encode(document).count(_COLON)
    except (msgspec.EncodeError, RecursionError, OverflowError):
        return True


def _encoding_hint(data: bytes) -> str:
    """Name the usual cause of an unreadable line: a file in UTF-16, or lines ended by CR alone."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        return "; the file looks like UTF-16 (it holds NUL bytes or a UTF-16 byte-order mark): manifests are UTF-8"
    if b"\r{" in data:
        return "; the line holds a CR followed by '{': the file looks like it ends lines with CR alone (use LF)"
    return ""


def sample_ref(source_ref: str) -> str:
    """A source-ref as an in-memory sample keeps it: at most MAX_SAMPLE_REF_CHARS characters (an S3 key is
    at most 1,024 bytes, so only a ref that could never be valid is cut); the side files keep it whole."""
    if len(source_ref) <= MAX_SAMPLE_REF_CHARS:
        return source_ref
    return f"{source_ref[:MAX_SAMPLE_REF_CHARS]}... ({len(source_ref):,} characters)"


def quote(text: str) -> str:
    """`text` as a message shows it: repr, cut to MAX_QUOTED_CHARS characters with its length said."""
    if len(text) <= MAX_QUOTED_CHARS:
        return repr(text)
    return f"{text[:MAX_QUOTED_CHARS]!r}... ({len(text):,} characters)"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape
        return False
    return True


def over_chunk_limit(size: int, chunk_limit: int) -> str | None:
    """Why a line of `size` bytes (plus its newline) cannot go in any chunk strictly under the limit."""
    if size + 1 < chunk_limit:
        return None
    return f"line is {size:,} bytes and cannot fit in a chunk under the {chunk_limit:,}-byte limit"


def converted_too_long(data: bytes) -> str | None:
    """A multi-label line is sent converted: the converted line is held to the same length rule."""
    if len(data) > MAX_LINE_CHARS and len(data.decode("utf-8")) > MAX_LINE_CHARS:
        return f"the converted line has over {MAX_LINE_CHARS:,} characters"
    return None


# -- what the service keeps and flags -----------------------------------------------------------------
def bucket_of(source_ref: str) -> str:
    return source_ref[5:].split("/", 1)[0]


def bucket_finding(bucket: str, first_bucket: str) -> Finding | None:
    """All images of a manifest must be in one bucket: the manifest's first image's."""
    if bucket == first_bucket:
        return None
    return (
        MULTIPLE_BUCKETS,
        f"image is in bucket {bucket!r}; the manifest's first image is in {first_bucket!r} "
        "and all images of a manifest must be in one bucket",
    )


def buckets_refusal(first_bucket: str, other: tuple[str, int], lines: int) -> Finding:
    """The service fails a manifest whose images are in more than one bucket: refuse it before sending."""
    bucket, line = other
    return (
        MULTIPLE_BUCKETS,
        f"the manifest's images are in more than one bucket: the first image is in {first_bucket!r}, "
        f"line {line:,}'s in {bucket!r} ({lines:,} {'line' if lines == 1 else 'lines'} in another bucket than "
        "the first); the service "
        "fails such a manifest, so nothing was sent: move the images to one bucket",
    )


def source_ref_warnings(source_ref: str) -> list[Finding]:
    """Invisible format characters (U+200B zero-width space, U+FEFF, ...) in the image key."""
    if source_ref.isascii():
        return []
    hidden = sorted({f"U+{ord(ch):04X}" for ch in source_ref if unicodedata.category(ch) == "Cf"})
    if not hidden:
        return []
    return [(INVISIBLE_IN_SOURCE_REF, f"'source-ref' contains invisible characters ({', '.join(hidden)})")]


def label_attributes(doc: Mapping[str, Any]) -> list[str]:
    """Keys with a matching `<key>-metadata` key, in line order."""
    return [key for key in doc if key not in NOT_ATTRIBUTES and f"{key}{METADATA_SUFFIX}" in doc]


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """One line's label findings (causes first), its labels, and whether it can train a model."""

    findings: list[Finding]
    labels: frozenset[str]  # label names of the line's valid annotations
    usable: bool  # at least one valid label attribute with an annotation, and no line-level error


def label_warnings(doc: Mapping[str, Any]) -> list[Finding]:
    """The findings of `label_check`."""
    return label_check(doc).findings


def label_check(doc: Mapping[str, Any]) -> LabelCheck:
    """Every non-terminal problem of one parsed line, causes first; no finding when the line is clean."""
    attrs = label_attributes(doc)
    if not attrs:
        return LabelCheck([_no_attributes(doc)], frozenset(), False)
    found: list[Finding] = []
    labels: set[str] = set()
    valid = 0
    for attr in attrs:
        boxes: list[Finding] = []  # box-level findings do not make the attribute invalid
        before = len(found)
        names = _attribute(attr, doc[attr], doc[f"{attr}{METADATA_SUFFIX}"], found, boxes)
        if names is not None and len(found) == before:
            valid += 1
            labels |= names
        found += boxes
    usable = bool(labels)
    if not valid:
        found.append((NO_VALID_LABEL_ATTRIBUTES, "no label attribute of the line is valid"))
    elif not labels:
        found.append((NO_ANNOTATIONS, "no label attribute of the line has an annotation: the image is not used"))
    if len(labels) > MAX_LABELS_PER_IMAGE:
        found.append((TOO_MANY_LABELS, f"{len(labels)} labels on one image; at most {MAX_LABELS_PER_IMAGE}"))
        usable = False
    if len(found) > 1:
        found.sort(key=lambda finding: finding[0] in _CONSEQUENCES)
    return LabelCheck(found, frozenset(labels), usable)


def _no_attributes(doc: Mapping[str, Any]) -> Finding:
    """A line with only its image is unannotated (a warning); one whose keys pair with nothing is an error."""
    keys = [key for key in doc if key not in NOT_ATTRIBUTES]
    if not keys:
        return UNANNOTATED_RECORD, "the line has no label attribute, only its image: it is not used for training"
    orphans = []
    for key in keys:
        if key.endswith(METADATA_SUFFIX):
            base = key[: -len(METADATA_SUFFIX)]
            if base not in doc:
                orphans.append(f"{quote(key)} has no {quote(base)}")
        else:
            orphans.append(f"{quote(key)} has no {quote(key + METADATA_SUFFIX)}")
    named = "; ".join(orphans[:MAX_NAMED_KEYS])
    more = f" (and {len(orphans) - MAX_NAMED_KEYS} more)" if len(orphans) > MAX_NAMED_KEYS else ""
    return (
        NO_LABEL_ATTRIBUTES,
        f"the line has no label attribute with a matching '<attribute>-metadata' key: {named}{more}",
    )


def _attribute(attr: str, value: Any, meta: Any, found: list[Finding], boxes: list[Finding]) -> set[str] | None:
    """Check one attribute; return its label names (None when it cannot be read at all)."""
    if type(meta) is not dict:
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' is not an object"))
        return None
    kind = meta.get("type")
    if kind == DETECTION:
        return _detection(attr, value, meta, found, boxes)
    if kind == CLASSIFICATION:
        return _classification(attr, meta, found)
    shown = repr(kind)[:80]
    found.append(
        (UNSUPPORTED_USE_CASE_TYPE, f"'{attr}-metadata' type {shown} is not {CLASSIFICATION!r} or {DETECTION!r}")
    )
    return None


def _name_problem(attr: str, name: object, key: str | None = None) -> Finding | None:
    """A label name is a string of 1 to 256 characters (`key`: its class-map key; None for class-name)."""
    if type(name) is str and 1 <= len(name) <= MAX_LABEL_NAME_CHARS:
        return None
    where = "class-name" if key is None else f"class-map[{key!r}]"
    if type(name) is not str:
        return INVALID_METADATA_FORMAT, f"'{attr}-metadata' {where} is not a string"
    return (
        INVALID_LABEL_NAME_LENGTH,
        f"'{attr}-metadata' {where} has {len(name)} characters; a label name has 1 to {MAX_LABEL_NAME_CHARS}",
    )


def _classification(attr: str, meta: Mapping[str, Any], found: list[Finding]) -> set[str] | None:
    if "class-name" not in meta:
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' has no 'class-name'"))
        return None
    name = meta["class-name"]
    problem = _name_problem(attr, name)
    if problem:
        found.append(problem)
        return None
    return {name}


def is_number(value: object) -> bool:
    """A finite JSON number: not a boolean, not NaN or infinity, not an integer past a double's range."""
    try:
        return type(value) in _NUMBER_TYPES and isfinite(value)  # type: ignore[arg-type]
    except OverflowError:
        return False


def are_numbers(a: object, b: object, c: object, d: object, e: object) -> bool:
    """`is_number` of each of five values (a box's fields), in one call: a plan checks millions of boxes."""
    try:
        return (
            type(a) in _NUMBER_TYPES
            and type(b) in _NUMBER_TYPES
            and type(c) in _NUMBER_TYPES
            and type(d) in _NUMBER_TYPES
            and type(e) in _NUMBER_TYPES
            and isfinite(a)  # type: ignore[arg-type]
            and isfinite(b)  # type: ignore[arg-type]
            and isfinite(c)  # type: ignore[arg-type]
            and isfinite(d)  # type: ignore[arg-type]
            and isfinite(e)  # type: ignore[arg-type]
        )
    except OverflowError:
        return False


def number(value: object) -> float | None:
    """The value as a float when it is a finite JSON number."""
    return float(value) if is_number(value) else None  # type: ignore[arg-type]


def class_key(class_id: object) -> str:
    """class-map keys are strings: class_id 3 (or 3.0) is looked up as "3"."""
    value = number(class_id)
    if value is not None and value.is_integer():
        return str(int(value))
    return str(class_id)


def _image_size(attr: str, value: Mapping[str, Any], found: list[Finding]) -> tuple[float, float] | None:
    sizes = value.get("image_size")
    first = sizes[0] if type(sizes) is list and sizes else None
    if type(first) is not dict:
        found.append((INVALID_IMAGE_DIMENSION, f"'{attr}.image_size' needs one {{width, height, depth}} object"))
        return None
    width, height = number(first.get("width")), number(first.get("height"))
    if width is None or height is None or width <= 0 or height <= 0:
        found.append((INVALID_IMAGE_DIMENSION, f"'{attr}.image_size' needs a positive width and height"))
        return None
    if not (MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE):
        found.append(
            (
                INVALID_IMAGE_DIMENSION,
                f"'{attr}.image_size' is {width:g}x{height:g}; images must be "
                f"{MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} px on each side",
            )
        )
        return None
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        found.append(
            (
                INVALID_IMAGE_DIMENSION,
                f"'{attr}.image_size' is {width:g}x{height:g}, an aspect ratio over {MAX_ASPECT_RATIO}:1",
            )
        )
        return None
    return width, height


def _detection(
    attr: str, value: Any, meta: Mapping[str, Any], found: list[Finding], boxes: list[Finding]
) -> set[str] | None:
    start = len(found)
    class_map = meta.get("class-map")
    if type(class_map) is not dict:
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' has no 'class-map' object"))
        class_map = {}
    else:
        for key, name in class_map.items():
            problem = _name_problem(attr, name, key)
            if problem:
                found.append(problem)
    objects = meta.get("objects", [])
    if type(objects) is not list:
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata.objects' is not a list"))
        objects = []
    if not (type(value) is dict and type(value.get("image_size")) is list and type(value.get("annotations")) is list):
        found.append((INVALID_LABEL_ATTRIBUTE_FORMAT, f"'{attr}' needs 'image_size' and 'annotations' lists"))
        return None
    size = _image_size(attr, value, found)
    annotations = value["annotations"]
    if len(annotations) > MAX_BOUNDING_BOXES:
        found.append(
            (
                TOO_MANY_BOUNDING_BOXES,
                f"'{attr}' has {len(annotations)} bounding boxes; at most {MAX_BOUNDING_BOXES} are allowed",
            )
        )
    if not annotations:
        boxes.append((NO_ATTRIBUTE_ANNOTATIONS, f"{quote(attr)} has no annotation (an empty 'annotations' list)"))
    names = _boxes(attr, annotations, objects, class_map, size, found, boxes)
    if annotations and not names and len(found) == start:
        found.append((NO_VALID_ANNOTATIONS, f"no annotation of '{attr}' is valid"))
    return names


def _boxes(
    attr: str,
    annotations: list[Any],
    objects: list[Any],
    class_map: Mapping[str, Any],
    size: tuple[float, float] | None,
    found: list[Finding],
    boxes: list[Finding],
) -> set[str]:
    """The box rules, in the order a box meets them; the label names of the valid boxes.

    A plan checks up to 250,000 lines of 50 boxes: each rule is one test on the way, and its
    message is built only when the test fails.
    """
    labelled: set[str] = set()  # class-map keys of the valid boxes
    keys: dict[float, str] = {}  # class_id -> class-map key (1 and 1.0 are the same number and key)
    if size is not None:
        image_width, image_height = size
        right, bottom = image_width + EDGE_SLACK, image_height + EDGE_SLACK
        longest = max(image_width, image_height)
        scale = BOX_CHECK_MAX_SIDE / longest if longest > BOX_CHECK_MAX_SIDE else 1.0
    count = len(objects)
    for index, annotation in enumerate(annotations):
        if type(annotation) is not dict:
            found.append((INVALID_LABEL_ATTRIBUTE_FORMAT, f"'{attr}.annotations[{index}]' is not an object"))
            continue
        valid = True
        # Each box has a numeric confidence in the metadata's `objects`, at the same index.
        obj = objects[index] if index < count else None
        if not (type(obj) is dict and is_number(obj.get("confidence"))):
            where = f"'{attr}.annotations[{index}]'"
            boxes.append(
                (MISSING_BOUNDING_BOX_CONFIDENCE, f"{where} has no numeric confidence in '{attr}-metadata.objects'")
            )
            valid = False
        # class_id, top, left, width and height are numbers.
        try:
            class_id, top, left, width, height = _box_fields(annotation)
        except KeyError:  # a field is missing
            class_id = top = left = width = height = None
        if not are_numbers(class_id, top, left, width, height):
            boxes.append(
                (INVALID_LABEL_ATTRIBUTE_FORMAT, f"'{attr}.annotations[{index}]' needs numeric {', '.join(BOX_FIELDS)}")
            )
            continue
        # class_id is a key of the class-map.
        key = keys.get(class_id)
        if key is None:
            key = keys[class_id] = class_key(class_id)
        if key not in class_map:
            where = f"'{attr}.annotations[{index}]'"
            boxes.append((MISSING_CLASS_MAP_ID, f"{where} class_id {class_id!r} is not in the class-map"))
            valid = False
        if size is not None:
            # The box lies inside the image: no negative coordinate or size, no edge past the frame ...
            if top < 0 or left < 0 or width < 0 or height < 0:
                where = f"'{attr}.annotations[{index}]'"
                boxes.append((INVALID_BOUNDING_BOX, f"{where}: the bounding box has a negative coordinate or size"))
                valid = False
            elif left + width > right or top + height > bottom:
                where = f"'{attr}.annotations[{index}]'"
                left, top, width, height = left + 0.0, top + 0.0, width + 0.0, height + 0.0  # as floats: -0.0 reads 0
                text = (
                    f"{where}: the bounding box (left {left:g}, top {top:g}, {width:g}x{height:g}) extends past "
                    f"the {image_width:g}x{image_height:g} image"
                )
                boxes.append((INVALID_BOUNDING_BOX, text))
                valid = False
            # ... and is at least 1x1 px once the image is scaled to a longest side of 1280 px.
            elif width * scale < MIN_BOX_SIDE or height * scale < MIN_BOX_SIDE:
                where = f"'{attr}.annotations[{index}]'"
                shown_width, shown_height = width * scale + 0.0, height * scale + 0.0  # -0.0 reads 0
                text = (
                    f"{where}: the bounding box is {shown_width:.2f}x{shown_height:.2f} px once the image is "
                    f"scaled to a longest side of {BOX_CHECK_MAX_SIDE} px; at least {MIN_BOX_SIDE}x{MIN_BOX_SIDE} "
                    "is needed"
                )
                boxes.append((BOUNDING_BOX_TOO_SMALL, text))
                valid = False
        if valid:
            labelled.add(key)
    # A valid box names its label (a name that is not a string is the class-map's finding).
    return {class_map[key] for key in labelled if type(class_map[key]) is str}


# -- the whole manifest ---------------------------------------------------------------------------------
def manifest_over_limit(lines: int, size: int) -> Finding | None:
    """The service's file limits: checked while reading, so a manifest over one (a gzip that expands
    without end, a file of blank lines) is refused as soon as it crosses it, not read to the end."""
    if size > MAX_MANIFEST_BYTES:
        return (
            MANIFEST_SIZE_TOO_LARGE,
            f"the manifest is over {MAX_MANIFEST_BYTES:,} bytes (1 GB, the service's limit; counted after "
            "decompression); reading stopped there and nothing was sent (the counts are of the lines checked before)",
        )
    if lines > MAX_MANIFEST_LINES:
        return (
            MANIFEST_ROWS_EXCEEDS_MAXIMUM,
            f"the manifest has over {MAX_MANIFEST_LINES:,} lines (the service's limit; blank and invalid lines "
            "count); reading stopped there and nothing was sent (the counts are of the lines checked before)",
        )
    return None


def manifest_refusal(lines: int, rejected: int) -> Finding | None:
    """Why the whole manifest is refused before sending: nothing in it, or more invalid lines than the
    service tolerates (it would fail the whole update). `lines` counts the non-blank lines."""
    if lines == 0:
        return EMPTY_MANIFEST, "the manifest has no lines"
    if rejected > MAX_INVALID_FRACTION * lines:
        return (
            TOO_MANY_RECORDS_IN_ERROR,
            f"{rejected:,} of {lines:,} lines are invalid (over {MAX_INVALID_FRACTION:.0%}); "
            "the service would fail the whole update, so nothing was sent",
        )
    return None


def label_limit_finding(predicted: int, *, in_dataset: int | None = None, at_least: bool = False) -> Finding | None:
    """The service fails an update that leaves the dataset with over 250 distinct labels: refuse it first.

    `predicted` counts the manifest's labels, with the dataset's current ones when known
    (`in_dataset`: how many it has); an update can also remove labels, so this is an upper bound.
    """
    if predicted <= MAX_DATASET_LABELS:
        return None
    where = "" if in_dataset is None else f" with the {in_dataset:,} it has now"
    return (
        MANIFEST_TOO_MANY_LABELS,
        f"the dataset would have {'at least ' if at_least else ''}{predicted:,} distinct labels{where} (at most {MAX_DATASET_LABELS} are allowed); "
        "the service would fail the update, so nothing was sent",
    )


# -- whether what is sent can train a model ----------------------------------------------------------------
READY = "READY"  # every line read is usable for training
DEGRADED = "DEGRADED"  # some lines are not usable (rejected, flagged or ignored), within the service's threshold
UNUSABLE = "UNUSABLE"  # no usable line, or more than 20% of the counted lines have errors: training stops
VERDICTS = (READY, DEGRADED, UNUSABLE)


def readiness(*, sent: int, usable: int, flagged: int, ignored: int, rejected: int) -> tuple[str, str]:
    """The verdict on one manifest's lines for training, and why, in words.

    `flagged` lines have an error (they count toward the service's 20% threshold; a flagged line
    can still be usable when only some of its boxes are wrong); `ignored` lines have only the
    service's warnings and are left out of training and of the threshold.
    """
    counted = sent - ignored
    if sent and usable == 0:
        return UNUSABLE, f"none of the {sent:,} lines sent is usable for training"
    if not sent:  # nothing can train: every line was rejected, or there was none
        if rejected:
            return UNUSABLE, f"no line can be sent: all {rejected:,} were rejected before sending"
        return UNUSABLE, "the manifest has no line to train on"
    if flagged > MAX_INVALID_FRACTION * counted:
        return (
            UNUSABLE,
            f"{flagged:,} of the {counted:,} lines counted for training have errors (over "
            f"{MAX_INVALID_FRACTION:.0%}): training would stop with ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
        )
    unusable = sent - usable
    if unusable or rejected:
        parts = [f"{rejected:,} rejected before sending"] if rejected else []
        if unusable - ignored:
            parts.append(f"{unusable - ignored:,} sent with errors that leave no usable label")
        if ignored:
            parts.append(f"{ignored:,} sent but ignored (warnings only)")
        return DEGRADED, f"{usable:,} of the {sent:,} lines sent are usable for training; " + ", ".join(parts)
    return READY, f"all {usable:,} lines sent are usable for training"


def printable(text: str) -> str:
    """`text` for a person: invisible and control characters (U+200B, U+F025, a newline) as escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
