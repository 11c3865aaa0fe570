"""`labelsync`: the pipeline for people, against a deployed stack or the offline server.

    labelsync [--stack NAME] [--region R] [--profile P] [--endpoint-url URL] COMMAND ...

Commands: validate, push, status, runs, report, resume. Human text by default, `--json` on every
command that prints data, progress on stderr, colours only on a terminal (rich decides). The stack
is found by name through its CloudFormation outputs; `--endpoint-url` (or LABELSYNC_ENDPOINT_URL)
points at `make offline-server` instead. Exit status: 0 done (push --wait: SUCCEEDED), 3
SUCCEEDED_WITH_ERRORS, 4 REJECTED, 5 FAILED, 1 other failures, 2 usage errors.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambdas"))

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn  # noqa: E402

from cli import deployment as deployments  # noqa: E402
from cli import runs, status, upload  # noqa: E402
from cli.deployment import Deployment, DeploymentNotFound  # noqa: E402
from labelsync.settings import project_name_problem  # noqa: E402

DEFAULT_STACK = "CustomLabelsSync"  # app.py's default stack name
FAILED_TO_RUN = 1
err = Console(stderr=True, highlight=False)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=1, default=str, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "LABELSYNC"})
@click.option("--stack", default=DEFAULT_STACK, show_default=True, help="The deployed stack's name.")
@click.option("--region", default=None, help="AWS region (default: the environment's or the profile's).")
@click.option("--profile", default=None, help="AWS profile.")
@click.option("--endpoint-url", default=None, help="The offline server, e.g. http://127.0.0.1:4566.")
@click.pass_context
def labelsync(
    ctx: click.Context, stack: str, region: str | None, profile: str | None, endpoint_url: str | None
) -> None:
    """Keep Rekognition Custom Labels datasets in sync with manifests: push, follow, inspect runs."""
    ctx.obj = {"stack": stack, "region": region, "profile": profile, "endpoint_url": endpoint_url}


def _deployment(ctx: click.Context) -> Deployment:
    found = ctx.obj.get("deployment")
    if found is None:
        try:
            found = deployments.find(**{k: ctx.obj[k] for k in ("stack", "region", "profile", "endpoint_url")})
        except DeploymentNotFound as exc:
            raise click.ClickException(str(exc)) from exc
        ctx.obj["deployment"] = found
    return found


@labelsync.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def validate(args: tuple[str, ...]) -> None:
    """Check a manifest without sending anything (PATH or s3://bucket/key; see --help of it)."""
    from cli import validate as validate_cli

    sys.exit(validate_cli.main(list(args)))


def _project(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = project_name_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


@labelsync.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", required=True, callback=_project, help="The Custom Labels project (in the allow-list).")
@click.option("--dataset", type=click.Choice(["train", "test"], case_sensitive=False), required=True)
@click.option("--gzip/--no-gzip", "gzipped", default=None, help=f"Default: gzip files over {upload.GZIP_AT >> 20} MB.")
@click.option(
    "--replace",
    is_flag=True,
    help=(
        "Replace mode: the manifest is the whole dataset; entries it does not hold are removed (docs/operations.md). "
        'Every push is one for a project whose policy says "replace": true.'
    ),
)
@click.option("--force", is_flag=True, help="With --replace: remove entries even past the removal guard's share.")
@click.option("--wait", is_flag=True, help="Follow the run to its report; the exit status says its outcome.")
@click.option("--timeout", default=24 * 3600.0, show_default=True, help="Seconds --wait follows the run.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def push(
    ctx: click.Context,
    path: Path,
    project: str,
    dataset: str,
    gzipped: bool | None,
    replace: bool,
    force: bool,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Upload a manifest to the key the pipeline watches and print its run id."""
    if force and not replace:
        raise click.UsageError("--force only lifts replace mode's removal guard: give --replace too")
    where = _deployment(ctx)
    size = path.stat().st_size
    gzip_it = gzipped if gzipped is not None else (size > upload.GZIP_AT and path.suffix != ".gz")
    key = upload.target_key(where.incoming_prefix, project, dataset, path, gzip_it, replace=replace, force=force)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=err
    ) as bar:
        task = bar.add_task(f"upload s3://{where.bucket}/{key}", total=size)
        done = upload.upload(
            where.client("s3"),
            where.bucket,
            key,
            path,
            gzipped=gzip_it,
            progress=lambda n: bar.update(task, completed=n),
        )
    err.print(f"uploaded {done.source_bytes:,} bytes as {done.sent_bytes:,} (version {done.version_id})")
    run = runs.run_for_upload(where, key, done.version_id, timeout=120.0)
    result: dict[str, Any] = {"key": key, "versionId": done.version_id, "gzipped": gzip_it, "runId": None}
    if run is None:
        err.print("no run started within 120 s: the plan step failed; its event is in the failure queue")
        _finish(result, as_json, FAILED_TO_RUN)
    assert run is not None
    result["runId"], result["execution"] = run.run_id, run.execution_arn
    err.print(f"run {run.run_id}")
    if not wait:
        _finish(result, as_json, 0)
    report = _follow(where, run, timeout)
    result["report"] = {k: report.get(k) for k in ("outcome", "summary", "counts", "reportUri")} if report else None
    if report is None:
        _finish(result, as_json, FAILED_TO_RUN)
    assert report is not None
    if not as_json:
        click.echo(report.get("summary"))
    _finish(result, as_json, runs.OUTCOME_EXIT.get(str(report.get("outcome")), FAILED_TO_RUN))


def _follow(where: Deployment, run: runs.Run, timeout: float) -> dict[str, Any] | None:
    """A live progress line until the run's report is written (or the execution ends without one)."""
    deadline = time.monotonic() + timeout
    shown = ""

    def show(line: str) -> None:  # a live line on a terminal; each new state on its own line otherwise (logs, CI)
        nonlocal shown
        if err.is_terminal:
            live.update(line)
        elif line.split(",")[0] != shown.split(",")[0] or line.split(",")[1:2] != shown.split(",")[1:2]:
            err.print(line)
        shown = line

    with err.status("following the run") as live:
        while time.monotonic() < deadline:
            current = runs.refresh(where, run)  # one DescribeExecution a poll, not a listing of every run
            show(runs.progress(where, current).line())
            report = runs.report(where, run.run_id)
            if report is not None and report.get("execution") == current.execution_arn:
                return report
            if current.status != "RUNNING":
                time.sleep(2.0)  # the execution-end alert is written by the report function, just after
                report = runs.report(where, run.run_id)
                if report is None:
                    err.print(f"the execution ended {current.status} without a report")
                return report
            time.sleep(1.0)
    err.print(f"still running after {timeout:.0f} s: follow it with `labelsync report {run.run_id}`")
    return None


def _finish(result: dict[str, Any], as_json: bool, code: int) -> None:
    if as_json:
        _emit(result)
    elif result.get("runId") and code == 0 and "report" not in result:
        click.echo(result["runId"])
    sys.exit(code)


@labelsync.command(name="status")
@click.option("--project", default=None, help="Only this project's datasets.")
@click.option("--dataset", type=click.Choice(["train", "test"], case_sensitive=False), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_command(ctx: click.Context, project: str | None, dataset: str | None, as_json: bool) -> None:
    """Per dataset: the run holding its turn, the queue in write order, the last finished run."""
    table = _deployment(ctx).table()
    names = [
        name
        for name in status.datasets(table)
        if (project is None or name.split("/")[0] == project)
        and (dataset is None or name.split("/")[-1] == dataset.upper())
    ]
    found = [status.dataset_status(table, name) for name in names]
    if as_json:
        _emit([s.as_dict() for s in found])
        return
    if not found:
        click.echo("no runs yet" + (f" for {project}" if project else ""))
    for entry in found:
        click.echo("\n".join(entry.lines()))


@labelsync.command(name="runs")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def runs_command(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The newest runs: execution status, outcome (once reported), manifest."""
    where = _deployment(ctx)
    rows = []
    for described in runs.executions(where, limit=limit):
        run = runs.Run.of(described)
        report = runs.report(where, run.run_id) if run.status != "RUNNING" else None
        rows.append(
            {
                "runId": run.run_id,
                "execution": run.execution_arn,
                "status": run.status,
                "outcome": (report or {}).get("outcome"),
                "started": run.started.isoformat(),
                "manifest": run.manifest.get("key"),
            }
        )
    if as_json:
        _emit(rows)
        return
    for row in rows:
        click.echo(
            f"{str(row['started'])[:19]}  {row['status']:<9} {row['outcome'] or '-':<21} {row['runId']}  {row['manifest']}"
        )


@labelsync.command(name="report")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="report.json as written (every list complete).")
@click.option("--errors", is_flag=True, help="Every entry error and warning of the run, one a line.")
@click.pass_context
def report_command(ctx: click.Context, run_id: str, as_json: bool, errors: bool) -> None:
    """A run's report: its summary, or --json, or --errors."""
    where = _deployment(ctx)
    report = runs.report(where, run_id)
    if report is None:
        raise click.ClickException(f"run {run_id} has no report yet (or no such run under {where.work_prefix})")
    if errors:
        for finding in runs.entry_findings(where, report):
            if as_json:
                click.echo(json.dumps(finding, ensure_ascii=False))
            else:
                click.echo(
                    f"{finding.get('level')}  {finding.get('sourceRef')}  {finding.get('code')}: {finding.get('message')}"
                )
        return
    if as_json:
        _emit(report)
        return
    counts = report.get("counts") or {}
    click.echo(str(report.get("summary")))
    click.echo(", ".join(f"{name} {value}" for name, value in counts.items()))
    click.echo(f"full report: {report.get('reportUri')}")


@labelsync.command()
@click.argument("run_id")
@click.pass_context
def resume(ctx: click.Context, run_id: str) -> None:
    """Resume a stopped or failed run (a new execution that skips the chunks already applied)."""
    from labelsync.adapters.step_functions import StepFunctionsExecutions
    from labelsync.usecases.resume_run import ResumeRefused, resume_run

    where = _deployment(ctx)
    try:
        resumed = resume_run(run_id, StepFunctionsExecutions(where.client("stepfunctions"), where.state_machine_arn))
    except ResumeRefused as refused:
        raise click.ClickException(f"not resumed: {refused}") from refused
    click.echo(f"resumed as {resumed.execution_name}: {resumed.execution_arn}")


def main() -> None:
    labelsync(prog_name="labelsync")


if __name__ == "__main__":
    main()
