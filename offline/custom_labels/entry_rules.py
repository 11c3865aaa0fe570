"""What the service does with one JSON line: drop it silently, or keep it and flag errors or warnings.

Pure functions, written from the developer guide alone (never from the plan step's rulebook in
lambdas/: tests/offline/test_plan_agreement.py compares the two, which proves something only while
they stay independent). Kept lines get `{"code", "message"}` lists where the guide shows them
(tm-debugging-scope-json-line): errors at the top level, in `<attr>`, in `<attr>.annotations[i]`
and in `<attr>-metadata`; warnings under `warnings` at the top level and in `<attr>`.

A stored line holds its findings under `errors` / `warnings`; `render()` gives it in either form
the guide documents: the validation-manifest form (`errors`) or the dataset form the console and
ListDatasetEntries show (`cl-errors`, plus `cl-metadata: {"is_labeled": ...}`).
Where the guide is silent the stricter reading is taken (docs/offline-stack.md lists each one).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

MAX_LINE_CHARS = 100_000  # debugging-datasets-terminal-errors: longer lines are removed
MAX_BOUNDING_BOXES = 50  # limits
MAX_LABELS_PER_IMAGE = 50  # limits
MAX_LABEL_NAME_CHARS = 256  # tm-debugging-json-line-errors, ERROR_INVALID_LABEL_NAME_LENGTH
MIN_IMAGE_SIDE = 64  # limits: 64 x 64 to 4096 x 4096 pixels
MAX_IMAGE_SIDE = 4096
MAX_ASPECT_RATIO = 20.0  # limits: 20:1
BOX_CHECK_MAX_SIDE = 1280  # boxes are measured after scaling the image to this longest side ...
MIN_BOX_SIDE = 1.0  # ... and must then be greater than 1 x 1 pixels (ERROR_BOUNDING_BOX_TOO_SMALL)
CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
METADATA_SUFFIX = "-metadata"
ERRORS, CL_ERRORS, WARNINGS, CL_METADATA = "errors", "cl-errors", "warnings", "cl-metadata"
FINDING_KEYS = (ERRORS, CL_ERRORS, WARNINGS)
NOT_LABEL_KEYS = frozenset({"source-ref", CL_METADATA, *FINDING_KEYS})
_EDGE_SLACK = 1e-6  # float coordinates such as 143.60000000000002 are not off the frame
_BOX_FIELDS = ("class_id", "top", "left", "width", "height")
_SOURCE_REF = re.compile(r"s3://([^/\s]+)/(.+)", re.DOTALL)  # no bucket name holds whitespace

# The service's codes (tm-debugging-json-line-errors)
NO_LABEL_ATTRIBUTES = "ERROR_NO_LABEL_ATTRIBUTES"
ATTRIBUTE_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
METADATA_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
NO_VALID_LABEL_ATTRIBUTES = "ERROR_NO_VALID_LABEL_ATTRIBUTES"
MISSING_CONFIDENCE = "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
MISSING_CLASS_MAP_ID = "ERROR_MISSING_CLASS_MAP_ID"
INVALID_IMAGE = "ERROR_INVALID_IMAGE"
INVALID_IMAGE_DIMENSION = "ERROR_INVALID_IMAGE_DIMENSION"
INVALID_BOUNDING_BOX = "ERROR_INVALID_BOUNDING_BOX"
NO_VALID_ANNOTATIONS = "ERROR_NO_VALID_ANNOTATIONS"
BOUNDING_BOX_TOO_SMALL = "ERROR_BOUNDING_BOX_TOO_SMALL"
TOO_MANY_BOUNDING_BOXES = "ERROR_TOO_MANY_BOUNDING_BOXES"
UNSUPPORTED_USE_CASE_TYPE = "ERROR_UNSUPPORTED_USE_CASE_TYPE"
INVALID_LABEL_NAME_LENGTH = "ERROR_INVALID_LABEL_NAME_LENGTH"
UNANNOTATED_RECORD = "WARNING_UNANNOTATED_RECORD"
NO_ANNOTATIONS = "WARNING_NO_ANNOTATIONS"
NO_ATTRIBUTE_ANNOTATIONS = "WARNING_NO_ATTRIBUTE_ANNOTATIONS"
# The guide gives the limit (50 labels per image) but no code: named as the plan step names it.
TOO_MANY_LABELS_ON_IMAGE = "ERROR_TOO_MANY_LABELS_ON_IMAGE"

Finding = dict[str, str]
Form = Literal["dataset", "validation"]
DATASET_FORM: Form = "dataset"  # cl-errors + cl-metadata: what the guide shows for a dataset entry
VALIDATION_FORM: Form = "validation"  # errors: the training validation manifests' form


def finding(code: str, message: str) -> Finding:
    return {"code": code, "message": message}


def is_valid_source_ref(value: object) -> bool:
    """`s3://bucket/key` with a non-empty bucket and key."""
    return isinstance(value, str) and _SOURCE_REF.fullmatch(value) is not None


def bucket_and_key(source_ref: str) -> tuple[str, str]:
    match = _SOURCE_REF.fullmatch(source_ref)
    if match is None:
        raise ValueError(f"not an s3://bucket/key URI: {source_ref!r}")
    return match.group(1), match.group(2)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return document


def parse_line(text: str) -> dict[str, Any] | None:
    """The line's object, or None when the service drops the line without a word.

    JSON is read strictly, as a JSON parser that is not Python's reads it: `NaN`/`Infinity` and a key
    twice in one object are invalid JSON (FACTS: "Python's json accepts what the service's parser
    will not"), and so is a number no double can hold.
    """
    if len(text) > MAX_LINE_CHARS:
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not is_valid_source_ref(value.get("source-ref")):
        return None
    return value


@dataclass(frozen=True)
class CheckedEntry:
    """A kept line as the service stores it (findings under `errors`/`warnings`), with its statistics."""

    source_ref: str
    line: str
    labels: frozenset[str]  # label names of the valid attributes and annotations
    box_counts: Mapping[str, int]
    has_errors: bool
    has_warnings: bool = False
    labeled: bool = False  # has a label attribute at all (cl-metadata.is_labeled)

    @property
    def flagged(self) -> bool:
        """Listed by HasErrors=true: the guide calls warnings "warning errors" (tm-debugging-scope-json-line)."""
        return self.has_errors or self.has_warnings

    def render(self, form: Form) -> str:
        """The line as ListDatasetEntries returns it, in the given form."""
        if form == VALIDATION_FORM:
            return self.line
        doc = json.loads(self.line)
        _rename_errors(doc)
        doc[CL_METADATA] = {"is_labeled": self.labeled}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def with_line_error(entry: CheckedEntry, code: str, message: str) -> CheckedEntry:
    """The entry with one more top-level error (an image the service could not use)."""
    doc = json.loads(entry.line)
    doc.setdefault(ERRORS, []).append(finding(code, message))
    return replace(entry, line=_dumps(doc), has_errors=True)


def _rename_errors(doc: dict[str, Any]) -> None:
    """`errors` -> `cl-errors` at the four levels where the service writes them."""
    for container in _finding_holders(doc):
        if ERRORS in container:
            container[CL_ERRORS] = container.pop(ERRORS)


def _finding_holders(doc: dict[str, Any]) -> list[dict[str, Any]]:
    holders = [doc]
    for value in doc.values():
        if isinstance(value, dict):
            holders.append(value)
            annotations = value.get("annotations")
            if isinstance(annotations, list):
                holders += [a for a in annotations if isinstance(a, dict)]
    return holders


def _strip_findings(doc: dict[str, Any]) -> None:
    """Findings and cl-metadata are the service's to write: drop any the client sent."""
    doc.pop(CL_METADATA, None)
    for container in _finding_holders(doc):
        for key in FINDING_KEYS:
            container.pop(key, None)


def label_attributes(entry: Mapping[str, Any]) -> list[str]:
    """Keys that have a matching `<key>-metadata` key, in line order."""
    return [key for key in entry if key not in NOT_LABEL_KEYS and f"{key}{METADATA_SUFFIX}" in entry]


@dataclass
class _Attribute:
    """What one label attribute contributes: findings by location, label names, validity."""

    attr: list[Finding] = field(default_factory=list)
    attr_warnings: list[Finding] = field(default_factory=list)
    meta: list[Finding] = field(default_factory=list)
    annotations: dict[int, list[Finding]] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    boxes: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> bool:
        return not self.attr and not self.meta


def check_entry(entry: Mapping[str, Any]) -> CheckedEntry:
    """Apply the non-terminal rules to a parsed line (see `parse_line`)."""
    doc = copy.deepcopy(dict(entry))
    _strip_findings(doc)
    top: list[Finding] = []
    top_warnings: list[Finding] = []
    labels: set[str] = set()
    boxes: Counter[str] = Counter()
    attrs = label_attributes(doc)
    any_error = attr_warned = False
    if not attrs:
        if all(key in NOT_LABEL_KEYS for key in doc):
            top_warnings.append(finding(UNANNOTATED_RECORD, "Record is unannotated."))
        else:
            top.append(finding(NO_LABEL_ATTRIBUTES, "No label attributes found."))
    valid = 0
    for attr in attrs:
        found = _check_attribute(attr, doc[attr], doc[f"{attr}{METADATA_SUFFIX}"])
        any_error |= _write(doc, attr, found, top)
        attr_warned |= bool(found.attr_warnings) and isinstance(doc[attr], dict)
        if found.valid:
            valid += 1
            labels |= found.labels
            boxes.update(found.boxes)
    if attrs and not valid:
        top.append(finding(NO_VALID_LABEL_ATTRIBUTES, "No valid label attributes found."))
    elif attrs and not labels:
        top_warnings.append(finding(NO_ANNOTATIONS, "No annotations were found."))
    if len(labels) > MAX_LABELS_PER_IMAGE:
        top.append(
            finding(
                TOO_MANY_LABELS_ON_IMAGE,
                f"The image has {len(labels)} labels; at most {MAX_LABELS_PER_IMAGE} are allowed.",
            )
        )
    if top:
        doc[ERRORS] = top
    if top_warnings:
        doc[WARNINGS] = top_warnings
    return CheckedEntry(
        source_ref=str(doc["source-ref"]),
        line=_dumps(doc),
        labels=frozenset(labels),
        box_counts=dict(boxes),
        has_errors=bool(top) or any_error,
        has_warnings=bool(top_warnings) or attr_warned,
        labeled=bool(attrs),
    )


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _write(doc: dict[str, Any], attr: str, found: _Attribute, top: list[Finding]) -> bool:
    """Put the findings in the line; errors with no object to live in go to the top level."""
    value, meta = doc[attr], doc[f"{attr}{METADATA_SUFFIX}"]
    if found.attr:
        (value.setdefault(ERRORS, []) if isinstance(value, dict) else top).extend(found.attr)
    if found.attr_warnings and isinstance(value, dict):
        value.setdefault(WARNINGS, []).extend(found.attr_warnings)
    if found.meta:
        (meta.setdefault(ERRORS, []) if isinstance(meta, dict) else top).extend(found.meta)
    for index, errors in found.annotations.items():
        value["annotations"][index][ERRORS] = errors
    return bool(found.attr or found.meta or found.annotations)


def _check_attribute(attr: str, value: Any, meta: Any) -> _Attribute:
    if not isinstance(meta, dict):
        return _Attribute(meta=[finding(METADATA_FORMAT, f"The {attr}-metadata label attribute metadata is invalid.")])
    kind = meta.get("type")
    if kind == CLASSIFICATION:
        return _classification(attr, value, meta)
    if kind == DETECTION:
        return _detection(attr, value, meta)
    return _Attribute(
        meta=[
            finding(
                UNSUPPORTED_USE_CASE_TYPE,
                f"The use case type of the {attr}-metadata label attribute metadata is unsupported. "
                "Check the type field.",
            )
        ]
    )


def _name_error(name: object) -> Finding | None:
    if not isinstance(name, str):
        return finding(METADATA_FORMAT, f"The label name {json.dumps(name)[:80]} is not a string.")
    if not 1 <= len(name) <= MAX_LABEL_NAME_CHARS:
        return finding(
            INVALID_LABEL_NAME_LENGTH,
            f"The label name has {len(name)} characters; it must have 1 to {MAX_LABEL_NAME_CHARS}.",
        )
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _missing_common(meta: Mapping[str, Any]) -> list[str]:
    """The metadata fields both formats mark (Required): human-annotated and creation-date."""
    problems = []
    if meta.get("human-annotated") not in ("yes", "no"):
        problems.append('\'human-annotated\' must be "yes" or "no"')
    if not isinstance(meta.get("creation-date"), str):
        problems.append("'creation-date' must be a date string")
    return problems


def _classification(attr: str, value: Any, meta: Mapping[str, Any]) -> _Attribute:
    """md-create-manifest-file-classification: every field is (Required)."""
    found = _Attribute()
    if isinstance(value, bool) or not isinstance(value, int):
        found.attr.append(finding(ATTRIBUTE_FORMAT, f"The format of the label attribute {attr} is invalid."))
    problems = _missing_common(meta)
    confidence = _number(meta.get("confidence"))
    if confidence is None or not 0.0 <= confidence <= 1.0:
        problems.insert(0, "'confidence' must be a number between 0 and 1")
    name = meta.get("class-name")
    name_problem = None
    if "class-name" not in meta:
        problems.insert(0, "'class-name' is missing")
    else:
        name_problem = _name_error(name)
    if problems:
        found.meta.append(
            finding(METADATA_FORMAT, f"The format of the label attribute metadata is invalid: {'; '.join(problems)}.")
        )
    if name_problem is not None:
        found.meta.append(name_problem)
    if found.valid and isinstance(name, str):
        found.labels.add(name)
    return found


def _image_dimension_error(sizes: Any) -> tuple[Finding | None, tuple[float, float] | None]:
    """image_size: one {width, height, depth} of a usable image (64..4096 px a side, at most 20:1)."""
    first = sizes[0] if isinstance(sizes, list) and sizes else None
    if not isinstance(first, dict):
        return finding(ATTRIBUTE_FORMAT, "image_size needs one {width, height, depth} object."), None
    width, height = _number(first.get("width")), _number(first.get("height"))
    if width is None or height is None or width <= 0 or height <= 0:
        return finding(INVALID_IMAGE_DIMENSION, "The image dimension(s) do not conform to allowed dimensions."), None
    if _number(first.get("depth")) is None:
        return finding(ATTRIBUTE_FORMAT, "image_size needs a numeric depth."), None
    within = all(MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in (width, height))
    if not within or max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        return (
            finding(
                INVALID_IMAGE_DIMENSION,
                f"The image dimension(s) do not conform to allowed dimensions: {width:g}x{height:g} "
                f"(each side {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} px, aspect ratio at most 20:1).",
            ),
            None,
        )
    return None, (width, height)


def _detection(attr: str, value: Any, meta: Mapping[str, Any]) -> _Attribute:
    """md-create-manifest-file-object-detection, and the box rules of tm-debugging-json-line-errors."""
    found = _Attribute()
    problems = _missing_common(meta)
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        problems.insert(0, "'class-map' must be an object")
        class_map = {}
    objects = meta.get("objects")
    if not isinstance(objects, list):
        problems.insert(0, "'objects' must be a list")
        objects = []
    if problems:
        found.meta.append(
            finding(METADATA_FORMAT, f"The format of the label attribute metadata is invalid: {'; '.join(problems)}.")
        )
    found.meta.extend(e for e in map(_name_error, class_map.values()) if e is not None)
    if not (
        isinstance(value, dict)
        and isinstance(value.get("image_size"), list)
        and isinstance(value.get("annotations"), list)
    ):
        found.attr.append(finding(ATTRIBUTE_FORMAT, f"The format of the label attribute {attr} is invalid."))
        return found
    dimension, size = _image_dimension_error(value["image_size"])
    if dimension is not None:
        found.attr.append(dimension)
    annotations = value["annotations"]
    if len(annotations) > MAX_BOUNDING_BOXES:
        found.attr.append(finding(TOO_MANY_BOUNDING_BOXES, "There are more bounding boxes than the allowed maximum."))
    if not annotations:
        found.attr_warnings.append(finding(NO_ATTRIBUTE_ANNOTATIONS, "No attribute annotations were found."))
    valid: list[str] = []
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            found.attr.append(finding(ATTRIBUTE_FORMAT, f"Annotation {index} of {attr} is not an object."))
            continue
        confidence = objects[index] if index < len(objects) else None
        errors = _annotation_errors(annotation, class_map, confidence, size)
        if errors:
            found.annotations[index] = errors
        else:
            valid.append(str(class_map[_class_key(annotation["class_id"])]))
    if annotations and not valid and found.valid:
        found.attr.append(finding(NO_VALID_ANNOTATIONS, "No valid annotations found."))
    found.labels.update(valid)
    found.boxes.update(valid)
    return found


def _class_key(class_id: object) -> str:
    number = _number(class_id)
    if number is not None and number.is_integer():
        return str(int(number))
    return str(class_id)


def _annotation_errors(
    annotation: Mapping[str, Any], class_map: Mapping[str, Any], obj: object, size: tuple[float, float] | None
) -> list[Finding]:
    errors: list[Finding] = []
    if not isinstance(obj, dict) or _number(obj.get("confidence")) is None:
        errors.append(finding(MISSING_CONFIDENCE, "One or more bounding boxes has a missing confidence value."))
    values = {name: _number(annotation.get(name)) for name in _BOX_FIELDS}
    if any(v is None for v in values.values()):
        errors.append(finding(ATTRIBUTE_FORMAT, "An annotation needs numeric " + ", ".join(_BOX_FIELDS) + "."))
        return errors
    if _class_key(annotation["class_id"]) not in class_map:
        errors.append(finding(MISSING_CLASS_MAP_ID, "One of more class ids is missing from the class map."))
    if size is not None:
        top, left, width, height = (float(values[name] or 0.0) for name in ("top", "left", "width", "height"))
        box = _box_error(size, top, left, width, height)
        if box is not None:
            errors.append(box)
    return errors


def _box_error(size: tuple[float, float], top: float, left: float, width: float, height: float) -> Finding | None:
    image_width, image_height = size
    if top < 0 or left < 0 or width < 0 or height < 0:
        return finding(INVALID_BOUNDING_BOX, "The bounding box has off frame values (a negative value).")
    if left + width > image_width + _EDGE_SLACK or top + height > image_height + _EDGE_SLACK:
        return finding(INVALID_BOUNDING_BOX, "The bounding box has off frame values.")
    scale = min(1.0, BOX_CHECK_MAX_SIDE / max(image_width, image_height))
    if width * scale <= MIN_BOX_SIDE or height * scale <= MIN_BOX_SIDE:
        return finding(BOUNDING_BOX_TOO_SMALL, "The height and width of the bounding box is too small.")
    return None


@dataclass(frozen=True)
class ParsedChange:
    """The kept entries of one change (manifest or GroundTruth blob), and how its lines were counted."""

    entries: list[CheckedEntry]
    lines: int  # dataset objects: every line, blank ones included (md-create-manifest-file-validation-rules)
    dropped: int  # lines removed without a word (terminal content errors)
    blank: int = 0

    @property
    def invalid(self) -> int:
        """Blank lines count as invalid dataset objects, as removed lines do."""
        return self.dropped + self.blank

    @property
    def empty(self) -> bool:
        return self.lines == self.blank


def parse_change(blob: bytes) -> ParsedChange:
    """Split on LF (CRLF and a leading BOM tolerated), drop bad lines and repeated source-refs.

    A final LF ends the last line; it does not start a blank one.
    """
    entries: list[CheckedEntry] = []
    seen: set[str] = set()
    lines = dropped = blank = 0
    raw_lines = blob.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for raw in raw_lines:
        lines += 1
        if not raw.strip():
            blank += 1
            continue
        try:
            entry = parse_line(raw.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError:
            entry = None
        if entry is None or entry["source-ref"] in seen:
            dropped += 1
            continue
        seen.add(entry["source-ref"])
        entries.append(check_entry(entry))
    return ParsedChange(entries, lines, dropped, blank)
