"""Local Amazon Rekognition Custom Labels dataset service, as an extension of moto.

moto 5.2.5 has no Custom Labels project/dataset operations. `install()` adds them to
moto's Rekognition responses, so boto3 reaches them under `mock_aws()`, through
`ThreadedMotoServer` and from the Step Functions engine's `aws-sdk` tasks; state lives
in a moto `BackendDict` and is emptied by moto's resets.
"""

from __future__ import annotations

import threading

from offline.custom_labels.backend import (
    CallRecord,
    CustomLabelsBackend,
    ServiceTiming,
    configure,
    custom_labels_backends,
    get_backend,
)
from offline.custom_labels.faults import FaultInjector

__all__ = [
    "CallRecord",
    "CustomLabelsBackend",
    "FaultInjector",
    "ServiceTiming",
    "configure",
    "custom_labels_backends",
    "get_backend",
    "install",
]

_install_lock = threading.Lock()


def install() -> None:
    """Add the operations to `moto.rekognition.responses.RekognitionResponse` (idempotent)."""
    from moto.rekognition.responses import RekognitionResponse

    from offline.custom_labels.responses import OPERATIONS, json_call_action, response_method

    with _install_lock:
        for method_name, (operation, handler) in OPERATIONS.items():
            current = getattr(RekognitionResponse, method_name, None)
            if getattr(current, "__module__", None) != response_method.__module__:
                setattr(RekognitionResponse, method_name, response_method(method_name, operation, handler))
        if getattr(RekognitionResponse.call_action, "__module__", None) != json_call_action.__module__:
            RekognitionResponse.call_action = json_call_action(RekognitionResponse.call_action)  # type: ignore[method-assign,assignment]
