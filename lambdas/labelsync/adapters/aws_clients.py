"""boto3 clients, created once per container with botocore's standard retry mode.

The endpoint comes from the environment (AWS_ENDPOINT_URL), which is how the offline
stack's HTTP mode points the same code at local services.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=RETRY_CONFIG)


@cache
def table(name: str) -> Any:
    """A DynamoDB table (the resource API: plain Python values instead of AttributeValue maps)."""
    return boto3.resource("dynamodb", config=RETRY_CONFIG).Table(name)
