"""Run the arm64 build of the C checks under qemu and compare it with this machine's, line by line.

    python -m native.crosscheck [--lines 40000] [--seed 20261123]      (make native-arm-check)

The Lambda ships an arm64 build this machine cannot load. This builds the same source
(native/linecheck.c + yyjson) as a static arm64 program (native/crosscheck.c) with the same
compiler, runs it under qemu-aarch64-static (Debian's qemu-user-static) on the seeded
edge-case lines of the tests (tests/unit/edge_lines.py) plus benchmark-style lines, and
requires the same status, source-ref hash and side-file bytes for every line as the x86_64
library the tests load, with and without the label rules. Differences in floating point,
char signedness or unaligned access between the two CPUs would show here.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

from benchmarks.manifests import detection_line  # noqa: E402
from labelsync.domain import nativecheck  # noqa: E402
from labelsync.domain.checker import LineChecker  # noqa: E402
from native import build  # noqa: E402
from tests.unit.edge_lines import BUCKET, Seeded, make_line  # noqa: E402

QEMU = "qemu-aarch64-static"
MAX_LINE = 100_000


def arm_program(folder: Path) -> Path:
    """The static arm64 driver: linecheck.c + yyjson + crosscheck.c, zig, musl (no sysroot needed)."""
    yyjson = build.yyjson_dir()
    program = folder / "crosscheck-aarch64"
    command = [sys.executable, "-m", "ziglang", "cc", "-target", "aarch64-linux-musl", "-static"]
    command += [*build.COMMON, *build.YYJSON_DEFINES, "-ffp-contract=off", "-I", str(yyjson), "-o", str(program)]
    command += [str(build.SOURCE), str(yyjson / "yyjson.c"), str(build.SOURCE.parent / "crosscheck.c")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return program


def host_rows(block: bytes, label_rules: bool) -> list[str]:
    checker = LineChecker(5 << 20, label_rules=label_rules, first_bucket=BUCKET if label_rules else None)
    native = nativecheck.NativeChecker.create(checker)
    if native is None:
        raise SystemExit("this machine's library is not built: run make install")
    scan = native.scan(block)
    rows = []
    for index in range(scan.count):
        refs = scan.refs_between(index, index + 1)[:-1] if scan.status[index] == nativecheck.CLEAN else b""
        rows.append(f"{scan.status[index]} {scan.hashes[index] & (2**64 - 1):016x} {refs.decode()}")
    return rows


def arm_rows(program: Path, block: bytes, label_rules: bool) -> list[str]:
    bucket = BUCKET if label_rules else "-"
    done = subprocess.run(
        [QEMU, str(program), str(int(label_rules)), bucket, str(MAX_LINE)], input=block, capture_output=True, check=True
    )
    return done.stdout.decode().splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    if shutil.which(QEMU) is None:
        raise SystemExit(f"{QEMU} not found: apt-get install qemu-user-static (make native-arm-check does)")
    choices, rnd = Seeded(args.seed), random.Random(args.seed)
    lines = [make_line(choices) for _ in range(args.lines)]
    lines += [
        detection_line(rnd, i, boxes=(1, 10), prefix="x").replace("my-training-images", BUCKET).encode()
        for i in range(5000)
    ]
    block = b"\n".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        program = arm_program(Path(tmp))
        for label_rules in (True, False):
            host, arm = host_rows(block, label_rules), arm_rows(program, block, label_rules)
            differing = [i for i, (a, b) in enumerate(zip(host, arm, strict=True)) if a != b]
            clean = sum(row.startswith("0 ") for row in host)
            print(
                f"label rules {'on' if label_rules else 'off'}: {len(host):,} lines, {clean:,} clean; "
                f"{platform.machine()} vs aarch64 (qemu): {len(differing)} lines differ"
            )
            for index in differing[:5]:
                print(f"  line {index + 1}: {platform.machine()} {host[index][:100]!r} / aarch64 {arm[index][:100]!r}")
            if differing:
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
