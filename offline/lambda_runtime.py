"""Runs the real Lambda handlers in this process, where moto would start Docker containers.

Each invocation gets its function's environment (as on Lambda) and a Lambda context.
Invocations run one at a time (an RLock), which keeps os.environ consistent. S3
notifications are delivered asynchronously with Lambda's two retries, as on AWS, and
every invocation is recorded: moto swallows errors of S3-triggered functions.

Fault injection (all off by default): `crash_hooks` run before a handler (raise = the
invocation crashes before doing anything), `after_hooks` after it returned (raise = its side
effects happened but its result is lost), and `async_interceptor` sees every S3-triggered
delivery first and says which deliveries to make now (none = hold it, two = duplicate it);
held ones are delivered later with `deliver()`, in any order.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from offline import LAMBDAS_DIR

ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice


@dataclass
class Invocation:
    function: str
    event: Any
    source: str  # "sync" (Step Functions, Invoke) or "async" (S3 notification)
    started: float
    seconds: float = 0.0
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class AsyncDelivery:
    """One asynchronous (S3 notification) invocation, as S3 hands it to Lambda."""

    account_id: str
    region: str
    fn_arn: str
    event: Any


AsyncInterceptor = Callable[[AsyncDelivery], Sequence[AsyncDelivery]]


@dataclass
class _Context:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 900
    _deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InProcessLambdaRuntime:
    def __init__(self, base_env: Mapping[str, str] | None = None) -> None:
        self.base_env = dict(base_env or {})
        self.invocations: list[Invocation] = []
        self.crash_hooks: list[Callable[[str, Any], None]] = []  # (function name, event), before the handler
        self.after_hooks: list[Callable[[str, Any, Any], None]] = []  # (function name, event, result), after it
        self.async_interceptor: AsyncInterceptor | None = None  # S3 deliveries to make now (empty: held)
        # Lambda's on-failure destination: (function ARN, event, last invocation) once the retries are spent.
        self.on_failure: Callable[[str, Any, Invocation], None] | None = None
        self._lock = threading.RLock()
        self._async: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._async_busy = 0
        self._async_cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._originals: dict[str, Any] = {}

    # -- installation into moto ------------------------------------------------------------
    def install(self) -> None:
        from moto.awslambda import models as lambda_models
        from moto.s3 import notifications

        if str(LAMBDAS_DIR) not in sys.path:
            sys.path.insert(0, str(LAMBDAS_DIR))
        runtime = self
        self._originals = {
            "invoke": lambda_models.LambdaFunction._invoke_lambda,
            "s3": notifications._invoke_awslambda,
        }

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime._invoke_sync(fn, event)

        def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            runtime._enqueue_async(account_id, region_name, fn_arn, event_body)

        lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        notifications._invoke_awslambda = _invoke_awslambda
        self._worker = threading.Thread(target=self._drain_async, name="lambda-async", daemon=True)
        self._worker.start()

    def uninstall(self) -> None:
        from moto.awslambda import models as lambda_models
        from moto.s3 import notifications

        if self._originals:
            lambda_models.LambdaFunction._invoke_lambda = self._originals["invoke"]  # type: ignore[method-assign]
            notifications._invoke_awslambda = self._originals["s3"]
            self._originals = {}
        self._async.put(None)

    # -- invocation --------------------------------------------------------------------------
    def _invoke_sync(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        record = self.run(fn, payload, source="sync")
        if record.error is not None:
            return json.dumps(record.error), True, ""
        return json.dumps(record.result), False, ""

    def run(self, fn: Any, event: Any, *, source: str) -> Invocation:
        record = Invocation(function=fn.function_name, event=event, source=source, started=time.time())
        module_name, _, attr = fn.handler.rpartition(".")
        with self._lock, self._environment(fn):
            context = _Context(
                function_name=fn.function_name,
                memory_limit_in_mb=int(fn.memory_size or 128),
                invoked_function_arn=fn.function_arn,
                timeout_seconds=int(fn.timeout or 3),
                _deadline=time.monotonic() + int(fn.timeout or 3),
            )
            start = time.perf_counter()
            try:
                for hook in self.crash_hooks:
                    hook(fn.function_name, event)
                handler = getattr(importlib.import_module(module_name), attr)
                record.result = handler(event, context)
                json.dumps(record.result)  # Lambda must be able to serialise the result
                for after in self.after_hooks:
                    try:
                        after(fn.function_name, event, record.result)
                    except Exception:
                        record.result = None  # the work is done, the result never reaches the caller
                        raise
            except Exception as exc:  # what the Lambda runtime turns into a function error
                record.error = {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-8:],
                }
            record.seconds = time.perf_counter() - start
        self.invocations.append(record)
        return record

    @contextmanager
    def _environment(self, fn: Any) -> Iterator[None]:
        saved = dict(os.environ)
        env = {
            **self.base_env,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size or 128),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            **(fn.environment_vars or {}),
        }
        os.environ.update(env)
        try:
            yield
        finally:
            # Key by key, never clear(): other threads (moto's server, the state machine
            # engine) read os.environ meanwhile and must always see the process's own values.
            for key in [k for k in os.environ if k not in saved]:
                os.environ.pop(key, None)
            for key, value in saved.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value

    # -- asynchronous (S3 notification) invocations ----------------------------------------------
    def _enqueue_async(self, account_id: str, region: str, fn_arn: str, event: Any) -> None:
        delivery = AsyncDelivery(account_id, region, fn_arn, json.loads(json.dumps(event)))
        interceptor = self.async_interceptor
        for item in [delivery] if interceptor is None else interceptor(delivery):
            self.deliver(item)

    def deliver(self, delivery: AsyncDelivery) -> None:
        """Queue an asynchronous invocation (with Lambda's retries), as S3 does on a notification."""
        with self._async_cond:
            self._async_busy += 1
        self._async.put((f"{delivery.account_id}|{delivery.region}|{delivery.fn_arn}", delivery.event))

    def _drain_async(self) -> None:
        from moto.awslambda.utils import get_backend

        while True:
            item = self._async.get()
            if item is None:
                return
            where, event = item
            try:
                account_id, region, fn_arn = where.split("|", 2)
                fn = get_backend(account_id, region).get_function(fn_arn)
                for _ in range(1 + ASYNC_RETRIES):
                    record = self.run(fn, event, source="async")
                    if record.error is None:
                        break
                else:
                    if self.on_failure is not None:
                        self.on_failure(fn_arn, event, record)
            finally:
                with self._async_cond:
                    self._async_busy -= 1
                    self._async_cond.notify_all()

    def wait_async_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self._async_cond:
            while self._async_busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("S3-triggered invocations still running")
                self._async_cond.wait(remaining)

    def errors(self, source: str | None = None) -> list[Invocation]:
        return [i for i in self.invocations if i.error is not None and (source is None or i.source == source)]
