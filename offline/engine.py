"""moto's Step Functions executor, made faithful where it differs from AWS in ways we rely on.

- AWS names aws-sdk task errors `Rekognition.X`; moto would say `rekognition.X`, so a
  Retry on `Rekognition.ThrottlingException` would never fire.
- Wait states, Retry intervals and botocore's retry backoff sleep in simulated time
  (the shared clock), so a 30-minute poll schedule runs in seconds, keeping its shape.
- S3 events carry `versionId` and `sequencer`, as AWS sends them.
- A Distributed Map honours ToleratedFailureCount/ToleratedFailurePercentage: a Map Run
  with too many failed children stops launching items and fails the Map state with
  `States.ExceedToleratedFailureThreshold` (moto would succeed, dropping failed items).
- Each distributed child gets its own history, as an AWS child execution does; the number
  of events each child produced is recorded (`child_history`, `child_history_counts`).
- An execution that ends emits the "Step Functions Execution Status Change" event AWS sends
  to EventBridge (`on_execution_end`), so the stack's rule for stopped, timed-out and failed
  executions can be delivered offline.
- A Distributed Map runs any number of items (moto's worker recursed once per item and
  failed past ~960); boto3 clients and parsed JSONPath expressions are reused (speed only).
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

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
    _distributed_map_tolerance_and_child_histories()
    _execution_status_events()
    _distributed_map_depth_and_engine_speed()
    _installed["done"] = True


def _distributed_map_depth_and_engine_speed() -> None:
    """No recursion limit on Distributed Map items, and an engine that does not rebuild what it reuses.

    - moto's Distributed Map worker runs its items by recursion, one Python frame per item: with
      MaxConcurrency 1, item ~960 hits the recursion limit and fails as a child with no error (the Map
      Run then fails). AWS has no such limit. Here the worker loops instead.
    - The engine makes a new boto3 client for every task and a new JSONPath parser for every path it
      evaluates (~30 ms per chunk); one client per (region, service, credentials) and a cache of parsed
      paths change the wall time only.
    """
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor_worker,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    original_client, original_parse = boto_client.boto_client_for, json_path.parse
    clients: dict[tuple[str, str, str, bool, str], Any] = {}
    lock = threading.Lock()

    def eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        """moto's `_eval_pool`, its tail recursion turned into a loop."""
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return
            job_frame = worker_frame.open_inner_frame()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # A client made under one mock_aws must not serve the next: the stubber's state is in the key.
        # Nor may one made for another stack's moto server (its port): a sandboxed stack starts its own.
        port = os.environ.get("MOTO_PORT", "")
        key = (region, service, repr(state_credentials), bool(botocore_stubber.enabled), port)
        with lock:
            if key not in clients:
                clients[key] = original_client(region, service, state_credentials)
            return clients[key]

    modules = [m for n, m in list(sys.modules.items()) if n.startswith("moto.stepfunctions.parser") and m is not None]
    for module in modules:
        if getattr(module, "boto_client_for", None) is original_client:
            setattr(module, "boto_client_for", client_for)  # noqa: B010
    json_path.parse = functools.lru_cache(maxsize=4096)(original_parse)
    processor_worker.DistributedItemProcessorWorker._eval_pool = eval_pool  # type: ignore[method-assign]


# -- "Step Functions Execution Status Change" events -------------------------------------------------
ExecutionEndListener = Callable[[dict[str, Any]], None]
_end_listeners: list[ExecutionEndListener] = []
_ends_in_flight = {"count": 0}
_ends_lock = threading.Lock()


def on_execution_end(listener: ExecutionEndListener) -> Callable[[], None]:
    """Call `listener(event)` with the EventBridge event AWS emits when an execution ends; returns an unsubscriber."""
    _end_listeners.append(listener)
    return lambda: _end_listeners.remove(listener) if listener in _end_listeners else None


def execution_ends_in_flight() -> int:
    """Ended executions whose event is still being handed to the listeners (wait for 0 before calling it idle)."""
    with _ends_lock:
        return _ends_in_flight["count"]


def _execution_status_events() -> None:
    """moto emits no EventBridge events; AWS sends one per status change, which the stack's rule routes."""
    from moto.stepfunctions.parser.backend import execution as backend

    original = backend.BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        with _ends_lock:
            _ends_in_flight["count"] += 1
        try:
            original(self)
            event = _status_change_event(self.execution)
            for listener in list(_end_listeners):
                listener(event)
        finally:
            with _ends_lock:
                _ends_in_flight["count"] -= 1

    backend.BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def _status_change_event(execution: Any) -> dict[str, Any]:
    status = str(execution.exec_status)
    status = getattr(execution.exec_status, "value", status)
    return {
        "version": "0",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": execution.account_id,
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": status,
            "input": json.dumps(execution.input_data) if execution.input_data is not None else None,
            "error": execution.error,
            "cause": execution.cause,
        },
    }


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


# -- Distributed Map: failure tolerance and per-child histories ---------------------------------
THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
_MAX_CHILD_RECORDS = 10_000


@dataclass(frozen=True)
class ChildRun:
    """One distributed Map child, as its own execution history would show it on AWS."""

    map_run_arn: str
    index: int  # $$.Map.Item.Index
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    event_types: tuple[str, ...]  # ExecutionStarted ... Execution<Status>
    error: str | None = None  # a failed child's Error and Cause
    cause: str | None = None

    @property
    def events(self) -> int:
        return len(self.event_types)


_child_lock = threading.Lock()
_child_runs: collections.deque[ChildRun] = collections.deque(maxlen=_MAX_CHILD_RECORDS)


def child_history() -> list[ChildRun]:
    """The distributed Map children run since the last reset, in the order they finished
    (the most recent `_MAX_CHILD_RECORDS`)."""
    with _child_lock:
        return list(_child_runs)


def child_history_counts() -> list[int]:
    """History events of each distributed Map child, in the order they finished."""
    return [run.events for run in child_history()]


def reset_child_history() -> None:
    with _child_lock:
        _child_runs.clear()


@dataclass
class _Tolerance:
    """Failure budget of one Map Run. A field the state does not declare does not count,
    unless it declares neither: then any failure exceeds (both default to 0)."""

    total_items: int
    count_declared: bool
    percentage_declared: bool
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_failure(self, record: Any) -> bool:
        """Count one failed or timed-out item; True when the threshold is now exceeded.
        Reads the record's current values, so UpdateMapRun changes apply."""
        with self.lock:
            self.failed += 1
            failed = self.failed
        count_limit: int | None = record.tolerated_failure_count
        percentage_limit: float | None = record.tolerated_failure_percentage
        if not self.count_declared and not self.percentage_declared:
            count_limit, percentage_limit = 0, None
        else:
            count_limit = count_limit if self.count_declared else None
            percentage_limit = percentage_limit if self.percentage_declared else None
        if count_limit is not None and failed > count_limit:
            return True
        return (
            percentage_limit is not None
            and self.total_items > 0
            and failed * 100.0 / self.total_items > float(percentage_limit)
        )


def _distributed_map_tolerance_and_child_histories() -> None:
    """moto 5.2.5 runs a Distributed Map's children but ignores their failures: the Map Run
    succeeds with the failed items left out, whatever ToleratedFailureCount/Percentage say
    (moto's parser even warns the fields "have no effect"). On AWS, once the failed (or
    timed-out) items exceed the threshold (default 0: any failure), the Map Run stops
    starting items and fails, and the Map state fails with
    `States.ExceedToleratedFailureThreshold`, which a Catch on the Map state can handle.
    A pipeline whose chunks must all succeed relies on that.

    Patched here:
    - `StateMap.from_state_props` notes which tolerance fields the state declares (moto
      fills an absent field with 0, which would make ToleratedFailureCount alone useless);
    - `DistributedIterationComponent._map_run` opens the Map Run's failure budget;
    - each distributed worker's `_eval_job` gives the child a fresh EventManager (on AWS a
      child is its own execution, with its own history; moto shares one per Map Run),
      brackets it with ExecutionStarted/Execution<Status> and records it (`child_history`),
      and, when the child's failure exceeds the budget, turns the job's output into the
      failure; moto's job pool then starts no further item, `_eval_body` adds MapRunFailed
      (with Error/Cause) to the parent's history and the Map state fails or is caught.
    """
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as iterator_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramEnded,
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )

    declared: weakref.WeakKeyDictionary[Any, tuple[bool, bool]] = weakref.WeakKeyDictionary()
    budgets: weakref.WeakKeyDictionary[Any, _Tolerance] = weakref.WeakKeyDictionary()

    original_from_state_props = state_map.StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original_from_state_props(self, state_props)
        if isinstance(self.iteration_component, dic.DistributedIterationComponent):
            declared[self.iteration_component] = (
                state_props.get(ToleratedFailureCountDecl) is not None,
                state_props.get(ToleratedFailurePercentageDecl) is not None,
            )

    state_map.StateMap.from_state_props = from_state_props  # type: ignore[method-assign]

    original_map_run = dic.DistributedIterationComponent._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        items = env.stack[-1]  # what moto's _map_run pops: the items read or given
        count_declared, percentage_declared = declared.get(self, (False, False))
        budgets[eval_input.map_run_record] = _Tolerance(
            total_items=len(items) if isinstance(items, list) else 0,
            count_declared=count_declared,
            percentage_declared=percentage_declared,
        )
        original_map_run(self, env, eval_input)

    dic.DistributedIterationComponent._map_run = map_run  # type: ignore[method-assign]

    terminal_events = {
        "SUCCEEDED": HistoryEventType.ExecutionSucceeded,
        "FAILED": HistoryEventType.ExecutionFailed,
        "TIMED_OUT": HistoryEventType.ExecutionTimedOut,
        "ABORTED": HistoryEventType.ExecutionAborted,
    }

    def wrap_eval_job(original: Any) -> Any:
        def eval_job(self: Any, env: Any, job: Any) -> None:
            # `env` is the job's own frame: its event manager is only the child's.
            env.event_manager = EventManager()
            env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionStarted)
            original(self, env, job)
            program_state = env.program_state()
            details: Any = None  # moto's EventDetails: a TypedDict with one key set
            error: dict[str, Any] = {}
            if isinstance(program_state, ProgramEnded):
                status = "SUCCEEDED"
            elif isinstance(program_state, ProgramStopped):
                status = "ABORTED"
            elif isinstance(program_state, ProgramTimedOut):
                status = "TIMED_OUT"
            else:  # ProgramError, or an exception that escaped the child's program
                status = "FAILED"
                if isinstance(program_state, ProgramError) and program_state.error:
                    error = dict(program_state.error)
                details = {"executionFailedEventDetails": error}
            env.event_manager.add_event(
                context=env.event_history_context, event_type=terminal_events[status], event_details=details
            )
            record = self._map_run_record
            event_types = tuple(
                getattr(e["type"], "value", str(e["type"])) for e in env.event_manager.get_event_history()
            )
            with _child_lock:
                _child_runs.append(
                    ChildRun(
                        map_run_arn=record.map_run_arn,
                        index=job.job_index,
                        status=status,
                        event_types=event_types,
                        error=error.get("error"),
                        cause=error.get("cause"),
                    )
                )
            budget = budgets.get(record)
            if status in ("FAILED", "TIMED_OUT") and budget is not None and budget.add_failure(record):
                # An Exception as the job's output makes moto's job pool stop handing out
                # items and re-raise it from _map_run, as for a worker crash.
                job.job_output = FailureEventException(
                    failure_event=FailureEvent(
                        env=self._env,  # the Map state's environment
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                        event_type=HistoryEventType.MapRunFailed,
                        event_details=cast(
                            Any, {"mapRunFailedEventDetails": {"error": THRESHOLD_ERROR, "cause": THRESHOLD_CAUSE}}
                        ),
                    )
                )

        return eval_job

    for worker in (processor_worker.DistributedItemProcessorWorker, iterator_worker.DistributedIteratorWorker):
        worker._eval_job = wrap_eval_job(worker._eval_job)  # type: ignore[method-assign]
