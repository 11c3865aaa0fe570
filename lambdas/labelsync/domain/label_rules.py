"""The service's non-terminal label rules, checked before sending (FACTS section 1).

The service keeps such a line but flags it (ListDatasetEntries shows the error later);
the plan step reports the same codes up front as warnings, with the line number. The
rules mirror what the service documents: label attributes with matching metadata,
image-level (`groundtruth/image-classification`) and object localization
(`groundtruth/object-detection`) attributes, bounding boxes inside the image and at
least 1x1 px once the image is scaled to a longest side of 1280 px, at most 50 boxes
and 50 labels per image, label names of 1 to 256 characters.

`label_warnings` is pure and takes the parsed line; it is the reference the fast path
(`fastcheck`) must agree with.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
MULTILABEL = "groundtruth/image-classification-multilabel"
METADATA_SUFFIX = "-metadata"
ERROR_KEYS = frozenset({"errors", "cl-errors", "warnings"})
NOT_ATTRIBUTES = frozenset({"source-ref", "cl-metadata", *ERROR_KEYS})

MAX_BOUNDING_BOXES = 50
MAX_LABELS_PER_IMAGE = 50
MAX_LABEL_NAME_CHARS = 256
BOX_CHECK_MAX_SIDE = 1280  # boxes are measured after scaling the image to this longest side
MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 4096
EDGE_SLACK = 1e-6  # float coordinates such as 143.60000000000002 are not off the frame
BOX_FIELDS = ("class_id", "top", "left", "width", "height")

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
# Documented limits without a service code of their own: named by this project.
TOO_MANY_LABELS = "ERROR_TOO_MANY_LABELS_ON_IMAGE"
MULTIPLE_BUCKETS = "ERROR_IMAGES_IN_MULTIPLE_BUCKETS"
# Our own code: a legal S3 key, but an invisible character usually means a copy-paste accident.
INVISIBLE_IN_SOURCE_REF = "WARNING_INVISIBLE_CHARACTER_IN_SOURCE_REF"

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
    TOO_MANY_LABELS,
    MULTIPLE_BUCKETS,
    INVISIBLE_IN_SOURCE_REF,
)

Finding = tuple[str, str]  # (code, message)
_CONSEQUENCES = frozenset({NO_VALID_ANNOTATIONS, NO_VALID_LABEL_ATTRIBUTES})


def label_attributes(doc: Mapping[str, Any]) -> list[str]:
    """Keys with a matching `<key>-metadata` key, in line order."""
    return [key for key in doc if key not in NOT_ATTRIBUTES and f"{key}{METADATA_SUFFIX}" in doc]


def source_ref_warnings(source_ref: str) -> list[Finding]:
    """Invisible format characters (U+200B zero-width space, U+FEFF, ...) in the image key."""
    if source_ref.isascii():
        return []
    hidden = sorted({f"U+{ord(ch):04X}" for ch in source_ref if unicodedata.category(ch) == "Cf"})
    if not hidden:
        return []
    return [(INVISIBLE_IN_SOURCE_REF, f"'source-ref' contains invisible characters ({', '.join(hidden)})")]


def label_warnings(doc: Mapping[str, Any]) -> list[Finding]:
    """Every non-terminal problem of one parsed line, in line order; empty when the line is clean."""
    found: list[Finding] = []
    attrs = label_attributes(doc)
    if not attrs:
        return [(NO_LABEL_ATTRIBUTES, "the line has no label attribute with a matching '<attribute>-metadata' key")]
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
    if not valid:
        found.append((NO_VALID_LABEL_ATTRIBUTES, "no label attribute of the line is valid"))
    if len(labels) > MAX_LABELS_PER_IMAGE:
        found.append((TOO_MANY_LABELS, f"{len(labels)} labels on one image; at most {MAX_LABELS_PER_IMAGE}"))
    found.sort(key=lambda finding: finding[0] in _CONSEQUENCES)  # the causes first, then what follows from them
    return found


def _attribute(attr: str, value: Any, meta: Any, found: list[Finding], boxes: list[Finding]) -> set[str] | None:
    """Check one attribute; return its label names (None when it cannot be read at all)."""
    if not isinstance(meta, dict):
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' is not an object"))
        return None
    kind = meta.get("type")
    if kind == CLASSIFICATION:
        return _classification(attr, value, meta, found)
    if kind == DETECTION:
        return _detection(attr, value, meta, found, boxes)
    shown = repr(kind)[:80]
    found.append(
        (UNSUPPORTED_USE_CASE_TYPE, f"'{attr}-metadata' type {shown} is not {CLASSIFICATION!r} or {DETECTION!r}")
    )
    return None


def _name_problem(attr: str, name: object, where: str) -> Finding | None:
    if not isinstance(name, str):
        return INVALID_METADATA_FORMAT, f"'{attr}-metadata' {where} is not a string"
    if not 1 <= len(name) <= MAX_LABEL_NAME_CHARS:
        return (
            INVALID_LABEL_NAME_LENGTH,
            f"'{attr}-metadata' {where} has {len(name)} characters; a label name has 1 to {MAX_LABEL_NAME_CHARS}",
        )
    return None


def _classification(attr: str, value: Any, meta: Mapping[str, Any], found: list[Finding]) -> set[str] | None:
    if "class-name" not in meta:
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' has no 'class-name'"))
        return None
    name = meta["class-name"]
    problem = _name_problem(attr, name, "class-name")
    if problem:
        found.append(problem)
        return None
    return {name}


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:  # an integer too large for a double (e.g. 1 followed by 400 zeros)
        return None
    return result if math.isfinite(result) else None


def _image_size(attr: str, value: Mapping[str, Any], found: list[Finding]) -> tuple[float, float] | None:
    sizes = value.get("image_size")
    first = sizes[0] if isinstance(sizes, list) and sizes else None
    if not isinstance(first, dict):
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
    return width, height


def class_key(class_id: object) -> str:
    """class-map keys are strings: class_id 3 (or 3.0) is looked up as "3"."""
    value = number(class_id)
    if value is not None and value.is_integer():
        return str(int(value))
    return str(class_id)


def _detection(
    attr: str, value: Any, meta: Mapping[str, Any], found: list[Finding], boxes: list[Finding]
) -> set[str] | None:
    start = len(found)
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata' has no 'class-map' object"))
        class_map = {}
    else:
        for key, name in class_map.items():
            problem = _name_problem(attr, name, f"class-map[{key!r}]")
            if problem:
                found.append(problem)
    objects = meta.get("objects", [])
    if not isinstance(objects, list):
        found.append((INVALID_METADATA_FORMAT, f"'{attr}-metadata.objects' is not a list"))
        objects = []
    if not (
        isinstance(value, dict)
        and isinstance(value.get("image_size"), list)
        and isinstance(value.get("annotations"), list)
    ):
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
    names: set[str] = set()
    for index, annotation in enumerate(annotations):
        where = f"'{attr}.annotations[{index}]'"
        if not isinstance(annotation, dict):
            found.append((INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where} is not an object"))
            continue
        before = len(boxes)
        obj = objects[index] if index < len(objects) else None
        if not isinstance(obj, dict) or number(obj.get("confidence")) is None:
            boxes.append(
                (MISSING_BOUNDING_BOX_CONFIDENCE, f"{where} has no numeric confidence in '{attr}-metadata.objects'")
            )
        values = [number(annotation.get(name)) for name in BOX_FIELDS]
        if any(v is None for v in values):
            boxes.append((INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where} needs numeric {', '.join(BOX_FIELDS)}"))
            continue
        key = class_key(annotation["class_id"])
        if key not in class_map:
            boxes.append((MISSING_CLASS_MAP_ID, f"{where} class_id {annotation['class_id']!r} is not in the class-map"))
        if size is not None:
            problem = box_problem(size, *(float(v or 0.0) for v in values[1:]))
            if problem:
                boxes.append((problem[0], f"{where}: {problem[1]}"))
        if len(boxes) == before and isinstance(class_map.get(key), str):
            names.add(class_map[key])
    if annotations and not names and len(found) == start:
        found.append((NO_VALID_ANNOTATIONS, f"no annotation of '{attr}' is valid"))
    return names


def box_problem(size: tuple[float, float], top: float, left: float, width: float, height: float) -> Finding | None:
    image_width, image_height = size
    if top < 0 or left < 0 or width < 0 or height < 0:
        return INVALID_BOUNDING_BOX, "the bounding box has a negative coordinate or size"
    if left + width > image_width + EDGE_SLACK or top + height > image_height + EDGE_SLACK:
        return (
            INVALID_BOUNDING_BOX,
            f"the bounding box (left {left:g}, top {top:g}, {width:g}x{height:g}) extends past the "
            f"{image_width:g}x{image_height:g} image",
        )
    scale = min(1.0, BOX_CHECK_MAX_SIDE / max(image_width, image_height))
    if width * scale < 1 or height * scale < 1:
        return (
            BOUNDING_BOX_TOO_SMALL,
            f"the bounding box is {width * scale:.2f}x{height * scale:.2f} px once the image is scaled to a longest "
            f"side of {BOX_CHECK_MAX_SIDE} px; at least 1x1 is needed",
        )
    return None
