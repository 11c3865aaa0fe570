"""Ground Truth multi-label output, converted to what Custom Labels accepts (FACTS section 1).

`groundtruth/image-classification-multilabel` (attribute = list of class ids, metadata
`class-map` + `confidence-map`) is refused by the service (ERROR_UNSUPPORTED_USE_CASE_TYPE).
AWS's documented fix is one `groundtruth/image-classification` attribute per label; this
does that, in place of the original attribute, keeping the metadata's other keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelsync.domain.rules import CLASSIFICATION, METADATA_SUFFIX, MULTILABEL, class_key, number

MULTILABEL_MARKER = MULTILABEL.encode()
_COPIED = ("human-annotated", "creation-date", "job-name")


@dataclass(frozen=True, slots=True)
class Conversion:
    attribute: str
    labels: tuple[str, ...]
    new_attributes: tuple[str, ...]


class NotConvertible(ValueError):
    """A multi-label attribute that cannot be converted; the message says why."""


def multilabel_attributes(doc: dict[str, Any]) -> list[str]:
    found = []
    for key in doc:
        meta = doc.get(f"{key}{METADATA_SUFFIX}")
        if isinstance(meta, dict) and meta.get("type") == MULTILABEL:
            found.append(key)
    return found


def convert(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Conversion]]:
    """The line with each multi-label attribute replaced by image-level attributes (same key order otherwise).

    Raises NotConvertible naming the attribute when one cannot be converted.
    """
    attrs = multilabel_attributes(doc)
    if not attrs:
        return doc, []
    conversions: list[Conversion] = []
    replaced: dict[str, list[tuple[str, Any]]] = {}
    taken = set(doc)
    for attr in attrs:
        items, conversion = _convert_one(attr, doc[attr], doc[f"{attr}{METADATA_SUFFIX}"], taken)
        replaced[attr] = items
        conversions.append(conversion)
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in replaced:
            out.update(replaced[key])
        elif key.endswith(METADATA_SUFFIX) and key[: -len(METADATA_SUFFIX)] in replaced:
            continue
        else:
            out[key] = value
    return out, conversions


def _convert_one(
    attr: str, value: Any, meta: dict[str, Any], taken: set[str]
) -> tuple[list[tuple[str, Any]], Conversion]:
    if not isinstance(value, list):
        raise NotConvertible(f"multi-label attribute '{attr}' is not a list of class ids")
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        raise NotConvertible(f"'{attr}-metadata' has no 'class-map' object")
    confidences = meta.get("confidence-map")
    confidences = confidences if isinstance(confidences, dict) else {}
    items: list[tuple[str, Any]] = []
    labels: list[str] = []
    names: list[str] = []
    for class_id in value:
        if number(class_id) is None:
            raise NotConvertible(f"multi-label attribute '{attr}' has a class id {class_id!r} that is not a number")
        key = class_key(class_id)
        if key not in class_map or not isinstance(class_map[key], str):
            raise NotConvertible(f"class id {class_id!r} of '{attr}' is not in its class-map")
        name = f"{attr}-{key}"
        while name in taken or f"{name}{METADATA_SUFFIX}" in taken:
            name += "_"
        taken.update((name, f"{name}{METADATA_SUFFIX}"))
        new_meta: dict[str, Any] = {"class-name": class_map[key]}
        confidence = confidences.get(key)
        new_meta["confidence"] = confidence if number(confidence) is not None else 1
        new_meta["type"] = CLASSIFICATION
        new_meta.update((k, meta[k]) for k in _COPIED if k in meta)
        items += [(name, 1), (f"{name}{METADATA_SUFFIX}", new_meta)]
        labels.append(class_map[key])
        names.append(name)
    return items, Conversion(attr, tuple(labels), tuple(names))
