"""Rekognition Custom Labels ARNs for the configured projects (CloudFormation has no dataset resource)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import Construct

from infra.config import PipelineConfig


def _arn(scope: Construct, resource_name: str) -> str:
    return Stack.of(scope).format_arn(
        service="rekognition",
        resource="project",
        resource_name=resource_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def project_arns(scope: Construct, config: PipelineConfig) -> list[str]:
    """`project/<name>/<timestamp>`: what CreateDataset acts on."""
    return [_arn(scope, f"{name}/*") for name in sorted(config.projects)]


def dataset_arns(scope: Construct, config: PipelineConfig) -> list[str]:
    """`project/<name>/dataset/<type>/<timestamp>`: what the entry and describe calls act on."""
    return [_arn(scope, f"{name}/dataset/*") for name in sorted(config.projects)]
