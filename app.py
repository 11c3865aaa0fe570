"""CDK entry point: `cdk synth` / `cdk deploy` (cdk.json runs it with the project's venv)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# infra and statemachine live at the root; the handlers' package (labelsync) under lambdas/.
for path in (ROOT, ROOT / "lambdas"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402

from infra.stack import LabelSyncStack  # noqa: E402

DEFAULT_STACK_NAME = "CustomLabelsSync"


def main() -> None:
    app = cdk.App()
    stack_name = app.node.try_get_context("stackName") or DEFAULT_STACK_NAME
    LabelSyncStack(app, "LabelSyncStack", stack_name=str(stack_name))
    app.synth()


if __name__ == "__main__":
    main()
