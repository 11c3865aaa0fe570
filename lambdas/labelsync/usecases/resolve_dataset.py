"""Find the routed dataset at run time (never hard-coded), creating it when allowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelsync.domain.errors import DatasetMissingError
from labelsync.ports import Datasets


def resolve_dataset(target: Mapping[str, Any], datasets: Datasets) -> dict[str, Any]:
    project, dataset_type = str(target["project"]), str(target["datasetType"])
    project_arn, found = datasets.find(project, dataset_type)
    if found is not None:
        return {"arn": found.arn, "status": found.status, "created": False, "projectArn": project_arn}
    if not target.get("createMissing"):
        raise DatasetMissingError(
            f"project {project!r} has no {dataset_type} dataset and this deployment may not create one"
        )
    arn = datasets.create(project_arn, dataset_type)
    return {"arn": arn, "status": datasets.status(arn), "created": True, "projectArn": project_arn}
