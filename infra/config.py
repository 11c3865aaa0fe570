"""Deployment settings read from CDK context, checked at synth so a bad value never reaches AWS."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

from labelsync.settings import ProjectPolicy, SettingsError, parse_projects

# Rekognition project names (CreateProject ProjectName): also keeps IAM wildcards out of ARNs.
PROJECT_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")
POWERTOOLS_VERSION = re.compile(r"^(\d+\.\d+\.\d+|latest)$")
# UpdateDatasetEntries Changes.GroundTruth maximum in the service model.
MAX_CHUNK_BYTES = 5_242_880
# Lambda caps all environment variables of a function at 4 KB together; leave room for the others.
MAX_PROJECTS_JSON = 3_072

DEFAULTS: dict[str, Any] = {
    "projects": {},
    "chunkLimitBytes": 5_242_880,
    "pollInitialSeconds": 5,
    "pollMaxSeconds": 60,
    "pollTimeoutSeconds": 3600,
    "reportMaxErrors": 100,
    "incomingPrefix": "incoming/",
    "workPrefix": "runs/",
    "workRetentionDays": 30,
    "powertoolsVersion": "3.37.0",
}


class ConfigError(ValueError):
    """A context value is unusable; the message names the key so `cdk synth -c` is easy to fix."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the stack takes from context, validated and normalised."""

    projects: Mapping[str, ProjectPolicy] = field(default_factory=dict)
    chunk_limit_bytes: int = DEFAULTS["chunkLimitBytes"]
    poll_initial_seconds: int = DEFAULTS["pollInitialSeconds"]
    poll_max_seconds: int = DEFAULTS["pollMaxSeconds"]
    poll_timeout_seconds: int = DEFAULTS["pollTimeoutSeconds"]
    report_max_errors: int = DEFAULTS["reportMaxErrors"]
    incoming_prefix: str = DEFAULTS["incomingPrefix"]
    work_prefix: str = DEFAULTS["workPrefix"]
    work_retention_days: int = DEFAULTS["workRetentionDays"]
    powertools_version: str = DEFAULTS["powertoolsVersion"]

    @classmethod
    def from_context(cls, node: Node) -> PipelineConfig:
        """Read every key from context (cdk.json or `-c key=value`, where values arrive as strings)."""
        return cls.from_mapping({key: node.try_get_context(key) for key in DEFAULTS})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PipelineConfig:
        """Build from plain values (None = default); split out so it is testable without an App."""

        def get(key: str) -> Any:
            value = values.get(key)
            return DEFAULTS[key] if value is None else value

        config = cls(
            projects=_projects(get("projects")),
            chunk_limit_bytes=_int("chunkLimitBytes", get("chunkLimitBytes"), 1, MAX_CHUNK_BYTES),
            poll_initial_seconds=_int("pollInitialSeconds", get("pollInitialSeconds"), 1),
            poll_max_seconds=_int("pollMaxSeconds", get("pollMaxSeconds"), 1),
            poll_timeout_seconds=_int("pollTimeoutSeconds", get("pollTimeoutSeconds"), 1),
            report_max_errors=_int("reportMaxErrors", get("reportMaxErrors"), 0),
            incoming_prefix=_prefix("incomingPrefix", get("incomingPrefix")),
            work_prefix=_prefix("workPrefix", get("workPrefix")),
            work_retention_days=_int("workRetentionDays", get("workRetentionDays"), 1),
            powertools_version=_powertools(get("powertoolsVersion")),
        )
        config._check_consistency()
        return config

    def _check_consistency(self) -> None:
        if self.poll_max_seconds < self.poll_initial_seconds:
            raise ConfigError("pollMaxSeconds must be >= pollInitialSeconds")
        if self.poll_timeout_seconds < self.poll_initial_seconds:
            raise ConfigError("pollTimeoutSeconds must be >= pollInitialSeconds")
        inc, work = self.incoming_prefix, self.work_prefix
        if inc.startswith(work) or work.startswith(inc):
            # Run files written under the watched prefix would trigger the pipeline again.
            raise ConfigError(f"incomingPrefix {inc!r} and workPrefix {work!r} must not overlap")
        size = len(self.projects_json())
        if size > MAX_PROJECTS_JSON:
            raise ConfigError(
                f"projects is {size} characters of JSON; Lambda environments allow about {MAX_PROJECTS_JSON}"
            )

    def projects_json(self) -> str:
        """The ALLOWED_PROJECTS value, in the shape labelsync.settings.parse_projects reads."""
        return json.dumps(
            {
                name: {
                    "datasetTypes": sorted(policy.dataset_types),
                    "createMissingDatasets": policy.create_missing_datasets,
                }
                for name, policy in sorted(self.projects.items())
            },
            separators=(",", ":"),
        )


def _projects(value: Any) -> dict[str, ProjectPolicy]:
    if isinstance(value, str):
        text = value
    elif isinstance(value, Mapping):
        text = json.dumps(value)
    else:
        raise ConfigError(f"projects must be an object or its JSON text, got {type(value).__name__}")
    try:
        projects = parse_projects(text)
    except SettingsError as exc:
        raise ConfigError(f"projects: {exc}") from exc
    for name, policy in projects.items():
        if not PROJECT_NAME.match(name):
            raise ConfigError(f"projects: {name!r} is not a valid Rekognition project name ([a-zA-Z0-9_.-]{{1,255}})")
        if not policy.dataset_types:
            raise ConfigError(f"projects[{name!r}].datasetTypes must name TRAIN and/or TEST")
    return projects


def _int(key: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{key} must be an integer, got {value!r}") from exc
    if number < minimum or (maximum is not None and number > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"{key} must be {bound}, got {number}")
    return number


def _prefix(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip("/"):
        # An empty prefix would watch (and write into) the whole bucket.
        raise ConfigError(f"{key} must be a non-empty S3 key prefix, got {value!r}")
    if value.startswith("/") or "*" in value:
        raise ConfigError(f"{key} must not start with '/' or contain '*', got {value!r}")
    return value if value.endswith("/") else value + "/"


def _powertools(value: Any) -> str:
    if not isinstance(value, str) or not POWERTOOLS_VERSION.match(value):
        raise ConfigError(f"powertoolsVersion must look like '3.37.0' (or 'latest'), got {value!r}")
    return value
