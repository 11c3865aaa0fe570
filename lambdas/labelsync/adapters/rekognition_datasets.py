"""Datasets over the Rekognition Custom Labels API, with service errors mapped to pipeline errors.

botocore's standard retry mode already retries throttling and 5xx a few times; what is
left after that is raised under a name the state machine's Retry understands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from labelsync.domain.errors import (
    ChunkRejectedError,
    ChunkTooLargeError,
    DatasetBusyError,
    DatasetCreateRefusedError,
    ProjectNotFoundError,
    ServiceThrottledError,
    ServiceUnavailableError,
)
from labelsync.domain.poll_schedule import epoch_seconds
from labelsync.ports import DatasetInfo, DatasetState, EntryPage

BUSY = {"ResourceInUseException", "ResourceNotReadyException"}
THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}
UNAVAILABLE = {"InternalServerError", "ServiceUnavailableException"}
REFUSED = {"ValidationException", "InvalidParameterException"}
# CreateDataset from a manifest: refusals that made no dataset (the object unreadable, no permission).
CREATE_REFUSED = REFUSED | {"InvalidS3ObjectException", "AccessDeniedException"}
# The GroundTruth blob's length constraint, as a ValidationException names it; no other refusal matches.
_SIZE_REFUSAL = re.compile(r"groundTruth.{0,80}?\blength\b", re.IGNORECASE | re.DOTALL)


def is_size_refusal(code: str, message: str) -> bool:
    return code == "ValidationException" and _SIZE_REFUSAL.search(message) is not None


def _translate(exc: ClientError, operation: str) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{operation}: {code}: {message}"
    if code in BUSY:
        return DatasetBusyError(text)
    if code in THROTTLED:
        return ServiceThrottledError(text)
    if code in UNAVAILABLE or status >= 500:
        return ServiceUnavailableError(text)
    return exc


class RekognitionDatasets:
    def __init__(self, rekognition: Any) -> None:
        self._rek = rekognition

    def find(self, project: str, dataset_type: str) -> tuple[str, DatasetInfo | None]:
        try:
            response = self._rek.describe_projects(ProjectNames=[project])
        except ClientError as exc:
            raise _translate(exc, "DescribeProjects") from exc
        projects = response.get("ProjectDescriptions", [])
        if not projects:
            raise ProjectNotFoundError(f"project {project!r} does not exist in this account and region")
        description = projects[0]
        for dataset in description.get("Datasets", []):
            if dataset.get("DatasetType") == dataset_type:
                info = DatasetInfo(dataset["DatasetArn"], dataset.get("Status", ""), description["ProjectArn"])
                return description["ProjectArn"], info
        return description["ProjectArn"], None

    def create(self, project_arn: str, dataset_type: str) -> str:
        try:
            return str(self._rek.create_dataset(ProjectArn=project_arn, DatasetType=dataset_type)["DatasetArn"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceAlreadyExistsException":
                # Another run created it a moment ago: use that one.
                return self._existing(project_arn, dataset_type, exc)
            raise _translate(exc, "CreateDataset") from exc

    def create_from_manifest(
        self, project_arn: str, dataset_type: str, bucket: str, key: str, version: str | None
    ) -> str:
        s3_object = {"Bucket": bucket, "Name": key, **({"Version": version} if version else {})}
        try:
            response = self._rek.create_dataset(
                ProjectArn=project_arn,
                DatasetType=dataset_type,
                DatasetSource={"GroundTruthManifest": {"S3Object": s3_object}},
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ResourceAlreadyExistsException":
                return self._existing(project_arn, dataset_type, exc)
            translated = _translate(exc, "CreateDataset")
            if translated is exc and error.get("Code") in CREATE_REFUSED:
                raise DatasetCreateRefusedError(f"CreateDataset: {error.get('Code')}: {error.get('Message')}") from exc
            raise translated from exc
        return str(response["DatasetArn"])

    def delete(self, dataset_arn: str) -> None:
        try:
            self._rek.delete_dataset(DatasetArn=dataset_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise _translate(exc, "DeleteDataset") from exc

    def describe_if_exists(self, dataset_arn: str) -> DatasetState | None:
        try:
            return self.describe(dataset_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def _existing(self, project_arn: str, dataset_type: str, cause: ClientError) -> str:
        project = project_arn.split("/")[1]
        _, info = self.find(project, dataset_type)
        if info is None:
            raise cause
        return info.arn

    def status(self, dataset_arn: str) -> str:
        try:
            return str(self._rek.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]["Status"])
        except ClientError as exc:
            raise _translate(exc, "DescribeDataset") from exc

    def describe(self, dataset_arn: str) -> DatasetState:
        try:
            description = self._rek.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        except ClientError as exc:
            raise _translate(exc, "DescribeDataset") from exc
        return DatasetState(
            status=str(description["Status"]),
            last_updated=epoch_seconds(description.get("LastUpdatedTimestamp")),
            total_entries=int((description.get("DatasetStats") or {}).get("TotalEntries", 0)),
            status_message=str(description.get("StatusMessage") or ""),
        )

    def update_entries(self, dataset_arn: str, changes: bytes) -> None:
        try:
            self._rek.update_dataset_entries(DatasetArn=dataset_arn, Changes={"GroundTruth": changes})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            translated = _translate(exc, "UpdateDatasetEntries")
            if translated is exc and error.get("Code") in REFUSED:
                message = f"UpdateDatasetEntries: {error.get('Code')}: {error.get('Message')}"
                if is_size_refusal(str(error.get("Code", "")), str(error.get("Message", ""))):
                    raise ChunkTooLargeError(message) from exc
                raise ChunkRejectedError(message) from exc
            raise translated from exc

    def entry_page(
        self, dataset_arn: str, *, has_errors: bool, token: str | None, source_ref_contains: str | None = None
    ) -> EntryPage:
        kwargs: dict[str, Any] = {"DatasetArn": dataset_arn, "MaxResults": 100}  # the API's maximum
        if has_errors:
            kwargs["HasErrors"] = True
        if source_ref_contains:
            kwargs["SourceRefContains"] = source_ref_contains
        if token:
            kwargs["NextToken"] = token
        try:
            page = self._rek.list_dataset_entries(**kwargs)
        except ClientError as exc:
            raise _translate(exc, "ListDatasetEntries") from exc
        return EntryPage([str(entry) for entry in page.get("DatasetEntries", [])], page.get("NextToken") or None)

    def label_names(self, dataset_arn: str) -> Iterator[str]:
        paginator = self._rek.get_paginator("list_dataset_labels")
        try:
            for page in paginator.paginate(DatasetArn=dataset_arn, PaginationConfig={"PageSize": 100}):
                for label in page.get("DatasetLabelDescriptions", []):
                    yield str(label["LabelName"])
        except ClientError as exc:
            raise _translate(exc, "ListDatasetLabels") from exc
