"""Hostile and careless inputs, each through the whole pipeline with the deployed limits enforced.

    python -m benchmarks.hostile [--write-docs] [--case NAME ...] [--fast] [--json PATH]

Each case builds its input (big ones streamed to files under .bench/hostile/, never held whole here),
drops it on a fresh sandboxed offline stack (every function in its own worker process held to its
MemorySize and timeout: offline/lambda_sandbox.py) and checks what a user is promised:

- exactly one SNS message for the drop (a report or an alert; a bare alert counts);
- counts that add up (`linesRead = blank + rejected + superseded + accepted`, and the report's
  reconciliation balanced) and the outcome the case expects;
- no crash without a message (a function error the state machine retried and then reported is fine);
- every invocation's peak RSS under its function's MemorySize, and none killed or timed out.

The fast cases also run in `make test` (tests/e2e/test_hostile_inputs.py) through the same checks.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import shutil
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

from benchmarks.doc_sections import replace_marked  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from infra.function_specs import PLAN, TASK_FUNCTIONS  # noqa: E402
from offline.lambda_runtime import AsyncDelivery  # noqa: E402
from offline.stack import OfflineConfig, OfflineStack  # noqa: E402

DOCS = ROOT / "docs" / "reliability.md"
START, END = "<!-- hostile:start -->", "<!-- hostile:end -->"
WORK = ROOT / ".bench" / "hostile"
PROJECT = "hostile"
PREFIX = f"incoming/{PROJECT}/train/"
MEMORY_MB = {f"labelsync-{spec.name}": spec.memory_mb for spec in (*TASK_FUNCTIONS, PLAN)}
GOOD = '{"source-ref": "s3://hostile-images/a/%d.jpg", "class": 1, "class-metadata": {"class-name": "cat", "confidence": 1, "type": "groundtruth/image-classification", "human-annotated": "yes", "creation-date": "2026-01-01T00:00:00", "job-name": "labeling-job/x"}}'


def good(n: int) -> bytes:
    return (GOOD % n).encode()


@dataclass
class Drop:
    key: str
    body: bytes | Path
    hold_then: Callable[[OfflineStack, str, str | None], None] | None = None  # runs while the S3 event is held
    again: bool = False  # dropped a second time once the first run ended (same bytes: a resume)


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Callable[[], Drop]
    expect: str  # the outcome, or "OUTCOME:CODE" for a rejection's code
    fast: bool


@dataclass
class Result:
    case: str
    outcome: str = "-"
    code: str = ""
    messages: int = 0
    seconds: float = 0.0
    peaks: dict[str, tuple[float, int]] = field(default_factory=dict)  # function -> (peak MB, MemorySize)
    violations: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


# -- inputs -------------------------------------------------------------------------------------------
def _stream_gzip(path: Path, blocks: Iterator[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for block in blocks:
            out.write(compressor.compress(block))
        out.write(compressor.flush())
    return path


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


def _lines_file(name: str, lines: Iterator[bytes]) -> Path:
    path = WORK / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for line in lines:
            out.write(line + b"\n")
    return path


def _nested(depth: int) -> bytes:
    return b'{"source-ref": "s3://hostile-images/a/deep.jpg", "x": ' + b"[" * depth + b"]" * depth + b"}"


def _big_integer(digits: int) -> bytes:
    return good(7)[:-1] + b', "n": 1' + b"0" * (digits - 1) + b"}"


def _delete_version(stack: OfflineStack, key: str, version: str | None) -> None:
    stack.client("s3").delete_object(Bucket=stack.config.bucket, Key=key, VersionId=str(version))


def _delete_marker(stack: OfflineStack, key: str, version: str | None) -> None:
    stack.client("s3").delete_object(Bucket=stack.config.bucket, Key=key)


def _lone_cr() -> bytes:
    lines = [good(n).replace(b', "class"', b',\r"class"') for n in range(40)]  # CR as JSON whitespace
    return b"\n".join(lines) + b"\n"


CASES: tuple[Case, ...] = (
    Case("zero-byte", "an empty object", lambda: Drop(PREFIX + "empty.jsonl", b""), "REJECTED", True),
    Case(
        "bom-only",
        "a UTF-8 byte order mark and nothing else",
        lambda: Drop(PREFIX + "bom.jsonl", b"\xef\xbb\xbf"),
        "REJECTED",
        True,
    ),
    Case(
        "only-blank-lines",
        "10,000 blank and whitespace-only lines",
        lambda: Drop(PREFIX + "blank.jsonl", b"\n \t\n\r\n" * 3334),
        "REJECTED",
        True,
    ),
    Case(
        "nesting-10000",
        "a line with 10,000 nested arrays, beside good lines",
        lambda: Drop(PREFIX + "deep.jsonl", b"\n".join([*map(good, range(9)), _nested(10_000)]) + b"\n"),
        "SUCCEEDED_WITH_ERRORS",
        True,
    ),
    Case(
        "integer-5000-digits",
        "a 5,000-digit integer in a line, beside good lines (that line is rejected: over 4,300 digits)",
        lambda: Drop(PREFIX + "bigint.jsonl", b"\n".join([*map(good, range(9)), _big_integer(5000)]) + b"\n"),
        "SUCCEEDED_WITH_ERRORS",
        True,
    ),
    Case(
        "key-percent-20",
        "a key with a literal %20",
        lambda: Drop(PREFIX + "my%20labels.jsonl", good(1) + b"\n"),
        "SUCCEEDED",
        True,
    ),
    Case(
        "key-space-and-plus",
        "a key with a space and a +",
        lambda: Drop(PREFIX + "my labels+v2.jsonl", good(1) + b"\n"),
        "SUCCEEDED",
        True,
    ),
    Case(
        "key-unicode",
        "a key with accents and a CJK name",
        lambda: Drop(PREFIX + "étiquettes-ラベル.jsonl", good(1) + b"\n"),
        "SUCCEEDED",
        True,
    ),
    Case(
        "key-dot-dot",
        "incoming/<project>/train/../test/x.jsonl",
        lambda: Drop(PREFIX + "../test/x.jsonl", good(1) + b"\n"),
        "REJECTED:ROUTE_MALFORMED_KEY",
        True,
    ),
    Case(
        "key-extra-depth",
        "incoming/<project>/train/sub/x.jsonl",
        lambda: Drop(PREFIX + "sub/x.jsonl", good(1) + b"\n"),
        "REJECTED:ROUTE_MALFORMED_KEY",
        True,
    ),
    Case(
        "lone-cr-resumed",
        "a lone CR inside lines (JSON whitespace), dropped again: the resume re-reads its chunks",
        lambda: Drop(PREFIX + "cr.jsonl", _lone_cr(), again=True),
        "SUCCEEDED",
        True,
    ),
    Case(
        "version-deleted",
        "the manifest's version deleted before planning",
        lambda: Drop(PREFIX + "gone.jsonl", good(1) + b"\n", hold_then=_delete_version),
        "REJECTED:ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
        True,
    ),
    Case(
        "delete-marker",
        "a delete marker placed on the key before planning",
        lambda: Drop(PREFIX + "taken-back.jsonl", good(1) + b"\n", hold_then=_delete_marker),
        "REJECTED:ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
        True,
    ),
    Case(
        "truncated-gzip",
        "a gzip cut in the middle",
        lambda: Drop(PREFIX + "cut.jsonl.gz", gzip.compress(b"\n".join(good(n) for n in range(2000)))[:3000]),
        "REJECTED",
        True,
    ),
    Case(
        "invalid-4m-lines",
        "a 7.8 KB gzip of 4,000,000 invalid lines",
        lambda: Drop(
            PREFIX + "invalid.jsonl.gz", _stream_gzip(WORK / "invalid.jsonl.gz", _repeat(b"x\n" * 65536, 8_000_000))
        ),
        "REJECTED",
        False,
    ),
    Case(
        "newlines-1gb",
        "a 1 MB gzip of 1 GB of newlines: refused at line 250,001 (blank lines count toward the service's row limit), long before 1 GB",
        lambda: Drop(
            PREFIX + "newlines.jsonl.gz",
            _stream_gzip(WORK / "newlines.jsonl.gz", _repeat(b"\n" * (1 << 24), (1 << 30) + (1 << 24))),
        ),
        "REJECTED:ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
        False,
    ),
    Case(
        "single-line-4gb",
        "a 4 MB gzip of one 4 GB line: refused once 1 GB is read (the service's size limit), the line never held",
        lambda: Drop(
            PREFIX + "one-line.jsonl.gz", _stream_gzip(WORK / "one-line.jsonl.gz", _repeat(b" " * (1 << 24), 4 << 30))
        ),
        "REJECTED:ERROR_MANIFEST_SIZE_TOO_LARGE",
        False,
    ),
    Case(
        "bad-refs-3000x99k",
        "3,000 lines with a 99,000-character invalid source-ref",
        lambda: Drop(
            PREFIX + "badref.jsonl",
            _lines_file(
                "badref.jsonl",
                (b'{"source-ref": "s3://hostile-images/' + b"\x01" * 99_000 + b'"}' for _ in range(3000)),
            ),
        ),
        "REJECTED",
        False,
    ),
    Case(
        "utf16-250k",
        "a UTF-16 export of 250,000 lines (every line rejected)",
        lambda: Drop(
            PREFIX + "utf16.jsonl",
            _lines_file("utf16.jsonl", (good(n).decode().encode("utf-16-le") for n in range(250_000))),
        ),
        "REJECTED",
        False,
    ),
)


# -- one case -------------------------------------------------------------------------------------------
def run_case(case: Case, *, timeout: float = 900.0, sandboxed: bool = True) -> Result:
    """`sandboxed=False` runs the handlers in this process (faster; memory is then not measured)."""
    result = Result(case.name)
    drop = case.build()
    config = OfflineConfig(
        time_scale=0.001, sandboxed=sandboxed, projects={PROJECT: {"datasetTypes": ["TRAIN", "TEST"]}}
    )
    started = time.perf_counter()
    with OfflineStack(config) as stack:
        stack.create_project(PROJECT, ["TRAIN"])
        held: list[AsyncDelivery] = []
        if drop.hold_then is not None:
            stack.runtime.async_interceptor = lambda delivery: held.append(delivery) or []  # type: ignore[func-returns-value]
        response = stack.drop(drop.key, drop.body)
        if drop.hold_then is not None:
            stack.runtime.async_interceptor = None
            drop.hold_then(stack, drop.key, response.get("VersionId"))
            for delivery in held:
                stack.runtime.deliver(delivery)
        try:
            stack.wait_until_idle(timeout=timeout, poll=0.1)
            if drop.again:
                stack.drop(drop.key, drop.body)
                stack.wait_until_idle(timeout=timeout, poll=0.1)
        except TimeoutError as exc:
            result.violations.append(f"hung: {exc}")
        result.seconds = time.perf_counter() - started
        check(stack, case, drop, result)
    return result


def check(stack: OfflineStack, case: Case, drop: Drop, result: Result) -> None:
    """The promises, checked the same way by `make hostile` and the test suite."""
    messages = stack.messages()
    expected_messages = 2 if drop.again else 1
    result.messages = len(messages)
    if len(messages) != expected_messages:
        result.violations.append(f"{len(messages)} SNS messages for {expected_messages} drop(s)")
    documents = [_document(m) for m in messages]
    if documents:
        last = documents[-1]
        result.outcome = str(last.get("outcome"))
        result.code = str((last.get("rejection") or {}).get("code") or "")
        result.counts = dict(last.get("counts") or {})
    want_outcome, _, want_code = case.expect.partition(":")
    if result.outcome != want_outcome or (want_code and result.code != want_code):
        result.violations.append(f"expected {case.expect}, got {result.outcome}:{result.code}")
    for document in documents:
        counts = document.get("counts") or {}
        if counts and counts.get("linesRead", 0) != sum(
            counts.get(k, 0) for k in ("blank", "rejected", "superseded", "accepted")
        ):
            result.violations.append(f"counts do not add up: {counts}")
        reconciliation = document.get("reconciliation") or {}
        if reconciliation and reconciliation.get("balanced") is False:
            result.violations.append("reconciliation not balanced")
        if document.get("manifest", {}).get("key") not in (None, drop.key):
            result.violations.append(f"the report names {document['manifest']['key']!r}, not {drop.key!r}")
    peaks: dict[str, float] = defaultdict(float)
    for invocation in stack.runtime.invocations:
        name = invocation.function
        peaks[name] = max(peaks[name], invocation.peak_rss_mb or 0.0)
        if invocation.error and invocation.error.get("errorType") in ("Runtime.ExitError", "Sandbox.Timedout"):
            result.violations.append(f"{name}: {invocation.error['errorType']} ({invocation.error['errorMessage']})")
        if invocation.peak_rss_mb is not None and invocation.peak_rss_mb > invocation.memory_mb:
            result.violations.append(f"{name}: peak {invocation.peak_rss_mb:.0f} MB over {invocation.memory_mb} MB")
    if stack.failed_events():
        result.violations.append("the plan step gave up (failure queue)")
    result.peaks = {name: (peak, MEMORY_MB.get(name, 0)) for name, peak in sorted(peaks.items())}


def _document(message: dict[str, Any]) -> dict[str, Any]:
    with suppress(ValueError, TypeError):
        document = json.loads(message["Message"])
        if isinstance(document, dict):
            return document
    return {}


# -- the table ------------------------------------------------------------------------------------------
def table(results: Sequence[Result]) -> list[str]:
    names = ["PlanManifest", "TakeTurn", "ResolveDataset", "ApplyChunk", "RecordChunk", "ReportRun"]
    head = "| case | input | outcome | " + " | ".join(f"{n} MB (of {MEMORY_MB[f'labelsync-{n}']})" for n in names)
    lines = [head + " | wall s | promises |", "|" + "---|" * (len(names) + 5)]
    by_name = {c.name: c for c in CASES}
    for r in results:
        peaks = [r.peaks.get(f"labelsync-{n}") for n in names]
        cells = [f"{p[0]:.0f}" if p else "-" for p in peaks]
        outcome = r.outcome + (f" `{r.code}`" if r.code else "")
        verdict = "kept" if r.ok else "BROKEN: " + "; ".join(r.violations)
        lines.append(
            f"| {r.case} | {by_name[r.case].what} | {outcome} | "
            + " | ".join(cells)
            + f" | {r.seconds:.1f} | {verdict} |"
        )
    return lines


INTRO = """Each case is dropped on a fresh offline stack whose functions run sandboxed: each in its own
worker process, killed past its MemorySize or timeout as Lambda does (offline/lambda_sandbox.py). A
case keeps its promises when the drop ends with exactly one SNS message (two for a case dropped twice),
the counts add up and the reconciliation balances, the outcome is the expected one, nothing crashed
without a message and no invocation was killed or went past its MemorySize. The peak RSS columns are
each function's highest VmHWM over the case's invocations (the interpreter, boto3 and Powertools
included; "-": not invoked). Fast cases also run in `make test` (tests/e2e/test_hostile_inputs.py)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--case", action="append", help="run only these cases (repeatable)")
    parser.add_argument("--fast", action="store_true", help="only the cases make test runs")
    parser.add_argument("--write-docs", action="store_true", help="update docs/reliability.md")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if (not args.case or c.name in args.case) and (c.fast or not args.fast)]
    started = time.perf_counter()
    results = []
    try:
        for case in chosen:
            result = run_case(case)
            print(
                f"{case.name}: {result.outcome} {result.code} {result.seconds:.1f} s {'ok' if result.ok else result.violations}",
                flush=True,
            )
            results.append(result)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    lines = table(results)
    broken = sum(1 for r in results if not r.ok)
    wall = time.perf_counter() - started
    lines += [
        "",
        f"- {len(results)} cases, {broken} broken; 0 crashes without a message: {'yes' if broken == 0 else 'NO'}",
        f"- machine: {describe()}; date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; wall time {wall:.0f} s",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))
    if args.write_docs:
        section = "\n".join(
            [
                START,
                "## Hostile inputs (issue 14)",
                "",
                INTRO,
                "",
                "Rerun: `make hostile` (about 2 minutes)",
                "",
                *lines,
                END,
            ]
        )
        replace_marked(DOCS, START, END, section + "\n", title="Reliability")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
