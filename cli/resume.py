"""Resume a stopped run: `python -m cli.resume RUN_ID --state-machine-arn ARN [--endpoint-url URL]`.

RUN_ID is the first execution's name (the report and the alert carry it as `execution`;
it is also the run's folder under the work prefix). The new execution, `RUN_ID-rN`,
waits for the dataset's turn and skips the chunks the stopped run applied. Credentials
and region come from the usual AWS environment; `--endpoint-url` points at the offline
stack's server (`make offline-server`). Exit status: 0 started, 1 refused (running,
succeeded, unknown run), 2 usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

import boto3  # noqa: E402

from labelsync.adapters.step_functions import StepFunctionsExecutions  # noqa: E402
from labelsync.usecases.resume_run import ResumeRefused, resume_run  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.resume", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_id", help="the run's id: its first execution's name")
    parser.add_argument(
        "--state-machine-arn",
        default=os.environ.get("LABELSYNC_STATE_MACHINE_ARN"),
        help="the pipeline's state machine (default: $LABELSYNC_STATE_MACHINE_ARN; the stack outputs it)",
    )
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4566 for the offline server")
    args = parser.parse_args(argv)
    if not args.state_machine_arn:
        parser.error("--state-machine-arn (or LABELSYNC_STATE_MACHINE_ARN) is required")
    region = args.state_machine_arn.split(":")[3]
    sfn = boto3.client("stepfunctions", region_name=region, endpoint_url=args.endpoint_url)
    try:
        resumed = resume_run(args.run_id, StepFunctionsExecutions(sfn, args.state_machine_arn))
    except ResumeRefused as refused:
        print(f"not resumed: {refused}", file=sys.stderr)
        return 1
    print(f"resumed as {resumed.execution_name}: {resumed.execution_arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
