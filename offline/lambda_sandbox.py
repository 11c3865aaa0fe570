"""A Lambda sandbox for the offline stack: one warm worker process per function, held to its limits.

Each function's handler runs in its own process (started on first use, reused while warm, replaced
after it is killed) with exactly the function's environment; it calls the stack's moto server over
HTTP (AWS_ENDPOINT_URL). The parent watches it as Lambda does:

- memory: the worker's resident set is sampled every few milliseconds; past the function's
  MemorySize it is killed (SIGKILL) and the invocation fails as Lambda reports it:
  `Runtime.ExitError`, "RequestId: ... Error: Runtime exited with error: signal: killed". An address
  space limit (MemorySize plus a margin for the interpreter's reserved mappings) backs this up, so a
  single huge allocation fails inside the worker (a MemoryError, as Python raises it on Lambda) even
  between two samples;
- time: real seconds plus the simulated latency charged to the invocation (offline/invocation_time.py)
  past the function's timeout kills it: `Sandbox.Timedout`, "Task timed out after N.00 seconds".
  The handler's context counts the same way, so a handler that checks its time left stops in time.

Workers fork from a forkserver that has imported boto3 and Powertools once, so a cold start costs
tens of milliseconds, not an interpreter start. Peak RSS per invocation is read from the worker's
VmHWM after resetting it (Linux /proc/<pid>/clear_refs) when the invocation starts.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRELOAD = ["boto3", "botocore.session", "aws_lambda_powertools", "aws_lambda_powertools.logging", "msgspec"]
ADDRESS_MARGIN_MB = 2048  # virtual memory the interpreter, its libraries and thread stacks reserve beyond RSS
SAMPLE_SECONDS = 0.003
PAGE = os.sysconf("SC_PAGE_SIZE")
_context: Any = None


def _mp() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


@dataclass
class Outcome:
    result: Any = None
    error: dict[str, Any] | None = None
    peak_rss_mb: float | None = None
    real_seconds: float = 0.0
    charged_seconds: float = 0.0


class SandboxContext:
    """The Lambda context the handler gets: its time left counts the charged latency too."""

    def __init__(self, fields: dict[str, Any], charge: Any) -> None:
        self.function_name = fields["function_name"]
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.aws_request_id = fields["aws_request_id"]
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = ""
        self._timeout = float(fields["timeout_seconds"])
        self._started = time.monotonic()
        self._charge = charge

    def get_remaining_time_in_millis(self) -> int:
        used = time.monotonic() - self._started + self._charge.value
        return max(0, int((self._timeout - used) * 1000))


def _vm_kb(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _serve(conn: Any, env: dict[str, str], handler: str, paths: list[str], address_mb: int, charge: Any) -> None:
    """The worker: the function's environment, then one invocation per message until told to stop."""
    os.environ.clear()
    os.environ.update(env)
    sys.path[:0] = [p for p in paths if p not in sys.path]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops the workers
    limit = address_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    module_name, _, attr = handler.rpartition(".")
    function = None
    while True:
        message = conn.recv()
        if message is None:
            return
        event, fields, clock = message
        _die_before_call(fields.get("die_before_call"))
        try:
            with open("/proc/self/clear_refs", "w") as refs:  # VmHWM from now on
                refs.write("5")
        except OSError:
            pass
        try:
            from labelsync import clock as labelsync_clock
            from offline.clock import ScaledClock

            labelsync_clock.now = ScaledClock.resumed(*clock).now
            if function is None:
                function = getattr(importlib.import_module(module_name), attr)
            result = function(event, SandboxContext(fields, charge))
            json.dumps(result)  # Lambda must be able to serialise the result
            reply: tuple[str, Any] = ("result", result)
        except BaseException as exc:  # what the Lambda runtime turns into a function error
            reply = ("error", function_error(exc))
        conn.send((*reply, _vm_kb("self", "VmHWM") / 1024))


def function_error(exc: BaseException) -> dict[str, Any]:
    """An exception as the Lambda runtime reports a function error (in a worker or in this process)."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def timed_out(timeout_seconds: float, request_id: str) -> dict[str, Any]:
    """A timeout as Lambda reports it."""
    message = f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"
    return {"errorType": "Sandbox.Timedout", "errorMessage": message}


_ORIGINAL_CALL: Any = None


def _die_before_call(at: int | str | None) -> None:
    """Fault injection (benchmarks/fault_scenarios.py): the worker dies, as a killed sandbox does, just
    before its handler's `at`-th AWS call (an int) or its first call of operation `at` (a str)."""
    global _ORIGINAL_CALL
    import botocore.client

    if _ORIGINAL_CALL is None:
        _ORIGINAL_CALL = botocore.client.BaseClient._make_api_call
    original = _ORIGINAL_CALL
    if at is None:
        botocore.client.BaseClient._make_api_call = original
        return
    calls = 0

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == at or operation == at:
            os._exit(137)
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = make_api_call


class Sandbox:
    """One function's worker process and the watch over it."""

    def __init__(self, name: str, handler: str, env: dict[str, str], memory_mb: int, timeout_seconds: float) -> None:
        self.name, self.handler, self.env = name, handler, dict(env)
        self.memory_mb, self.timeout_seconds = memory_mb, timeout_seconds
        self._process: Any = None
        self._conn: Any = None
        self.charge: Any = _mp().Value("d", 0.0, lock=False)  # shared with every worker it starts
        self.cold_starts = 0

    def add_charge(self, seconds: float) -> None:
        self.charge.value += seconds

    def _start(self) -> None:
        mp = _mp()
        parent, child = mp.Pipe()
        paths = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "lambdas")]
        self._process = mp.Process(
            target=_serve,
            args=(child, self.env, self.handler, paths, self.memory_mb + ADDRESS_MARGIN_MB, self.charge),
            name=f"lambda-{self.name}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        self.cold_starts += 1

    def invoke(self, event: Any, fields: dict[str, Any], clock: tuple[float, float, float]) -> Outcome:
        if self._process is None or not self._process.is_alive():
            self._start()
        self.charge.value = 0.0
        request_id = str(fields["aws_request_id"])
        started = time.monotonic()
        self._conn.send((event, fields, clock))
        peak_kb = 0
        while True:
            if self._conn.poll(SAMPLE_SECONDS):
                try:
                    kind, value, peak_mb = self._conn.recv()
                except EOFError:  # it died between the poll and the read
                    return self._killed(request_id, started, "Runtime.ExitError", "exited", peak_kb)
                outcome = Outcome(peak_rss_mb=max(peak_mb, peak_kb / 1024), real_seconds=time.monotonic() - started)
                outcome.charged_seconds = self.charge.value
                if kind == "result":
                    outcome.result = value
                else:
                    outcome.error = value
                return outcome
            try:
                rss_kb = _vm_kb(self._process.pid, "VmRSS")
            except OSError:
                rss_kb = 0
            peak_kb = max(peak_kb, rss_kb)
            if not self._process.is_alive():
                return self._killed(request_id, started, "Runtime.ExitError", "exited", peak_kb)
            if rss_kb > self.memory_mb * 1024:
                return self._killed(request_id, started, "Runtime.ExitError", "killed", peak_kb)
            if time.monotonic() - started + self.charge.value > self.timeout_seconds:
                return self._killed(request_id, started, "Sandbox.Timedout", "timeout", peak_kb)

    def _killed(self, request_id: str, started: float, kind: str, why: str, peak_kb: int) -> Outcome:
        self.stop(kill=True)
        if why == "timeout":
            error = timed_out(self.timeout_seconds, request_id)
        else:
            error = {
                "errorType": kind,
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: {why}",
            }
        return Outcome(
            error=error,
            peak_rss_mb=peak_kb / 1024,
            real_seconds=time.monotonic() - started,
            charged_seconds=self.charge.value,
        )

    def stop(self, *, kill: bool = False) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if not kill and process.is_alive():
            try:
                self._conn.send(None)
                process.join(timeout=2)
            except (OSError, BrokenPipeError):
                pass
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        self._conn.close()


def new_request_id() -> str:
    return str(uuid.uuid4())
