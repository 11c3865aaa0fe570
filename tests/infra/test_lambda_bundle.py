"""The functions' code asset: the handlers' package plus compiled wheels for arm64 / Python 3.14."""

from pathlib import Path

from infra.lambda_bundle import REQUIREMENTS, build


def test_asset_holds_the_package_and_arm64_wheels_for_the_runtime(tmp_path: Path) -> None:
    build(tmp_path)
    assert (tmp_path / "labelsync" / "handlers" / "plan_manifest.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    pins = [line.split("==")[0] for line in REQUIREMENTS.read_text().splitlines() if "==" in line]
    assert pins == ["msgspec"]
    (extension,) = (tmp_path / "msgspec").glob("_core*.so")
    assert "cpython-314-aarch64-linux-gnu" in extension.name
    assert extension.read_bytes()[:4] == b"\x7fELF" and extension.read_bytes()[18] == 0xB7  # e_machine = AArch64
