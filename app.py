"""CDK entry point: `cdk synth` / `cdk deploy` (cdk.json runs it with the project's venv).

cdk-nag's AwsSolutions checks run on every synth (context `nagChecks`, default true): an
unacknowledged finding fails `cdk synth` and `cdk deploy` with ValidationFailed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
# infra and statemachine live at the root; the handlers' package (labelsync) under lambdas/.
for path in (ROOT, ROOT / "lambdas"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402

from infra import nag  # noqa: E402
from infra.config import ConfigError  # noqa: E402
from infra.stack import LabelSyncStack  # noqa: E402

DEFAULT_STACK_NAME = "CustomLabelsSync"


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, LabelSyncStack]:
    """The app as `cdk synth` builds it; tests pass cdk.json's context and an outdir."""
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    stack_name = app.node.try_get_context("stackName") or DEFAULT_STACK_NAME
    stack = LabelSyncStack(app, "LabelSyncStack", stack_name=str(stack_name))
    if stack.config.nag_checks:
        nag.add_checks(app)
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except ConfigError as exc:  # a readable one-liner instead of a jsii traceback
        sys.exit(f"cdk context error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
