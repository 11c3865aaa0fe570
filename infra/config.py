"""Deployment settings read from CDK context, checked at synth so a bad value never reaches AWS."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

from infra.function_specs import APPLY, RECORD_CHUNK, REPLACE_DATASET, REPORT, RESOLVE, TAKE_TURN
from labelsync.labeling_job_routes import SETTING as LABELING_JOBS_KEY
from labelsync.labeling_job_routes import JobRoute, parse_labeling_jobs, routes_json
from labelsync.settings import ProjectPolicy, SettingsError, parse_projects

# UpdateDatasetEntries Changes.GroundTruth maximum in the service model.
MAX_CHUNK_BYTES = 5_242_880
# Lambda caps all environment variables of a function at 4 KB together; leave room for the others.
MAX_PROJECTS_JSON = 3_072
# A KMS key ARN as AWS writes it: partition, region, account, and a key id that is a UUID or, for a
# multi-Region key, "mrk-" and 32 hex digits. Aliases (alias/...) are not keys: grants and key policies
# need the key itself.
KMS_KEY_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov|-iso|-iso-[a-z])?:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
# Step Functions' longest Standard execution (one year): the derived TimeoutSeconds must fit.
MAX_EXECUTION_SECONDS = 31_536_000
# Lambda tasks are retried on a timeout (Sandbox.Timedout) twice: three attempts at most.
TASK_ATTEMPTS = 3
# Context keys that no longer exist, and why (a silently ignored key would mislead).
REMOVED_KEYS = {
    "powertoolsVersion": "Powertools is bundled into the functions' code asset, pinned in lambdas/requirements.txt; "
    "remove the key (there is no layer to choose any more)",
}
SQS_QUEUE_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
TOPICS = ("report", "alert")
PROTOCOLS = ("email", "https", "sqs")
# Message attributes the report Lambda sets (docs/report-schema.md): a filter policy on any other name drops
# every message. Alarm notifications carry no attributes, so the alert topic takes no filter policy.
REPORT_ATTRIBUTES = ("outcome", "kind", "project", "datasetType")

DEFAULTS: dict[str, Any] = {
    "projects": {},
    "chunkLimitBytes": 5_242_880,
    "pollInitialSeconds": 5,
    "pollMaxSeconds": 600,
    "pollTimeoutSeconds": 3600,
    "reportMaxErrors": 100,
    "incomingPrefix": "incoming/",
    "workPrefix": "runs/",
    "workRetentionDays": 30,
    "noncurrentRetentionDays": 90,
    "accessLogRetentionDays": 365,
    "logRetentionDays": 30,
    "kmsKey": "none",
    "subscriptions": [],
    "rejectedLinesAlarmThreshold": 1000,
    "nagChecks": True,
    "warningsAsRejections": False,
    "refuseUnusable": False,
    "turnWaitSeconds": 86_400,
    "maxChunksPerRun": 200,
    "labelingJobs": [],
    "deltaSync": True,
    "replaceMaxRemovedPercent": 20,
}


@dataclass(frozen=True)
class ExecutionBudget:
    """The state machine's top-level TimeoutSeconds and the parts it is made of (docs/deploy.md).

    Each part is the longest that step may legitimately take: the wait for the dataset's turn, creating
    a missing dataset, every chunk of a run of `chunks` chunks needing the full poll timeout (or, for a
    replace that removes entries, the rebuild instead of the chunks), and the report. A run over budget ends TIMED_OUT: ExecutionsTimedOut fires and the run's alert is sent.
    """

    turn_wait: int
    dataset: int
    per_chunk: int
    chunks: int
    report: int
    rebuild: int = 0  # replace mode: delete, create, and on failure delete and create again, each a poll timeout

    @property
    def total(self) -> int:
        return self.turn_wait + self.dataset + max(self.per_chunk * self.chunks, self.rebuild) + self.report


@dataclass(frozen=True)
class Subscription:
    """One subscription from context: which topic, how it is delivered, and an optional attribute filter."""

    topic: str
    protocol: str
    endpoint: str
    filter_policy: Mapping[str, Any] | None = None


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
    noncurrent_retention_days: int = DEFAULTS["noncurrentRetentionDays"]
    access_log_retention_days: int = DEFAULTS["accessLogRetentionDays"]
    log_retention_days: int = DEFAULTS["logRetentionDays"]
    kms_key: str = DEFAULTS["kmsKey"]  # "none", "create" or a key ARN
    subscriptions: tuple[Subscription, ...] = ()
    rejected_lines_alarm_threshold: int = DEFAULTS["rejectedLinesAlarmThreshold"]
    nag_checks: bool = DEFAULTS["nagChecks"]
    warnings_as_rejections: bool = DEFAULTS["warningsAsRejections"]
    refuse_unusable: bool = DEFAULTS["refuseUnusable"]
    turn_wait_seconds: int = DEFAULTS["turnWaitSeconds"]
    max_chunks_per_run: int = DEFAULTS["maxChunksPerRun"]
    # Ground Truth jobs synced when they complete (labelsync/labeling_job_routes.py); empty: no rule, no function.
    labeling_jobs: tuple[JobRoute, ...] = ()
    delta_sync: bool = DEFAULTS["deltaSync"]
    # A replace (incoming/<project>/<type>/replace/) may remove at most this share of the dataset unless forced.
    replace_max_removed_percent: int = DEFAULTS["replaceMaxRemovedPercent"]

    @classmethod
    def from_context(cls, node: Node) -> PipelineConfig:
        """Read every key from context (cdk.json or `-c key=value`, where values arrive as strings)."""
        return cls.from_mapping({key: node.try_get_context(key) for key in (*DEFAULTS, *REMOVED_KEYS)})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PipelineConfig:
        """Build from plain values (None = default); split out so it is testable without an App."""

        def get(key: str) -> Any:
            value = values.get(key)
            return DEFAULTS[key] if value is None else value

        for key, why in REMOVED_KEYS.items():
            if values.get(key) is not None:
                raise ConfigError(f"{key} is no longer a setting: {why}")

        projects = _projects(get("projects"))
        config = cls(
            projects=projects,
            chunk_limit_bytes=_int("chunkLimitBytes", get("chunkLimitBytes"), 1, MAX_CHUNK_BYTES),
            poll_initial_seconds=_int("pollInitialSeconds", get("pollInitialSeconds"), 1),
            poll_max_seconds=_int("pollMaxSeconds", get("pollMaxSeconds"), 1),
            poll_timeout_seconds=_int("pollTimeoutSeconds", get("pollTimeoutSeconds"), 1),
            report_max_errors=_int("reportMaxErrors", get("reportMaxErrors"), 0),
            incoming_prefix=_prefix("incomingPrefix", get("incomingPrefix")),
            work_prefix=_prefix("workPrefix", get("workPrefix")),
            work_retention_days=_int("workRetentionDays", get("workRetentionDays"), 1),
            noncurrent_retention_days=_int("noncurrentRetentionDays", get("noncurrentRetentionDays"), 1),
            access_log_retention_days=_int("accessLogRetentionDays", get("accessLogRetentionDays"), 1),
            log_retention_days=_log_retention(get("logRetentionDays")),
            kms_key=_kms_key(get("kmsKey")),
            subscriptions=_subscriptions(get("subscriptions")),
            rejected_lines_alarm_threshold=_int("rejectedLinesAlarmThreshold", get("rejectedLinesAlarmThreshold"), 1),
            nag_checks=_bool("nagChecks", get("nagChecks")),
            warnings_as_rejections=_bool("warningsAsRejections", get("warningsAsRejections")),
            refuse_unusable=_bool("refuseUnusable", get("refuseUnusable")),
            turn_wait_seconds=_int("turnWaitSeconds", get("turnWaitSeconds"), 0),
            max_chunks_per_run=_int("maxChunksPerRun", get("maxChunksPerRun"), 1),
            labeling_jobs=_labeling_jobs(get(LABELING_JOBS_KEY), projects),
            delta_sync=_bool("deltaSync", get("deltaSync")),
            replace_max_removed_percent=_int("replaceMaxRemovedPercent", get("replaceMaxRemovedPercent"), 0, 100),
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
        size = len(self.labeling_jobs_json())
        if size > MAX_PROJECTS_JSON:
            raise ConfigError(
                f"{LABELING_JOBS_KEY} is {size} characters of JSON; Lambda environments allow about {MAX_PROJECTS_JSON}"
            )
        total = self.execution_budget().total
        if total > MAX_EXECUTION_SECONDS:
            raise ConfigError(
                f"turnWaitSeconds, maxChunksPerRun and pollTimeoutSeconds give an execution timeout of {total} s; "
                f"Step Functions allows at most {MAX_EXECUTION_SECONDS} s (one year)"
            )

    def execution_budget(self) -> ExecutionBudget:
        """TimeoutSeconds = turn wait + dataset creation + maxChunksPerRun x per-chunk budget + report.

        Per chunk: ApplyChunk (three attempts), the poll timeout, RecordChunk (three attempts). The dataset:
        ResolveDataset (three attempts) and, for a new dataset, the poll timeout. Turn: turnWaitSeconds and
        the TakeTurn call that grants it. Report: ReportRun, three attempts.
        """
        poll = self.poll_timeout_seconds
        return ExecutionBudget(
            turn_wait=self.turn_wait_seconds + TAKE_TURN.timeout_seconds,
            dataset=TASK_ATTEMPTS * RESOLVE.timeout_seconds + poll,
            per_chunk=TASK_ATTEMPTS * (APPLY.timeout_seconds + RECORD_CHUNK.timeout_seconds) + poll,
            chunks=self.max_chunks_per_run,
            report=TASK_ATTEMPTS * REPORT.timeout_seconds,
            rebuild=4 * poll + TASK_ATTEMPTS * REPLACE_DATASET.timeout_seconds,
        )

    def projects_json(self) -> str:
        """The ALLOWED_PROJECTS value, in the shape labelsync.settings.parse_projects reads."""
        return json.dumps(
            {
                name: {
                    "datasetTypes": sorted(policy.dataset_types),
                    "createMissingDatasets": policy.create_missing_datasets,
                    "replace": policy.replace,
                }
                for name, policy in sorted(self.projects.items())
            },
            separators=(",", ":"),
        )

    def labeling_jobs_json(self) -> str:
        """The LABELING_JOBS value (labelsync.labeling_job_routes.parse_labeling_jobs reads it)."""
        return routes_json(self.labeling_jobs)


def _labeling_jobs(value: Any, projects: Mapping[str, ProjectPolicy]) -> tuple[JobRoute, ...]:
    try:
        return parse_labeling_jobs(_json_value(LABELING_JOBS_KEY, value), projects)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc


def _projects(value: Any) -> dict[str, ProjectPolicy]:
    if isinstance(value, str):
        text = value
    elif isinstance(value, Mapping):
        text = json.dumps(value)
    else:
        raise ConfigError(f"projects must be an object or its JSON text, got {type(value).__name__}")
    try:
        projects = parse_projects(text, setting="projects")
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    for name, policy in projects.items():
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


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _log_retention(value: Any) -> int:
    days = _int("logRetentionDays", value, 1)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(f"logRetentionDays must be one of CloudWatch Logs' periods {LOG_RETENTION_DAYS}, got {days}")
    return days


def _kms_key(value: Any) -> str:
    if value in ("none", "create") or (isinstance(value, str) and KMS_KEY_ARN.match(value)):
        return str(value)
    raise ConfigError(
        "kmsKey must be 'none', 'create' or a KMS key ARN "
        f"(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID, the key id a UUID or mrk-<32 hex>), got {value!r}"
    )


def _json_value(key: str, value: Any) -> Any:
    """`-c key=...` delivers text: accept JSON text wherever an object or list is expected."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key} is not valid JSON: {exc}") from exc


def _subscriptions(value: Any) -> tuple[Subscription, ...]:
    items = _json_value("subscriptions", value)
    if not isinstance(items, list):
        raise ConfigError(f"subscriptions must be a list of objects, got {type(items).__name__}")
    result = []
    seen = set()
    for index, item in enumerate(items):
        where = f"subscriptions[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be an object, got {item!r}")
        unknown = set(item) - {"topic", "protocol", "endpoint", "filterPolicy"}
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
        topic, protocol, endpoint = item.get("topic"), item.get("protocol"), item.get("endpoint")
        if topic not in TOPICS:
            raise ConfigError(f"{where}.topic must be one of {TOPICS}, got {topic!r}")
        if protocol not in PROTOCOLS:
            raise ConfigError(f"{where}.protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if not isinstance(endpoint, str) or not _endpoint_ok(protocol, endpoint):
            expected = {"email": "an email address", "https": "an https:// URL", "sqs": "a standard SQS queue ARN"}
            raise ConfigError(
                f"{where}.endpoint must be {expected[protocol]} for protocol {protocol}, got {endpoint!r}"
            )
        policy = _filter_policy(f"{where}.filterPolicy", topic, item.get("filterPolicy"))
        if (topic, protocol, endpoint) in seen:
            raise ConfigError(f"{where} repeats the subscription {topic}/{protocol}/{endpoint}")
        seen.add((topic, protocol, endpoint))
        result.append(Subscription(topic=topic, protocol=protocol, endpoint=endpoint, filter_policy=policy))
    return tuple(result)


def _endpoint_ok(protocol: str, endpoint: str) -> bool:
    if protocol == "email":
        return bool(EMAIL.match(endpoint))
    if protocol == "https":
        return endpoint.startswith("https://") and len(endpoint) > len("https://")
    return bool(SQS_QUEUE_ARN.match(endpoint))  # FIFO queues cannot subscribe to a standard topic


def _filter_policy(where: str, topic: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if topic != "report":
        raise ConfigError(f"{where}: alarm notifications carry no message attributes; filter on the report topic only")
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{where} must be a non-empty object of attribute -> list of values, got {value!r}")
    for name, rule in value.items():
        if name not in REPORT_ATTRIBUTES:
            raise ConfigError(f"{where}: {name!r} is not a report message attribute {REPORT_ATTRIBUTES}")
        if not isinstance(rule, list) or not rule:
            raise ConfigError(f"{where}.{name} must be a non-empty list, got {rule!r}")
    return dict(value)
