"""Plan-step benchmark: throughput against a naive reference, peak RSS, chunk count.

    python -m benchmarks.plan_throughput [--size-mb 200] [--rss-mb 1024] [--runs 5] [--write-docs]

Generates an object-detection manifest under `.bench/` (removed afterwards), then in ONE
process alternates the naive reference (stdlib json.loads per line plus a size check)
and the plan step (validate + pack, local file to local chunk files) and reports the
medians. Peak RSS is measured by planning a `--rss-mb` manifest in a child process
(`getrusage(RUSAGE_CHILDREN).ru_maxrss`). One core: nothing here uses threads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.manifests import detection_line  # noqa: E402
from labelsync.domain import fastcheck, nativecheck  # noqa: E402
from labelsync.domain.planning import plan_manifest  # noqa: E402
from labelsync.domain.validation import MAX_LINE_CHARS  # noqa: E402
from labelsync.settings import DEFAULT_CHUNK_LIMIT  # noqa: E402


def generate(path: Path, size_mb: int, seed: int = 7) -> tuple[int, int]:
    """Ground Truth object-detection lines, 1 to 10 boxes each (a few float coordinates)."""
    rnd = random.Random(seed)
    target = size_mb * 1_000_000
    written = lines = 0
    with path.open("wb") as out:
        while written < target:
            block = [detection_line(rnd, lines + i, boxes=(1, 10), prefix="dataset") for i in range(1000)]
            lines += len(block)
            data = ("\n".join(block) + "\n").encode()
            out.write(data)
            written += len(data)
    return written, lines


class FileSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.side = {name: (folder / f"{name}.jsonl").open("wb") for name in ("source-refs", "warnings", "conversions")}

    def write_chunk(self, index: int, data: bytes) -> str:
        path = self.folder / f"{index:06d}.jsonl"
        path.write_bytes(data)
        return str(path)

    def write_chunk_pieces(self, index: int, pieces: Sequence[bytes | memoryview]) -> str:
        """A chunk file written from its pieces: no joined copy (the S3 sink needs one body)."""
        path = self.folder / f"{index:06d}.jsonl"
        with path.open("wb") as out:
            out.writelines(pieces)
        return str(path)

    def append(self, name: str, data: bytes) -> None:
        self.side[name].write(data)

    def close(self) -> None:
        for file in self.side.values():
            file.close()


def naive(path: Path) -> int:
    """The reference: stdlib json.loads per line plus a size check."""
    ok = 0
    with path.open("rb") as stream:
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if not line.strip() or len(line) > MAX_LINE_CHARS:
                continue
            try:
                json.loads(line)
            except ValueError:
                continue
            ok += 1
    return ok


def plan(path: Path, out: Path, limit: int, **options: bool) -> dict[str, int]:
    sink = FileSink(out)
    try:
        result = plan_manifest(lambda: path.open("rb"), chunk_limit=limit, sink=sink, **options)
    finally:
        sink.close()
    return result.counts.as_dict()


def machine() -> str:
    native = f"native {nativecheck.library_path().name}" if nativecheck.available() else "native absent"
    return describe(f"msgspec {fastcheck.msgspec.__version__ if fastcheck.msgspec else 'absent'}, {native}")


def child_rss(path: Path, out: Path, limit: int) -> tuple[float, dict[str, int]]:
    code = (
        "import json, sys; sys.path.insert(0, 'lambdas'); from pathlib import Path; "
        "from benchmarks.plan_throughput import plan; "
        f"print(json.dumps(plan(Path({str(path)!r}), Path({str(out)!r}), {limit})))"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise RuntimeError("could not measure the child's peak RSS")
    return peak / 1024, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="throughput manifest size (default 200)")
    parser.add_argument("--rss-mb", type=int, default=1024, help="peak-RSS manifest size (default 1024; 0 skips)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each side (median reported)")
    parser.add_argument("--chunk-limit", type=int, default=DEFAULT_CHUNK_LIMIT)
    parser.add_argument("--write-docs", action="store_true", help="write the results to docs/benchmarks.md")
    parser.add_argument("--workdir", default=str(ROOT / ".bench"))
    args = parser.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lines_out: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines_out.append(text)

    try:
        manifest = work / "manifest.jsonl"
        size, count = generate(manifest, args.size_mb)
        mb = size / 1e6
        say(f"manifest: {mb:,.1f} MB, {count:,} object-detection lines, avg {size / count:,.0f} bytes/line")
        if not nativecheck.available():
            say("WARNING: the native library is not built (make install): 'plan' runs without it")
        options: dict[str, dict[str, bool]] = {
            "plan": {"label_rules": True},
            "plan-silent-drops-only": {"label_rules": False},
            "plan-msgspec-engine": {"label_rules": True, "native": False},  # the engine before the C scan
        }
        timings: dict[str, list[float]] = {"naive": [], **{name: [] for name in options}}
        counts: dict[str, int] = {}
        for _ in range(args.runs):
            for name in timings:
                shutil.rmtree(work / "chunks", ignore_errors=True)
                start = time.perf_counter()
                if name == "naive":
                    naive(manifest)
                else:
                    result = plan(manifest, work / "chunks", args.chunk_limit, **options[name])
                    counts = result if name == "plan" else counts
                timings[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        spread = {name: (min(v), max(v)) for name, v in timings.items()}
        for name, seconds in medians.items():
            low, high = spread[name]
            say(
                f"{name:>24}: {mb / seconds:7.0f} MB/s (median of {args.runs}; runs {mb / high:.0f}-{mb / low:.0f} MB/s)"
            )
        say(
            f"plan / naive: {medians['naive'] / medians['plan']:.2f}x; "
            f"silent-drops-only / naive: {medians['naive'] / medians['plan-silent-drops-only']:.2f}x; "
            f"plan / msgspec engine: {medians['plan-msgspec-engine'] / medians['plan']:.2f}x"
        )
        floor = math.ceil(counts["bytesAccepted"] / args.chunk_limit)
        say(
            f"chunks: {counts['chunks']} for {counts['bytesAccepted']:,} accepted bytes; "
            f"ceil(bytes / limit) = {floor}; extra = {counts['chunks'] - floor}"
        )
        verdicts = [
            ("plan throughput >= 500 MB/s", f"{mb / medians['plan']:.0f} MB/s", mb / medians["plan"] >= 500),
            (
                "plan / naive >= 4x",
                f"{medians['naive'] / medians['plan']:.2f}x",
                medians["naive"] / medians["plan"] >= 4,
            ),
            ("chunks <= ceil(bytes / limit) + 1", f"{counts['chunks'] - floor:+d}", counts["chunks"] - floor <= 1),
        ]
        if args.rss_mb:
            big = work / "big.jsonl"
            manifest.unlink()
            size, count = generate(big, args.rss_mb, seed=11)
            peak, big_counts = child_rss(big, work / "big-chunks", args.chunk_limit)
            say(
                f"peak RSS planning {size / 1e6:,.0f} MB ({count:,} lines, {big_counts['chunks']} chunks): {peak:,.0f} MB"
            )
            verdicts.append((f"peak RSS for {size / 1e6:,.0f} MB <= 150 MB", f"{peak:,.0f} MB", peak <= 150))
        for target, measured, met in verdicts:
            say(f"target {target}: {measured}, {'met' if met else 'NOT MET'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    say(f"machine: {machine()}; date: {stamp}")
    if args.write_docs:
        write_docs(lines_out, args)
    return 0


def write_docs(results: list[str], args: argparse.Namespace) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else ""
    marker = "<!-- results -->"
    head = text.split(marker)[0] if marker in text else "# Benchmarks\n\n"
    command = f"python -m benchmarks.plan_throughput --size-mb {args.size_mb} --rss-mb {args.rss_mb} --runs {args.runs}"
    body = f"{marker}\n## Latest run\n\n`{command}`\n\n```\n" + "\n".join(results) + "\n```\n"
    path.write_text(head + body)


if __name__ == "__main__":
    sys.exit(main())
