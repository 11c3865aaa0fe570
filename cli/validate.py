"""Check a manifest without sending anything: `python -m cli.validate PATH|s3://bucket/key [--json]`.

Runs the plan step's checks (the same code as the pipeline) on a local file or an S3
object (`.gz` is gunzipped), packs chunks in memory only to count them, and prints a
summary, or with `--json` one JSON document. Exit status: 0 when no line is rejected,
1 when lines are rejected or the whole manifest would be refused, 2 on usage errors or
an unreadable input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

from labelsync.domain.planning import PLAN_READY, ManifestPlan, plan_manifest  # noqa: E402
from labelsync.settings import DEFAULT_CHUNK_LIMIT  # noqa: E402

SHOWN = 20  # items of each list in the human summary


class CountingSink:
    """Keeps nothing but sizes: validate never writes chunks anywhere."""

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.side_items: dict[str, int] = {}

    def write_chunk(self, index: int, data: bytes) -> str:
        self.sizes[index] = len(data)
        return f"chunk {index}"

    def append(self, name: str, data: bytes) -> None:
        self.side_items[name] = self.side_items.get(name, 0) + data.count(b"\n")


def opener(target: str) -> Callable[[], BinaryIO]:
    if target.startswith("s3://"):
        bucket, _, key = target[5:].partition("/")
        if not bucket or not key:
            raise ValueError(f"{target!r} is not s3://bucket/key")
        import boto3  # only for S3 targets

        s3 = boto3.client("s3")

        def open_s3() -> BinaryIO:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            stream = cast(BinaryIO, body._raw_stream if hasattr(body, "_raw_stream") else body)
            return cast(BinaryIO, gzip.GzipFile(fileobj=stream)) if key.lower().endswith(".gz") else stream

        return open_s3
    path = Path(target)
    if not path.is_file():
        raise ValueError(f"{target!r} is not a file")
    if path.name.lower().endswith(".gz"):
        return lambda: cast(BinaryIO, gzip.open(path, "rb"))
    return lambda: path.open("rb")


def result(target: str, plan: ManifestPlan, sink: CountingSink, warnings_as_rejections: bool) -> dict[str, Any]:
    return {
        "manifest": target,
        "status": plan.status,
        "wouldSend": plan.status == PLAN_READY,
        "rejection": {"code": plan.reason[0], "message": plan.reason[1]} if plan.reason else None,
        "warningsAsRejections": warnings_as_rejections,
        "counts": plan.counts.as_dict(),
        "warningCodes": plan.warning_codes,
        "rejectedLines": [r.as_dict() for r in plan.rejections],
        "supersededLines": [s.as_dict() for s in plan.superseded],
        "warnings": [w.as_dict() for w in plan.warnings],
        "conversions": [c.as_dict() for c in plan.conversions],
        "listsCut": {
            "rejections": plan.counts.rejected > len(plan.rejections),
            "warnings": plan.counts.warnings > len(plan.warnings),
        },
        "chunks": [chunk.as_dict() for chunk in plan.chunks],
    }


def human(report: dict[str, Any], out: IO[str]) -> None:
    c = report["counts"]
    print(f"{report['manifest']}: {report['status']}", file=out)
    print(
        f"  {c['linesRead']:,} lines read: {c['accepted']:,} accepted ({c['warned']:,} with warnings, "
        f"{c['converted']:,} converted), {c['rejected']:,} rejected, {c['superseded']:,} superseded, "
        f"{c['blank']:,} blank",
        file=out,
    )
    if report["rejection"]:
        print(f"  NOT SENT: {report['rejection']['code']}: {report['rejection']['message']}", file=out)
    else:
        print(f"  would send {c['chunks']:,} chunk(s), {c['bytesAccepted']:,} bytes", file=out)
    sections = (
        ("rejected (not sent)", report["rejectedLines"], c["rejected"], lambda r: f"{r['code']}: {r['message']}"),
        (
            "superseded (a later line has the same source-ref)",
            report["supersededLines"],
            len(report["supersededLines"]),
            lambda s: f"superseded by line {s['supersededBy']}",
        ),
        (
            "warnings (sent, the service will flag them)",
            report["warnings"],
            c["warnings"],
            lambda w: f"{w['code']}: {w['message']}",
        ),
        (
            "converted multi-label attributes",
            report["conversions"],
            len(report["conversions"]),
            lambda v: f"'{v['attribute']}' -> {', '.join(v['newAttributes'])}",
        ),
    )
    for title, items, total, text in sections:
        if not items:
            continue
        print(f"  {title}:", file=out)
        for item in items[:SHOWN]:
            ref = f" {item['sourceRef']}" if item.get("sourceRef") else ""
            print(f"    line {item['line']}{ref}: {text(item)}", file=out)
        if total > SHOWN:
            more = "use --json" if len(items) == total else f"--json lists the first {len(items):,}"
            print(f"    ... {total - SHOWN:,} more ({more})", file=out)
    if report["warningCodes"]:
        codes = ", ".join(f"{code} x{count:,}" for code, count in report["warningCodes"].items())
        print(f"  warning codes: {codes}", file=out)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m cli.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="a local .jsonl/.manifest file (optionally .gz) or s3://bucket/key")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
    parser.add_argument("--warnings-as-rejections", action="store_true", help="reject lines that have warnings")
    parser.add_argument(
        "--chunk-limit",
        type=int,
        default=DEFAULT_CHUNK_LIMIT,
        metavar="N",
        help=f"chunk size limit in bytes (default {DEFAULT_CHUNK_LIMIT})",
    )
    args = parser.parse_args(argv)
    if args.chunk_limit < 2:
        parser.error("--chunk-limit must be at least 2")
    sink = CountingSink()
    try:
        open_stream = opener(args.manifest)
        plan = plan_manifest(
            open_stream, chunk_limit=args.chunk_limit, sink=sink, warnings_as_rejections=args.warnings_as_rejections
        )
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        print(f"error: cannot read {args.manifest}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # botocore errors for s3:// targets
        print(f"error: cannot read {args.manifest}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    report = result(args.manifest, plan, sink, args.warnings_as_rejections)
    if args.json:
        print(json.dumps(report, ensure_ascii=False), file=out)
    else:
        human(report, out)
    return 0 if plan.status == PLAN_READY and not plan.counts.rejected else 1


if __name__ == "__main__":
    sys.exit(main())
