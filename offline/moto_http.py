"""moto's server on 127.0.0.1 in this process: what `offline.server` serves, and what a sandboxed offline
stack's worker processes call (their handlers cannot see this process's mock_aws)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

WsgiApp = Callable[..., Any]


def serve(host: str, port: int, wrap: Callable[[WsgiApp], WsgiApp] = lambda app: app) -> tuple[Any, threading.Thread]:
    """Start the threaded server (port 0: any free one); Step Functions' tasks are pointed at it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    if not logging.getLogger("werkzeug").level:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    app = wrap(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    point_engine_at(int(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, name=f"moto-http-{port}", daemon=True)
    thread.start()
    return server, thread


def point_engine_at(port: int) -> None:
    """The Step Functions engine's aws-sdk and Lambda tasks call http://localhost:$MOTO_PORT."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    os.environ["MOTO_PORT"] = str(port)
    boto_client.moto_server_port = lambda: str(port)  # immune to anyone editing os.environ
