"""The service's error responses, as moto serialises them for the JSON protocol.

moto turns a raised `JsonRESTError` into `{"__type": code, "message": ...}` with the
exception's HTTP status, so botocore raises the matching modeled exception class.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError


class CustomLabelsError(JsonRESTError):
    """A client error (HTTP 400) named by its AWS error code."""

    code = 400

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(error_code, message)

    @property
    def error_code(self) -> str:
        return self.error_type


class ServerError(CustomLabelsError):
    """A server fault (HTTP 500): botocore treats it as retryable."""

    code = 500


def validation(message: str) -> CustomLabelsError:
    return CustomLabelsError("ValidationException", message)


def not_found(message: str) -> CustomLabelsError:
    return CustomLabelsError("ResourceNotFoundException", message)


def in_use(message: str) -> CustomLabelsError:
    return CustomLabelsError("ResourceInUseException", message)


def already_exists(message: str) -> CustomLabelsError:
    return CustomLabelsError("ResourceAlreadyExistsException", message)


def bad_token() -> CustomLabelsError:
    return CustomLabelsError("InvalidPaginationTokenException", "Invalid pagination token.")
