"""What the service does with one JSON line: drop it silently, or keep it and flag errors.

Pure functions, so the rules can be read and tested apart from the service state. Kept
lines get `{"code", "message"}` lists written where the service documents them: top
level, `<attr>.errors`, `<attr>.annotations[i].errors` and `<attr>-metadata.errors`.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LINE_CHARS = 100_000
MAX_BOUNDING_BOXES = 50
MAX_LABEL_NAME_CHARS = 256
BOX_CHECK_MAX_SIDE = 1280  # boxes are measured after scaling the image to this longest side
CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
METADATA_SUFFIX = "-metadata"
ERROR_KEYS = ("errors", "cl-errors")
_EDGE_SLACK = 1e-6  # float coordinates such as 143.60000000000002 are not off the frame
_BOX_FIELDS = ("class_id", "top", "left", "width", "height")
_SOURCE_REF = re.compile(r"s3://([^/]+)/(.+)", re.DOTALL)

Error = dict[str, str]


def error(code: str, message: str) -> Error:
    return {"code": code, "message": message}


def is_valid_source_ref(value: object) -> bool:
    """`s3://bucket/key` with a non-empty bucket and key."""
    return isinstance(value, str) and _SOURCE_REF.fullmatch(value) is not None


def parse_line(text: str) -> dict[str, Any] | None:
    """The line's object, or None when the service drops the line without a word."""
    if len(text) > MAX_LINE_CHARS:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not is_valid_source_ref(value.get("source-ref")):
        return None
    return value


@dataclass(frozen=True)
class CheckedEntry:
    """A kept line as the service stores it, with what the dataset statistics need."""

    source_ref: str
    line: str
    labels: frozenset[str]
    box_counts: Mapping[str, int]
    has_errors: bool


@dataclass
class _Findings:
    attr: list[Error] = field(default_factory=list)
    meta: list[Error] = field(default_factory=list)
    annotations: dict[int, list[Error]] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    boxes: Counter[str] = field(default_factory=Counter)

    @property
    def attribute_valid(self) -> bool:
        return not self.attr and not self.meta


def label_attributes(entry: Mapping[str, Any]) -> list[str]:
    """Keys that have a matching `<key>-metadata` key, in line order."""
    return [
        key for key in entry if key != "source-ref" and key not in ERROR_KEYS and f"{key}{METADATA_SUFFIX}" in entry
    ]


def check_entry(entry: Mapping[str, Any]) -> CheckedEntry:
    """Apply the non-terminal rules to a parsed line (see `parse_line`)."""
    doc = copy.deepcopy(dict(entry))
    _strip_errors(doc)
    top: list[Error] = []
    labels: set[str] = set()
    boxes: Counter[str] = Counter()
    attrs = label_attributes(doc)
    if not attrs:
        top.append(error("ERROR_NO_LABEL_ATTRIBUTES", "The JSON line has no label attribute with matching metadata."))
    any_valid = False
    any_error = False
    for attr in attrs:
        found = _check_attribute(doc[attr], doc[f"{attr}{METADATA_SUFFIX}"])
        any_error |= _write(doc, attr, found, top)
        if found.attribute_valid:
            any_valid = True
            labels |= found.labels
            boxes.update(found.boxes)
    if attrs and not any_valid:
        top.append(error("ERROR_NO_VALID_LABEL_ATTRIBUTES", "No label attribute of the JSON line is valid."))
    if top:
        doc["errors"] = top
    return CheckedEntry(
        source_ref=str(doc["source-ref"]),
        line=json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        labels=frozenset(labels),
        box_counts=dict(boxes),
        has_errors=bool(top) or any_error,
    )


def _strip_errors(doc: dict[str, Any]) -> None:
    """Errors are the service's to write: drop any the client sent."""
    for key in ERROR_KEYS:
        doc.pop(key, None)
    for value in doc.values():
        if not isinstance(value, dict):
            continue
        for key in ERROR_KEYS:
            value.pop(key, None)
        annotations = value.get("annotations")
        if isinstance(annotations, list):
            for annotation in annotations:
                if isinstance(annotation, dict):
                    for key in ERROR_KEYS:
                        annotation.pop(key, None)


def _write(doc: dict[str, Any], attr: str, found: _Findings, top: list[Error]) -> bool:
    """Put the findings in the line; errors with no object to live in go to the top level."""
    value, meta = doc[attr], doc[f"{attr}{METADATA_SUFFIX}"]
    if found.attr:
        (value.setdefault("errors", []) if isinstance(value, dict) else top).extend(found.attr)
    if found.meta:
        (meta.setdefault("errors", []) if isinstance(meta, dict) else top).extend(found.meta)
    for index, errors in found.annotations.items():
        value["annotations"][index]["errors"] = errors
    return bool(found.attr or found.meta or found.annotations)


def _check_attribute(value: Any, meta: Any) -> _Findings:
    if not isinstance(meta, dict):
        return _Findings(
            meta=[error("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "The metadata is not an object.")]
        )
    kind = meta.get("type")
    if kind == CLASSIFICATION:
        return _classification(meta)
    if kind == DETECTION:
        return _detection(value, meta)
    return _Findings(
        meta=[
            error(
                "ERROR_UNSUPPORTED_USE_CASE_TYPE",
                f"Unsupported type {kind!r}: use {CLASSIFICATION!r} or {DETECTION!r}.",
            )
        ]
    )


def _name_error(name: object) -> Error | None:
    if not isinstance(name, str):
        return error("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", f"The label name {name!r} is not a string.")
    if not 1 <= len(name) <= MAX_LABEL_NAME_CHARS:
        return error(
            "ERROR_INVALID_LABEL_NAME_LENGTH",
            f"The label name has {len(name)} characters; it must have 1 to {MAX_LABEL_NAME_CHARS}.",
        )
    return None


def _classification(meta: Mapping[str, Any]) -> _Findings:
    found = _Findings()
    name = meta.get("class-name")
    if not isinstance(name, str):
        found.meta.append(
            error("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "The metadata has no string 'class-name'.")
        )
    elif (problem := _name_error(name)) is not None:
        found.meta.append(problem)
    else:
        found.labels.add(name)
    return found


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _image_size(sizes: list[Any]) -> tuple[float, float] | None:
    first = sizes[0] if sizes else None
    if not isinstance(first, dict):
        return None
    width, height = _number(first.get("width")), _number(first.get("height"))
    if width is None or height is None or width <= 0 or height <= 0:
        return None
    return width, height


def _detection(value: Any, meta: Mapping[str, Any]) -> _Findings:
    found = _Findings()
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        found.meta.append(
            error("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "The metadata has no 'class-map' object.")
        )
        class_map = {}
    else:
        found.meta.extend(e for e in map(_name_error, class_map.values()) if e is not None)
    objects = meta.get("objects", [])
    if not isinstance(objects, list):
        found.meta.append(error("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "'objects' is not a list."))
        objects = []
    if not (
        isinstance(value, dict)
        and isinstance(value.get("image_size"), list)
        and isinstance(value.get("annotations"), list)
    ):
        found.attr.append(
            error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "The attribute needs 'image_size' and 'annotations' lists.")
        )
        return found
    size = _image_size(value["image_size"])
    if size is None:
        found.attr.append(error("ERROR_INVALID_IMAGE_DIMENSION", "image_size needs a positive width and height."))
    annotations = value["annotations"]
    if len(annotations) > MAX_BOUNDING_BOXES:
        found.attr.append(
            error(
                "ERROR_TOO_MANY_BOUNDING_BOXES",
                f"{len(annotations)} bounding boxes; at most {MAX_BOUNDING_BOXES} are allowed.",
            )
        )
    valid: list[str] = []
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            found.attr.append(error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", f"Annotation {index} is not an object."))
            continue
        confidence = objects[index] if index < len(objects) else None
        errors = _annotation_errors(annotation, class_map, confidence, size)
        if errors:
            found.annotations[index] = errors
        else:
            valid.append(str(class_map[_class_key(annotation["class_id"])]))
    if annotations and not valid:
        found.attr.append(error("ERROR_NO_VALID_ANNOTATIONS", "No annotation of the attribute is valid."))
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
) -> list[Error]:
    errors: list[Error] = []
    values = {name: _number(annotation.get(name)) for name in _BOX_FIELDS}
    if not isinstance(obj, dict) or _number(obj.get("confidence")) is None:
        errors.append(error("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "The matching 'objects' item has no confidence."))
    if any(v is None for v in values.values()):
        errors.append(
            error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "An annotation needs numeric " + ", ".join(_BOX_FIELDS) + ".")
        )
        return errors
    if _class_key(annotation["class_id"]) not in class_map:
        errors.append(
            error("ERROR_MISSING_CLASS_MAP_ID", f"class_id {annotation['class_id']!r} is not in the class-map.")
        )
    if size is not None:
        box = _box_error(size, *(float(values[name] or 0.0) for name in ("top", "left", "width", "height")))
        if box is not None:
            errors.append(box)
    return errors


def _box_error(size: tuple[float, float], top: float, left: float, width: float, height: float) -> Error | None:
    image_width, image_height = size
    if top < 0 or left < 0 or width < 0 or height < 0:
        return error("ERROR_INVALID_BOUNDING_BOX", "The bounding box has a negative coordinate or size.")
    if left + width > image_width + _EDGE_SLACK or top + height > image_height + _EDGE_SLACK:
        return error("ERROR_INVALID_BOUNDING_BOX", "The bounding box extends past the image.")
    scale = min(1.0, BOX_CHECK_MAX_SIDE / max(image_width, image_height))
    if width * scale < 1 or height * scale < 1:
        return error(
            "ERROR_BOUNDING_BOX_TOO_SMALL",
            f"The bounding box is under 1x1 pixels once the image is scaled to {BOX_CHECK_MAX_SIDE} pixels.",
        )
    return None


@dataclass(frozen=True)
class ParsedChange:
    """The kept entries of one change (manifest or GroundTruth blob), and how many lines were dropped."""

    entries: list[CheckedEntry]
    lines: int  # non-blank lines
    dropped: int

    @property
    def too_many_in_error(self) -> bool:
        """The service fails the whole change when more than 20% of its lines are invalid."""
        return self.dropped * 5 > self.lines


def parse_change(blob: bytes) -> ParsedChange:
    """Split on LF (CRLF and a leading BOM tolerated), drop bad lines and repeated source-refs."""
    entries: list[CheckedEntry] = []
    seen: set[str] = set()
    lines = dropped = 0
    for raw in blob.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        if not raw.strip():
            continue
        lines += 1
        try:
            entry = parse_line(raw.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError:
            entry = None
        if entry is None or entry["source-ref"] in seen:
            dropped += 1
            continue
        seen.add(entry["source-ref"])
        entries.append(check_entry(entry))
    return ParsedChange(entries, lines, dropped)
