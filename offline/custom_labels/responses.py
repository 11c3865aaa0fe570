"""JSON protocol glue: request body in, backend call, JSON text out.

Each operation becomes a snake_case method of moto's `RekognitionResponse`, which moto
dispatches by the `X-Amz-Target` header in-process (`mock_aws`), in server mode and for
the Step Functions engine's `aws-sdk:rekognition:*` tasks alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from offline.custom_labels.backend import CustomLabelsBackend, EntryFilter, get_backend
from offline.custom_labels.errors import CustomLabelsError, validation
from offline.custom_labels.validation import ANY, DATASET_ARN, NON_BLANK, PROJECT_ARN, PROJECT_NAME, Request

Handler = Callable[[CustomLabelsBackend, Request], dict[str, Any]]
DATASET_TYPES = ("TRAIN", "TEST")


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**body, "NextToken": token} if token is not None else body


def create_project(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    name = r.text("ProjectName", pattern=PROJECT_NAME, min_len=1, max_len=255)
    r.done()
    return {"ProjectArn": backend.create_project(name)}


def describe_projects(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    names = r.strings("ProjectNames", min_items=1, max_items=10, pattern=PROJECT_NAME, max_len=255)
    max_results = r.integer("MaxResults", 1, 100, default=100)
    token = r.optional_text("NextToken", max_len=1024)
    r.done()
    projects, next_token = backend.describe_projects(names, max_results, token)
    return _with_token({"ProjectDescriptions": projects}, next_token)


def delete_project(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = r.text("ProjectArn", pattern=PROJECT_ARN, min_len=20, max_len=2048)
    r.done()
    return {"Status": backend.delete_project(arn)}


def create_dataset(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    project_arn = r.text("ProjectArn", pattern=PROJECT_ARN, min_len=20, max_len=2048)
    dataset_type = r.enum("DatasetType", DATASET_TYPES)
    r.optional_text("DatasetSource.DatasetArn", pattern=DATASET_ARN, min_len=20, max_len=2048)
    source = r.value("DatasetSource")
    if source is not None and not isinstance(source, dict):
        raise validation("DatasetSource must be an object.")
    if r.value("DatasetSource.GroundTruthManifest") is not None:
        r.text("DatasetSource.GroundTruthManifest.S3Object.Bucket", min_len=3, max_len=255)
        r.text("DatasetSource.GroundTruthManifest.S3Object.Name", min_len=1, max_len=1024)
    r.done()
    return {"DatasetArn": backend.create_dataset(project_arn, dataset_type, source)}


def _dataset_arn(r: Request) -> str:
    return r.text("DatasetArn", pattern=DATASET_ARN, min_len=20, max_len=2048)


def describe_dataset(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = _dataset_arn(r)
    r.done()
    return {"DatasetDescription": backend.describe_dataset(arn)}


def update_dataset_entries(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = _dataset_arn(r)
    encoded = r.text("Changes.GroundTruth")
    r.done()
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise validation("Changes.GroundTruth is not valid base64.") from None
    backend.update_dataset_entries(arn, blob)
    return {}


def list_dataset_entries(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = _dataset_arn(r)
    labels = r.strings("ContainsLabels", min_items=1, max_items=10, pattern=ANY, max_len=255)
    entry_filter = EntryFilter(
        contains_labels=None if labels is None else frozenset(labels),
        labeled=r.boolean("Labeled"),
        source_ref_contains=r.optional_text("SourceRefContains", pattern=NON_BLANK, min_len=1, max_len=2048),
        has_errors=r.boolean("HasErrors"),
    )
    max_results = r.integer("MaxResults", 1, 100, default=100)
    token = r.optional_text("NextToken", max_len=1024)
    r.done()
    entries, next_token = backend.list_dataset_entries(arn, entry_filter, max_results, token)
    return _with_token({"DatasetEntries": entries}, next_token)


def list_dataset_labels(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = _dataset_arn(r)
    max_results = r.integer("MaxResults", 1, 100, default=100)
    token = r.optional_text("NextToken", max_len=1024)
    r.done()
    labels, next_token = backend.list_dataset_labels(arn, max_results, token)
    return _with_token({"DatasetLabelDescriptions": labels}, next_token)


def delete_dataset(backend: CustomLabelsBackend, r: Request) -> dict[str, Any]:
    arn = _dataset_arn(r)
    r.done()
    backend.delete_dataset(arn)
    return {}


OPERATIONS: dict[str, tuple[str, Handler]] = {
    "create_project": ("CreateProject", create_project),
    "describe_projects": ("DescribeProjects", describe_projects),
    "delete_project": ("DeleteProject", delete_project),
    "create_dataset": ("CreateDataset", create_dataset),
    "describe_dataset": ("DescribeDataset", describe_dataset),
    "update_dataset_entries": ("UpdateDatasetEntries", update_dataset_entries),
    "list_dataset_entries": ("ListDatasetEntries", list_dataset_entries),
    "list_dataset_labels": ("ListDatasetLabels", list_dataset_labels),
    "delete_dataset": ("DeleteDataset", delete_dataset),
}


def _params(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return {}
    try:
        params = json.loads(body)
    except ValueError:
        params = None
    if not isinstance(params, dict):
        raise CustomLabelsError("SerializationException", "The request body is not a JSON object.")
    return params


def response_method(method_name: str, operation: str, handler: Handler) -> Callable[[Any], str]:
    """A `RekognitionResponse` method: record the call, inject faults, validate, run."""

    def method(self: Any) -> str:
        params = _params(self.body)
        backend = get_backend(self.current_account, self.region)
        arn = params.get("DatasetArn") or params.get("ProjectArn")
        backend.enter(operation, arn if isinstance(arn, str) else None)
        return json.dumps(handler(backend, Request(params)))

    method.__name__ = method_name
    method.__qualname__ = f"RekognitionResponse.{method_name}"
    method.__doc__ = f"Rekognition {operation} (offline Custom Labels service)."
    return method
