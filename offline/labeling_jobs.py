"""Local SageMaker Ground Truth labeling jobs: DescribeLabelingJob, and the completion event SageMaker sends.

moto 5.2.5 has no labeling jobs. `install()` adds DescribeLabelingJob to moto's SageMaker responses (JSON
1.1, `X-Amz-Target: SageMaker.DescribeLabelingJob`), answering as the API reference documents, so the
sync function's boto3 client reaches it in-process and over HTTP alike. `complete()` plays Ground
Truth's part for tests and the demo: writes the job's output manifest where Ground Truth writes it
(`<S3OutputPath>/<job name>/manifests/output/output.manifest`), records the job as Completed and puts
"SageMaker Ground Truth Labeling Job State Change" on the default bus, in the documented shape.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError

from labelsync.labeling_job_routes import COMPLETED, JOB_NAME, JOB_STATE_CHANGE, SAGEMAKER_SOURCE

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class ResourceNotFound(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFound", message)


@dataclass
class LabelingJobRecord:
    name: str
    arn: str
    label_attribute_name: str
    output_path: str  # S3OutputPath, ending with "/"
    status: str = COMPLETED
    tags: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    task_type: str = "image-classification"

    @property
    def output_manifest(self) -> str:
        return f"{self.output_path}{self.name}/manifests/output/output.manifest"

    def describe(self) -> dict[str, Any]:
        """DescribeLabelingJob's answer (the members a Ground Truth job always has, and its output)."""
        body: dict[str, Any] = {
            "LabelingJobStatus": self.status,
            "LabelCounters": {
                "TotalLabeled": 0,
                "HumanLabeled": 0,
                "MachineLabeled": 0,
                "FailedNonRetryableError": 0,
                "Unlabeled": 0,
            },
            "CreationTime": self.created,
            "LastModifiedTime": self.created,
            "JobReferenceCode": f"offline-{self.name}",
            "LabelingJobName": self.name,
            "LabelingJobArn": self.arn,
            "LabelAttributeName": self.label_attribute_name,
            "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": f"{self.output_path}input.manifest"}}},
            "OutputConfig": {"S3OutputPath": self.output_path},
            "RoleArn": "arn:aws:iam::123456789012:role/offline-ground-truth",
            "HumanTaskConfig": {
                "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/offline",
                "UiConfig": {"UiTemplateS3Uri": f"{self.output_path}template.liquid"},
                "TaskTitle": "offline labeling",
                "TaskDescription": "offline labeling",
                "NumberOfHumanWorkersPerDataObject": 1,
                "TaskTimeLimitInSeconds": 300,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": (
                        f"arn:aws:lambda:us-east-1:432418664414:function:ACS-{self.task_type}"
                    )
                },
            },
            "Tags": [{"Key": key, "Value": value} for key, value in self.tags.items()],
        }
        if self.status == COMPLETED:
            body["LabelingJobOutput"] = {"OutputDatasetS3Uri": self.output_manifest}
        return body


class LabelingJobsBackend(BaseBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.jobs: dict[str, LabelingJobRecord] = {}

    def arn(self, name: str) -> str:
        # SageMaker's ARNs carry the resource name in lower case.
        return f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:labeling-job/{name.lower()}"

    def add(self, job: LabelingJobRecord) -> None:
        if not JOB_NAME.match(job.name):
            raise ValueError(f"{job.name!r} is not a labeling job name")
        if job.name.lower() in self.jobs:
            raise ValueError(f"a labeling job named {job.name!r} exists (names are never reused)")
        self.jobs[job.name.lower()] = job

    def describe(self, name: str) -> dict[str, Any]:
        job = self.jobs.get(str(name).lower())
        if job is None:
            raise ResourceNotFound(f"Could not find labeling job: {self.arn(str(name))}")
        return job.describe()


labeling_jobs_backends = BackendDict(LabelingJobsBackend, "sagemaker")
_install_lock = threading.Lock()


def get_backend(account_id: str, region: str) -> LabelingJobsBackend:
    return labeling_jobs_backends[account_id][region]


def _describe_labeling_job(self: Any) -> tuple[str, dict[str, Any]]:
    params = json.loads(self.body or "{}")
    name = params.get("LabelingJobName")
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise JsonRESTError("ValidationException", f"Value {name!r} at 'labelingJobName' failed to satisfy constraint")
    body = get_backend(self.current_account, self.region).describe(name)
    return json.dumps(body), {"status": 200, "Content-Type": JSON_CONTENT_TYPE}


def install() -> None:
    """Add DescribeLabelingJob to moto's SageMakerResponse (idempotent)."""
    from moto.sagemaker.responses import SageMakerResponse

    with _install_lock:
        if getattr(SageMakerResponse, "describe_labeling_job", None) is not _describe_labeling_job:
            SageMakerResponse.describe_labeling_job = _describe_labeling_job  # type: ignore[attr-defined]


def state_change_event(job: LabelingJobRecord) -> dict[str, Any]:
    """PutEvents' entry for the event SageMaker sends (detail: the status only; the job is in resources)."""
    return {
        "Source": SAGEMAKER_SOURCE,
        "DetailType": JOB_STATE_CHANGE,
        "Resources": [job.arn],
        "Detail": json.dumps({"LabelingJobStatus": job.status}),
    }
