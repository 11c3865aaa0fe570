"""The functions' code asset: lambdas/ plus lambdas/requirements.txt built for arm64 / Python 3.14.

Bundled locally with pip (no Docker): manylinux wheels for the target platform only, so a
compiled package such as msgspec lands as the Lambda runtime needs it. Wheels are cached
under .cache/lambda-wheels/, so only the first synthesis on a machine reaches PyPI.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, FileSystem, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = ROOT / "lambdas"
REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
WHEEL_CACHE = ROOT / ".cache" / "lambda-wheels"
PLATFORM = ("--platform", "manylinux2014_aarch64", "--python-version", "3.14", "--implementation", "cp")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")
EXCLUDE = ["**/__pycache__", "**/*.pyc"]


class BundlingError(RuntimeError):
    """The asset could not be built: pip could not provide a wheel for the Lambda platform.
    The message has pip's output."""


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _cached_wheels() -> Path:
    """Download the requirements' wheels for the Lambda platform once per machine (and per pin)."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    marker = WHEEL_CACHE / f"{pins}.done"
    if not marker.exists():
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        _pip("download", "--only-binary=:all:", "--no-deps", *PLATFORM, "-r", str(REQUIREMENTS), "-d", str(WHEEL_CACHE))
        marker.touch()
    return WHEEL_CACHE


def build(output_dir: Path) -> None:
    """Write the asset: the labelsync package, then the platform wheels installed beside it."""
    shutil.copytree(LAMBDAS_DIR, output_dir, dirs_exist_ok=True, ignore=IGNORED)
    wheels = _cached_wheels()
    _pip(
        "install",
        "--no-index",
        "--find-links",
        str(wheels),
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",  # the runtime is 3.14: this interpreter's .pyc files would be dead weight
        *PLATFORM,
        "--target",
        str(output_dir),
        "-r",
        str(REQUIREMENTS),
    )


@jsii.implements(ILocalBundling)
class _LocalPip:
    def try_bundle(self, output_dir: str, options: Any) -> bool:
        build(Path(output_dir))
        return True


def source_hash() -> str:
    """lambdas/: the sources and the pins of what is bundled."""
    return FileSystem.fingerprint(str(LAMBDAS_DIR), exclude=EXCLUDE)


def lambda_code() -> lambda_.Code:
    """One asset for every function; its hash follows the sources and the pins, not the build."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=EXCLUDE,
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(),
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises. CDK requires an image anyway.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            local=cast(ILocalBundling, _LocalPip()),  # jsii passes the options positionally
        ),
    )
