"""Build the plan step's C certifier (native/linecheck.c + yyjson) as a plain shared library.

    python -m native.build                      # this machine's CPU, into lambdas/labelsync/_native/
    python -m native.build --cpu aarch64 --out DIR

Zig's C compiler (the pinned `ziglang` wheel) builds for any CPU from any machine against an
old glibc (2.17), so the same command makes the arm64 library the Lambda asset ships
(infra/lambda_bundle.py) and the x86_64 one the tests load. The library has no Python ABI
(ctypes loads it), so one build per CPU serves every Python version.

yyjson (C, MIT) comes from the pinned `yyjson` sdist on PyPI (its Python binding bundles the
C library), fetched once into .cache/native/ and checked against its sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).resolve().parent / "linecheck.c"
DEFAULT_OUT = ROOT / "lambdas" / "labelsync" / "_native"
CACHE = ROOT / ".cache" / "native"
GLIBC = "2.17"
# The yyjson binding 4.0.6 bundles the C library yyjson 0.10.0.
YYJSON_SDIST = "yyjson==4.0.6"
YYJSON_SHA256 = "fcd4dc15c1e39a30bf9fa85d56903029111506860fc3080ab0d81c6c6dacaa8c"
YYJSON_FILES = ("yyjson.c", "yyjson.h")
COMMON = ("-O2", "-fPIC", "-std=c11", "-fno-strict-aliasing")
# No fused multiply-add: box arithmetic must round exactly as Python's does.
OURS = ("-Wall", "-Wextra", "-Werror", "-ffp-contract=off")
YYJSON_DEFINES = ("-DYYJSON_DISABLE_WRITER=1", "-DYYJSON_DISABLE_UTILS=1", "-DYYJSON_DISABLE_NON_STANDARD=1")


class NativeBuildError(RuntimeError):
    """The compiler failed; the message has its output."""


def library_name(cpu: str) -> str:
    return f"liblinecheck-{cpu}.so"


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NativeBuildError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def yyjson_dir() -> Path:
    """yyjson.c and yyjson.h (and the license), from the pinned sdist; downloaded once per machine."""
    target = CACHE / f"yyjson-{YYJSON_SHA256[:12]}"
    if all((target / name).exists() for name in YYJSON_FILES):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
              "--no-binary", ":all:", YYJSON_SDIST, "-d", tmp])  # fmt: skip
        (sdist,) = Path(tmp).glob("*.tar.gz")
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != YYJSON_SHA256:
            raise NativeBuildError(f"{sdist.name} has sha256 {digest}, expected {YYJSON_SHA256}")
        staging = Path(tmp) / "yyjson"
        staging.mkdir()
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if (name.parent.name == "yyjson" and name.name in YYJSON_FILES) or name.parts[1:] == ("LICENSE",):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    (staging / name.name).write_bytes(extracted.read())
        if not all((staging / name).exists() for name in YYJSON_FILES):
            raise NativeBuildError(f"{sdist.name} does not hold {YYJSON_FILES}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(staging, target)
    return target


def build(cpu: str | None = None, out: Path = DEFAULT_OUT) -> Path:
    """Compile for `cpu` (x86_64 or aarch64; default: this machine's) into `out`; return the library."""
    cpu = cpu or platform.machine()
    out.mkdir(parents=True, exist_ok=True)
    target = out / library_name(cpu)
    yyjson = yyjson_dir()
    zig = [sys.executable, "-m", "ziglang", "cc", "-target", f"{cpu}-linux-gnu.{GLIBC}"]
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "linecheck.o", Path(tmp) / "yyjson.o"
        _run([*zig, *COMMON, *OURS, *YYJSON_DEFINES, "-I", str(yyjson), "-c", str(SOURCE), "-o", str(ours)])
        _run([*zig, *COMMON, *YYJSON_DEFINES, "-c", str(yyjson / "yyjson.c"), "-o", str(theirs)])
        _run([*zig, "-shared", "-s", "-o", str(target), str(ours), str(theirs)])
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", choices=("x86_64", "aarch64"), default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(build(args.cpu, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
