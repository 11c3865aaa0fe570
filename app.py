"""CDK entry point: `cdk synth` / `cdk deploy` (cdk.json runs `python3 app.py`).

cdk.json names `python3`, not a venv path, so the app runs on a fresh clone whichever way it was set
up: an activated venv with requirements.txt is used as it is; otherwise the project's `.venv` (what
`make deploy` and CDK's plain path `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`
create) takes over; without either, a one-line message says how to create it.

cdk-nag's AwsSolutions checks run on every synth (context `nagChecks`, default true): an
unacknowledged finding fails `cdk synth` and `cdk deploy` with ValidationFailed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PROJECT_VENV = ROOT / ".venv"
# What synthesis imports from requirements.txt (module names).
SYNTH_MODULES = ("aws_cdk", "constructs", "cdk_nag")
_HANDED_OFF = "LABELSYNC_APP_IN_VENV"  # set when this script re-runs itself in .venv: never loop
SETUP_HINT = (
    "run `make deploy` / `make synth` (they create .venv), or CDK's plain path: "
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
)


def _missing_modules() -> list[str]:
    return [name for name in SYNTH_MODULES if importlib.util.find_spec(name) is None]


def use_project_venv() -> None:
    """Re-run this script with `.venv`'s interpreter when the current one lacks the synth packages."""
    missing = _missing_modules()
    if not missing:
        return
    venv_python = PROJECT_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    in_venv = Path(sys.prefix).resolve() == PROJECT_VENV.resolve()
    if venv_python.exists() and not in_venv and not os.environ.get(_HANDED_OFF):
        os.environ[_HANDED_OFF] = "1"
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(f"cdk app: {', '.join(missing)} not installed for {sys.executable}: {SETUP_HINT}")


if __name__ == "__main__":
    use_project_venv()

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
