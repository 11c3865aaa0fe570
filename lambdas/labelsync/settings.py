"""Pipeline settings, read from the function's environment at invocation time.

The names below are the contract between the CDK stack (infra/), the offline stack
(offline/) and the handlers: both stacks set exactly these variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Environment variable names (one place, imported by infra/ and offline/).
ENV_BUCKET = "PIPELINE_BUCKET"
ENV_STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
ENV_TOPIC_ARN = "REPORT_TOPIC_ARN"
ENV_PROJECTS = "ALLOWED_PROJECTS"
ENV_CHUNK_LIMIT = "CHUNK_LIMIT_BYTES"
ENV_INCOMING_PREFIX = "INCOMING_PREFIX"
ENV_WORK_PREFIX = "WORK_PREFIX"
ENV_POLL_INITIAL = "POLL_INITIAL_SECONDS"
ENV_POLL_MAX = "POLL_MAX_SECONDS"
ENV_POLL_TIMEOUT = "POLL_TIMEOUT_SECONDS"
ENV_REPORT_MAX_ERRORS = "REPORT_MAX_ERRORS"
ENV_WARNINGS_AS_REJECTIONS = "WARNINGS_AS_REJECTIONS"
ENV_REFUSE_UNUSABLE = "REFUSE_UNUSABLE"
ENV_LEDGER_TABLE = "LEDGER_TABLE"
ENV_DELTA_SYNC = "DELTA_SYNC"  # send only lines that differ from the dataset's entries
ENV_REPLACE_MAX_REMOVED_PERCENT = "REPLACE_MAX_REMOVED_PERCENT"  # the replace guard (domain/replace.py)
ENV_LABELING_JOBS = "LABELING_JOBS"  # labelsync/labeling_job_routes.py reads it
ENV_CLAIMS_TABLE = "LABELING_JOB_CLAIMS_TABLE"  # DynamoDB: which completed jobs were copied (idempotency)

DEFAULT_CHUNK_LIMIT = 5_242_880
DEFAULT_INCOMING_PREFIX = "incoming/"
DEFAULT_WORK_PREFIX = "runs/"


class SettingsError(ValueError):
    """A deployment configured the pipeline wrongly; raised at invocation, with the variable named."""


@dataclass(frozen=True)
class ProjectPolicy:
    """What the pipeline may do to one Custom Labels project."""

    dataset_types: frozenset[str] = frozenset({"TRAIN", "TEST"})
    create_missing_datasets: bool = True
    # Every manifest dropped for the project is the whole dataset, as if under replace/ (domain/routing.py).
    replace: bool = False


@dataclass(frozen=True)
class PollSettings:
    """DescribeDataset schedule knobs (seconds): the fallback when a dataset has no update history yet is
    capped doubling from initial to max, until timeout; with history the schedule is learned
    (domain/poll_schedule.py)."""

    initial_seconds: int = 5
    max_seconds: int = 600
    timeout_seconds: int = 3600

    def as_state(self) -> dict[str, int]:
        return {
            "initialSeconds": self.initial_seconds,
            "maxSeconds": self.max_seconds,
            "timeoutSeconds": self.timeout_seconds,
        }


@dataclass(frozen=True)
class Settings:
    bucket: str = ""
    state_machine_arn: str = ""
    topic_arn: str = ""
    projects: Mapping[str, ProjectPolicy] = field(default_factory=dict)
    chunk_limit_bytes: int = DEFAULT_CHUNK_LIMIT
    incoming_prefix: str = DEFAULT_INCOMING_PREFIX
    work_prefix: str = DEFAULT_WORK_PREFIX
    poll: PollSettings = field(default_factory=PollSettings)
    report_max_errors: int = 100
    warnings_as_rejections: bool = False  # label-rule warnings reject the line instead of only reporting it
    refuse_unusable: bool = False  # refuse a manifest whose lines could not train a model (verdict UNUSABLE)
    ledger_table: str = ""  # DynamoDB: per-dataset run queue, lock and update timings
    delta_sync: bool = True  # leave out lines identical to the dataset's entry (domain/entry_digest.py)
    replace_max_removed_percent: int = 20  # a replace may remove at most this share unless forced

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            bucket=env.get(ENV_BUCKET, ""),
            state_machine_arn=env.get(ENV_STATE_MACHINE_ARN, ""),
            topic_arn=env.get(ENV_TOPIC_ARN, ""),
            projects=parse_projects(env.get(ENV_PROJECTS, "{}")),
            chunk_limit_bytes=_int(env, ENV_CHUNK_LIMIT, DEFAULT_CHUNK_LIMIT, minimum=1),
            incoming_prefix=_prefix(env.get(ENV_INCOMING_PREFIX, DEFAULT_INCOMING_PREFIX)),
            work_prefix=_prefix(env.get(ENV_WORK_PREFIX, DEFAULT_WORK_PREFIX)),
            poll=PollSettings(
                initial_seconds=_int(env, ENV_POLL_INITIAL, 5, minimum=1),
                max_seconds=_int(env, ENV_POLL_MAX, 600, minimum=1),
                timeout_seconds=_int(env, ENV_POLL_TIMEOUT, 3600, minimum=1),
            ),
            report_max_errors=_int(env, ENV_REPORT_MAX_ERRORS, 100, minimum=0),
            warnings_as_rejections=_bool(env, ENV_WARNINGS_AS_REJECTIONS, False),
            refuse_unusable=_bool(env, ENV_REFUSE_UNUSABLE, False),
            ledger_table=env.get(ENV_LEDGER_TABLE, ""),
            delta_sync=_bool(env, ENV_DELTA_SYNC, True),
            replace_max_removed_percent=_int(env, ENV_REPLACE_MAX_REMOVED_PERCENT, 20, minimum=0, maximum=100),
        )

    def require(self, *names: str) -> None:
        """Fail loudly, naming the variable, when a handler needs a setting the stack did not set."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise SettingsError(f"missing pipeline settings: {', '.join(missing)}")


# Rekognition project names (CreateProject ProjectName): also keeps IAM wildcards out of ARNs.
PROJECT_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot be a project this stack syncs (CreateProject's pattern; `.`/`..` cannot be routed)."""
    if not PROJECT_NAME.match(name):
        return f"{name!r} is not a valid Rekognition project name ([a-zA-Z0-9_.-]{{1,255}})"
    if name in (".", ".."):
        return f"{name!r} cannot be a key folder under incoming/ (routing refuses '.' and '..' folders)"
    return None


def json_setting(text: str, name: str, empty: str) -> Any:
    """A setting's JSON text, parsed; `empty` stands for no text at all. Bad JSON names the setting."""
    try:
        return json.loads(text or empty)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc}") from exc


POLICY_KEYS = ("datasetTypes", "createMissingDatasets", "replace")


def parse_projects(text: str, setting: str = ENV_PROJECTS) -> dict[str, ProjectPolicy]:
    """Parse the allow-list: {"project-name": {"datasetTypes": ["TRAIN","TEST"], "createMissingDatasets": true,
    "replace": false}}. Strict: a misspelt key or a "false" string would otherwise grant what it names.
    `setting`: the name errors give it (the functions' variable, or the CDK app's context key)."""
    raw = json_setting(text, setting, "{}")
    if not isinstance(raw, dict):
        raise SettingsError(f"{setting} must be a JSON object of project name -> policy")
    projects: dict[str, ProjectPolicy] = {}
    for name, policy in raw.items():
        problem = project_name_problem(str(name))
        if problem:
            raise SettingsError(f"{setting}: {problem}")
        policy = policy or {}
        where = f"{setting}[{name!r}]"
        if not isinstance(policy, dict):
            raise SettingsError(f"{where} must be an object")
        unknown_keys = sorted(set(policy) - set(POLICY_KEYS))
        if unknown_keys:
            raise SettingsError(f"{where} has unknown keys {unknown_keys}; a policy takes {', '.join(POLICY_KEYS)}")
        types = policy.get("datasetTypes", ["TRAIN", "TEST"])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise SettingsError(f"{where}.datasetTypes must be a list of TRAIN and/or TEST, got {types!r}")
        dataset_types = frozenset(t.upper() for t in types)
        unknown = dataset_types - {"TRAIN", "TEST"}
        if unknown:
            raise SettingsError(f"{where}.datasetTypes has unknown types {sorted(unknown)}")
        create = _policy_bool(policy, "createMissingDatasets", True, where)
        replace = _policy_bool(policy, "replace", False, where)
        if replace and not create:
            raise SettingsError(
                f"{where}: replace: true needs createMissingDatasets: true (a replace that removes entries deletes "
                "the dataset and creates it again from the manifest)"
            )
        projects[str(name)] = ProjectPolicy(
            dataset_types=dataset_types, create_missing_datasets=create, replace=replace
        )
    return projects


def _policy_bool(policy: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = policy.get(key, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{where}.{key} must be true or false (JSON booleans), got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be <= {maximum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _prefix(value: str) -> str:
    return value if value.endswith("/") or not value else value + "/"
