"""The README's first command: the demo drops manifests and prints what SNS subscribers get."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offline import demo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"


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


def test_demo_default_run_reports_the_examples_the_labeling_job_and_the_replace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main(["--time-scale", "0.001"]) == 0
    out = capsys.readouterr().out
    for outcome in ("SUCCEEDED", "SUCCEEDED_WITH_ERRORS", "REJECTED"):
        assert f"Custom Labels sync: {outcome}\n" in out
    assert "Rejected lines (not sent):\n  line 5: ERROR_INVALID_JSON_LINE" in out  # the email body
    assert "Training readiness: UNUSABLE" in out
    assert "Created project demo-project with an empty TRAIN dataset (TEST will be created by the pipeline)" in out
    assert "5 SNS message(s) and 5 completion event(s) for 4 manifest(s) and 1 labeling job(s)." in out
    assert out.count("  Custom Labels Sync Run Completed: incoming/demo-project/") == 4
    # The curated TRAIN dataset in replace mode: the labeling job's fifth image is removed.
    assert "Manifest: s3://labelsync-offline/incoming/demo-project/train/replace/pets-curated.jsonl" in out
    removed = "s3://labelsync-demo-images/ground-truth/pets-0005.jpg"
    assert f"Replace: 1 of 11 entries removed: {removed}" in out and "(not in the manifest; all of them: s3://" in out
    job_copy = "incoming/demo-project/train/labeling-job-demo-pets-multilabel-1.manifest"
    assert f"labeling job demo-pets-multilabel-1: COPIED s3://labelsync-offline/{job_copy}" in out
    assert f"Manifest: s3://labelsync-offline/{job_copy}\nDataset: demo-project TRAIN\n" in out
    assert "  Custom Labels Sync Run Rejected: incoming/unknown-project/train/pets-clean.jsonl (outcome REJECTED" in out


def test_demo_says_which_project_it_created_and_keeps_stdout_json() -> None:
    """In its own process, as `make demo ARGS=...` runs it: the functions' loggers are made during the run."""
    args = ["--json", "--verbose", "--time-scale", "0.001", "--project", "my-proj", str(EXAMPLES / "pets-clean.jsonl")]
    done = subprocess.run(
        [sys.executable, "-m", "offline.demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out, err = done.stdout, done.stderr
    assert "Created project my-proj with no datasets (TRAIN will be created by the pipeline)" in err
    assert '"level":"INFO"' in err  # --verbose logs, on stderr
    (line,) = out.strip().splitlines()  # stdout: only the JSON lines
    assert json.loads(json.loads(line)["Message"])["target"]["project"] == "my-proj"


@pytest.mark.parametrize("name", ["bad name*", "..", "x" * 256])
def test_demo_refuses_a_bad_project_name_in_one_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--project", name, str(EXAMPLES / "pets-clean.jsonl")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    (last,) = [line for line in err.splitlines() if "error:" in line]
    assert "argument --project" in last and "Traceback" not in err


def test_demo_refuses_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["does-not-exist.jsonl"]) == 2
    assert "no such manifest file" in capsys.readouterr().err
