"""LabelingJobs over SageMaker's DescribeLabelingJob."""

from __future__ import annotations

from typing import Any

from labelsync.ports import LabelingJob


class SageMakerLabelingJobs:
    def __init__(self, sagemaker: Any) -> None:
        self._sagemaker = sagemaker

    def describe(self, name: str) -> LabelingJob:
        job = self._sagemaker.describe_labeling_job(LabelingJobName=name)
        return LabelingJob(
            name=str(job["LabelingJobName"]),
            arn=str(job["LabelingJobArn"]),
            status=str(job["LabelingJobStatus"]),
            output_manifest=job.get("LabelingJobOutput", {}).get("OutputDatasetS3Uri"),
            tags={str(tag["Key"]): str(tag["Value"]) for tag in job.get("Tags", [])},
            failure_reason=job.get("FailureReason"),
        )
