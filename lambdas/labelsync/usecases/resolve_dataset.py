"""Find the routed dataset at run time (never hard-coded), creating it when allowed.

Once the run holds its dataset's turn, the dataset's labels are the ones earlier runs left:
the manifest's labels are checked against them here, before anything is sent, so a run
never half-applies and then fails on the service's 250-label limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from labelsync.domain import rules
from labelsync.domain.errors import (
    DatasetBusyError,
    DatasetLabelLimitError,
    DatasetMissingError,
    DatasetNotAllowedError,
)
from labelsync.domain.runs import RunLayout
from labelsync.ports import Datasets, ObjectStore
from labelsync.settings import ProjectPolicy


def resolve_dataset(
    target: Mapping[str, Any],
    datasets: Datasets,
    planned_labels: Iterable[str] | None = None,
    *,
    projects: Mapping[str, ProjectPolicy],
) -> dict[str, Any]:
    """`projects` is the function's own allow-list (its environment), never the execution input: whoever can
    start an execution cannot make this step create a dataset the allow-list does not allow."""
    project, dataset_type = str(target["project"]), str(target["datasetType"])
    policy = projects.get(project)
    if policy is None or dataset_type not in policy.dataset_types:
        raise DatasetNotAllowedError(f"project {project!r} {dataset_type} is not in this deployment's allow-list")
    project_arn, found = datasets.find(project, dataset_type)
    if found is not None:
        if planned_labels is not None:
            check_label_limit(datasets, found.arn, planned_labels)
        return {"arn": found.arn, "status": found.status, "created": False, "projectArn": project_arn}
    if not policy.create_missing_datasets:
        raise DatasetMissingError(
            f"project {project!r} has no {dataset_type} dataset and this deployment may not create one"
        )
    arn = datasets.create(project_arn, dataset_type)
    return {"arn": arn, "status": datasets.status(arn), "created": True, "projectArn": project_arn}


def check_label_limit(datasets: Datasets, dataset_arn: str, planned_labels: Iterable[str]) -> None:
    """Raise when the manifest's labels and the dataset's would be over 250 together.

    A dataset being created or updated by someone else cannot list its labels: the check is
    skipped then (the service still refuses such an update, and the run reports it).
    """
    planned = set(planned_labels)
    if not planned:
        return
    try:
        current = set(datasets.label_names(dataset_arn))
    except DatasetBusyError:
        return
    finding = rules.label_limit_finding(len(planned | current), in_dataset=len(current))
    if finding:
        code, message = finding
        new = len(planned - current)
        raise DatasetLabelLimitError(f"{code}: {message} ({new:,} of the manifest's {len(planned):,} labels are new)")


def planned_labels(store: ObjectStore, run: Mapping[str, Any] | None) -> list[str] | None:
    """The distinct labels the plan step found in the manifest (None: an older plan, or no run given)."""
    if not run:
        return None
    plan = json.loads(store.get_bytes(str(run["bucket"]), RunLayout(str(run["prefix"])).plan_key))
    labels = plan.get("labels")
    return [str(label) for label in labels] if isinstance(labels, list) else None
