"""Fuzz the plan step: random and mutated manifests, zero crashes, every line classified.

    python -m benchmarks.fuzz_plan [--lines 1000000] [--seed 1] [--max-seconds 240] [--write-docs]
                                   [--atheris SECONDS]

Manifests are built (seeded) from valid Ground Truth lines (image classification, object
detection, multi-label, the examples and the AWS documentation's lines when present) and
mutated: byte flips, truncation, invalid UTF-8, BOMs and CRLF, lines over 100,000
characters, deeply nested JSON, wrong types in every field, repeated source-refs,
NaN/Infinity, lone surrogates, empty objects, non-object JSON, duplicate keys, random
bytes. Each manifest is planned (`plan_manifest`) twice, with a drawn read block size and with
the default one, `warnings_as_rejections` alternating, and its side files serialized as the plan
Lambda does. Checked for every manifest:

- no exception;
- every line classified: blank + rejected + superseded + accepted == lines read, and lines
  read == the lines of the file (LF-separated, BOM and CR stripped);
- every rejection has a known code, a message and a line number in range, no line twice;
- what would be sent is sendable: chunks under the limit, as many lines as accepted, each
  valid UTF-8 JSON object with an s3:// source-ref, at most 100,000 characters, no image twice;
- the read block size changes nothing (same counts, items, chunks).

A failing manifest is written to `.fuzz/` for reproduction. `--write-docs` replaces the
"Fuzzing the plan step" section of docs/reliability.md. `--atheris SECONDS` also runs a
coverage-guided atheris session (if atheris is importable) over the same checks.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import io
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

from labelsync.domain.jsonl import dump_lines  # noqa: E402
from labelsync.domain.lines import BOM  # noqa: E402
from labelsync.domain.planning import PLAN_READY, ManifestPlan, plan_manifest  # noqa: E402
from labelsync.domain.rules import MAX_LINE_CHARS, REJECTION_CODES, SOURCE_REF, WARNING_CODES  # noqa: E402

DOCS = ROOT / "docs" / "reliability.md"
CRASH_DIR = ROOT / ".fuzz"
SEED_FILES = [ROOT / "examples" / "manifests", Path("/work/shared/examples/doc-example-lines.jsonl")]
SECTION = "## Fuzzing the plan step"
# warnings_as_rejections: a line is rejected under its first warning's code
LINE_CODES = frozenset({*REJECTION_CODES, *WARNING_CODES})
BUCKETS = ["bucket", "bucket", "bucket", "other-bucket"]
NAMES = ["cat", "dog", "bird", "traffic light", "", "x" * 257, "é" * 3, "\u0000"]
WEIRD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    10**30,
    "",
    "s3://",
    "s3://bucket/",
    "s3:// /k",
    "s3://bucket/img.jpg",
    "\ud800",
    "x" * 300,
    [],
    [1, 2],
    {},
    {"a": 1},
    [{}],
]
RAW_VALUES = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 500, b'"\\ud800"', b'"\\udfff\\ud800"']
INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xe2\x82"]
NON_OBJECTS = [b"[]", b"1", b'"s3://bucket/a.jpg"', b"null", b"true", b"[{}]", b'["source-ref"]', b"{}", b"{ }"]
DEFAULT_CHUNK_LIMIT = 5 << 20


# -- valid lines ---------------------------------------------------------------------------------
def classification(rnd: random.Random, ref: str) -> dict[str, Any]:
    attr = rnd.choice(["animal", "label", "sport0"])
    return {
        "source-ref": ref,
        attr: rnd.randrange(3),
        f"{attr}-metadata": {
            "confidence": rnd.choice([1, 0.8, 0.95]),
            "job-name": "labeling-job/pets",
            "class-name": rnd.choice(NAMES[:4]),
            "human-annotated": "yes",
            "creation-date": "2020-03-06T17:46:39.176",
            "type": "groundtruth/image-classification",
        },
    }


def detection(rnd: random.Random, ref: str) -> dict[str, Any]:
    width, height = rnd.choice([(640, 480), (1280, 720), (4032, 3024), (100, 100)])
    boxes = []
    for _ in range(rnd.choice([0, 1, 1, 2, 3, 5])):
        w, h = rnd.randint(10, width // 2), rnd.randint(10, height // 2)
        boxes.append(
            {
                "class_id": rnd.randrange(3),
                "top": rnd.randint(0, height - h),
                "left": rnd.randint(0, width - w) + rnd.choice([0, 0, 0.6000000000000002]),
                "width": w,
                "height": h,
            }
        )
    return {
        "source-ref": ref,
        "bounding-box": {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": boxes},
        "bounding-box-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {"0": "cat", "1": "dog", "2": "bird"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2020-03-06T17:46:39.176",
            "job-name": "labeling-job/boxes",
        },
    }


def multilabel(rnd: random.Random, ref: str) -> dict[str, Any]:
    ids = rnd.sample([0, 1, 8], rnd.randint(0, 3))
    return {
        "source-ref": ref,
        "tags": ids,
        "tags-metadata": {
            "job-name": "labeling-job/tags",
            "class-map": {"1": "bicycle", "0": "person", "8": "clothing"},
            "human-annotated": "yes",
            "creation-date": "2020-02-27T21:36:25.000201",
            "confidence-map": {"1": 0.95, "0": 0.77, "8": 0.2},
            "type": "groundtruth/image-classification-multilabel",
        },
    }


def seed_lines() -> list[dict[str, Any]]:
    """Valid lines from the examples and the AWS documentation's examples (when present)."""
    found: list[dict[str, Any]] = []
    for source in SEED_FILES:
        files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source] if source.exists() else []
        for path in files:
            for raw in path.read_bytes().splitlines():
                try:
                    doc = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("source-ref"), str):
                    found.append(doc)
    return found


# -- mutations -----------------------------------------------------------------------------------
def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


def wrong_type(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """Any field (or the whole line) replaced by a value of another type."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rnd.choice([1, 1, 2, 3])):
        paths = _paths(doc)
        doc = _replace(doc, rnd.choice(paths[1:] or paths), copy.deepcopy(rnd.choice(WEIRD_VALUES)))
    return json.dumps(doc).encode()


def drop_or_rename_key(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    doc = dict(doc)
    key = rnd.choice(list(doc))
    value = doc.pop(key)
    if rnd.random() < 0.5:
        doc[rnd.choice([key + "-metadata", key.upper(), "source_ref", " source-ref", "cl-errors", "errors"])] = value
    return json.dumps(doc).encode()


def raw_value(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """NaN, Infinity, huge numbers or lone surrogate escapes in place of a number or string."""
    text = json.dumps(doc).encode()
    spots = [m.span() for m in re.finditer(rb'-?\d+(\.\d+)?|"[^"\\]*"', text)]
    start, end = rnd.choice(spots)
    return text[:start] + rnd.choice(RAW_VALUES) + text[end:]


def surrogate(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """A lone surrogate escape inside a string: the source-ref, a label name, a key."""
    text = json.dumps(doc).encode()
    quotes = [m.start() + 1 for m in re.finditer(rb'"', text)]
    at = rnd.choice(quotes)
    return text[:at] + rnd.choice([b"\\ud800", b"\\udc00", b"\\ud83d", b"\\ud800\\ud800"]) + text[at:]


def byte_flip(rnd: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        at = rnd.randrange(len(out))
        out[at] = rnd.choice([out[at] ^ (1 << rnd.randrange(8)), rnd.choice(b'{}[]",:\\0 a-\x00\r\xff')])
    return bytes(out).replace(b"\n", b" ")


def truncate(rnd: random.Random, data: bytes) -> bytes:
    return data[: rnd.randrange(len(data))]


def invalid_utf8(rnd: random.Random, data: bytes) -> bytes:
    at = rnd.randrange(len(data) + 1)
    return data[:at] + rnd.choice(INVALID_UTF8) + data[at:]


def stray_bom_or_cr(rnd: random.Random, data: bytes) -> bytes:
    at = rnd.randrange(len(data) + 1)
    return data[:at] + rnd.choice([BOM, b"\r", b"\r\r", BOM + BOM, b"\x00", b"\t"]) + data[at:]


def huge(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """Around and over the 100,000-character limit: ASCII, multi-byte characters, over 400,000 bytes."""
    doc = dict(doc)
    kind = rnd.choice(["ascii-over", "ascii-under", "multibyte-over", "multibyte-under", "raw-over", "ref"])
    size = len(json.dumps(doc, ensure_ascii=False))
    if kind == "ascii-over":
        doc["pad"] = "x" * (MAX_LINE_CHARS - size + rnd.randint(-10, 10))
    elif kind == "ascii-under":
        doc["pad"] = "x" * (MAX_LINE_CHARS - size - 20)
    elif kind == "multibyte-over":
        doc["pad"] = "é" * (MAX_LINE_CHARS - size + rnd.randint(-5, 20))  # fewer bytes than 4x, more chars
    elif kind == "multibyte-under":
        doc["pad"] = "😀" * (MAX_LINE_CHARS - size - 20)  # 4 bytes a character: just under in characters
    elif kind == "raw-over":
        return b"x" * rnd.choice([400_001, 400_002, 500_000])
    else:
        doc["source-ref"] = "s3://bucket/" + "k" * (MAX_LINE_CHARS + 5)
    return json.dumps(doc, ensure_ascii=False).encode()


def deep(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """Deeply nested JSON inside a field (or as the whole line), shallow to past every recursion limit."""
    depth = rnd.choice([10, 100, 900, 1_000, 3_000, 20_000, 49_000, 60_000])
    opener, closer = rnd.choice([(b"[", b"]"), (b'{"a":', b"}")])
    nested = opener * depth + b"1" + closer * depth
    if rnd.random() < 0.5:
        nested = nested[: rnd.randrange(len(nested))]  # unbalanced
    if rnd.random() < 0.2:
        return nested
    key = rnd.choice([k for k in doc if k != "source-ref"] or ["extra"])
    text = json.dumps({k: (None if k == key else v) for k, v in doc.items()} | {key: None}).encode()
    return text.replace(json.dumps(key).encode() + b": null", json.dumps(key).encode() + b": " + nested, 1)


def duplicate_keys(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    text = json.dumps(doc).encode()
    extra = rnd.choice([b'"source-ref": "s3://bucket/dup.jpg"', b'"source-ref": 5', b'"source-ref": null'])
    return text[:-1] + b", " + extra + b"}" if rnd.random() < 0.5 else b"{" + extra + b", " + text[1:]


def too_many(rnd: random.Random, doc: dict[str, Any]) -> bytes:
    """Over 50 boxes on one attribute, or over 50 labels on one image."""
    doc = json.loads(json.dumps(doc))
    count = rnd.choice([50, 51, 60])
    if "bounding-box" in doc:
        box = {"class_id": 0, "top": 1, "left": 1, "width": 20, "height": 20}
        doc["bounding-box"]["annotations"] = [dict(box, class_id=i % 3) for i in range(count)]
        doc["bounding-box-metadata"]["objects"] = [{"confidence": 1}] * count
    else:
        for index in range(count):
            doc[f"l{index}"] = 1
            doc[f"l{index}-metadata"] = {"class-name": f"label {index}", "type": "groundtruth/image-classification"}
    return json.dumps(doc).encode()


def random_bytes(rnd: random.Random) -> bytes:
    return bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 80))).replace(b"\n", b"")


LineMutation = Callable[[random.Random, dict[str, Any]], bytes]
DOC_MUTATIONS: list[tuple[str, LineMutation]] = [
    ("wrong-type", wrong_type),
    ("drop-key", drop_or_rename_key),
    ("raw-value", raw_value),
    ("surrogate", surrogate),
    ("duplicate-key", duplicate_keys),
    ("deep", deep),
    ("huge", huge),
    ("too-many", too_many),
]
BYTE_MUTATIONS: list[tuple[str, Callable[[random.Random, bytes], bytes]]] = [
    ("byte-flip", byte_flip),
    ("truncate", truncate),
    ("invalid-utf8", invalid_utf8),
    ("bom-cr", stray_bom_or_cr),
]


# -- manifests -----------------------------------------------------------------------------------
class Generator:
    """Seeded manifests: a few valid layouts, repeats, and mutations at a per-manifest rate."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.seeds = seed_lines()
        self.mutations: Counter[str] = Counter()

    def valid(self, index: int, layout: str, bucket: str) -> dict[str, Any]:
        rnd = self.rnd
        ref = f"s3://{bucket}/images/img-{index:06d}.jpg"
        if layout == "seed" and self.seeds:
            doc = dict(rnd.choice(self.seeds))
            doc["source-ref"] = ref
            return doc
        return {"cls": classification, "det": detection, "multi": multilabel}.get(layout, detection)(rnd, ref)

    def line(self, index: int, layout: str, rate: float, refs: list[str]) -> bytes:
        rnd = self.rnd
        bucket = rnd.choice(BUCKETS) if rnd.random() < 0.02 else "bucket"
        doc = self.valid(index, layout, bucket)
        if refs and rnd.random() < 0.03:  # the same image again (last line wins)
            doc["source-ref"] = rnd.choice(refs)
        refs.append(doc["source-ref"])
        if rnd.random() >= rate:
            self.mutations["none"] += 1
            return json.dumps(doc, separators=rnd.choice([(",", ":"), (", ", ": ")])).encode()
        roll = rnd.random()
        if roll < 0.03:
            self.mutations["blank"] += 1
            return rnd.choice([b"", b" ", b"\t", b"  \t ", b"\r"])
        if roll < 0.06:
            self.mutations["non-object"] += 1
            return rnd.choice(NON_OBJECTS)
        if roll < 0.08:
            self.mutations["random-bytes"] += 1
            return random_bytes(rnd)
        if roll < 0.55:
            name, mutate = rnd.choice(DOC_MUTATIONS)
            if name in ("huge", "deep") and rnd.random() < 0.9:  # expensive: rarer
                name, mutate = "wrong-type", wrong_type
            self.mutations[name] += 1
            return mutate(rnd, doc)
        name, flip = rnd.choice(BYTE_MUTATIONS)
        self.mutations[name] += 1
        return flip(rnd, json.dumps(doc).encode())

    def manifest(self, lines: int) -> bytes:
        rnd = self.rnd
        rate = rnd.choice([0.0, 0.001, 0.01, 0.05, 0.2, 0.5, 1.0])
        layouts = rnd.sample(["cls", "det", "multi", "seed", "det"], rnd.randint(1, 3))
        refs: list[str] = []
        body = [self.line(i, rnd.choice(layouts), rate, refs) for i in range(lines)]
        end = rnd.choice([b"\n", b"\n", b"\r\n"])
        data = end.join(body)
        if rnd.random() < 0.1:  # mixed line ends
            data = data.replace(b"\n", b"\r\n", rnd.randint(1, 5))
        if body and rnd.random() < 0.7:
            data += end
        if rnd.random() < 0.2:
            data = BOM + data
        return data


# -- checks --------------------------------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.chunks: dict[int, bytes] = {}
        self.side: dict[str, list[bytes]] = {}

    def write_chunk(self, index: int, data: bytes) -> str:
        self.chunks[index] = bytes(data)
        return f"chunks/{index:06d}.jsonl"

    def append(self, name: str, data: bytes) -> None:
        self.side.setdefault(name, []).append(data)


def expected_lines(data: bytes) -> int:
    """Lines of the file as the service counts them: LF-separated, after a leading BOM."""
    data = data.removeprefix(BOM)
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


class Unclassified(AssertionError):
    """A property of the plan does not hold."""


def check_plan(data: bytes, plan: ManifestPlan, sink: Sink, limit: int) -> None:
    c = plan.counts
    if c.lines_read != c.blank + c.rejected + c.superseded + c.accepted:
        raise Unclassified(f"counts do not add up: {c}")
    if c.lines_read != expected_lines(data):
        raise Unclassified(f"{c.lines_read} lines read, the file has {expected_lines(data)}")
    rejected = [json.loads(x) for x in b"".join(sink.side.get("rejects", [])).split(b"\n")[:-1]]
    if len(rejected) != c.rejected or len(plan.superseded) != c.superseded:
        raise Unclassified("a rejected or superseded line is not listed")
    if [r.as_dict() for r in plan.rejections] != rejected[: len(plan.rejections)]:
        raise Unclassified("the plan's rejections are not the first of the rejects file")
    numbers = [r["line"] for r in rejected] + [s.line for s in plan.superseded]
    if len(set(numbers)) != len(numbers) or not all(1 <= n <= c.lines_read for n in numbers):
        raise Unclassified("a line is classified twice or out of range")
    for item in rejected:
        if item["code"] not in LINE_CODES or not item["message"]:
            raise Unclassified(f"rejection without a known code or a message: {item}")
    # The run files, serialized as the plan Lambda does.
    dump_lines(r.as_dict() for r in plan.rejections)
    dump_lines(s.as_dict() for s in plan.superseded)
    json.dumps([w.as_dict() for w in plan.warnings] + [x.as_dict() for x in plan.conversions])
    if plan.status != PLAN_READY:
        return
    # The plan's chunks (a first packing pass may have written more, never listed, when lines repeat).
    chunks = [sink.chunks[chunk.index] for chunk in plan.chunks]
    sent = [line for chunk in chunks for line in chunk.split(b"\n")[:-1]]
    if len(sent) != c.accepted or sum(chunk.lines for chunk in plan.chunks) != c.accepted:
        raise Unclassified(f"{len(sent)} lines in chunks, {c.accepted} accepted")
    if any(len(chunk) >= limit for chunk in chunks):
        raise Unclassified("a chunk is not under the limit")
    refs = set()
    for line in sent:
        text = line.decode("utf-8")  # raises on invalid UTF-8: a crash is counted
        doc = json.loads(text)
        ref = doc.get("source-ref") if isinstance(doc, dict) else None
        if not isinstance(ref, str) or not SOURCE_REF.fullmatch(ref) or len(text) > MAX_LINE_CHARS:
            raise Unclassified(f"a line the service would drop was sent: {text[:120]!r}")
        refs.add(ref)
    if len(refs) != c.accepted:
        raise Unclassified("an image is sent twice")


def summary(plan: ManifestPlan, sink: Sink) -> tuple[Any, ...]:
    return (
        plan.status,
        plan.reason,
        plan.counts.as_dict(),
        [r.as_dict() for r in plan.rejections],
        [s.as_dict() for s in plan.superseded],
        [w.as_dict() for w in plan.warnings],
        [c.as_dict() for c in plan.conversions],
        [sink.chunks[c.index] for c in plan.chunks],
    )


@dataclass
class Tally:
    manifests: int = 0
    lines: int = 0  # distinct generated lines
    planned_lines: int = 0  # lines through plan_manifest, all configurations
    bytes: int = 0
    crashes: int = 0
    unclassified: int = 0
    divergences: int = 0
    configs: Counter[str] = field(default_factory=Counter)
    rejection_codes: Counter[str] = field(default_factory=Counter)
    warning_codes: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    classified: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def plan_once(data: bytes, *, limit: int, strict: bool, block: int) -> tuple[ManifestPlan, Sink]:
    sink = Sink()
    plan = plan_manifest(
        lambda: io.BytesIO(data), chunk_limit=limit, sink=sink, warnings_as_rejections=strict, block_size=block
    )
    return plan, sink


def fuzz_one(data: bytes, rnd: random.Random, tally: Tally, label: str) -> None:
    """Plan one manifest with a drawn block size and the default one; record any crash, broken property or
    difference."""
    limit = rnd.choice([DEFAULT_CHUNK_LIMIT, DEFAULT_CHUNK_LIMIT, 4096, 600])
    strict = rnd.random() < 0.5
    block = rnd.choice([1 << 20, 1 << 20, 65_536, 4096])
    tally.manifests += 1
    tally.lines += expected_lines(data)
    tally.bytes += len(data)
    results = []
    for size in (block, 1 << 20):
        config = f"warnings-as-rejections={'on' if strict else 'off'} block={size:,}"
        tally.configs[config] += 1
        tally.planned_lines += expected_lines(data)
        try:
            plan, sink = plan_once(data, limit=limit, strict=strict, block=size)
            check_plan(data, plan, sink, limit)
        except Unclassified as exc:
            tally.unclassified += 1
            tally.failures.append(_save(data, label, f"{config} chunk_limit={limit}: {exc}"))
            continue
        except Exception as exc:  # a crash is what this looks for
            tally.crashes += 1
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            tally.failures.append(_save(data, label, f"{config} chunk_limit={limit}: {detail}"))
            continue
        results.append(summary(plan, sink))
        if len(results) == 1:
            c = plan.counts
            tally.outcomes[plan.reason[0] if plan.reason else plan.status] += 1
            tally.classified.update(
                blank=c.blank, rejected=c.rejected, superseded=c.superseded, accepted=c.accepted, warned=c.warned
            )
            tally.classified["converted"] += c.converted
            tally.rejection_codes.update(r.code for r in plan.rejections)
            tally.warning_codes.update(plan.warning_codes)
    if any(result != results[0] for result in results):
        tally.divergences += 1
        tally.failures.append(_save(data, label, f"the plans differ between block sizes (chunk_limit={limit})"))


def _save(data: bytes, label: str, detail: str) -> str:
    CRASH_DIR.mkdir(exist_ok=True)
    path = CRASH_DIR / f"{label}.jsonl"
    path.write_bytes(data)
    return f"{path.relative_to(ROOT)}: {detail}"


def run(lines: int, seed: int, max_seconds: float, max_manifest_lines: int) -> tuple[Tally, Generator, float]:
    generator = Generator(seed)
    rnd = random.Random(seed + 1)
    tally = Tally()
    started = time.perf_counter()
    index = 0
    while tally.lines < lines and time.perf_counter() - started < max_seconds:
        size = min(rnd.choice([0, 1, 2, 5, 20, 100, 500, 1000, 2000, max_manifest_lines]), max_manifest_lines)
        data = generator.manifest(size)
        fuzz_one(data, rnd, tally, f"seed{seed}-manifest{index}")
        index += 1
        if index % 200 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"{tally.lines:>10,} lines  {tally.manifests:>6,} manifests  {elapsed:6.1f} s  "
                f"crashes {tally.crashes}  unclassified {tally.unclassified}  divergences {tally.divergences}",
                file=sys.stderr,
            )
    return tally, generator, time.perf_counter() - started


# -- atheris (optional) --------------------------------------------------------------------------
def run_atheris(seconds: int, seed: int) -> str:
    """Coverage-guided, in a child process (libFuzzer exits the process when its time is up)."""
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "atheris: not installed, skipped"
    child = [sys.executable, "-m", "benchmarks.fuzz_plan", "--atheris-child", str(seconds), "--seed", str(seed)]
    done = subprocess.run(child, cwd=ROOT, capture_output=True, text=True, check=False)
    runs = re.search(r"Done (\d+) runs in (\d+) second", done.stderr)
    summary = f"{int(runs.group(1)):,} inputs in {runs.group(2)} s" if runs else "no summary"
    verdict = "0 crashes" if done.returncode == 0 else f"FAILED (exit {done.returncode}): {done.stderr[-2000:]}"
    return f"atheris (coverage-guided, inputs up to 20,000 bytes, seed corpus from the generator): {summary}, {verdict}"


def atheris_child(seconds: int, seed: int) -> None:
    """Every input atheris makes is planned and checked as above; a broken property raises (a crash)."""
    import atheris

    corpus = CRASH_DIR / "atheris-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    generator = Generator(seed)
    for index in range(50):
        (corpus / f"seed-{index}").write_bytes(generator.manifest(random.Random(index).choice([1, 3, 10, 40])))
    tally = Tally()

    def target(data: bytes) -> None:
        fuzz_one(data, random.Random(len(data)), tally, "atheris")
        if tally.crashes or tally.unclassified or tally.divergences:
            raise RuntimeError(tally.failures[-1])

    atheris.instrument_all()
    argv = [sys.argv[0], f"-max_total_time={seconds}", "-max_len=20000", f"-seed={seed}", str(corpus)]
    atheris.Setup(argv, target)
    atheris.Fuzz()


# -- report --------------------------------------------------------------------------------------
def render(tally: Tally, generator: Generator, seconds: float, command: str, atheris_note: str | None) -> str:
    def table(counter: Counter[str], head: str) -> list[str]:
        rows = [f"| {head} | count |", "|---|---:|"]
        rows += [f"| `{key}` | {value:,} |" for key, value in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
        return rows

    cpu = platform.processor() or platform.machine()
    lines = [
        SECTION,
        "",
        f"Run on {datetime.date.today().isoformat()}, {platform.system()} {platform.machine()} ({cpu}), "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; one process:",
        "",
        "```bash",
        command,
        "```",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| manifests | {tally.manifests:,} |",
        f"| lines generated | {tally.lines:,} |",
        f"| lines planned (all configurations) | {tally.planned_lines:,} |",
        f"| bytes generated | {tally.bytes:,} |",
        f"| seconds | {seconds:,.1f} |",
        f"| **crashes** | **{tally.crashes}** |",
        f"| lines not classified / properties broken | {tally.unclassified} |",
        f"| manifests whose plans differ between read block sizes | {tally.divergences} |",
        "",
        "Configurations (each manifest is planned twice, with a drawn read block of 1 MB, 64 KB or 4 KB and",
        "with the default 1 MB; `warnings_as_rejections` drawn per manifest, chunk limit 5 MB, 4,096 or 600 bytes):",
        "",
        *table(tally.configs, "configuration"),
        "",
        "How the lines were classified (first configuration of each manifest; warned and converted lines",
        "are accepted lines):",
        "",
        *table(tally.classified, "class"),
        "",
        "Whole-manifest outcomes:",
        "",
        *table(tally.outcomes, "plan"),
        "",
        "Rejection codes seen (a code listed in docs/report-schema.md; with `warnings_as_rejections` a",
        "warning code):",
        "",
        *table(tally.rejection_codes, "code"),
        "",
        "Warning codes seen:",
        "",
        *table(tally.warning_codes, "code"),
        "",
        "Mutations applied (per generated line):",
        "",
        *table(generator.mutations, "mutation"),
    ]
    if atheris_note:
        lines += ["", atheris_note]
    if tally.failures:
        lines += ["", "Failures (manifests kept under `.fuzz/`):", ""] + [f"- {f}" for f in tally.failures[:20]]
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Reliability\n\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[following + 1 :] if following >= 0 else "")
    DOCS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=1_000_000, help="generated lines to plan (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop generating after this long")
    parser.add_argument("--max-manifest-lines", type=int, default=5000)
    parser.add_argument("--write-docs", action="store_true", help="update docs/reliability.md")
    parser.add_argument("--atheris", type=int, default=0, metavar="SECONDS", help="also run atheris this long")
    parser.add_argument("--atheris-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.atheris_child:
        atheris_child(args.atheris_child, args.seed)
        return 0

    tally, generator, seconds = run(args.lines, args.seed, args.max_seconds, args.max_manifest_lines)
    command = f".venv/bin/python -m benchmarks.fuzz_plan --lines {args.lines} --seed {args.seed} --write-docs"
    if args.atheris:
        command += f" --atheris {args.atheris}"
    atheris_note = run_atheris(args.atheris, args.seed) if args.atheris else None
    section = render(tally, generator, seconds, command, atheris_note)
    print(section)
    if args.write_docs:
        write_docs(section)
    rate = tally.lines / seconds if seconds else math.inf
    print(f"{tally.lines:,} lines in {seconds:.1f} s ({rate:,.0f} lines/s)", file=sys.stderr)
    return 1 if tally.crashes or tally.unclassified or tally.divergences else 0


if __name__ == "__main__":
    sys.exit(main())
