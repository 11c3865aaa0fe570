"""Which Ground Truth labeling jobs feed which dataset: the `labelingJobs` setting, read once, used everywhere.

A route maps jobs (by name prefix or by one tag) to a project and dataset type, and names the S3 path
their output must be under: IAM grants reads there and nowhere else. The CDK app (infra/) builds the
EventBridge rule and the grants from these routes; the sync function matches a completed job to one.

No third-party imports: the CDK app reads this with only requirements.txt installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelsync.settings import ProjectPolicy, SettingsError, json_setting, project_name_problem

SETTING = "labelingJobs"
# The event Ground Truth sends to the default bus when a job's status changes (SageMaker developer guide,
# "Monitor labeling job status"): the job is named only by its ARN in `resources`.
SAGEMAKER_SOURCE = "aws.sagemaker"
JOB_STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
COMPLETED = "Completed"
# CreateLabelingJob's LabelingJobName pattern; a prefix is a leading part of such a name.
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
NAME_PREFIX = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$")
# S3 bucket naming rules (lower case, digits, dots, hyphens; 3 to 63 characters).
S3_PATH = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(.*))?$")
# The copied manifest's name in the dataset's folder (routing takes no sub-folders).
MANIFEST_NAME = "labeling-job-{name}.manifest"
ROUTE_KEYS = {"namePrefix", "tag", "project", "datasetType", "outputPath"}


class AmbiguousJob(Exception):
    """More than one route matches a job (two tags): which dataset it feeds is not for us to guess."""


@dataclass(frozen=True)
class JobRoute:
    project: str
    dataset_type: str  # TRAIN or TEST
    output_bucket: str
    output_prefix: str  # "" (the whole bucket) or ending with "/"
    name_prefix: str | None = None
    tag: tuple[str, str] | None = None

    def matches(self, name: str, tags: Mapping[str, str]) -> bool:
        # Case-insensitively: the rule matches the job's ARN, which need not keep the name's case.
        if self.name_prefix is not None:
            return name.lower().startswith(self.name_prefix.lower())
        assert self.tag is not None
        key, value = self.tag
        return tags.get(key) == value

    @property
    def selector(self) -> str:
        """The jobs this route takes, in words."""
        if self.name_prefix is not None:
            return f"jobs named {self.name_prefix}*"
        assert self.tag is not None
        return f"jobs tagged {self.tag[0]}={self.tag[1]}"

    @property
    def output_path(self) -> str:
        return f"s3://{self.output_bucket}/{self.output_prefix}"

    def holds(self, uri: str) -> bool:
        """Whether the object `uri` is under this route's output path (where IAM lets us read)."""
        match = S3_PATH.match(uri)
        if match is None:
            return False
        return match.group(1) == self.output_bucket and (match.group(3) or "").startswith(self.output_prefix)

    def as_dict(self) -> dict[str, Any]:
        selector: dict[str, Any] = (
            {"namePrefix": self.name_prefix}
            if self.name_prefix is not None
            else {"tag": {"key": self.tag[0], "value": self.tag[1]}}  # type: ignore[index]
        )
        return {**selector, "project": self.project, "datasetType": self.dataset_type, "outputPath": self.output_path}


def parse_labeling_jobs(
    value: Any, projects: Mapping[str, ProjectPolicy] | None = None, *, where: str = SETTING
) -> tuple[JobRoute, ...]:
    """Check and normalise the setting (a list, or its JSON text); errors name the entry and the rule.

    With `projects`, each route's project and dataset type must be ones the allow-list permits.
    """
    if isinstance(value, str):
        value = json_setting(value, where, "[]")
    if not isinstance(value, list):
        raise SettingsError(f"{where} must be a list of objects, got {type(value).__name__}")
    routes = tuple(_route(f"{where}[{index}]", item, projects) for index, item in enumerate(value))
    _check_overlaps(where, routes)
    return routes


def routes_json(routes: Iterable[JobRoute]) -> str:
    return json.dumps([route.as_dict() for route in routes], separators=(",", ":"))


def route_for(name: str, tags: Mapping[str, str], routes: Sequence[JobRoute]) -> JobRoute | None:
    matching = [route for route in routes if route.matches(name, tags)]
    if len(matching) > 1:
        raise AmbiguousJob(
            f"labeling job {name!r} matches {len(matching)} {SETTING} entries "
            f"({'; '.join(f'{r.selector} -> {r.project}/{r.dataset_type}' for r in matching)}): "
            "tag it for one dataset only"
        )
    return matching[0] if matching else None


def manifest_key(incoming_prefix: str, route: JobRoute, job_name: str) -> str:
    """Where the job's output manifest is copied: the dataset's folder, so the drop path plans it."""
    return f"{incoming_prefix}{route.project}/{route.dataset_type.lower()}/{MANIFEST_NAME.format(name=job_name)}"


def job_name_of(arn: str) -> str:
    """`arn:aws:sagemaker:REGION:ACCOUNT:labeling-job/NAME` -> NAME."""
    resource = arn.split(":", 5)[-1]
    kind, _, name = resource.partition("/")
    if kind != "labeling-job" or not JOB_NAME.match(name):
        raise ValueError(f"{arn!r} is not a labeling job ARN")
    return name


def state_change_pattern(routes: Sequence[JobRoute], job_arn_prefix: str) -> dict[str, Any]:
    """The rule's event pattern: completed jobs; with name prefixes only, only those jobs' ARNs.

    `job_arn_prefix` is `arn:PARTITION:sagemaker:REGION:ACCOUNT:labeling-job/`. A tag route needs every
    completed job's event: the tags are read from DescribeLabelingJob, never carried by the event.
    """
    pattern: dict[str, Any] = {
        "source": [SAGEMAKER_SOURCE],
        "detail-type": [JOB_STATE_CHANGE],
        "detail": {"LabelingJobStatus": [COMPLETED]},
    }
    if routes and all(route.name_prefix is not None for route in routes):
        pattern["resources"] = [
            {"prefix": {"equals-ignore-case": f"{job_arn_prefix}{route.name_prefix}"}} for route in routes
        ]
    return pattern


def _route(where: str, item: Any, projects: Mapping[str, ProjectPolicy] | None) -> JobRoute:
    if not isinstance(item, Mapping):
        raise SettingsError(f"{where} must be an object, got {item!r}")
    unknown = set(item) - ROUTE_KEYS
    if unknown:
        raise SettingsError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(ROUTE_KEYS)}")
    if ("namePrefix" in item) == ("tag" in item):
        raise SettingsError(f"{where} must have exactly one of namePrefix or tag")
    name_prefix, tag = None, None
    if "namePrefix" in item:
        name_prefix = item["namePrefix"]
        if not isinstance(name_prefix, str) or not NAME_PREFIX.match(name_prefix):
            raise SettingsError(
                f"{where}.namePrefix must be the start of a labeling job name (letters, digits, '-'; "
                f"1 to 63 characters, not starting with '-'), got {name_prefix!r}"
            )
    else:
        raw = item["tag"]
        if (
            not isinstance(raw, Mapping)
            or set(raw) != {"key", "value"}
            or not isinstance(raw["key"], str)
            or not isinstance(raw["value"], str)
            or not 1 <= len(raw["key"]) <= 128
            or len(raw["value"]) > 256
        ):
            raise SettingsError(f"{where}.tag must be {{'key': 1-128 characters, 'value': 0-256}}, got {raw!r}")
        tag = (raw["key"], raw["value"])
    project = item.get("project")
    if not isinstance(project, str) or project_name_problem(project):
        raise SettingsError(f"{where}.project: {project_name_problem(str(project)) or 'must be a project name'}")
    dataset_type = str(item.get("datasetType", "")).upper()
    if dataset_type not in ("TRAIN", "TEST"):
        raise SettingsError(f"{where}.datasetType must be TRAIN or TEST, got {item.get('datasetType')!r}")
    if projects is not None:
        policy = projects.get(project)
        if policy is None:
            raise SettingsError(f"{where}.project {project!r} is not in projects (the allow-list)")
        if dataset_type not in policy.dataset_types:
            raise SettingsError(f"{where}: project {project!r} does not allow {dataset_type} datasets")
    bucket, prefix = _output_path(where, item.get("outputPath"))
    return JobRoute(project, dataset_type, bucket, prefix, name_prefix=name_prefix, tag=tag)


def _output_path(where: str, value: Any) -> tuple[str, str]:
    match = S3_PATH.match(value) if isinstance(value, str) else None
    if match is None or ".." in match.group(1):
        raise SettingsError(
            f"{where}.outputPath must be s3://BUCKET/ or s3://BUCKET/PREFIX/ (the jobs' S3OutputPath or above it), "
            f"got {value!r}"
        )
    prefix = match.group(3) or ""
    if "*" in prefix or prefix.startswith("/"):
        raise SettingsError(f"{where}.outputPath must not contain '*' or '//', got {value!r}")
    return match.group(1), prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _check_overlaps(where: str, routes: Sequence[JobRoute]) -> None:
    """Two routes that can take the same job by name are a mistake the deploy should name."""
    for i, first in enumerate(routes):
        for j, second in enumerate(routes[i + 1 :], start=i + 1):
            if first.name_prefix is not None and second.name_prefix is not None:
                a, b = first.name_prefix.lower(), second.name_prefix.lower()
                if a.startswith(b) or b.startswith(a):
                    raise SettingsError(
                        f"{where}[{i}] and {where}[{j}]: name prefixes {first.name_prefix!r} and "
                        f"{second.name_prefix!r} overlap (a job could match both)"
                    )
            if first.tag is not None and first.tag == second.tag:
                raise SettingsError(f"{where}[{i}] and {where}[{j}] have the same tag {first.tag[0]}={first.tag[1]}")
