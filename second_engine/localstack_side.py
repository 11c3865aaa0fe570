"""LocalStack's Step Functions interpreter as the second engine: a process of its own, from its own venv.

`localstack-core[runtime]` needs Python 3.13, so it runs from the venv `make second-engine`
builds (second_engine/requirements.txt), started as `python -m localstack.runtime.main` on a
free loopback port (never the `localstack` CLI, which wants an auth token), with only the
services the definition touches and `SFN_MOCK_CONFIG` pointing at the scenarios' mocks. It is
driven over HTTP with boto3 from the project venv; nothing here imports localstack.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from second_engine.scenarios import ACCOUNT, REGION, Scenario

SERVICES = "stepfunctions,s3,sns,sts,iam,events"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalStackEngine:
    """`python -m localstack.runtime.main` with the mock configuration; stopped (its process group) on exit."""

    name = "localstack"

    def __init__(self, python: Path, mock_config: Mapping[str, Any], *, startup_timeout: float = 90.0) -> None:
        self.python = python.absolute()  # not resolve(): the venv's python is a symlink to the base one
        self._config = mock_config
        self._startup_timeout = startup_timeout
        self._workdir = Path(tempfile.mkdtemp(prefix="second-engine-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None
        self._clients: dict[str, Any] = {}
        self.port = 0
        self.startup_seconds = 0.0
        self.version = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._workdir / "localstack.log"

    def __enter__(self) -> LocalStackEngine:
        mock_path = self._workdir / "mock-config.json"
        mock_path.write_text(json.dumps(self._config, indent=2))
        self.port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCALSTACK_", "PYTHON", "VIRTUAL_ENV"))
        }
        env |= {
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(self._workdir / "root"),
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "SERVICES": SERVICES,
            "DNS_ADDRESS": "0",
            "SFN_MOCK_CONFIG": str(mock_path),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "PERSISTENCE": "0",
            "DEBUG": "0",
        }
        self._log = self.log_path.open("w")
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                [str(self.python), "-m", "localstack.runtime.main"],
                cwd=self._workdir,
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stopping it ends its children too
            )
            self._wait_ready(started)
        except BaseException:
            self.__exit__()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"LocalStack exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as response:
                    health = json.loads(response.read())
                self.version = str(health.get("version", ""))
                services = health.get("services", {})
                if all(services.get(s) in ("available", "running") for s in SERVICES.split(",")):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() - started > self._startup_timeout:
                raise TimeoutError(f"LocalStack not ready after {self._startup_timeout} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, 15)  # the group started above: LocalStack and nothing else
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                region_name=REGION,
                endpoint_url=self.endpoint,
                aws_access_key_id=ACCOUNT,  # LocalStack takes a 12-digit access key as the account id
                aws_secret_access_key="test",
            )
        return self._clients[service]

    def start(self, state_machine_arn: str, scenario: Scenario, execution_name: str, body: str) -> str:
        # The mock test case is named after '#' in the state machine ARN (Step Functions Local's convention).
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=f"{state_machine_arn}#{scenario.name}", name=execution_name, input=body
            )["executionArn"]
        )

    def children(self, execution_arn: str, map_run_arns: Sequence[str]) -> tuple[tuple[str, ...], ...] | None:
        return None  # a Distributed Map child is no execution LocalStack lets us read
