"""Request checks the real service makes before anything else, read from botocore's service model.

Clients may skip validation (the Step Functions engine disables botocore's), so the server
checks every member of the operation's input shape: required members, JSON types, enums,
length and value ranges (min/max) and patterns. A member of the wrong JSON type is a
SerializationException, as AWS's JSON protocol answers; every other violation is a
ValidationException in AWS's "N validation errors detected: Value ... at 'member' failed
to satisfy constraint: ..." form. Patterns are matched against the whole value (Java's
`matches`), using `regex` for the `\\p{L}` classes of the tag patterns.

Blob lengths are not checked here: the service checks GroundTruth against its size limit,
which is a fault-injection setting.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Callable
from functools import cache
from typing import Any, NoReturn

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from offline.custom_labels.errors import CustomLabelsError, validation

Matcher = Callable[[str], bool]


@cache
def service_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model("rekognition")


def operation_model(operation: str) -> OperationModel:
    return service_model().operation_model(operation)


@cache
def _matcher(pattern: str) -> Matcher:
    try:
        engine: Any = importlib.import_module("regex")
        compiled = engine.compile(pattern, engine.DOTALL)
    except ImportError:  # `regex` ships with the dev environment; approximate \p{..} without it
        simplified = pattern.replace(r"\p{L}", r"\w").replace(r"\p{Z}", r"\s").replace(r"\p{N}", r"\d")
        compiled = re.compile(simplified, re.DOTALL)
    return lambda value: compiled.fullmatch(value) is not None


def _member(path: str) -> str:
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def _shown(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, value: Any, constraint: str) -> None:
        self.problems.append(
            f"Value {_shown(value)} at '{_member(path)}' failed to satisfy constraint: Member {constraint}"
        )

    def check(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            self.structure(shape, value, path)
        elif kind == "list":
            self.list(shape, value, path)
        elif kind == "map":
            self.map(shape, value, path)
        elif kind == "string":
            self.string(shape, value, path)
        elif kind in ("integer", "long"):
            self.integer(shape, value, path)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                _wrong_type(path, "a number")
        elif kind == "boolean":
            if not isinstance(value, bool):
                _wrong_type(path, "a boolean")
        elif kind == "blob":
            if not isinstance(value, str):
                _wrong_type(path, "a base64 string")
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise CustomLabelsError("SerializationException", f"'{_member(path)}' is not valid base64.") from None
        elif kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, int | float | str)):
            _wrong_type(path, "a timestamp")

    def structure(self, shape: StructureShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _wrong_type(path, "an object")
        for name, member in shape.members.items():
            where = f"{path}.{name}" if path else name
            if value.get(name) is None:
                if name in shape.required_members:
                    self.fail(where, None, "must not be null")
                continue
            self.check(member, value[name], where)

    def list(self, shape: ListShape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            _wrong_type(path, "a list")
        self.size(shape, value, path, len(value))
        before = len(self.problems)
        for item in value:
            if item is None:
                self.fail(path, value, "must not contain null")
            else:
                self.check(shape.member, item, f"{path}.member")
            if len(self.problems) > before:  # one problem per list, as AWS reports
                del self.problems[before + 1 :]
                break

    def map(self, shape: MapShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _wrong_type(path, "an object")
        self.size(shape, value, path, len(value))
        for key, item in value.items():
            self.check(shape.key, key, f"{path}.key")
            if item is None:
                self.fail(f"{path}.value", None, "must not be null")
            else:
                self.check(shape.value, item, f"{path}.value")

    def string(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            _wrong_type(path, "a string")
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            self.fail(path, value, f"must satisfy enum value set: [{', '.join(enum)}]")
            return
        if not self.size(shape, value, path, len(value)):
            return
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _matcher(pattern)(value):
            self.fail(path, value, f"must satisfy regular expression pattern: {pattern}")

    def integer(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _wrong_type(path, "an integer")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(path, value, f"must have value greater than or equal to {low}")
        elif high is not None and value > high:
            self.fail(path, value, f"must have value less than or equal to {high}")

    def size(self, shape: Shape, value: Any, path: str, size: int) -> bool:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self.fail(path, value, f"must have length greater than or equal to {low}")
            return False
        if high is not None and size > high:
            self.fail(path, value, f"must have length less than or equal to {high}")
            return False
        return True


def _wrong_type(path: str, expected: str) -> NoReturn:
    raise CustomLabelsError("SerializationException", f"Expected {expected} at '{_member(path)}'.")


def validate_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check `params` against the operation's input shape; return them, or raise as AWS would."""
    checker = _Checker()
    checker.structure(operation_model(operation).input_shape, params, "")
    if checker.problems:
        count = len(checker.problems)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(checker.problems))
    return params
