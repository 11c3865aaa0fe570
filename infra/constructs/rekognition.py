"""Rekognition Custom Labels ARNs for the allow-list (CloudFormation has no dataset resource).

IAM says what the allow-list says: dataset ARNs carry the dataset type
(`project/<name>/dataset/<train|test>/<creation timestamp>`), so each project is granted only the
types it allows, and CreateDataset (which acts on the project ARN `project/<name>/<creation timestamp>`)
only on projects with `createMissingDatasets`. The timestamps are only known in the account: the
ARNs end in `/*`.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import Construct

from infra.config import PipelineConfig

# DatasetType as the API takes it -> as dataset ARNs spell it (API pattern `dataset/(train|test)/[0-9]+`).
ARN_TYPES = {"TRAIN": "train", "TEST": "test"}


def _arn(scope: Construct, resource_name: str) -> str:
    return Stack.of(scope).format_arn(
        service="rekognition",
        resource="project",
        resource_name=resource_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def creatable_project_arns(scope: Construct, config: PipelineConfig) -> list[str]:
    """`project/<name>/*` of each project whose missing datasets may be created: what CreateDataset acts on."""
    return [
        _arn(scope, f"{name}/*") for name, policy in sorted(config.projects.items()) if policy.create_missing_datasets
    ]


def dataset_arns(scope: Construct, config: PipelineConfig, *, creatable_only: bool = False) -> list[str]:
    """`project/<name>/dataset/<train|test>/*` for each project and each dataset type it allows
    (`creatable_only`: of the projects with `createMissingDatasets`, the only ones a replace may rebuild)."""
    return [
        _arn(scope, f"{name}/dataset/{ARN_TYPES[dataset_type]}/*")
        for name, policy in sorted(config.projects.items())
        if policy.create_missing_datasets or not creatable_only
        for dataset_type in sorted(policy.dataset_types)
    ]
