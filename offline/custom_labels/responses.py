"""JSON protocol glue: request body in, backend call, JSON text out.

Each operation becomes a snake_case method of moto's `RekognitionResponse`, which moto
dispatches by the `X-Amz-Target` header in-process (`mock_aws`), in server mode and for
the Step Functions engine's `aws-sdk:rekognition:*` tasks alike.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from moto.core.utils import camelcase_to_underscores, method_names_from_class

from offline.custom_labels.backend import CustomLabelsBackend, EntryFilter, get_backend
from offline.custom_labels.errors import CustomLabelsError
from offline.custom_labels.validation import validate_request

Params = dict[str, Any]
Response = tuple[str, dict[str, Any]]
Handler = Callable[[CustomLabelsBackend, Params], dict[str, Any]]


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**body, "NextToken": token} if token is not None else body


def create_project(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    arn = backend.create_project(p["ProjectName"], feature=p.get("Feature"), auto_update=p.get("AutoUpdate"))
    return {"ProjectArn": arn}


def describe_projects(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    projects, next_token = backend.describe_projects(
        p.get("ProjectNames"), p.get("MaxResults", 100), p.get("NextToken"), features=p.get("Features")
    )
    return _with_token({"ProjectDescriptions": projects}, next_token)


def delete_project(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    return {"Status": backend.delete_project(p["ProjectArn"])}


def create_dataset(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    return {"DatasetArn": backend.create_dataset(p["ProjectArn"], p["DatasetType"], p.get("DatasetSource"))}


def describe_dataset(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    return {"DatasetDescription": backend.describe_dataset(p["DatasetArn"])}


def update_dataset_entries(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    # validate_request has checked that the blob is base64
    backend.update_dataset_entries(p["DatasetArn"], base64.b64decode(p["Changes"]["GroundTruth"]))
    return {}


def list_dataset_entries(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    labels = p.get("ContainsLabels")
    entry_filter = EntryFilter(
        contains_labels=None if labels is None else frozenset(labels),
        labeled=p.get("Labeled"),
        source_ref_contains=p.get("SourceRefContains"),
        has_errors=p.get("HasErrors"),
    )
    entries, next_token = backend.list_dataset_entries(
        p["DatasetArn"], entry_filter, p.get("MaxResults", 100), p.get("NextToken")
    )
    return _with_token({"DatasetEntries": entries}, next_token)


def list_dataset_labels(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    labels, next_token = backend.list_dataset_labels(p["DatasetArn"], p.get("MaxResults", 100), p.get("NextToken"))
    return _with_token({"DatasetLabelDescriptions": labels}, next_token)


def delete_dataset(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    backend.delete_dataset(p["DatasetArn"])
    return {}


def distribute_dataset_entries(backend: CustomLabelsBackend, p: Params) -> dict[str, Any]:
    backend.distribute_dataset_entries([d["Arn"] for d in p["Datasets"]])
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
    "distribute_dataset_entries": ("DistributeDatasetEntries", distribute_dataset_entries),
}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"  # what AWS's JSON protocol answers with, errors included


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


def response_method(method_name: str, operation: str, handler: Handler) -> Callable[[Any], Response]:
    """A `RekognitionResponse` method: record the call, inject faults, validate, run."""

    def method(self: Any) -> Response:
        params = _params(self.body)
        backend = get_backend(self.current_account, self.region)
        arn = params.get("DatasetArn") or params.get("ProjectArn")
        if arn is None and isinstance(params.get("Datasets"), list) and params["Datasets"]:
            arn = params["Datasets"][0].get("Arn") if isinstance(params["Datasets"][0], dict) else None
        backend.enter(operation, arn if isinstance(arn, str) else None)
        body = json.dumps(handler(backend, validate_request(operation, params)))
        return body, {"status": 200, "Content-Type": JSON_CONTENT_TYPE}

    method.__name__ = method_name
    method.__qualname__ = f"RekognitionResponse.{method_name}"
    method.__doc__ = f"Rekognition {operation} (offline Custom Labels service)."
    return method


def json_call_action(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap `RekognitionResponse.call_action`: an operation nobody implements answers 400 with a JSON
    UnknownOperationException (as AWS does; moto answers 500 with an HTML page), and every answer,
    error or not, carries the JSON protocol's content type."""

    def call_action(self: Any) -> Any:
        action = self._get_action()
        name = camelcase_to_underscores(action) if action else ""
        if not name or name not in method_names_from_class(type(self)):
            body = json.dumps(
                {"__type": "UnknownOperationException", "message": f"Unknown operation {action or '(none)'}."}
            )
            return 400, {"Content-Type": JSON_CONTENT_TYPE, "X-Amzn-ErrorType": "UnknownOperationException"}, body
        status, headers, body = original(self)
        headers["Content-Type"] = JSON_CONTENT_TYPE
        headers.pop("content-type", None)
        return status, headers, body

    call_action.__wrapped__ = original  # type: ignore[attr-defined]
    call_action.__module__ = __name__
    return call_action
