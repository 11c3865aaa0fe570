"""Plan-step benchmark: a service-maximum manifest's time and memory, throughput against a naive reference.

    python -m benchmarks.plan_throughput [--lines 250000] [--size-mb 200] [--rss-mb 100] [--runs 5] [--write-docs]

Generates object-detection manifests under `.bench/` (removed afterwards) and measures:

- the service maximum: `--lines` lines (40 to 50 boxes each, about 1 GB at 250,000) planned
  by a child process, whole process (interpreter start and imports included): wall time and
  peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`);
- peak RSS of a child planning a `--rss-mb` manifest of the same lines: flat in size;
- throughput: in ONE process, alternating, the naive reference and the plan step on a
  `--size-mb` manifest of the same lines, medians of `--runs` runs each;
- chunks against ceil(accepted bytes / limit).

One core: nothing here uses threads.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

import msgspec  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from benchmarks.manifests import detection_line  # noqa: E402
from infra.function_specs import PLAN  # noqa: E402
from labelsync.domain.planning import plan_manifest  # noqa: E402
from labelsync.domain.rules import MAX_LINE_CHARS  # noqa: E402
from labelsync.settings import DEFAULT_CHUNK_LIMIT  # noqa: E402

BOXES = (40, 50)  # about 4 KB a line: 250,000 lines (the service's row limit) make about 1 GB (its size limit)
MAX_SECONDS = 30.0  # the service maximum, planned on this machine
MAX_RSS_MB = 200.0
MIN_RATIO = 0.6  # plan throughput / naive throughput
MIN_HEADROOM = 5.0  # the plan function's timeout over the time measured here (a Lambda is slower than this machine)
SIDE_FILES = ("source-refs", "warnings", "conversions", "rejects")


def generate(path: Path, *, lines: int | None = None, size_mb: int | None = None, seed: int = 7) -> tuple[int, int]:
    """Ground Truth object-detection lines, BOXES boxes each, all valid, no image twice: `lines` of
    them, or as many as make `size_mb` MB."""
    rnd = random.Random(seed)
    target = (size_mb or 0) * 1_000_000
    written = count = 0
    with path.open("wb") as out:
        while (count < lines) if lines is not None else (written < target):
            step = 1000 if lines is None else min(1000, lines - count)
            block = [detection_line(rnd, count + i, boxes=BOXES, prefix="dataset") for i in range(step)]
            count += len(block)
            data = ("\n".join(block) + "\n").encode()
            out.write(data)
            written += len(data)
    return written, count


class FileSink:
    """Chunks and side files as local files: what the S3 sink writes, without the network."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.side = {name: (folder / f"{name}.jsonl").open("wb") for name in SIDE_FILES}

    def write_chunk(self, index: int, data: bytes) -> str:
        path = self.folder / f"{index:06d}.jsonl"
        path.write_bytes(data)
        return str(path)

    def append(self, name: str, data: bytes) -> None:
        self.side[name].write(data)

    def close(self) -> None:
        for file in self.side.values():
            file.close()


def naive(path: Path, out: Path, limit: int) -> int:
    """The reference: stdlib json.loads per line, a source-ref check, greedy packing, chunk files written.
    It checks nothing else; the plan step checks every rule."""
    out.mkdir(parents=True, exist_ok=True)
    chunk: list[bytes] = []
    size = chunks = 0

    def flush() -> None:
        nonlocal size, chunks
        (out / f"{chunks:06d}.jsonl").write_bytes(b"".join(chunk))
        chunk.clear()
        size, chunks = 0, chunks + 1

    with path.open("rb") as stream:
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if not line.strip() or len(line) > MAX_LINE_CHARS:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            ref = doc.get("source-ref") if isinstance(doc, dict) else None
            if not isinstance(ref, str) or not ref.startswith("s3://"):
                continue
            if size + len(line) + 1 >= limit:
                flush()
            chunk += (line, b"\n")
            size += len(line) + 1
    if chunk:
        flush()
    return chunks


def plan(path: Path, out: Path, limit: int) -> dict[str, int]:
    sink = FileSink(out)
    try:
        result = plan_manifest(lambda: path.open("rb"), chunk_limit=limit, sink=sink)
    finally:
        sink.close()
    return result.counts.as_dict()


def child(path: Path, out: Path, limit: int) -> tuple[float, float, dict[str, int]]:
    """Plan in a fresh process: (wall seconds of the whole process, peak RSS in MB, counts)."""
    code = (
        "import json, sys; sys.path.insert(0, 'lambdas'); from pathlib import Path; "
        "from benchmarks.plan_throughput import plan; "
        f"print(json.dumps(plan(Path({str(path)!r}), Path({str(out)!r}), {limit})))"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise RuntimeError("could not measure the child's peak RSS (an earlier child used more)")
    shutil.rmtree(out, ignore_errors=True)
    return seconds, peak / 1024, json.loads(done.stdout)


def machine() -> str:
    return describe(f"msgspec {msgspec.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=250_000, help="lines of the service-maximum manifest")
    parser.add_argument("--size-mb", type=int, default=200, help="throughput manifest size (default 200)")
    parser.add_argument("--rss-mb", type=int, default=100, help="the smaller manifest for flat memory (default 100)")
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

    verdicts: list[tuple[str, str, bool]] = []
    try:
        # Smallest first: ru_maxrss of children is a maximum over all of them.
        small = work / "small.jsonl"
        size, count = generate(small, size_mb=args.rss_mb, seed=11)
        _, small_peak, _ = child(small, work / "out", args.chunk_limit)
        small.unlink()
        say(f"peak RSS planning {size / 1e6:,.0f} MB ({count:,} lines): {small_peak:,.0f} MB")

        big = work / "big.jsonl"
        size, count = generate(big, lines=args.lines, seed=13)
        seconds, peak, counts = child(big, work / "out", args.chunk_limit)
        big.unlink()
        say(
            f"service maximum: {size / 1e6:,.0f} MB, {count:,} lines (avg {size / count:,.0f} bytes), "
            f"{counts['accepted']:,} accepted in {counts['chunks']} chunks: planned in {seconds:.1f} s "
            f"(whole process, {size / 1e6 / seconds:.0f} MB/s), peak RSS {peak:,.0f} MB"
        )
        floor = math.ceil(counts["bytesAccepted"] / args.chunk_limit)
        say(
            f"chunks: {counts['chunks']} for {counts['bytesAccepted']:,} accepted bytes; "
            f"ceil(bytes / limit) = {floor}; extra = {counts['chunks'] - floor}"
        )
        headroom = PLAN.timeout_seconds / seconds
        say(
            f"headroom: the plan function's {PLAN.timeout_seconds} s timeout ({PLAN.memory_mb} MB) is "
            f"{headroom:.0f}x the time measured here"
        )
        verdicts += [
            (
                f"{size / 1e6:,.0f} MB, {count:,} lines planned in <= {MAX_SECONDS:.0f} s",
                f"{seconds:.1f} s",
                seconds <= MAX_SECONDS,
            ),
            (
                f"peak RSS <= {MAX_RSS_MB:.0f} MB at {args.rss_mb} MB and at {size / 1e6:,.0f} MB",
                f"{small_peak:,.0f} MB and {peak:,.0f} MB",
                max(small_peak, peak) <= MAX_RSS_MB,
            ),
            ("chunks <= ceil(bytes / limit) + 1", f"{counts['chunks'] - floor:+d}", counts["chunks"] - floor <= 1),
            (f"plan function timeout >= {MIN_HEADROOM:.0f}x that time", f"{headroom:.0f}x", headroom >= MIN_HEADROOM),
        ]

        manifest = work / "manifest.jsonl"
        size, count = generate(manifest, size_mb=args.size_mb)
        mb = size / 1e6
        say(f"throughput manifest: {mb:,.1f} MB, {count:,} lines, avg {size / count:,.0f} bytes/line")
        timings: dict[str, list[float]] = {"naive": [], "plan": []}
        for _ in range(args.runs):
            for name, run in (("naive", naive), ("plan", plan)):
                shutil.rmtree(work / "chunks", ignore_errors=True)
                start = time.perf_counter()
                run(manifest, work / "chunks", args.chunk_limit)
                timings[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        for name, values in timings.items():
            say(
                f"{name:>6}: {mb / medians[name]:5.0f} MB/s (median of {args.runs}; "
                f"runs {mb / max(values):.0f}-{mb / min(values):.0f} MB/s)"
            )
        ratio = medians["naive"] / medians["plan"]
        say(f"plan / naive: {ratio:.2f}x")
        verdicts.append((f"plan throughput >= {MIN_RATIO}x naive", f"{ratio:.2f}x", ratio >= MIN_RATIO))
        for target, measured, met in verdicts:
            say(f"target {target}: {measured}, {'met' if met else 'NOT MET'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    say(f"machine: {machine()}; date: {stamp}")
    if args.write_docs:
        write_docs(lines_out, args)
    return 0 if all(met for _, _, met in verdicts) else 1


def write_docs(results: list[str], args: argparse.Namespace) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else ""
    marker = "<!-- results -->"
    head = text.split(marker)[0] if marker in text else "# Benchmarks\n\n"
    command = (
        f"python -m benchmarks.plan_throughput --lines {args.lines} --size-mb {args.size_mb} "
        f"--rss-mb {args.rss_mb} --runs {args.runs}"
    )
    body = f"{marker}\n## Latest run\n\n`{command}`\n\n```\n" + "\n".join(results) + "\n```\n"
    path.write_text(head + body)


if __name__ == "__main__":
    sys.exit(main())
