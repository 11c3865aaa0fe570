"""The functions' code asset ships the plan step's C library built for arm64, not the host's build."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from infra import lambda_bundle
from native import build as native_build
from native.build import library_name

EM_AARCH64 = 183


def e_machine(path: Path) -> int:
    """The ELF header's machine field (64-bit little-endian ELF only)."""
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2 and header[5] == 1, f"{path} is not a 64-bit little-endian ELF"
    return int(struct.unpack_from("<H", header, 18)[0])


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build for the module (the wheels come from .cache/lambda-wheels/, zig reuses its own cache)."""
    output_dir = tmp_path_factory.mktemp("asset")
    lambda_bundle.build(output_dir)
    return output_dir


def test_asset_ships_the_arm64_library(asset: Path) -> None:
    library = asset / "labelsync" / "_native" / library_name("aarch64")
    assert library.is_file()
    assert e_machine(library) == EM_AARCH64


def test_asset_holds_no_host_library(asset: Path) -> None:
    assert [path.name for path in (asset / "labelsync" / "_native").iterdir()] == [library_name("aarch64")]
    assert not list(asset.rglob(library_name("x86_64")))
    shared = [path for path in asset.rglob("*.so") if path.is_file()]
    assert shared and all(e_machine(path) == EM_AARCH64 for path in shared), [
        (path.relative_to(asset), e_machine(path)) for path in shared
    ]


def test_asset_hash_follows_the_native_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    originals = (*lambda_bundle.NATIVE_INPUTS, lambda_bundle.CONSTRAINTS)
    copies = tuple(tmp_path / path.name for path in originals)
    for original, copy in zip(originals, copies, strict=True):
        shutil.copyfile(original, copy)
    source, script, constraints = copies
    monkeypatch.setattr(lambda_bundle, "NATIVE_INPUTS", (source, script))
    monkeypatch.setattr(lambda_bundle, "CONSTRAINTS", constraints)

    def edit(path: Path, old: str, new: str) -> str:
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
        return lambda_bundle.source_hash()

    hashes = [
        lambda_bundle.source_hash(),
        edit(source, "#include", "/* changed */\n#include"),
        edit(script, native_build.YYJSON_SDIST, "yyjson==4.0.7"),  # the yyjson pin
        edit(script, '"-O2"', '"-O3"'),
        edit(constraints, "ziglang==0.13.0.post1", "ziglang==0.14.0"),  # the compiler's pin
    ]
    assert len(set(hashes)) == len(hashes)


def test_asset_hash_ignores_the_host_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lambdas = tmp_path / "lambdas"
    shutil.copytree(lambda_bundle.LAMBDAS_DIR, lambdas, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    monkeypatch.setattr(lambda_bundle, "LAMBDAS_DIR", lambdas)
    before = lambda_bundle.source_hash()
    (lambdas / lambda_bundle.NATIVE_DIR).mkdir(exist_ok=True)
    (lambdas / lambda_bundle.NATIVE_DIR / library_name("x86_64")).write_bytes(b"\x7fELF host build")
    assert lambda_bundle.source_hash() == before
    (lambdas / "labelsync" / "extra.py").write_text("")
    assert lambda_bundle.source_hash() != before


def test_a_failed_native_build_fails_the_bundling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "linecheck.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(native_build, "SOURCE", broken)
    with pytest.raises(lambda_bundle.BundlingError, match=r"aarch64 build of native/linecheck\.c failed"):
        lambda_bundle.build(tmp_path / "asset")
