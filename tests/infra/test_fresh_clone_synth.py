"""CDK's plain path, from a fresh copy of the working tree, with nothing but requirements.txt:

    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && npm ci && npx cdk synth

then `make synth` in the same copy. Both must produce a template that cdk-nag (run inside synth) and
cfn-lint pass. The copy has no .cache/: the first synth downloads the functions' arm64 wheels, the one
network use README's "Deploying to AWS" states. Slow (about a minute: pip and npm use their caches),
so it runs once, here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cfnlint.api
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = '{"pets": {}, "cars": {"datasetTypes": ["TRAIN"], "createMissingDatasets": false}}'
TEMPLATE = "LabelSyncStack.template.json"


def _copy_working_tree(target: Path) -> None:
    """What a clone has (tracked and new files, nothing ignored: no .venv, node_modules, .cache or cdk.out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _clean_env() -> dict[str, str]:
    """A shell outside any venv: cdk.json's `python3` must find the clone's .venv by itself."""
    ours = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours)
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def _check_assembly(out: Path) -> None:
    template = json.loads((out / TEMPLATE).read_text())
    machine = next(r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    assert "TimeoutSeconds" in json.loads(machine["Properties"]["DefinitionString"])
    # CDK's CloudFormation validation passed; cdk-nag ran too (nagChecks is true in cdk.json, and a finding
    # fails synth with ValidationFailed: test_production.py), so a synth that exited 0 passed it.
    report = json.loads((out / "validation-report.json").read_text())
    assert {p["conclusion"] for p in report["pluginReports"]} == {"success"}, report
    matches = cfnlint.api.lint(
        json.dumps(template), config=cfnlint.api.ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"])
    )
    assert [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches] == []
    (asset,) = out.glob("asset.*")
    assert (
        (asset / "labelsync").is_dir() and (asset / "aws_lambda_powertools").is_dir() and (asset / "msgspec").is_dir()
    )


@pytest.mark.timeout(900)
def test_plain_cdk_path_and_make_synth_from_a_fresh_copy(tmp_path: Path) -> None:
    if shutil.which("npm") is None or shutil.which("python3") is None:
        pytest.fail("the CDK path needs python3, node and npm on PATH (README: prerequisites)")
    clone = tmp_path / "clone"
    clone.mkdir()
    _copy_working_tree(clone)
    env = _clean_env()
    _run(["python3", "-m", "venv", ".venv"], clone, env)
    _run([".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"], clone, env)
    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], clone, env)
    assert not (clone / ".cache").exists()
    assert json.loads((clone / "cdk.json").read_text())["context"]["nagChecks"] is True
    output = _run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-c", f"projects={PROJECTS}"], clone, env
    )
    assert "AwsSolutions-" not in output and "ValidationFailed" not in output, output
    _check_assembly(clone / "cdk.out")
    assert list((clone / ".cache" / "lambda-wheels").glob("msgspec-*aarch64*.whl"))

    # The Makefile's path: the same venv brought to constraints.txt, the pinned CLI, `cdk synth`.
    shutil.rmtree(clone / "cdk.out")
    output = _run(["make", "synth", f"ARGS=--no-notices -c 'projects={PROJECTS}'"], clone, env)
    assert "AwsSolutions-" not in output and "ValidationFailed" not in output, output
    _check_assembly(clone / "cdk.out")
