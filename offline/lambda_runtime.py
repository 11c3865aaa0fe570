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
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from offline import LAMBDAS_DIR, invocation_time
from offline.lambda_sandbox import Sandbox, function_error, new_request_id, timed_out

ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice


@dataclass
class Invocation:
    function: str
    event: Any
    source: str  # "sync" (Step Functions, Invoke) or "async" (S3 notification)
    started: float
    seconds: float = 0.0  # real
    result: Any = None
    error: dict[str, Any] | None = None
    memory_mb: int = 0
    timeout_seconds: int = 0
    charged_seconds: float = 0.0  # simulated latency of its service calls (offline/invocation_time.py)
    peak_rss_mb: float | None = None  # its worker's VmHWM (sandboxed only)
    sandboxed: bool = False

    @property
    def aws_seconds(self) -> float:
        """Its duration as AWS would bill it: real seconds plus the simulated latency charged to it."""
        return self.seconds + self.charged_seconds


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
    _charged: list[float] = field(default_factory=lambda: [0.0])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic() - self._charged[0]) * 1000))


class InProcessLambdaRuntime:
    def __init__(self, base_env: Mapping[str, str] | None = None, *, sandboxed: bool = False) -> None:
        self.base_env = dict(base_env or {})
        # Sandboxed: each function in its own worker process, held to its MemorySize and timeout
        # (offline/lambda_sandbox.py; needs AWS_ENDPOINT_URL in base_env). Otherwise in this process,
        # where the timeout is checked after the fact and memory is not limited.
        self.sandboxed = sandboxed
        self.clock_params: Callable[[], tuple[float, float, float]] = lambda: (1.0, time.time(), time.monotonic())
        self._sandboxes: dict[str, Sandbox] = {}
        # Fault injection for sandboxed functions: (function name, event) -> die just before the handler's n-th
        # AWS call (int) or first call of an operation (str); None: no fault. In this process, patch botocore.
        self.die_before_call: Callable[[str, Any], int | str | None] | None = None
        # function name -> (memory MB, timeout s) to hold it to instead of its configuration (None: as configured)
        self.limits: dict[str, tuple[int | None, int | None]] = {}
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
        from moto.events import models as events_models
        from moto.s3 import notifications

        if str(LAMBDAS_DIR) not in sys.path:
            sys.path.insert(0, str(LAMBDAS_DIR))
        runtime = self
        self._originals = {
            "invoke": lambda_models.LambdaFunction._invoke_lambda,
            "s3": notifications._invoke_awslambda,
            "rule": events_models.Rule.send_to_targets,
        }

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime._invoke_sync(fn, event)

        def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            runtime._enqueue_async(account_id, region_name, fn_arn, event_body)

        lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        notifications._invoke_awslambda = _invoke_awslambda
        events_models.Rule.send_to_targets = _rule_with_lambda_targets(  # type: ignore[method-assign]
            self._originals["rule"], self.deliver
        )
        self._worker = threading.Thread(target=self._drain_async, name="lambda-async", daemon=True)
        self._worker.start()

    def uninstall(self) -> None:
        from moto.awslambda import models as lambda_models
        from moto.events import models as events_models
        from moto.s3 import notifications

        if self._originals:
            lambda_models.LambdaFunction._invoke_lambda = self._originals["invoke"]  # type: ignore[method-assign]
            notifications._invoke_awslambda = self._originals["s3"]
            events_models.Rule.send_to_targets = self._originals["rule"]  # type: ignore[method-assign]
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
        record = Invocation(
            function=fn.function_name,
            event=event,
            source=source,
            started=time.time(),
            memory_mb=int(fn.memory_size or 128),
            timeout_seconds=int(fn.timeout or 3),
            sandboxed=self.sandboxed,
        )
        memory, timeout = self.limits.get(fn.function_name, (None, None))
        record.memory_mb, record.timeout_seconds = memory or record.memory_mb, timeout or record.timeout_seconds
        with self._lock:
            start = time.perf_counter()
            try:
                for hook in self.crash_hooks:
                    hook(fn.function_name, event)
                if self.sandboxed:
                    self._run_sandboxed(fn, event, record)
                else:
                    self._run_here(fn, event, record)
                if record.error is None:
                    for after in self.after_hooks:
                        try:
                            after(fn.function_name, event, record.result)
                        except Exception:
                            record.result = None  # the work is done, the result never reaches the caller
                            raise
            except Exception as exc:  # what the Lambda runtime turns into a function error
                record.error = function_error(exc)
            record.seconds = time.perf_counter() - start
            if not self.sandboxed and record.error is None and record.aws_seconds > record.timeout_seconds:
                # In this process a handler cannot be stopped at its timeout: its work is done, but
                # Lambda would have cut it off, so the caller sees the timeout.
                record.result, record.error = None, timed_out(record.timeout_seconds, new_request_id())
        self.invocations.append(record)
        return record

    def _run_here(self, fn: Any, event: Any, record: Invocation) -> None:
        module_name, _, attr = fn.handler.rpartition(".")
        charged = [0.0]

        def meter(seconds: float) -> None:
            charged[0] += seconds

        with self._environment(fn):
            context = _Context(
                function_name=fn.function_name,
                memory_limit_in_mb=record.memory_mb,
                invoked_function_arn=fn.function_arn,
                timeout_seconds=record.timeout_seconds,
                _deadline=time.monotonic() + record.timeout_seconds,
                _charged=charged,
            )
            invocation_time.begin(meter)
            try:
                handler = getattr(importlib.import_module(module_name), attr)
                record.result = handler(event, context)
                json.dumps(record.result)  # Lambda must be able to serialise the result
            finally:
                invocation_time.end()
                record.charged_seconds = charged[0]

    def _run_sandboxed(self, fn: Any, event: Any, record: Invocation) -> None:
        sandbox = self._sandboxes.get(fn.function_name)
        if sandbox is None:
            env = {**self.base_env, **self._function_env(fn)}
            sandbox = Sandbox(fn.function_name, fn.handler, env, record.memory_mb, record.timeout_seconds)
            self._sandboxes[fn.function_name] = sandbox
        fields = {
            "function_name": fn.function_name,
            "memory_limit_in_mb": record.memory_mb,
            "invoked_function_arn": fn.function_arn,
            "aws_request_id": new_request_id(),
            "timeout_seconds": record.timeout_seconds,
            "die_before_call": self.die_before_call(fn.function_name, event) if self.die_before_call else None,
        }
        invocation_time.begin(sandbox.add_charge)
        try:
            outcome = sandbox.invoke(event, fields, self.clock_params())
        finally:
            invocation_time.end()
        record.result, record.error = outcome.result, outcome.error
        record.peak_rss_mb, record.charged_seconds = outcome.peak_rss_mb, outcome.charged_seconds

    def stop_sandboxes(self) -> None:
        for sandbox in self._sandboxes.values():
            sandbox.stop()
        self._sandboxes.clear()

    @staticmethod
    def _function_env(fn: Any) -> dict[str, str]:
        return {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size or 128),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            **(fn.environment_vars or {}),
        }

    @contextmanager
    def _environment(self, fn: Any) -> Iterator[None]:
        saved = dict(os.environ)
        env = {**self.base_env, **self._function_env(fn)}
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


def _rule_with_lambda_targets(original: Any, deliver: Callable[[AsyncDelivery], None]) -> Any:
    """moto's EventBridge rules send to queues, logs and buses only: a Lambda target gets the matched event
    as EventBridge invokes a function (asynchronously, `time` as ISO text); other targets as before."""
    from moto.utilities.arns import parse_arn

    def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
        functions = [t for t in rule.targets if parse_arn(t["Arn"]).service == "lambda"]
        others = [t for t in rule.targets if t not in functions]
        if functions and rule.event_pattern.matches_event(original_event):
            event = json.loads(json.dumps(original_event, default=str))
            if isinstance(event.get("time"), int | float):
                event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["time"]))
            event.pop("ingestion-time", None)
            for target in functions:
                arn = parse_arn(target["Arn"])
                deliver(AsyncDelivery(arn.account, arn.region, target["Arn"], event))
        if others:
            with _RULE_TARGETS_LOCK:
                saved, rule.targets = rule.targets, others
                try:
                    original(rule, original_event, transform_input)
                finally:
                    rule.targets = saved

    send_to_targets.__wrapped__ = original  # type: ignore[attr-defined]
    return send_to_targets


_RULE_TARGETS_LOCK = threading.Lock()
