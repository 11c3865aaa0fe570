"""Manifest lines generated around every rule's edge, from hypothesis or from a seeded Random.

Used by tests/unit/test_checker_properties.py (JSON is read as Python's decoder reads it).
Each line is a clean Ground Truth line with at most one change at one rule's edge (numbers at the thresholds, label names
by characters, class ids as floats or -0, multi-label metadata on any key, odd source-refs),
then possibly a text-level change (duplicate or escaped keys, NaN, huge numbers, deep nesting,
invalid UTF-8).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from labelsync.domain.rules import CLASSIFICATION, DETECTION

T = TypeVar("T")
BUCKET = "bucket"
CLASSES = {"0": "cat", "1": "dog", "12": "bus", "-3": "neg"}
NAMES = ["cat", "", "x" * 256, "x" * 257, "é" * 256, "é" * 257, "日本" * 128, "😀" * 256, "😀" * 257, "a\u200bb"]
TINY = [2e-6, 1e-6, 1.0000001e-6, 0.0, 9.999999e-7, -1e-6, 1e-9, -1e-9, 5e-324]


class Choices(Protocol):
    """Where the generator's choices come from: hypothesis (shrinks) or a seeded Random (volume)."""

    def pick(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...

    def real(self, low: float, high: float) -> float: ...

    def coin(self) -> bool: ...


class Drawn:
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def real(self, low: float, high: float) -> float:
        return self.draw(st.floats(low, high))

    def coin(self) -> bool:
        return self.draw(st.booleans())


class Seeded:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rnd.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rnd.randint(low, high)

    def real(self, low: float, high: float) -> float:
        return self.rnd.uniform(low, high)

    def coin(self) -> bool:
        return self.rnd.random() < 0.5


def base(c: Choices, attrs: int) -> dict[str, Any]:
    """A clean line: object-detection and image-classification attributes, valid values."""
    doc: dict[str, Any] = {"source-ref": f"s3://{BUCKET}/img/{c.integer(0, 9)}.jpg"}
    for index in range(attrs):
        attr = c.pick(["bounding-box", "bb", "job", "labels", "x"]) + str(index)
        if c.coin():
            width = c.pick([64, 640, 1280, 1281, 4032, 4096, 640.5, 100])
            height = c.pick([64, 480, 3000, 4096, 99.5])
            annotations, objects = [], []
            for _ in range(c.pick([1, 1, 2, 3, 4, 0])):
                w = c.real(4, 60)
                annotations.append(
                    {
                        "class_id": c.pick([0, 1, 12, -3]),
                        "top": c.pick([0, 1, 10.25, 0.6000000000000002]),
                        "left": c.real(0, 2),
                        "width": w,
                        "height": c.pick([w, 30, 4]),
                    }
                )
                objects.append({"confidence": c.pick([0, 1, 0.93])})
            doc[attr] = {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations}
            doc[f"{attr}-metadata"] = {
                "objects": objects,
                "class-map": c.pick([CLASSES, CLASSES, {"0": "cat", "1": "dog", "12": "bus", "3": "three"}]),
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
            }
        else:
            doc[attr] = c.pick([0, 1, "x"])
            doc[f"{attr}-metadata"] = {"class-name": "sun", "type": "groundtruth/image-classification"}
    return doc


def detections(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (doc[key], doc[f"{key}-metadata"])
        for key in doc
        if isinstance(doc.get(f"{key}-metadata"), dict) and doc[f"{key}-metadata"].get("type") == DETECTION
    ]


KINDS = ["edge"] * 6 + ["scale"] * 6 + ["size", "name", "class_id", "labels", "count"] * 2
KINDS += ["confidence", "objects", "ref", "multilabel", "type", "value", "meta", "none", "extra"]
REFS: list[Any] = [f"s3://other/{BUCKET}.jpg", f"s3://{BUCKET}/", "s3:///x", f"s3://{BUCKET} x/y", f"S3://{BUCKET}/a"]
REFS += [f"s3://{BUCKET}/a b.jpg", f"s3://{BUCKET}/é.jpg", f"s3://{BUCKET}/\u200b.jpg", f's3://{BUCKET}/a"b']
REFS += [f"s3://{BUCKET}/a\\b", f"s3://{BUCKET}/a\tb", f"s3://{BUCKET}/\x7f", f"s3://{BUCKET}/a", 5, None]
REFS += [f"s3://{BUCKET}/~!@#$%^&*()_+{{}}|:<>?`-=[];',./", "s3://bukket/same-length.jpg"]
EXTRAS: list[Any] = [[[[[1]]]], {"a": {"b": None}}, "é", math.nan, 1e400, 10**30, -0.0, "\ud800"]


def perturb(c: Choices, doc: dict[str, Any]) -> None:
    """One change at one rule's edge (it may or may not break the rule)."""
    found = detections(doc)
    kind = c.pick(KINDS)
    if found and kind in ("edge", "scale", "size", "class_id", "confidence", "objects", "count", "value"):
        value, meta = c.pick(found)
        size, boxes = value["image_size"][0], value["annotations"]
        if kind == "size":
            side = c.pick(["width", "height"])
            size[side] = c.pick([63, 63.99999999999999, 64, 64.0, 4096, 4096.000000000001, 4097, 0, -64, True, "64"])
        elif kind == "count":
            boxes[:] = (boxes or [{"class_id": 0, "top": 0, "left": 0, "width": 8, "height": 8}]) * 60
            boxes[:] = boxes[: c.pick([49, 50, 51])]
            meta["objects"] = [{"confidence": 1}] * len(boxes)
        elif kind == "objects":
            meta["objects"] = c.pick([meta["objects"][:-1], {}, None, [*meta["objects"], 1]])
            if meta["objects"] is None:
                del meta["objects"]
        elif kind == "value":
            value[c.pick(["image_size", "annotations"])] = c.pick([None, {}, [], [1], "x"])
        elif boxes:
            index = c.integer(0, len(boxes) - 1)
            box = boxes[index]
            scale = min(1.0, 1280 / max(size["width"], size["height"]))
            if kind == "edge":
                axis, along, limit = c.pick([("left", "width", size["width"]), ("top", "height", size["height"])])
                box[axis] = limit - box[along] + c.pick(TINY)
            elif kind == "scale":
                box[c.pick(["width", "height"])] = 1 / scale + c.pick(TINY)
            elif kind == "class_id":
                box["class_id"] = c.pick([0, 1, 7, 1.0, -0.0, "1", True, 10**16, 1e2, -3])
            elif kind == "confidence" and index < len(meta["objects"]):
                confidence = c.pick([{}, {"confidence": None}, {"confidence": True}, {"confidence": 1e308}, 1])
                meta["objects"][index] = confidence
    elif kind == "name":
        for key in list(doc):
            named = doc.get(f"{key}-metadata")
            if isinstance(named, dict) and "class-name" in named:
                named["class-name"] = c.pick(NAMES)
            elif isinstance(named, dict) and "class-map" in named:
                named["class-map"][c.pick(["0", "1"])] = c.pick(NAMES)
    elif kind == "ref":
        doc["source-ref"] = c.pick(REFS)
    elif kind == "multilabel":
        key = c.pick(["errors", "source-ref", "tags", "cl"])
        doc[key] = doc.get(key, [0])
        doc[f"{key}-metadata"] = {"type": "groundtruth/image-classification-multilabel", "class-map": {"0": "a"}}
    elif kind == "type":
        metas = [doc[f"{key}-metadata"] for key in doc if isinstance(doc.get(f"{key}-metadata"), dict)]
        if metas:
            c.pick(metas)["type"] = c.pick(["other", f"{DETECTION} ", None, 3, DETECTION, CLASSIFICATION])
    elif kind == "meta":
        keys = [key for key in doc if f"{key}-metadata" in doc]
        if keys:
            doc[f"{c.pick(keys)}-metadata"] = c.pick([None, [], "x"])
    elif kind == "labels":  # labels count once per name: 51 attributes with 30 names are fine
        names = c.pick([30, 1000])
        for index in range(c.pick([24, 25, 26, 49, 50, 51])):
            doc[f"c{index}"] = 1
            doc[f"c{index}-metadata"] = {"class-name": f"n{index % names}", "type": CLASSIFICATION}
    elif kind == "extra":
        doc["extra"] = c.pick(EXTRAS)


def mutate(c: Choices, text: str) -> str:
    """Text-level changes JSON values cannot express: duplicate or escaped keys, nesting, spacing."""
    kind = c.pick(["none"] * 8 + ["dup", "dup", "escape", "deep", "space", "cut", "nan", "bigint"])
    if kind == "dup":  # a key again, with another value: Python keeps the last
        key = c.pick(['"source-ref"', '"type"', '"width"', '"class_id"', '"0"', '"confidence"', '"bb0-metadata"'])
        value = c.pick(['"s3://bucket/z.jpg"', "null", "4", '"other"', '{"type": "other"}', "-1", '"x"'])
        at = text.find(key)
        if at >= 0 and c.coin():  # in the object that holds the key (or a nested one)
            closing = text.find("}", at)
            return text[:closing] + f", {key}: {value}" + text[closing:]
        if at >= 0:  # at the top level
            return text[:-1] + f", {key}: {value}" + "}"
    if kind == "escape":  # the same key, escaped: Python decodes it to the same string
        key = c.pick(['"type"', '"width"', '"source-ref"', '"class-map"', '"annotations"', '"0"', '"bb0-metadata"'])
        return text.replace(key, f'"\\u{ord(key[1]):04x}' + key[2:], 1)
    if kind == "deep":
        depth = c.pick([63, 64, 199, 200, 201, 1200])
        return text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    if kind == "space":
        return " \t" + text.replace(":", " : ").replace(",", " ,\r ") + "  "
    if kind == "cut":
        return text[: c.integer(0, len(text))]
    if kind == "nan":
        return text[:-1] + ', "n": ' + c.pick(["NaN", "Infinity", "-Infinity", "1e400", "-0"]) + "}"
    if kind == "bigint":
        return text[:-1] + ', "n": ' + "9" * c.pick([19, 20, 300, 309, 400, 4300, 5000]) + "}"
    return text


def make_line(c: Choices) -> bytes:
    doc = base(c, c.pick([1, 1, 1, 2, 2, 3, 0]))
    if c.integer(0, 3):
        perturb(c, doc)
    text = json.dumps(doc, ensure_ascii=c.coin(), separators=c.pick([(",", ":"), None]))
    text = mutate(c, text)
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes Python refuses
    if c.integer(0, 12) == 0:  # invalid UTF-8 inside a string
        bad = c.pick([b"\xc3", b"\xed\xa0\x80", b"\xc0\xa9", b"\xf4\x90\x80\x80", b"\xc3\xa9"])
        data = data[:-1] + b', "b": "' + bad + b'"}'
    return data.replace(b"\n", b" ")


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    return make_line(Drawn(draw))
