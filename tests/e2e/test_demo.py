"""The README's first command: the demo drops manifests and prints what SNS subscribers get."""

import json
from pathlib import Path

import pytest

from offline import demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"


def test_demo_json_mode_prints_one_sns_message_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = demo.main(
        ["--json", "--time-scale", "0.001", str(EXAMPLES / "pets-with-problems.jsonl"), "--dataset", "test"]
    )
    out, err = capsys.readouterr()
    assert code == 0
    (line,) = out.strip().splitlines()
    envelope = json.loads(line)
    assert envelope["Type"] == "Notification"
    report = json.loads(envelope["Message"])
    assert report["outcome"] == "SUCCEEDED_WITH_ERRORS"
    assert report["manifest"]["key"] == "incoming/demo-project/test/pets-with-problems.jsonl"
    assert "execution SUCCEEDED" in err


def test_demo_default_run_reports_all_three_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--time-scale", "0.001"]) == 0
    out = capsys.readouterr().out
    for outcome in ("SUCCEEDED:", "SUCCEEDED_WITH_ERRORS:", "REJECTED:"):
        assert outcome in out
    assert "line 5: rejected before sending: ERROR_INVALID_JSON_LINE" in out
    assert "3 SNS message(s) for 3 manifest(s)." in out


def test_demo_refuses_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["does-not-exist.jsonl"]) == 2
    assert "no such manifest file" in capsys.readouterr().err
