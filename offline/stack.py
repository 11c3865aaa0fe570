"""The offline stack: the pipeline's resources, deployed into moto, running the real code.

Same handlers, same definition file, same substitutions and environment variables as
the CDK stack (infra/); only the endpoint differs. Used by the tests and the demo.

Two modes, one deployment:
- in-process (default): under `mock_aws`, every client is intercepted in this process;
- endpoint (`OfflineConfig(endpoint_url=...)`): the resources are deployed over HTTP into
  a moto server running in THIS process (offline/server.py), whose requests reach the
  patches installed here; the handlers get `AWS_ENDPOINT_URL` and call it over HTTP too.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from infra.function_specs import (
    APPLY,
    EXECUTION_END_STATUSES,
    PLAN,
    RECORD_CHUNK,
    REPLACE_DATASET,
    REPORT,
    RESOLVE,
    SKIP_UNCHANGED,
    SYNC_LABELING_JOB,
    TAKE_TURN,
    TASK_FUNCTIONS,
    EnvValues,
    FunctionSpec,
    environment,
)
from labelsync import clock as labelsync_clock
from labelsync import settings as env_names
from labelsync.adapters import aws_clients
from labelsync.adapters.step_functions import StepFunctionsExecutions
from labelsync.event_contract import SOURCE as EVENT_SOURCE
from labelsync.labeling_job_routes import (
    JobRoute,
    parse_labeling_jobs,
    route_for,
    routes_json,
    state_change_pattern,
)
from labelsync.settings import parse_projects
from labelsync.usecases.resume_run import resume_run
from offline import custom_labels, engine, labeling_jobs, moto_http
from offline.clock import ScaledClock
from offline.fixture_images import ImageStager
from offline.lambda_runtime import AsyncDelivery, InProcessLambdaRuntime, Invocation
from statemachine.definition import (
    APPLY_CHUNK_FUNCTION,
    RECORD_CHUNK_FUNCTION,
    REPLACE_DATASET_FUNCTION,
    REPORT_FUNCTION,
    REPORT_TOPIC,
    RESOLVE_DATASET_FUNCTION,
    SKIP_UNCHANGED_FUNCTION,
    TAKE_TURN_FUNCTION,
    render,
)

ACCOUNT = "123456789012"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEMO_PROJECTS: dict[str, Any] = {"demo-project": {"datasetTypes": ["TRAIN", "TEST"], "createMissingDatasets": True}}

LEDGER_TABLE = "labelsync-ledger"
CLAIMS_TABLE = "labelsync-labeling-job-claims"
LABELING_RULE = "labelsync-labeling-job-completed"
# Ground Truth jobs named demo-* feed the demo project's TRAIN dataset (infra: context labelingJobs).
DEMO_LABELING_JOBS: list[dict[str, Any]] = [
    {
        "namePrefix": "demo-",
        "project": "demo-project",
        "datasetType": "TRAIN",
        "outputPath": "s3://labelsync-offline-ground-truth/jobs/",
    }
]


@dataclass
class OfflineConfig:
    region: str = "us-east-1"
    bucket: str = "labelsync-offline"
    projects: Mapping[str, Any] = field(default_factory=lambda: dict(DEMO_PROJECTS))
    time_scale: float = 0.001  # real seconds per simulated second
    create_seconds: float = 5.0  # simulated
    update_seconds: float = 30.0  # simulated
    chunk_limit_bytes: int = env_names.DEFAULT_CHUNK_LIMIT
    poll_initial_seconds: int = 5
    poll_max_seconds: int = 600
    poll_timeout_seconds: int = 3600
    report_max_errors: int = 100
    warnings_as_rejections: bool = False
    refuse_unusable: bool = False
    delta_sync: bool = True  # context deltaSync
    replace_max_removed_percent: int = 20  # context replaceMaxRemovedPercent
    log_level: str = "WARNING"
    endpoint_url: str | None = None  # a moto server in this process (offline.server); None: mock_aws
    # Each function in its own worker process held to its MemorySize and timeout (offline/lambda_sandbox.py).
    # The workers call a moto server: without endpoint_url the stack starts its own on a free port.
    sandboxed: bool = False
    # Per function (FunctionSpec.name, e.g. "ReportRun"): the memory (any size, even under Lambda's 128 MB
    # minimum) and timeout the runtime holds it to instead of the deployed ones: tests that make a real
    # handler exceed its limit. The function's configuration still says the deployed values.
    memory_mb: Mapping[str, int] = field(default_factory=dict)
    timeout_seconds: Mapping[str, int] = field(default_factory=dict)
    # The labelingJobs setting (labelsync/labeling_job_routes.py). None: DEMO_LABELING_JOBS when the demo
    # project is configured, else none; [] deploys no sync function and no rule, as the CDK stack does.
    labeling_jobs: Sequence[Mapping[str, Any]] | None = None


class OfflineStack:
    def __init__(self, config: OfflineConfig | None = None) -> None:
        self.config = config or OfflineConfig()
        self.clock = ScaledClock(self.config.time_scale)
        self.runtime = InProcessLambdaRuntime(sandboxed=self.config.sandboxed)
        self.runtime.clock_params = self.clock.params
        self.runtime.limits = {
            f"labelsync-{name}": (self.config.memory_mb.get(name), self.config.timeout_seconds.get(name))
            for name in {*self.config.memory_mb, *self.config.timeout_seconds}
        }
        self._http: tuple[Any, threading.Thread] | None = None  # our own moto server (sandboxed, no endpoint given)
        self._mock: Any = None
        self._messages: list[dict[str, Any]] = []
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.functions: dict[str, str] = {}
        self.state_machine_arn = ""
        self._unsubscribe: Callable[[], None] | None = None
        self.topic_arn = ""
        self.queue_url = ""
        self.failures_url = ""
        self._failed_events: list[dict[str, Any]] = []
        self.events_url = ""
        self._events: list[dict[str, Any]] = []
        self.labeling_routes: tuple[JobRoute, ...] = ()
        # Tiny images where every manifest dropped under the watched prefix points (offline/fixture_images.py).
        self.images = ImageStager(self.config.bucket, env_names.DEFAULT_INCOMING_PREFIX, self.config.region)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> OfflineStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> OfflineStack:
        if self.config.sandboxed and self.config.endpoint_url is None:
            self._http = moto_http.serve("127.0.0.1", 0)
            self.config = replace(self.config, endpoint_url=f"http://127.0.0.1:{self._http[0].server_address[1]}")
        self.runtime.base_env = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
        if self.config.endpoint_url:
            self.runtime.base_env |= {"AWS_ENDPOINT_URL": self.config.endpoint_url, **DUMMY_CREDENTIALS}
        if self.config.endpoint_url is None:
            from moto import mock_aws

            self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            self._mock.start()
        else:
            import requests

            requests.post(
                f"{self.config.endpoint_url}/moto-api/config",
                json={"stepfunctions": {"execute_state_machine": True}},
                timeout=30,
            ).raise_for_status()
        # The handlers' clients are made once per process (as once per Lambda container): a client made
        # for the previous stack (another endpoint, or mock_aws) must not serve this one.
        aws_clients.client.cache_clear()
        aws_clients.table.cache_clear()
        engine.install(self.clock)
        custom_labels.install()
        labeling_jobs.install()
        self.images.install()
        custom_labels.configure(
            clock=self.clock,
            timing=custom_labels.ServiceTiming(
                create_seconds=self.config.create_seconds, update_seconds=self.config.update_seconds
            ),
        )
        self.runtime.install()
        labelsync_clock.now = self.clock.now  # handlers measure time as the service and the engine do
        self._deploy()
        self._unsubscribe = engine.on_execution_end(self._route_execution_end)
        return self

    def _to_failure_queue(self, fn_arn: str, event: Any, last: Invocation) -> None:
        """Lambda's on-failure record (the shape AWS sends to an SQS destination), for the functions that have
        the failed-events queue as their destination: the plan and the labeling-job sync."""
        if fn_arn not in (self.functions.get(PLAN.name), self.functions.get(SYNC_LABELING_JOB.name)):
            return
        record = {
            "version": "1.0",
            "requestContext": {"functionArn": fn_arn, "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": last.error,
        }
        self.client("sqs").send_message(QueueUrl=self.failures_url, MessageBody=json.dumps(record))
        self._failed_events.append(record)

    def failed_events(self) -> list[dict[str, Any]]:
        """What the failure queue received: manifests whose plan step gave up (the S3 event and the error)."""
        return list(self._failed_events)

    def _route_execution_end(self, event: dict[str, Any]) -> None:
        """The stack's EventBridge rule (infra/constructs/workflow.py): ended runs to the report function."""
        detail = event["detail"]
        if detail["stateMachineArn"] == self.state_machine_arn and detail["status"] in EXECUTION_END_STATUSES:
            self.runtime.deliver(AsyncDelivery(ACCOUNT, self.config.region, self.functions[REPORT.name], event))

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.runtime.uninstall()
        self.runtime.stop_sandboxes()
        self.images.uninstall()
        labelsync_clock.now = time.time
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        elif self.config.endpoint_url:
            import requests

            # What mock_aws's stop does: the next stack in this process (whatever its mode) starts from
            # empty backends. The server (ours, or offline.server's) runs in this process either way.
            requests.post(f"{self.config.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()
        if self._http is not None:
            server, thread = self._http
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            self._http = None

    def client(self, service: str) -> Any:
        """One client per service, made once: wait loops and the demo's progress thread poll a lot."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        if self.config.endpoint_url is None:
            return boto3.client(service, region_name=self.config.region)
        return boto3.client(
            service,
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    @property
    def service(self) -> custom_labels.CustomLabelsBackend:
        """The local Rekognition Custom Labels backend (for fault injection and inspection)."""
        return custom_labels.get_backend(ACCOUNT, self.config.region)

    # -- deployment (mirrors infra/) ------------------------------------------------------------
    def _deploy(self) -> None:
        cfg = self.config
        iam = self.client("iam")
        role = iam.create_role(RoleName="labelsync-offline", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        s3 = self.client("s3")
        s3.create_bucket(Bucket=cfg.bucket)
        s3.put_bucket_versioning(Bucket=cfg.bucket, VersioningConfiguration={"Status": "Enabled"})
        sns, sqs = self.client("sns"), self.client("sqs")
        self.topic_arn = sns.create_topic(Name="labelsync-reports")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="labelsync-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        # The plan function's on-failure destination (infra/constructs/failures.py): S3 events whose
        # invocation still failed after Lambda's two retries, with the error, for a redrive.
        self.failures_url = sqs.create_queue(QueueName="labelsync-failed-events")["QueueUrl"]
        self.runtime.on_failure = self._to_failure_queue
        self._capture_completion_events()
        self.client("dynamodb").create_table(  # as infra/constructs/ledger.py defines it
            TableName=LEDGER_TABLE,
            KeySchema=[{"AttributeName": "dataset", "KeyType": "HASH"}, {"AttributeName": "entry", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "dataset", "AttributeType": "S"},
                {"AttributeName": "entry", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

        values = self._env_values()
        for spec in TASK_FUNCTIONS:
            self.functions[spec.name] = self._create_function(spec, values, role)
        definition = render(
            {
                TAKE_TURN_FUNCTION: self.functions[TAKE_TURN.name],
                RESOLVE_DATASET_FUNCTION: self.functions[RESOLVE.name],
                SKIP_UNCHANGED_FUNCTION: self.functions[SKIP_UNCHANGED.name],
                APPLY_CHUNK_FUNCTION: self.functions[APPLY.name],
                RECORD_CHUNK_FUNCTION: self.functions[RECORD_CHUNK.name],
                REPLACE_DATASET_FUNCTION: self.functions[REPLACE_DATASET.name],
                REPORT_FUNCTION: self.functions[REPORT.name],
                REPORT_TOPIC: self.topic_arn,
            }
        )
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name="labelsync-pipeline", definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        values = replace(values, state_machine_arn=self.state_machine_arn)
        self.functions[PLAN.name] = self._create_function(PLAN, values, role)
        self._deploy_labeling_jobs(values, role)
        s3.put_bucket_notification_configuration(
            Bucket=cfg.bucket,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "LambdaFunctionArn": self.functions[PLAN.name],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "prefix", "Value": env_names.DEFAULT_INCOMING_PREFIX}]}
                        },
                    }
                ]
            },
        )

    def _deploy_labeling_jobs(self, values: EnvValues, role: str) -> None:
        """The sync function and its rule (infra/constructs/labeling_jobs.py), when labelingJobs routes any job."""
        cfg = self.config
        setting = cfg.labeling_jobs
        if setting is None:
            setting = DEMO_LABELING_JOBS if "demo-project" in cfg.projects else []
        self.labeling_routes = parse_labeling_jobs(list(setting), parse_projects(json.dumps(cfg.projects)))
        if not self.labeling_routes:
            return
        self.client("dynamodb").create_table(  # Powertools idempotency's layout (infra: LabelingJobSync.claims)
            TableName=CLAIMS_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = self.client("s3")
        for bucket in sorted({route.output_bucket for route in self.labeling_routes}):
            s3.create_bucket(Bucket=bucket)  # where Ground Truth writes (the user's bucket, not the stack's)
        values = replace(values, labeling_jobs_json=routes_json(self.labeling_routes), claims_table=CLAIMS_TABLE)
        function_arn = self._create_function(SYNC_LABELING_JOB, values, role)
        self.functions[SYNC_LABELING_JOB.name] = function_arn
        events = self.client("events")
        arn_prefix = f"arn:aws:sagemaker:{cfg.region}:{ACCOUNT}:labeling-job/"
        events.put_rule(
            Name=LABELING_RULE, EventPattern=json.dumps(state_change_pattern(self.labeling_routes, arn_prefix))
        )
        events.put_targets(Rule=LABELING_RULE, Targets=[{"Id": "sync", "Arn": function_arn}])

    def complete_labeling_job(
        self,
        name: str,
        output_manifest: bytes | Path,
        *,
        tags: Mapping[str, str] | None = None,
        output_path: str | None = None,
        label_attribute_name: str = "label",
    ) -> labeling_jobs.LabelingJobRecord:
        """Play Ground Truth: a job `name` completes with this output manifest and its event reaches the bus.

        The output goes under `output_path` (default: that of the labelingJobs entry matching the job, else of
        the first entry), where Ground Truth writes it: <path><name>/manifests/output/output.manifest.
        """
        if output_path is None:
            route = route_for(name, tags or {}, self.labeling_routes) or self.labeling_routes[0]
            output_path = route.output_path
        backend = labeling_jobs.get_backend(ACCOUNT, self.config.region)
        job = labeling_jobs.LabelingJobRecord(
            name=name,
            arn=backend.arn(name),
            label_attribute_name=label_attribute_name,
            output_path=output_path if output_path.endswith("/") else output_path + "/",
            tags=dict(tags or {}),
        )
        bucket, _, key = job.output_manifest.removeprefix("s3://").partition("/")
        data = output_manifest.read_bytes() if isinstance(output_manifest, Path) else output_manifest
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        backend.add(job)
        self.send_labeling_job_event(job)
        return job

    def send_labeling_job_event(self, job: labeling_jobs.LabelingJobRecord) -> None:
        """The job's state change event on the default bus (again: SageMaker may send one several times)."""
        (entry,) = self.client("events").put_events(Entries=[labeling_jobs.state_change_event(job)])["Entries"]
        if "EventId" not in entry:
            raise RuntimeError(f"PutEvents refused the labeling job event: {entry}")

    def _capture_completion_events(self) -> None:
        """What a subscriber's EventBridge rule sees: our completion events on the default bus, into a queue."""
        sqs = self.client("sqs")
        self.events_url = sqs.create_queue(QueueName="labelsync-completion-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.client("events")
        events.put_rule(Name="labelsync-completions", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(Rule="labelsync-completions", Targets=[{"Id": "queue", "Arn": arn}])

    def completion_events(self) -> list[dict[str, Any]]:
        """Every completion event the default bus delivered to the rule's queue so far (the whole event)."""
        self._events += self._drain(self.events_url)
        return list(self._events)

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message body waiting in the queue (JSON), read and deleted."""
        sqs = self.client("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not batch.get("Messages"):
                return bodies
            for message in batch["Messages"]:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _env_values(self) -> EnvValues:
        cfg = self.config
        return EnvValues(
            bucket=cfg.bucket,
            topic_arn=self.topic_arn,
            projects_json=json.dumps(cfg.projects),
            chunk_limit_bytes=cfg.chunk_limit_bytes,
            incoming_prefix=env_names.DEFAULT_INCOMING_PREFIX,
            work_prefix=env_names.DEFAULT_WORK_PREFIX,
            poll_initial_seconds=cfg.poll_initial_seconds,
            poll_max_seconds=cfg.poll_max_seconds,
            poll_timeout_seconds=cfg.poll_timeout_seconds,
            report_max_errors=cfg.report_max_errors,
            warnings_as_rejections=cfg.warnings_as_rejections,
            refuse_unusable=cfg.refuse_unusable,
            ledger_table=LEDGER_TABLE,
            delta_sync=cfg.delta_sync,
            replace_max_removed_percent=cfg.replace_max_removed_percent,
        )

    def _create_function(self, spec: FunctionSpec, values: EnvValues, role: str) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:  # moto wants a package; the code runs from lambdas/
            zf.writestr("README.txt", "offline stack: the handler runs in-process from lambdas/")
        response = self.client("lambda").create_function(
            FunctionName=f"labelsync-{spec.name}",
            Runtime="python3.12",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": archive.getvalue()},
            MemorySize=spec.memory_mb,
            Timeout=spec.timeout_seconds,
            Architectures=["arm64"],
            Environment={"Variables": environment(spec, values, log_level=self.config.log_level)},
        )
        return str(response["FunctionArn"])

    # -- using it ---------------------------------------------------------------------------------
    def create_project(self, name: str, dataset_types: Iterable[str] = ()) -> str:
        rek = self.client("rekognition")
        project_arn = str(rek.create_project(ProjectName=name)["ProjectArn"])
        for dataset_type in dataset_types:
            rek.create_dataset(ProjectArn=project_arn, DatasetType=dataset_type)
        return project_arn

    def wait_for_dataset(self, dataset_arn: str, timeout: float = 30.0) -> str:
        """Wait until the dataset is neither being created nor updated; return its status."""
        rek = self.client("rekognition")
        deadline = time.monotonic() + timeout
        while True:
            status = str(rek.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]["Status"])
            if not status.endswith("_IN_PROGRESS"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dataset_arn} still {status} after {timeout} s")
            time.sleep(0.005)

    def drop(self, key: str, body: bytes | Path) -> dict[str, Any]:
        """Put an object into the pipeline bucket, as a labeling job would."""
        data = body.read_bytes() if isinstance(body, Path) else body
        response: dict[str, Any] = self.client("s3").put_object(Bucket=self.config.bucket, Key=key, Body=data)
        return response

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.state_machine_arn, maxResults=1000)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def wait_until_idle(self, timeout: float = 120.0, *, poll: float = 0.02) -> list[dict[str, Any]]:
        """Wait for S3-triggered planning, every execution and the alerts of ended ones; return the executions."""
        deadline = time.monotonic() + timeout
        while True:
            self.runtime.wait_async_idle(max(0.1, deadline - time.monotonic()))
            executions = self.executions()
            if all(e["status"] != "RUNNING" for e in executions) and engine.execution_ends_in_flight() == 0:
                self.runtime.wait_async_idle(max(0.1, deadline - time.monotonic()))  # their events' deliveries
                if all(e["status"] != "RUNNING" for e in self.executions()):
                    return executions
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions still running after {timeout} s")
            time.sleep(poll)

    def resume(self, run_id: str) -> str:
        """Resume a stopped run, as `python -m cli.resume RUN_ID` does against AWS: the new execution's ARN."""
        executions = StepFunctionsExecutions(self.client("stepfunctions"), self.state_machine_arn)
        return resume_run(run_id, executions).execution_arn

    def messages(self) -> list[dict[str, Any]]:
        """Every SNS message the subscriber queue received so far, as SNS delivers it (envelope parsed)."""
        self._messages += self._drain(self.queue_url)
        return list(self._messages)

    def emails(self) -> dict[str, str]:
        """The `email` body of every structured message published to the report topic, by MessageId:
        what an email subscriber reads (the SQS subscriber gets the `default` JSON body)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][self.config.region].topics[self.topic_arn]
        bodies = {}
        for message_id, message, *_rest in topic.sent_notifications:
            try:
                structure = json.loads(message)
            except json.JSONDecodeError:
                continue
            if isinstance(structure, dict) and isinstance(structure.get("email"), str):
                bodies[message_id] = structure["email"]
        return bodies

    def reports(self) -> list[dict[str, Any]]:
        """The report documents carried by the SNS messages."""
        return [json.loads(m["Message"]) for m in self.messages()]
