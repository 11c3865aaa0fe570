"""A completed Ground Truth job becomes a manifest drop: its output manifest is copied (server-side) into
the dataset's folder, and the S3 event plans it like any other drop.

One path for every manifest: the copy is pinned as a version of our bucket (a later change to the job's
output does not change what the run read, and `resume` re-reads the same bytes), the plan function keeps
reading our bucket only, and duplicates, queueing and reports need nothing new. A job whose output
cannot be synced raises JobNotSyncable: the invocation fails, Lambda retries it, and the event with the
reason lands in the failed-events queue, whose alarm tells the operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelsync.labeling_job_routes import COMPLETED, SETTING, JobRoute, job_name_of, manifest_key, route_for
from labelsync.ports import LabelingJobs, ManifestCopies


class JobNotSyncable(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def sync_labeling_job(
    job_arn: str,
    *,
    routes: Sequence[JobRoute],
    jobs: LabelingJobs,
    copies: ManifestCopies,
    bucket: str,
    incoming_prefix: str,
) -> dict[str, Any]:
    job = jobs.describe(job_name_of(job_arn))
    route = route_for(job.name, job.tags, routes)
    if route is None:  # a tag route's rule sees every completed job in the account
        return {"outcome": "IGNORED", "job": job.name, "reason": f"no {SETTING} entry matches the job"}
    target = {"job": job.name, "project": route.project, "datasetType": route.dataset_type}
    if job.status != COMPLETED:
        # The event said Completed; DescribeLabelingJob disagrees (not yet consistent): a retry may see it.
        raise JobNotSyncable(
            "JOB_NOT_COMPLETED", f"labeling job {job.name!r} is {job.status}, not {COMPLETED}; nothing was copied"
        )
    if not job.output_manifest:
        raise JobNotSyncable("JOB_HAS_NO_OUTPUT_MANIFEST", f"labeling job {job.name!r} names no output manifest")
    if not route.holds(job.output_manifest):
        raise JobNotSyncable(
            "JOB_OUTPUT_OUTSIDE_PATH",
            f"labeling job {job.name!r} wrote {job.output_manifest}, outside {route.output_path} that the "
            f"{SETTING} entry for {route.selector} allows (and IAM grants): add or widen its outputPath",
        )
    key = manifest_key(incoming_prefix, route, job.name)
    manifest = f"s3://{bucket}/{key}"
    if copies.copied_job(bucket, key) == job.arn:
        # A repeated event (SageMaker may send several per state change) after the claim expired.
        return {**target, "outcome": "ALREADY_COPIED", "manifest": manifest, "source": job.output_manifest}
    version = copies.copy(job.output_manifest, bucket, key, job_arn=job.arn)
    return {**target, "outcome": "COPIED", "manifest": manifest, "versionId": version, "source": job.output_manifest}
