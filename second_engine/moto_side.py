"""The scenarios on moto's engine as the offline stack runs it (offline/engine.py's patches installed).

moto 5.2.5's executor carries the mocked-response code it took from LocalStack, but nothing
loads a mock configuration and it picks a state's response by the state's RetryCount (a state
entered again in a loop would answer its first response forever). Here each execution gets
its test case by name, and responses are taken per invocation of a state, shared by the
Distributed Map's children, as LocalStack 2026.3 and Step Functions Local do.
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from offline import engine as offline_engine
from offline.clock import ScaledClock
from second_engine.scenarios import REGION, STATE_MACHINE_NAME, Scenario, expand

_cases: dict[str, Any] = {}  # execution name -> moto MockTestCase
_counters: weakref.WeakKeyDictionary[Any, collections.Counter[str]] = weakref.WeakKeyDictionary()
_children: dict[str, list[tuple[int, tuple[str, ...]]]] = collections.defaultdict(list)
_lock = threading.Lock()
_patched: dict[str, bool] = {}


def _install_mocking() -> None:
    if _patched:
        return
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor_worker,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment

    def evaluation_environment(self: Any) -> Any:
        env = original_environment(self)
        case = _cases.get(self._evaluation_details.execution_details.name)
        if case is not None:
            env.mock_test_case = case
        return env

    def current_mocked_response(self: Any) -> Any:
        case, state = self.mock_test_case, self.next_state_name
        responses = case.state_mocked_responses[state].mocked_responses
        with _lock:
            counter = _counters.setdefault(case, collections.Counter())
            number = counter[state]
            counter[state] += 1
        if number >= len(responses):
            raise RuntimeError(f"no mocked response for state {state!r}, invocation {number}")
        return responses[number]

    original_eval_job = processor_worker.DistributedItemProcessorWorker._eval_job

    def eval_job(self: Any, env: Any, job: Any) -> None:
        original_eval_job(self, env, job)  # offline.engine's: the child has its own event manager now
        names = tuple(
            str(e["stateEnteredEventDetails"]["name"])
            for e in env.event_manager.get_event_history()
            if "stateEnteredEventDetails" in e
        )
        with _lock:
            _children[self._map_run_record.map_run_arn].append((int(job.job_index), names))

    ExecutionWorker._get_evaluation_environment = evaluation_environment  # type: ignore[method-assign]
    Environment.get_current_mocked_response = current_mocked_response  # type: ignore[method-assign]
    processor_worker.DistributedItemProcessorWorker._eval_job = eval_job  # type: ignore[method-assign]
    _patched["done"] = True


def _test_case(name: str, ranges_by_state: Mapping[str, Mapping[str, Any]]) -> Any:
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponse,
        MockedResponseReturn,
        MockedResponseThrow,
        MockTestCase,
        StateMockedResponses,
    )

    states = []
    for state, ranges in ranges_by_state.items():
        responses: list[MockedResponse] = []
        for i, answer in enumerate(expand(ranges)):
            if "Throw" in answer:
                throw = answer["Throw"]
                responses.append(MockedResponseThrow(i, i, error=throw["Error"], cause=throw["Cause"]))
            else:
                responses.append(MockedResponseReturn(i, i, payload=answer["Return"]))
        states.append(StateMockedResponses(state, f"{name}.{state}", responses))
    return MockTestCase(STATE_MACHINE_NAME, name, states)


class MotoEngine:
    """moto in-process (mock_aws), with the offline stack's engine patches and the mocks above."""

    name = "moto"

    def __init__(self, mock_config: Mapping[str, Any], time_scale: float = 0.01) -> None:
        self._config = mock_config
        self._clock = ScaledClock(time_scale)
        self._mock: Any = None
        self._clients: dict[str, Any] = {}

    def __enter__(self) -> MotoEngine:
        from moto import mock_aws

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        offline_engine.install(self._clock)
        _install_mocking()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
        return self._clients[service]

    def start(self, state_machine_arn: str, scenario: Scenario, execution_name: str, body: str) -> str:
        case = self._config["StateMachines"][STATE_MACHINE_NAME]["TestCases"][scenario.name]
        ranges = {state: self._config["MockedResponses"][response] for state, response in case.items()}
        _cases[execution_name] = _test_case(scenario.name, ranges)
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=execution_name, input=body
            )["executionArn"]
        )

    def children(self, execution_arn: str, map_run_arns: Sequence[str]) -> tuple[tuple[str, ...], ...] | None:
        with _lock:
            runs = [run for arn in map_run_arns for run in _children.get(arn, [])]
        return tuple(names for _, names in sorted(runs, key=lambda run: run[0]))
