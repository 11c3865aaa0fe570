"""Resume a run that stopped mid-way: a new execution of the same plan, named `<run>-r<N>`.

The new execution takes the dataset's turn like any run; TakeTurn then sees that the
previous holder ran the same plan and stopped, and skips the chunks it applied. Dropping
the same object again reaches the same place through a new plan with the same digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from labelsync.domain.runs import MAX_EXECUTION_NAME

MAX_RESUMES = 99


class ResumableExecutions(Protocol):
    def status(self, name: str) -> str | None: ...

    def input_of(self, name: str) -> str: ...

    def start_raw(self, name: str, payload: str) -> str:
        """Start with the exact input text; the new execution's ARN."""
        ...


class ResumeRefused(Exception):
    """Nothing to resume, or not now; the message says which."""


@dataclass(frozen=True)
class Resumed:
    execution_name: str
    execution_arn: str


def resume_name(run_id: str, attempt: int) -> str:
    suffix = f"-r{attempt}"
    return run_id[: MAX_EXECUTION_NAME - len(suffix)] + suffix


def resume_run(run_id: str, executions: ResumableExecutions) -> Resumed:
    if executions.status(run_id) is None:
        raise ResumeRefused(f"no execution named {run_id!r}: give the run id (the first execution's name)")
    names = [run_id] + [resume_name(run_id, n) for n in range(1, MAX_RESUMES + 1)]
    latest = run_id
    for name in names[1:]:
        if executions.status(name) is None:
            break
        latest = name
    else:
        raise ResumeRefused(f"run {run_id} was resumed {MAX_RESUMES} times already")
    status = executions.status(latest)
    if status == "RUNNING":
        raise ResumeRefused(f"{latest} is still running")
    if status == "SUCCEEDED":
        raise ResumeRefused(f"{latest} succeeded: nothing to resume (drop the manifest again to apply it again)")
    name = names[names.index(latest) + 1]
    return Resumed(name, executions.start_raw(name, executions.input_of(run_id)))
