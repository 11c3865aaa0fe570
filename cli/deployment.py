"""Which pipeline a `labelsync` command talks to: a deployed stack (CloudFormation outputs) or the
offline server (its `/_offline/stack` route). Either way the same names come back, so every command
below works on both and only the endpoint differs."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
OFFLINE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class DeploymentNotFound(Exception):
    """The stack (or the offline server) is not there, or lacks an output the command needs."""


@dataclass(frozen=True)
class Deployment:
    region: str
    bucket: str
    incoming_prefix: str
    work_prefix: str
    state_machine_arn: str
    ledger_table: str
    endpoint_url: str | None = None
    profile: str | None = None
    _session: Any = field(default=None, compare=False, repr=False)

    def client(self, service: str) -> Any:
        session = self._session or boto3.Session(profile_name=self.profile, region_name=self.region)
        extra = OFFLINE_CREDENTIALS if self.endpoint_url else {}
        return session.client(service, endpoint_url=self.endpoint_url, config=RETRIES, **extra)

    def table(self) -> Any:
        session = self._session or boto3.Session(profile_name=self.profile, region_name=self.region)
        extra = OFFLINE_CREDENTIALS if self.endpoint_url else {}
        return session.resource("dynamodb", endpoint_url=self.endpoint_url, config=RETRIES, **extra).Table(
            self.ledger_table
        )

    def run_key(self, run_id: str, name: str) -> str:
        return f"{self.work_prefix}{run_id}/{name}"


def find(*, stack: str, region: str | None, profile: str | None, endpoint_url: str | None) -> Deployment:
    if endpoint_url:
        return _offline(endpoint_url.rstrip("/"))
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise DeploymentNotFound("no region: pass --region, or set AWS_REGION / a profile's region")
    cfn = session.client("cloudformation", config=RETRIES)
    try:
        (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        raise DeploymentNotFound(f"stack {stack!r} in {session.region_name}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    needed = ("BucketName", "IncomingPrefix", "StateMachineArn", "LedgerTableName")
    missing = [name for name in needed if name not in outputs]
    if missing:
        raise DeploymentNotFound(f"stack {stack!r} has no output {', '.join(missing)}: is it a labelsync stack?")
    return Deployment(
        region=session.region_name,
        bucket=outputs["BucketName"],
        incoming_prefix=outputs["IncomingPrefix"],
        work_prefix=outputs.get("WorkPrefix", "runs/"),  # stacks deployed before the output existed
        state_machine_arn=outputs["StateMachineArn"],
        ledger_table=outputs["LedgerTableName"],
        profile=profile,
        _session=session,
    )


def _offline(endpoint_url: str) -> Deployment:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_offline/stack", timeout=10) as response:
            facts = json.loads(response.read())
    except OSError as exc:
        raise DeploymentNotFound(
            f"no offline server at {endpoint_url} ({exc}); start one with `make offline-server`"
        ) from exc
    return Deployment(
        region=str(facts["region"]),
        bucket=str(facts["bucket"]),
        incoming_prefix=str(facts["incoming_prefix"]),
        work_prefix=str(facts["work_prefix"]),
        state_machine_arn=str(facts["state_machine_arn"]),
        ledger_table=str(facts["ledger_table"]),
        endpoint_url=endpoint_url,
    )
