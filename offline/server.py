"""`python -m offline.server`: the whole offline stack as an HTTP endpoint, the pipeline deployed into it.

One endpoint on 127.0.0.1 serves S3, SNS, SQS, Lambda, IAM, Step Functions and the local
Rekognition Custom Labels dataset service (moto's server), so any AWS client works with
`--endpoint-url`: drop a manifest with `aws s3 cp` and watch `aws stepfunctions
list-executions`. Everything runs in this process: the engine patches, the dataset
service and the in-process Lambda runtime; the handlers call the endpoint over HTTP.

Besides moto's own `/moto-api/...`, the server answers `/_offline/faults` (GET the fault
settings, POST a JSON document to change them, DELETE to clear them) and `/_offline/stack`
(GET the deployed resources). See docs/offline-stack.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import parse_qs

from labelsync.settings import DEFAULT_INCOMING_PREFIX, DEFAULT_WORK_PREFIX
from offline import moto_http
from offline.stack import ACCOUNT, DEMO_PROJECTS, LEDGER_TABLE, OfflineConfig, OfflineStack

HOST = "127.0.0.1"  # loopback only: the server has no authentication
DEFAULT_PORT = 4566
FAULTS_PATH = "/_offline/faults"
STACK_PATH = "/_offline/stack"
EXAMPLE = Path("examples/manifests/pets-clean.jsonl")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OfflineApp:
    """moto's WSGI application plus the `/_offline/` routes (fault injection, stack facts)."""

    def __init__(self, moto_app: WsgiApp, server: OfflineServer) -> None:
        self.moto_app = moto_app
        self.server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith("/_offline/"):
            return self.moto_app(environ, start_response)
        status, body = self._handle(environ, path.rstrip("/"))
        data = json.dumps(body, indent=2).encode() + b"\n"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _handle(self, environ: dict[str, Any], path: str) -> tuple[str, Any]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if path == STACK_PATH and method == "GET":
            return "200 OK", self.server.facts()
        if path != FAULTS_PATH:
            return "404 Not Found", {"message": f"no such route: {method} {path}"}
        query = {k: v[-1] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        config = self.server.config
        from offline import custom_labels

        faults = custom_labels.get_backend(query.get("account", ACCOUNT), query.get("region", config.region)).faults
        try:
            if method == "GET":
                pass
            elif method == "DELETE":
                faults.clear()
            elif method in ("POST", "PUT"):
                faults.configure(json.loads(_read_body(environ) or b"{}"))
            else:
                return "405 Method Not Allowed", {"message": "use GET, POST or DELETE"}
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            return "400 Bad Request", {"message": str(exc)}
        return "200 OK", faults.snapshot()


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


class OfflineServer:
    """moto's threaded server on 127.0.0.1 with the offline stack deployed into it (this process)."""

    def __init__(self, config: OfflineConfig | None = None, port: int = DEFAULT_PORT, verbose: bool = False) -> None:
        self.config = config or OfflineConfig()
        self.requested_port = port
        self.verbose = verbose
        self.stack: OfflineStack | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> OfflineServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> OfflineServer:
        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server, self._thread = moto_http.serve(
            HOST, self.requested_port, lambda moto_app: OfflineApp(moto_app, self)
        )
        try:
            self.stack = OfflineStack(replace(self.config, endpoint_url=self.endpoint)).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def facts(self) -> dict[str, Any]:
        stack = self.stack
        return {
            "endpoint": self.endpoint,
            "region": self.config.region,
            "bucket": self.config.bucket,
            "incoming_prefix": DEFAULT_INCOMING_PREFIX,
            "projects": sorted(self.config.projects),
            "topic_arn": stack.topic_arn if stack else "",
            "queue_url": stack.queue_url if stack else "",
            "state_machine_arn": stack.state_machine_arn if stack else "",
            "work_prefix": DEFAULT_WORK_PREFIX,
            "ledger_table": LEDGER_TABLE,
            "functions": dict(stack.functions) if stack else {},
            "time_scale": self.config.time_scale,
            "create_seconds": self.config.create_seconds,
            "update_seconds": self.config.update_seconds,
        }


def banner(server: OfflineServer) -> str:
    f = server.facts()
    ep, bucket, project = f["endpoint"], f["bucket"], (f["projects"] or ["demo-project"])[0]
    aws = f"aws --endpoint-url {ep}"
    lines = [
        f"Offline stack listening on {ep} (S3, SNS, SQS, Lambda, IAM, Step Functions, Rekognition)",
        f"  endpoint        {ep}",
        f"  region          {f['region']}",
        f"  bucket          {bucket} (manifests under incoming/<project>/<train|test>/)",
        f"  projects        {', '.join(f['projects'])}",
        f"  topic           {f['topic_arn']}",
        f"  subscriber queue {f['queue_url']}",
        f"  state machine   {f['state_machine_arn']}",
        f"  faults          {ep}{FAULTS_PATH}   stack facts: {ep}{STACK_PATH}",
        f"  time            1 simulated second = {f['time_scale']} s; an update takes {f['update_seconds']:g} simulated s",
        "",
        "Try (any AWS client works; credentials are not checked):",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=" + f["region"],
        f"  {aws} s3 cp {EXAMPLE} s3://{bucket}/incoming/{project}/train/pets-clean.jsonl",
        f"  {aws} stepfunctions list-executions --state-machine-arn {f['state_machine_arn']}",
        f"  {aws} sqs receive-message --queue-url {f['queue_url']} --max-number-of-messages 10",
        f"  {aws} rekognition describe-projects",
        f'  curl -s -X POST {ep}{FAULTS_PATH} -d \'{{"rates": {{"UpdateDatasetEntries": {{"throttle": 0.3}}}}}}\'',
        "",
        "Ctrl-C stops the server (state is in memory only).",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m offline.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (default 4566; 0: any free)")
    parser.add_argument(
        "--time-scale", type=float, default=0.02, help="real seconds per simulated second (default 0.02: 50x faster)"
    )
    parser.add_argument("--update-seconds", type=float, default=30.0, help="simulated duration of a dataset update")
    parser.add_argument("--create-seconds", type=float, default=5.0, help="simulated duration of a dataset creation")
    parser.add_argument(
        "--project",
        action="append",
        dest="projects",
        metavar="NAME",
        help="a project to allow-list and create (repeatable; default: demo-project)",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--bucket", default="labelsync-offline")
    parser.add_argument("--log-level", default="WARNING", help="the Lambda functions' log level (default WARNING)")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> OfflineConfig:
    settings = next(iter(DEMO_PROJECTS.values()))
    projects = {name: dict(settings) for name in (args.projects or list(DEMO_PROJECTS))}
    return OfflineConfig(
        region=args.region,
        bucket=args.bucket,
        projects=projects,
        time_scale=args.time_scale,
        create_seconds=args.create_seconds,
        update_seconds=args.update_seconds,
        log_level=args.log_level,
    )


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with OfflineServer(config_from(args), port=args.port, verbose=args.verbose) as server:
        assert server.stack is not None
        for name in server.config.projects:
            server.stack.create_project(name)
        print(banner(server), file=out, flush=True)
        while not stopping.wait(0.5):
            pass
        print("Stopping the offline stack.", file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
