"""Certify whole batches of clean lines at once, with msgspec when it is installed.

A batch is certified only when every line is one the reference check (`checker`) would
accept unchanged and without a warning; the answer is then just the source-refs. Any
doubt (a decode or constraint error, a cross-field rule, a new layout) returns None
and the batch goes through the reference check line by line, so results are the same
with or without msgspec; only the speed differs.

Layouts are learned from clean lines: the first clean line with a new set of keys
becomes a typed msgspec Struct (label attributes typed by their metadata `type`,
unknown top-level keys forbidden), so a typical manifest decodes without building a
dict per line. Range rules are msgspec constraints (checked in C); the rules that
relate fields (box inside the image, class ids in the class-map, one confidence per
box) are checked on the decoded structs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Annotated, Any, Literal

from labelsync.domain.checker import LineChecker
from labelsync.domain.label_rules import (
    BOX_CHECK_MAX_SIDE,
    CLASSIFICATION,
    DETECTION,
    EDGE_SLACK,
    MAX_BOUNDING_BOXES,
    MAX_IMAGE_SIDE,
    MAX_LABEL_NAME_CHARS,
    MAX_LABELS_PER_IMAGE,
    METADATA_SUFFIX,
    MIN_IMAGE_SIDE,
    label_attributes,
)
from labelsync.domain.lines import Batch
from labelsync.domain.multilabel import MULTILABEL_MARKER
from labelsync.domain.validation import MAX_LINE_CHARS

try:
    import msgspec
except ImportError:  # pragma: no cover - exercised by the tests that hide msgspec
    msgspec = None  # type: ignore[assignment]

MAX_LAYOUTS = 8
# A box at least this wide and high is never too small: images are at most 4096 px a side,
# so the 1280-px scaling shrinks by at most 4096/1280; smaller boxes go to the reference check.
SAFE_BOX_SIDE = MAX_IMAGE_SIDE / BOX_CHECK_MAX_SIDE
SOURCE_REF_PATTERN = r"^s3://[^/\s]+/[\s\S]"

_ref = attrgetter("source_ref")
Cross = Callable[[Any], bool]


def available() -> bool:
    return msgspec is not None


if msgspec is not None:
    _Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL_NAME_CHARS)]
    _Side = Annotated[float, msgspec.Meta(ge=MIN_IMAGE_SIDE, le=MAX_IMAGE_SIDE)]
    _Offset = Annotated[float, msgspec.Meta(ge=0)]
    _Extent = Annotated[float, msgspec.Meta(ge=SAFE_BOX_SIDE)]
    _Ref = Annotated[str, msgspec.Meta(pattern=SOURCE_REF_PATTERN)]

    class _Size(msgspec.Struct, gc=False):
        width: _Side
        height: _Side

    class _Box(msgspec.Struct, gc=False):
        class_id: int
        top: _Offset
        left: _Offset
        width: _Extent
        height: _Extent

    class _Detection(msgspec.Struct, gc=False):
        image_size: Annotated[list[_Size], msgspec.Meta(min_length=1)]
        annotations: Annotated[list[_Box], msgspec.Meta(max_length=MAX_BOUNDING_BOXES)]

    class _Confidence(msgspec.Struct, gc=False):
        confidence: Annotated[float, msgspec.Meta(ge=-1e308, le=1e308)]  # finite, as the reference requires

    class _DetectionMeta(msgspec.Struct, gc=False, rename={"class_map": "class-map"}):
        type: Literal["groundtruth/object-detection"]
        class_map: dict[str, _Name]
        objects: list[_Confidence]

    class _ClassificationMeta(msgspec.Struct, gc=False, rename={"class_name": "class-name"}):
        type: Literal["groundtruth/image-classification"]
        class_name: _Name

    class _Envelope(msgspec.Struct, gc=False, rename={"source_ref": "source-ref"}):
        source_ref: _Ref


def _detection_ok(value: Any, meta: Any) -> bool:
    boxes = value.annotations
    if not boxes:
        return True
    if len(meta.objects) < len(boxes):
        return False
    size = value.image_size[0]
    width, height = size.width + EDGE_SLACK, size.height + EDGE_SLACK
    keys = meta.class_map
    for box in boxes:
        if box.left + box.width > width or box.top + box.height > height or str(box.class_id) not in keys:
            return False
    return True


class _Layout:
    """A typed decoder for one set of top-level keys, and the cross-field check of its lines."""

    def __init__(self, keys: frozenset[str], decoder: Any, detections: list[tuple[str, str]], labels: int) -> None:
        self.keys, self.decoder, self.detections = keys, decoder, detections
        self.getters = [(attrgetter(v), attrgetter(m)) for v, m in detections]
        self.fixed_labels = labels  # classification attributes: one label each

    def lines_ok(self, items: Sequence[Any]) -> bool:
        getters = self.getters
        if not getters:
            return self.fixed_labels <= MAX_LABELS_PER_IMAGE
        if len(getters) == 1 and not self.fixed_labels:  # one attribute: at most 50 boxes, so 50 labels
            value_of, meta_of = getters[0]
            return all(map(_detection_ok, map(value_of, items), map(meta_of, items)))
        for item in items:
            boxes = self.fixed_labels
            for value_of, meta_of in getters:
                value = value_of(item)
                if not _detection_ok(value, meta_of(item)):
                    return False
                boxes += len(value.annotations)
            if boxes > MAX_LABELS_PER_IMAGE:
                return False
        return True


def _layout_for(doc: dict[str, Any]) -> _Layout | None:
    if msgspec is None:  # pragma: no cover
        return None
    attrs = set(label_attributes(doc))
    fields: list[tuple[str, Any, Any]] = []
    detections: list[tuple[str, str]] = []
    classifications = 0
    for index, key in enumerate(doc):
        name = f"f{index}"
        kind: Any = msgspec.Raw
        if key == "source-ref":
            name, kind = "source_ref", _Ref
        elif key in attrs:
            meta_type = doc[f"{key}{METADATA_SUFFIX}"].get("type")
            if meta_type == DETECTION:
                kind = _Detection
                detections.append((name, f"m{index}"))
            elif meta_type == CLASSIFICATION:
                classifications += 1
            else:
                return None
        elif key.endswith(METADATA_SUFFIX) and key[: -len(METADATA_SUFFIX)] in attrs:
            attr_index = list(doc).index(key[: -len(METADATA_SUFFIX)])
            meta_type = doc[key].get("type")
            name = f"m{attr_index}"
            kind = _DetectionMeta if meta_type == DETECTION else _ClassificationMeta
        fields.append((name, kind, msgspec.field(name=key)))
    struct = msgspec.defstruct("Line", fields, forbid_unknown_fields=True, gc=False)
    decoder = msgspec.json.Decoder(struct)
    return _Layout(frozenset(doc), decoder, detections, classifications)


class FastChecker:
    """Certifies batches for one `LineChecker` (same chunk limit, first bucket, rules)."""

    def __init__(self, checker: LineChecker) -> None:
        self.checker = checker
        self.layouts: list[_Layout] = []
        self.failed_keys: set[frozenset[str]] = set()
        self.max_line = min(MAX_LINE_CHARS, checker.chunk_limit - 2)
        self.envelope = msgspec.json.Decoder(_Envelope) if msgspec is not None else None

    @classmethod
    def create(cls, checker: LineChecker) -> FastChecker | None:
        return cls(checker) if msgspec is not None else None

    def learn(self, data: bytes) -> None:
        """Make a layout from a line the reference check accepted clean (no-op when known or too many)."""
        if not self.checker.label_rules or len(self.layouts) >= MAX_LAYOUTS:
            return
        doc = json.loads(data)
        keys = frozenset(doc)
        if keys in self.failed_keys or any(layout.keys == keys for layout in self.layouts):
            return
        try:
            layout = _layout_for(doc)
        except ValueError:  # e.g. a key with a lone surrogate (UnicodeEncodeError): no struct field for it
            layout = None
        if layout is None:
            self.failed_keys.add(keys)
            return
        self.layouts.insert(0, layout)

    def certify(self, batch: Batch) -> list[str] | None:
        raw, lines = batch.raw, batch.lines
        bucket = self.checker.first_bucket
        if not raw or (bucket is None and self.checker.label_rules) or MULTILABEL_MARKER in raw:
            return None
        if max(map(len, lines)) > self.max_line:
            return None
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if not self.checker.label_rules:
            return self._refs(self.envelope, None, lines, None)
        prefix = f"s3://{bucket}/"
        for position, layout in enumerate(self.layouts):
            refs = self._refs(layout.decoder, layout, lines, prefix)
            if refs is not None:
                if position:
                    self.layouts.insert(0, self.layouts.pop(position))
                return refs
        return None

    @staticmethod
    def _refs(decoder: Any, layout: _Layout | None, lines: list[bytes], prefix: str | None) -> list[str] | None:
        try:  # one strict decode per line (decode_lines would take `{}{}` on one line as two lines)
            items = list(map(decoder.decode, lines))
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):  # blank lines fail here too
            return None  # RecursionError: JSON nested past the interpreter's limit, rejected by the reference
        refs: list[str] = list(map(_ref, items))
        if not all(map(str.isascii, refs)):
            return None  # the reference check looks for invisible characters in non-ASCII keys
        if prefix is not None and not all(map(str.startswith, refs, repeat(prefix))):
            return None
        if layout is not None and not layout.lines_ok(items):
            return None
        return refs
