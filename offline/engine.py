"""moto's Step Functions executor, made faithful where it differs from AWS in ways we rely on.

- AWS names aws-sdk task errors `Rekognition.X`; moto would say `rekognition.X`, so a
  Retry on `Rekognition.ThrottlingException` would never fire.
- Wait states, Retry intervals and botocore's retry backoff sleep in simulated time
  (the shared clock), so a 30-minute poll schedule runs in seconds, keeping its shape.
- S3 events carry `versionId` and `sequencer`, as AWS sends them.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from offline.clock import Clock

_installed: dict[str, Any] = {}
_clock_holder: dict[str, Clock] = {}


def set_clock(clock: Clock) -> None:
    _clock_holder["clock"] = clock


def install(clock: Clock) -> None:
    set_clock(clock)
    if _installed:
        return
    # moto logs every Fail state as an ERROR with the whole parsed program; the
    # execution's status and history already say it.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    _fix_sdk_error_names()
    _scale_waits_and_retries()
    _complete_s3_events()
    _installed["done"] = True


def _fix_sdk_error_names() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    aws_sdk._SERVICE_ERROR_NAMES["rekognition"] = "Rekognition"


def _scale_waits_and_retries() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(_clock_holder["clock"].to_real(wait_seconds))

    wait_function.WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]

    class _ScaledTime:
        """Stands in for the `time` module inside the retrier: only sleep is scaled."""

        def __getattr__(self, name: str) -> Any:
            import time

            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            _clock_holder["clock"].sleep(seconds)

    retrier_decl.time = _ScaledTime()  # type: ignore[assignment]
    # botocore's own retry backoff (inside the handlers) sleeps in the same simulated time.
    import botocore.endpoint

    botocore.endpoint.time = _ScaledTime()


def _complete_s3_events() -> None:
    from moto.s3 import notifications

    original = notifications._get_s3_event
    counter = itertools.count(1)
    lock = threading.Lock()

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event: dict[str, Any] = original(event_name, bucket, key, notification_id)
        with lock:
            sequencer = f"{next(counter):016X}"
        obj = event["Records"][0]["s3"]["object"]
        obj["sequencer"] = sequencer
        if getattr(bucket, "is_versioned", False):
            obj["versionId"] = key.version_id
        return event

    notifications._get_s3_event = get_s3_event
