"""The pipeline's functions and their environment, in plain Python (no CDK import).

The CDK stack (infra/constructs/functions.py) and the offline stack (offline/stack.py)
both build their functions from these specs, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelsync.settings import (
    ENV_BUCKET,
    ENV_CHUNK_LIMIT,
    ENV_CLAIMS_TABLE,
    ENV_DELTA_SYNC,
    ENV_INCOMING_PREFIX,
    ENV_LABELING_JOBS,
    ENV_LEDGER_TABLE,
    ENV_POLL_INITIAL,
    ENV_POLL_MAX,
    ENV_POLL_TIMEOUT,
    ENV_PROJECTS,
    ENV_REFUSE_UNUSABLE,
    ENV_REPLACE_MAX_REMOVED_PERCENT,
    ENV_REPORT_MAX_ERRORS,
    ENV_STATE_MACHINE_ARN,
    ENV_TOPIC_ARN,
    ENV_WARNINGS_AS_REJECTIONS,
    ENV_WORK_PREFIX,
)

COMMON_ENV = {
    "POWERTOOLS_SERVICE_NAME": "labelsync",
    "POWERTOOLS_METRICS_NAMESPACE": "LabelSync",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


DEFAULT_TMP_MB = 512


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # CDK construct id; the offline stack names the function labelsync-<name>
    handler: str
    memory_mb: int
    timeout_seconds: int
    env_keys: tuple[str, ...]
    tmp_mb: int = DEFAULT_TMP_MB  # /tmp: Lambda's EphemeralStorage (DEFAULT_TMP_MB is its default and least)


@dataclass(frozen=True)
class EnvValues:
    """Deployment values; in CDK some are tokens (bucket name, ARNs), offline they are literal."""

    bucket: str
    topic_arn: str
    projects_json: str
    chunk_limit_bytes: int
    incoming_prefix: str
    work_prefix: str
    poll_initial_seconds: int
    poll_max_seconds: int
    poll_timeout_seconds: int
    report_max_errors: int
    warnings_as_rejections: bool = False
    refuse_unusable: bool = False
    state_machine_arn: str = ""
    ledger_table: str = ""
    delta_sync: bool = True
    replace_max_removed_percent: int = 20
    labeling_jobs_json: str = "[]"  # labelsync/labeling_job_routes.py routes_json
    claims_table: str = ""

    def by_key(self) -> dict[str, str]:
        return {
            ENV_BUCKET: self.bucket,
            ENV_TOPIC_ARN: self.topic_arn,
            ENV_PROJECTS: self.projects_json,
            ENV_CHUNK_LIMIT: str(self.chunk_limit_bytes),
            ENV_INCOMING_PREFIX: self.incoming_prefix,
            ENV_WORK_PREFIX: self.work_prefix,
            ENV_POLL_INITIAL: str(self.poll_initial_seconds),
            ENV_POLL_MAX: str(self.poll_max_seconds),
            ENV_POLL_TIMEOUT: str(self.poll_timeout_seconds),
            ENV_REPORT_MAX_ERRORS: str(self.report_max_errors),
            ENV_WARNINGS_AS_REJECTIONS: "true" if self.warnings_as_rejections else "false",
            ENV_REFUSE_UNUSABLE: "true" if self.refuse_unusable else "false",
            ENV_STATE_MACHINE_ARN: self.state_machine_arn,
            ENV_LEDGER_TABLE: self.ledger_table,
            ENV_DELTA_SYNC: "true" if self.delta_sync else "false",
            ENV_REPLACE_MAX_REMOVED_PERCENT: str(self.replace_max_removed_percent),
            ENV_LABELING_JOBS: self.labeling_jobs_json,
            ENV_CLAIMS_TABLE: self.claims_table,
        }


TAKE_TURN = FunctionSpec(
    "TakeTurn", "labelsync.handlers.take_turn.handler", 512, 900, (ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE)
)
RESOLVE = FunctionSpec("ResolveDataset", "labelsync.handlers.resolve_dataset.handler", 256, 60, (ENV_PROJECTS,))
APPLY = FunctionSpec(
    "ApplyChunk",
    "labelsync.handlers.apply_chunk.handler",
    512,
    300,
    (ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE, ENV_POLL_INITIAL, ENV_POLL_MAX, ENV_POLL_TIMEOUT),
)
RECORD_CHUNK = FunctionSpec(
    "RecordChunk", "labelsync.handlers.record_chunk.handler", 256, 60, (ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE)
)
REPORT = FunctionSpec(  # 900 s: each step of the dataset listing stops at 500 pages or half its time
    "ReportRun",
    "labelsync.handlers.report_run.handler",
    512,
    900,
    (ENV_BUCKET, ENV_TOPIC_ARN, ENV_WORK_PREFIX, ENV_REPORT_MAX_ERRORS, ENV_LEDGER_TABLE),
)
PLAN = FunctionSpec(
    "PlanManifest",
    "labelsync.handlers.plan_manifest.handler",
    1024,
    900,
    (
        ENV_BUCKET,
        ENV_STATE_MACHINE_ARN,
        ENV_PROJECTS,
        ENV_CHUNK_LIMIT,
        ENV_INCOMING_PREFIX,
        ENV_WORK_PREFIX,
        ENV_POLL_INITIAL,
        ENV_POLL_MAX,
        ENV_POLL_TIMEOUT,
        ENV_WARNINGS_AS_REJECTIONS,
        ENV_REFUSE_UNUSABLE,
        ENV_LEDGER_TABLE,
    ),
    # The side files (rejected, superseded, warned lines) spill to /tmp past 8 MB while the manifest is read:
    # a 1 GB manifest whose lines are all rejected makes a rejects file about its size. 512 MB would fill.
    tmp_mb=3072,
)
# Only when labelingJobs is set: EventBridge sends it each completed Ground Truth job it may sync.
SYNC_LABELING_JOB = FunctionSpec(
    "SyncLabelingJob",
    "labelsync.handlers.sync_labeling_job.handler",
    256,
    60,
    (ENV_BUCKET, ENV_INCOMING_PREFIX, ENV_LABELING_JOBS, ENV_CLAIMS_TABLE),
)
# 1024 MB: the dataset's index (about 40 MB of digests at 250,000 entries) and one chunk at a time.
SKIP_UNCHANGED = FunctionSpec(
    "SkipUnchanged",
    "labelsync.handlers.skip_unchanged.handler",
    1024,
    900,
    (ENV_BUCKET, ENV_WORK_PREFIX, ENV_DELTA_SYNC, ENV_CHUNK_LIMIT, ENV_REPLACE_MAX_REMOVED_PERCENT),
)
# Replace mode's rebuild: the joins stream (a few 8 MB parts in memory); each step is a few calls.
REPLACE_DATASET = FunctionSpec(
    "ReplaceDataset",
    "labelsync.handlers.replace_dataset.handler",
    512,
    900,
    (ENV_BUCKET, ENV_WORK_PREFIX),
)
TASK_FUNCTIONS = (TAKE_TURN, RESOLVE, SKIP_UNCHANGED, APPLY, RECORD_CHUNK, REPLACE_DATASET, REPORT)
# An EventBridge rule sends the report function every execution that ends in one of these: it alerts
# for runs that could not report themselves (stopped, timed out, or the report step failing).
EXECUTION_END_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def environment(spec: FunctionSpec, values: EnvValues, *, log_level: str = "INFO") -> dict[str, str]:
    """The function's full environment: Powertools settings plus the pipeline keys it reads."""
    by_key = values.by_key()
    missing = [key for key in spec.env_keys if not by_key[key]]
    if missing:
        raise ValueError(f"{spec.name}: no value for {', '.join(missing)}")
    return {**COMMON_ENV, "POWERTOOLS_LOG_LEVEL": log_level, **{key: by_key[key] for key in spec.env_keys}}
