"""The definition file: valid ASL, placeholders as the stacks fill them, error names that exist."""

import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labelsync.domain import errors
from statemachine.definition import DEFINITION_PATH, PLACEHOLDERS, definition_text, placeholders_in, render
from tests.infra.nodes import walk

RENDERED = {key: f"arn:aws:lambda:us-east-1:123456789012:function:{key}" for key in PLACEHOLDERS}
# Fields AWS documents for a Distributed Map that statelint 3.1.0 does not know yet: its only accepted findings.
STATELINT_GAPS = (
    'Field "Label" not allowed in State Machine.States.',
    'Field "InputType" not allowed in State Machine.States.',
)


def test_placeholders_are_exactly_the_ones_the_stacks_fill() -> None:
    assert placeholders_in(definition_text()) == set(PLACEHOLDERS)


def test_statelint_finds_nothing(tmp_path: Path) -> None:
    rendered = tmp_path / "pipeline.json"
    rendered.write_text(render(RENDERED))
    statelint = Path(sys.executable).with_name("statelint")
    result = subprocess.run([str(statelint), str(rendered)], capture_output=True, text=True, check=False)
    assert not result.stderr
    findings = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]  # after "N errors:"
    assert [f for f in findings if not f.startswith(STATELINT_GAPS)] == []
    assert result.returncode == 0 or findings


def _state_names(states: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
    for name, state in states.items():
        yield name, where
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _state_names(state[key]["States"], f"{where}/{name}")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _state_names(branch["States"], f"{where}/{name}[{index}]")


def test_state_names_are_unique_in_the_whole_definition() -> None:
    """ASL: state names MUST be unique within the whole state machine, nested Map/Parallel states included;
    CreateStateMachine refuses a duplicate (DUPLICATE_STATE_NAME), so the stack would not deploy."""
    seen: dict[str, list[str]] = {}
    for name, where in _state_names(json.loads(definition_text())["States"], "States"):
        seen.setdefault(name, []).append(where)
    assert {name: wheres for name, wheres in seen.items() if len(wheres) > 1} == {}


def test_retry_and_catch_names_are_raised_somewhere() -> None:
    """A Retry on a name nothing raises never fires: every custom name must be a pipeline error class."""
    ours = {name for name, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, Exception)}
    definition = json.loads(render(RENDERED))
    names = {
        name
        for node in walk(definition)
        for rule in node.get("Retry", []) + node.get("Catch", [])
        for name in rule["ErrorEquals"]
    }
    # Step Functions', the Lambda service's, the Lambda runtime's (Sandbox.Timedout, Runtime.ExitError) and the
    # aws-sdk integration's names.
    foreign = {n for n in names if n.startswith(("States.", "Lambda.", "Sandbox.", "Runtime.", "Rekognition."))}
    internal = {"ChunkFailed"}  # the Fail state inside the Map iteration
    assert names - foreign - internal <= ours
    assert "DatasetBusyError" in names and "Rekognition.ThrottlingException" in names


def test_every_lambda_retry_has_backoff_and_jitter() -> None:
    definition = json.loads(render(RENDERED))
    for node in walk(definition):
        for rule in node.get("Retry", []):
            assert rule["BackoffRate"] >= 1.5 and rule["JitterStrategy"] == "FULL" and rule["MaxDelaySeconds"] <= 120


def test_definition_is_the_file_cdk_loads() -> None:
    assert DEFINITION_PATH.name == "pipeline.asl.json" and DEFINITION_PATH.is_file()
