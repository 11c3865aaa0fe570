"""The functions' code asset: the handlers' package plus the pinned wheels for arm64 / Python 3.14.

Powertools is bundled (no public layer, so no region lacks it): the asset must hold it at the pinned
version with every dependency the runtime does not bring, and the tests' venv must run the same pins.
"""

from importlib.metadata import version
from pathlib import Path

from infra.lambda_bundle import REQUIREMENTS, build

ROOT = Path(__file__).resolve().parents[2]
# The Lambda Python runtime brings these (boto3 and its dependencies); everything else must be bundled.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, pinned = line.partition("==")
            found[name.split("[")[0].strip().lower().replace("_", "-")] = pinned.strip()
    return found


def test_asset_holds_the_package_and_arm64_wheels_for_the_runtime(tmp_path: Path) -> None:
    build(tmp_path)
    assert (tmp_path / "labelsync" / "handlers" / "plan_manifest.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    bundled = pins(REQUIREMENTS)
    assert set(bundled) == {
        "msgspec",
        "aws-lambda-powertools",
        "jmespath",
        "typing-extensions",
        "aws-xray-sdk",
        "wrapt",
    }
    (extension,) = (tmp_path / "msgspec").glob("_core*.so")
    assert "cpython-314-aarch64-linux-gnu" in extension.name
    assert extension.read_bytes()[:4] == b"\x7fELF" and extension.read_bytes()[18] == 0xB7  # e_machine = AArch64
    # Powertools and its tracer, at the pinned versions (the package records its own version).
    assert (tmp_path / "aws_lambda_powertools" / "tracing" / "tracer.py").is_file()
    meta = (tmp_path / "aws_lambda_powertools" / "shared" / "version.py").read_text()
    assert f'VERSION = "{bundled["aws-lambda-powertools"]}"' in meta
    assert (tmp_path / "aws_xray_sdk").is_dir() and (tmp_path / "wrapt").is_dir() and (tmp_path / "jmespath").is_dir()
    assert list(tmp_path.glob(f"aws_lambda_powertools-{bundled['aws-lambda-powertools']}.dist-info"))


def test_every_dependency_of_a_bundled_package_is_bundled_or_in_the_runtime() -> None:
    """lambda_bundle installs with --no-deps: a dependency missing from lambdas/requirements.txt would only
    fail at import time in Lambda."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    bundled = pins(REQUIREMENTS)
    for name in bundled:
        for requirement in distribution(name).requires or []:
            parsed = Requirement(requirement)
            if parsed.marker and not parsed.marker.evaluate({"extra": "", "python_version": "3.14"}):
                continue
            dependency = parsed.name.lower().replace("_", "-")
            assert dependency in bundled or dependency in RUNTIME_PROVIDED, (name, requirement)


def test_bundled_pins_are_the_ones_tests_and_the_offline_stack_run() -> None:
    constraints = pins(ROOT / "constraints.txt")
    for name, pinned in pins(REQUIREMENTS).items():
        assert constraints.get(name) == pinned, name
        assert version(name) == pinned, name
