"""Check a manifest without sending anything: `python -m cli.validate PATH|s3://bucket/key [--json]`.

Runs the plan step's checks (the same code as the pipeline) on a local file or an S3
object (`.gz` is gunzipped), packs chunks in memory only to count them, and prints a
summary, or with `--json` one JSON document, both with the training readiness verdict
(READY, DEGRADED, UNUSABLE) and lists cut at the same `--max-items`. Exit status: 0 when
no line is rejected and the verdict is not UNUSABLE, 1 when lines are rejected, the lines
could not train a model, or the whole manifest would be refused, 2 on usage errors or an
unreadable input.
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

from labelsync.domain import rules  # noqa: E402
from labelsync.domain.planning import PLAN_READY, ManifestPlan, plan_manifest  # noqa: E402
from labelsync.settings import DEFAULT_CHUNK_LIMIT  # noqa: E402

MAX_ITEMS = 50  # items of each list, in the summary and in --json alike (--max-items)


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


def result(
    target: str, plan: ManifestPlan, warnings_as_rejections: bool, *, max_items: int = MAX_ITEMS
) -> dict[str, Any]:
    """The JSON document: every list cut at `max_items` (the summary shows the same items)."""
    findings = [w.as_dict() for w in plan.warnings]
    lists: dict[str, tuple[list[dict[str, object]], int]] = {
        "rejectedLines": ([r.as_dict() for r in plan.rejections], plan.counts.rejected),
        "supersededLines": ([s.as_dict() for s in plan.superseded], plan.counts.superseded),
        "warnings": (findings, plan.counts.warnings),
        "conversions": ([c.as_dict() for c in plan.conversions], plan.counts.converted),
    }
    return {
        "manifest": target,
        "status": plan.status,
        "wouldSend": plan.status == PLAN_READY,
        "rejection": {"code": plan.reason[0], "message": plan.reason[1]} if plan.reason else None,
        "readiness": plan.readiness.as_dict() if plan.readiness else None,
        "labels": len(plan.labels) if plan.labels is not None else None,
        "warningsAsRejections": warnings_as_rejections,
        "counts": plan.counts.as_dict(),
        "warningCodes": plan.warning_codes,
        **{name: items[:max_items] for name, (items, _) in lists.items()},
        "totals": {name: total for name, (_, total) in lists.items()},
        "truncated": {name: total > min(len(items), max_items) for name, (items, total) in lists.items()},
        "maxItems": max_items,
        "chunks": [chunk.as_dict() for chunk in plan.chunks],
    }


def human(report: dict[str, Any], out: IO[str]) -> None:
    """The summary: the JSON document's items, grouped by what the service does with the line."""
    c = report["counts"]
    show = rules.printable
    sending = "would send" if report["wouldSend"] else "NOT SENT"
    print(f"{show(report['manifest'])}: {sending}", file=out)
    print(
        f"  {c['linesRead']:,} lines read: {c['accepted']:,} accepted ({c['warned']:,} with findings, "
        f"{c['converted']:,} converted), {c['rejected']:,} rejected, {c['superseded']:,} superseded, "
        f"{c['blank']:,} blank",
        file=out,
    )
    if report["rejection"]:
        print(f"  NOT SENT: {report['rejection']['code']}: {show(report['rejection']['message'])}", file=out)
    else:
        print(f"  would send {c['chunks']:,} chunk(s), {c['bytesAccepted']:,} bytes", file=out)
    ready = report.get("readiness")
    if ready:
        print(f"  training readiness: {ready['verdict']}: {show(ready['reason'])}", file=out)
        print(
            f"    {ready['usable']:,} usable, {ready['flagged']:,} with errors, {ready['ignored']:,} ignored "
            f"(warnings only), of {ready['sent']:,} sent",
            file=out,
        )
    findings = report["warnings"]
    sent = "would be sent" if not report.get("rejection") else "the manifest is not sent"
    sections = (
        ("rejected (not sent: the service would drop them silently)", report["rejectedLines"]),
        ("superseded (a later line has the same source-ref)", report["supersededLines"]),
        (
            f"errors the service will flag (predicted; {sent})",
            [w for w in findings if w["level"] == "error" and not w["advisory"]],
        ),
        (
            f"warnings: the service keeps the line but ignores it for training (predicted; {sent})",
            [w for w in findings if w["level"] == "warning" and not w["advisory"]],
        ),
        (f"advisories of this project (no service code; {sent})", [w for w in findings if w["advisory"]]),
        ("converted multi-label attributes", report["conversions"]),
    )
    for title, items in sections:
        if not items:
            continue
        print(f"  {title}:", file=out)
        for item in items:
            print(f"    {_item_text(item)}", file=out)
    for name, cut in report["truncated"].items():
        if cut:
            print(
                f"  ({name}: the first {report['maxItems']:,} of {report['totals'][name]:,} are listed; "
                "--max-items shows more)",
                file=out,
            )
    if report["warningCodes"]:
        codes = ", ".join(f"{code} x{count:,}" for code, count in report["warningCodes"].items())
        print(f"  finding codes: {codes}", file=out)


def _item_text(item: dict[str, Any]) -> str:
    show = rules.printable
    ref = f" {show(str(item['sourceRef']))[:200]}" if item.get("sourceRef") else ""
    if "supersededBy" in item:
        return f"line {item['line']}{ref}: superseded by line {item['supersededBy']}"
    if "newAttributes" in item:
        return f"line {item['line']}{ref}: {show(repr(item['attribute']))} -> {show(', '.join(item['newAttributes']))}"
    return f"line {item['line']}{ref}: {item['code']}: {show(str(item['message']))}"


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m cli.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="a local .jsonl/.manifest file (optionally .gz) or s3://bucket/key")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
    parser.add_argument("--warnings-as-rejections", action="store_true", help="reject lines that have warnings")
    parser.add_argument(
        "--refuse-unusable",
        action="store_true",
        help="refuse the whole manifest when its lines could not train a model (verdict UNUSABLE)",
    )
    parser.add_argument(
        "--max-items",
        type=int,
        default=MAX_ITEMS,
        metavar="N",
        help=f"items of each list shown, in the summary and in --json (default {MAX_ITEMS})",
    )
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
    if args.max_items < 0:
        parser.error("--max-items must be 0 or more")
    sink = CountingSink()
    try:
        open_stream = opener(args.manifest)
        plan = plan_manifest(
            open_stream,
            chunk_limit=args.chunk_limit,
            sink=sink,
            warnings_as_rejections=args.warnings_as_rejections,
            refuse_unusable=args.refuse_unusable,
        )
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        print(f"error: cannot read {args.manifest}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # botocore errors for s3:// targets
        print(f"error: cannot read {args.manifest}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    report = result(args.manifest, plan, args.warnings_as_rejections, max_items=args.max_items)
    if args.json:
        print(json.dumps(report, ensure_ascii=False), file=out)
    else:
        human(report, out)
    unusable = plan.readiness is not None and plan.readiness.verdict == rules.UNUSABLE
    return 0 if plan.status == PLAN_READY and not plan.counts.rejected and not unusable else 1


if __name__ == "__main__":
    sys.exit(main())
