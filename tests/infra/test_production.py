"""Production hardening: cdk-nag clean with exact acknowledgments, encryption variants, access logs, the
alert topic and subscriptions, the plan function's failure destination, alarms and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from infra import nag
from infra.config import ConfigError, PipelineConfig
from tests.infra.stacks import KEY_ARN, PROJECT, PROJECTS, Synth, _list, render, synth_of, synthesize

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"topic": "report", "protocol": "email", "endpoint": "ml-team@example.com"},
    {
        "topic": "report",
        "protocol": "https",
        "endpoint": "https://hooks.example.com/labelsync",
        "filterPolicy": {"kind": ["alert"], "project": [PROJECT]},
    },
    {"topic": "alert", "protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:ops-alerts"},
]
# Ground Truth jobs synced directly (tests/infra/test_labeling_jobs.py): by name only, and by name and tag.
NAMED_ROUTES = [
    {"namePrefix": "Pets-", "project": "pets", "datasetType": "TEST", "outputPath": "s3://gt-output/pets/"},
    {"namePrefix": "cars-", "project": "cars", "datasetType": "TRAIN", "outputPath": "s3://gt-output/cars/"},
]
MIXED_ROUTES = [
    {"namePrefix": "demo-", "project": PROJECT, "datasetType": "TRAIN", "outputPath": "s3://gt-output/"},
    {
        "tag": {"key": "dataset", "value": "demo/test"},
        "project": PROJECT,
        "datasetType": "TEST",
        "outputPath": "s3://gt-tagged/jobs/",
    },
]
CREATED_KEY: dict[str, Any] = {
    "projects": PROJECTS,
    "kmsKey": "create",
    "subscriptions": SUBSCRIPTIONS,
    "logRetentionDays": 90,
    "rejectedLinesAlarmThreshold": 50,
    "noncurrentRetentionDays": 10,
    "accessLogRetentionDays": 30,
    "labelingJobs": MIXED_ROUTES,
}
SEVERAL: dict[str, Any] = {
    "projects": {"pets": {}, "cars": {"datasetTypes": ["TRAIN"], "createMissingDatasets": False}},
    "kmsKey": KEY_ARN,
    "labelingJobs": NAMED_ROUTES,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"projects": PROJECTS},
    "empty": {"projects": {}},
    "created-key": CREATED_KEY,
    "several": SEVERAL,
}
# Actions CDK or AWS only allow on "*", and the word the acknowledgment's reason must name for each.
STAR_ACTIONS = {
    "rekognition:DescribeProjects": "DescribeProjects",
    "xray:PutTraceSegments": "PutTraceSegments",
    "xray:PutTelemetryRecords": "PutTelemetryRecords",
    "xray:GetSamplingRules": "GetSamplingRules",
    "xray:GetSamplingTargets": "GetSamplingTargets",
    "logs:CreateLogDelivery": "CreateLogDelivery",
    "logs:GetLogDelivery": "GetLogDelivery",
    "logs:UpdateLogDelivery": "UpdateLogDelivery",
    "logs:DeleteLogDelivery": "DeleteLogDelivery",
    "logs:ListLogDeliveries": "ListLogDeliveries",
    "logs:PutResourcePolicy": "PutResourcePolicy",
    "logs:DescribeResourcePolicies": "DescribeResourcePolicies",
    "logs:DescribeLogGroups": "DescribeLogGroups",
}


@pytest.fixture(scope="module")
def default() -> Synth:
    return synth_of(**VARIANTS["default"])


@pytest.fixture(scope="module")
def keyed() -> Synth:
    return synth_of(**CREATED_KEY)


@pytest.fixture(scope="module")
def several() -> Synth:
    return synth_of(**SEVERAL)


def acks_by_path(synth: Synth) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for path, rule_id, reason in nag.acknowledgments(synth.app):
        found.setdefault(path, {})[rule_id] = reason
    return found


def role_acks(synth: Synth, role_logical_id: str) -> dict[str, str]:
    (role,) = [
        c for c in synth.stack.node.find_all() if isinstance(c, iam.Role) and synth.logical_id(c) == role_logical_id
    ]
    return acks_by_path(synth).get(role.node.path, {})


# --- cdk-nag -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(name: str) -> None:
    synth = synth_of(**VARIANTS[name])
    report = AwsSolutionsChecks(synth.app).validate_scope(synth.app)
    assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations] == []
    assert report.success


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    """app.py wires the checks into synth itself: `cdk synth` fails, not just this test."""
    app, stack = synthesize(projects=PROJECTS)
    role = iam.Role(stack, "Intruder", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth(force=True)


def test_nag_checks_can_be_switched_off_by_context() -> None:
    assert PipelineConfig.from_mapping({"nagChecks": "false"}).nag_checks is False
    assert PipelineConfig.from_mapping({}).nag_checks is True


@pytest.mark.parametrize("name", ["default", "created-key"])
def test_every_acknowledgment_is_exact_and_covers_a_real_finding(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build once more with acknowledgments recorded but not applied: every finding must be covered by an
    acknowledgment on (a parent of) its construct, and every acknowledgment must cover a finding."""
    monkeypatch.setattr(nag, "_apply", lambda scope, ack: None)
    app, stack = synthesize(**VARIANTS[name], nagChecks=False)
    findings = {
        (v.rule_name, str(r.construct_path))
        for v in AwsSolutionsChecks(app).validate_scope(app).violations
        for r in v.violating_resources
    }
    acks = nag.acknowledgments(app)
    assert findings and acks
    for rule_id, path in findings:
        assert any(rule_id == a and (path + "/").startswith(p + "/") for p, a, _ in acks), (rule_id, path)
    for path, rule_id, reason in acks:
        assert any(rule_id == f and (fp + "/").startswith(path + "/") for f, fp in findings), (path, rule_id)
        assert path not in ("", stack.node.path), "no stack-wide acknowledgments"
        assert len(reason) >= 60, (rule_id, reason)
        if rule_id.startswith(("AwsSolutions-IAM5", "AwsSolutions-IAM4")):
            assert rule_id.endswith("]") and ("[Resource::" in rule_id or "[Policy::" in rule_id), rule_id


def test_acknowledged_rules_are_only_the_expected_ones(default: Synth) -> None:
    rules = {rule_id.split("[")[0] for _, rule_id, _ in nag.acknowledgments(default.app)}
    # No S1: the pipeline bucket logs to the log bucket, which cdk-nag exempts as a log destination.
    assert rules == {"AwsSolutions-IAM5", "AwsSolutions-IAM4", "AwsSolutions-SQS3"}


# --- IAM -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_star_resources_only_for_actions_without_resource_level_permissions_each_acknowledged(name: str) -> None:
    synth = synth_of(**VARIANTS[name])
    for role_id, statement in synth.all_statements():
        if "*" not in _list(statement["Resource"]):
            continue
        actions = set(_list(statement["Action"]))
        assert actions <= set(STAR_ACTIONS), (role_id, statement)
        reason = role_acks(synth, role_id).get("AwsSolutions-IAM5[Resource::*]", "")
        for action in actions:
            assert STAR_ACTIONS[action] in reason, (role_id, action, reason)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_rekognition_and_s3_grants_are_scoped_to_configured_projects_and_prefixes(name: str) -> None:
    synth = synth_of(**VARIANTS[name])
    projects = set(json.loads(json.dumps(VARIANTS[name]["projects"])))
    head = "arn:${AWS::Partition}:rekognition:${AWS::Region}:${AWS::AccountId}:project/"
    typed = {f"{head}{p}/dataset/{t}/*" for p in projects for t in ("train", "test")}
    allowed_rekognition = {f"{head}{p}/*" for p in projects} | typed | {"*"}
    bucket = "${" + synth.bucket + ".Arn}"
    objects = (
        f"{bucket}/incoming/*",
        f"{bucket}/runs/*",
        f"{bucket}/runs/*/items-changed.json",
        f"{bucket}/runs/*/plan.json",
    )
    # The labeling-job sync also reads the routes' output paths and lists its copy's key under incoming/.
    routes = VARIANTS[name].get("labelingJobs", [])
    outputs = {f"arn:${{AWS::Partition}}:s3:::{r['outputPath'].removeprefix('s3://')}*" for r in routes}
    sync_role = sync_role_of(synth) if routes else None
    for role_id, statement in synth.all_statements():
        if role_id == sync_role and statement["Action"] == "s3:ListBucket":
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}, statement
            continue
        if role_id == sync_role and statement["Action"] == "s3:GetObject" and "gt-" in json.dumps(statement):
            assert {render(r) for r in _list(statement["Resource"])} == outputs
            continue
        for action in _list(statement["Action"]):
            resources = {render(r) for r in _list(statement["Resource"])}
            if action.startswith("rekognition:"):
                assert resources <= allowed_rekognition, (role_id, action, resources)
                assert action != "rekognition:DescribeProjects" or resources == {"*"}
                assert action == "rekognition:DescribeProjects" or "*" not in resources
            if action == "s3:ListBucket":  # the bucket, but only keys under the work prefix
                assert resources == {bucket}, (role_id, resources)
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["runs/*"]}}, (role_id, statement)
            elif action.startswith("s3:") and action != "s3:PutBucketNotification":  # CDK's notification handler
                assert all(r in objects for r in resources), (role_id, resources)


def sync_role_of(synth: Synth) -> str:
    (role,) = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in synth.of_type("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "labelsync.handlers.sync_labeling_job.handler"
    ]
    return str(role)


def test_kms_grants_name_the_key_and_only_where_encrypted_data_is_touched(keyed: Synth, several: Synth) -> None:
    key = "${" + keyed.logical_id(keyed.stack.key) + ".Arn}"
    both = {("kms:GenerateDataKey", key), ("kms:Decrypt", key)}
    # S3 objects (SSE-KMS), the ledger table (its table key), the encrypted topic; resolve touches none.
    expected = {
        "plan": both,
        "take_turn": both,
        "apply": both,  # also writes split chunk parts
        "record_chunk": both,
        "report": both,
        "resolve": {("kms:Decrypt", key)},  # the run's plan (its labels)
        "statemachine": both,  # the items file (Decrypt), the bare alert to the encrypted topic
    }
    keyed.roles["sync"] = sync_role_of(keyed)
    expected["sync"] = both  # the copy into the bucket, the claims table, the failed-events queue
    for role, pairs in expected.items():
        assert {p for p in keyed.grants(role) if p[0].startswith("kms:")} == pairs, role
    assert ("kms:Decrypt", KEY_ARN) in several.grants("apply")
    assert not [p for p in synth_of(projects=PROJECTS).grants("plan") if p[0].startswith("kms:")]


# --- storage -------------------------------------------------------------------------------------------


def test_pipeline_bucket_logs_to_a_private_tls_only_sse_s3_log_bucket(default: Synth) -> None:
    logging = default.props(default.bucket)["LoggingConfiguration"]
    assert logging == {"DestinationBucketName": {"Ref": default.access_logs}, "LogFilePrefix": "pipeline-bucket/"}
    logs = default.props(default.access_logs)
    assert logs["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert logs["LifecycleConfiguration"]["Rules"] == [
        {"Id": "ExpireAccessLogs", "ExpirationInDays": 365, "Status": "Enabled"}
    ]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in default.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": default.access_logs}
    ]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    assert any(s.get("Principal") == {"Service": "logging.s3.amazonaws.com"} and s["Effect"] == "Allow" for s in policy)


def test_lifecycle_expires_run_files_and_noncurrent_versions_from_context(default: Synth, keyed: Synth) -> None:
    rules = {r["Id"]: r for r in default.props(default.bucket)["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireRunFiles"]["ExpirationInDays"] == 30
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert (
        "Prefix" not in rules["ExpireNoncurrentVersions"]
        and "ExpirationInDays" not in rules["ExpireNoncurrentVersions"]
    )
    rules = {r["Id"]: r for r in keyed.props(keyed.bucket)["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 10}
    assert keyed.props(keyed.access_logs)["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30


def test_default_is_aws_owned_encryption_without_a_key(default: Synth) -> None:
    assert not default.of_type("AWS::KMS::Key")
    assert "KmsMasterKeyId" not in default.props(default.topic)
    assert default.props(default.failures)["SqsManagedSseEnabled"] is True


def test_created_key_rotates_and_encrypts_bucket_topics_and_queue(keyed: Synth) -> None:
    (key_id,) = keyed.of_type("AWS::KMS::Key")
    key = keyed.resources[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
    assert keyed.props(keyed.bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key_arn, "SSEAlgorithm": "aws:kms"},
        }
    ]
    for topic in (keyed.topic, keyed.alert_topic):
        assert keyed.props(topic)["KmsMasterKeyId"] == key_arn
    assert keyed.props(keyed.failures)["KmsMasterKeyId"] == key_arn
    # S3 delivers access logs only to SSE-S3 buckets.
    sse = keyed.props(keyed.access_logs)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]


def test_existing_key_arn_is_used_as_is(several: Synth) -> None:
    assert not several.of_type("AWS::KMS::Key")
    assert several.props(several.topic)["KmsMasterKeyId"] == KEY_ARN
    assert several.props(several.alert_topic)["KmsMasterKeyId"] == KEY_ARN
    sse = several.props(several.bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"KMSMasterKeyID": KEY_ARN, "SSEAlgorithm": "aws:kms"}


def test_log_retention_from_context(keyed: Synth) -> None:
    groups = keyed.of_type("AWS::Logs::LogGroup")
    # eight functions, the labeling-job sync and the state machine
    assert len(groups) == 10 and all(g["Properties"]["RetentionInDays"] == 90 for g in groups.values())


# --- topics and subscriptions --------------------------------------------------------------------------


def test_both_topics_deny_plain_http(default: Synth) -> None:
    denied: set[str] = set()
    for policy in default.of_type("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        ):
            denied.update(t["Ref"] for t in policy["Properties"]["Topics"])
    assert denied == {default.topic, default.alert_topic}


def test_no_subscriptions_by_default(default: Synth) -> None:
    assert not default.of_type("AWS::SNS::Subscription")


def test_subscriptions_from_context(keyed: Synth) -> None:
    subs = sorted(
        (s["Properties"] for s in keyed.of_type("AWS::SNS::Subscription").values()), key=lambda p: p["Protocol"]
    )
    assert subs == [
        {"Protocol": "email", "Endpoint": "ml-team@example.com", "TopicArn": {"Ref": keyed.topic}},
        {
            "Protocol": "https",
            "Endpoint": "https://hooks.example.com/labelsync",
            "TopicArn": {"Ref": keyed.topic},
            "FilterPolicy": {"kind": ["alert"], "project": [PROJECT]},
            "FilterPolicyScope": "MessageAttributes",
        },
        {"Protocol": "sqs", "Endpoint": SUBSCRIPTIONS[2]["endpoint"], "TopicArn": {"Ref": keyed.alert_topic}},
    ]


# --- failed S3 events ----------------------------------------------------------------------------------


def test_plan_function_retries_twice_then_sends_to_the_failure_queue(default: Synth) -> None:
    (config,) = default.of_type("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": default.functions["plan"]}
    assert props["Qualifier"] == "$LATEST"
    assert props["MaximumRetryAttempts"] == 2
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [default.failures, "Arn"]}}}
    assert default.roles["plan"] in config["DependsOn"] or any(
        d.startswith(default.roles["plan"]) for d in config["DependsOn"]
    )
    queue_policy = [
        s
        for p in default.of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": default.failures} in p["Properties"]["Queues"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in queue_policy
    )
    assert default.props(default.failures)["MessageRetentionPeriod"] == 14 * 24 * 3600


# --- alarms and dashboard ------------------------------------------------------------------------------


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["MetricName"] + ":" + json.dumps(a["Properties"].get("Dimensions")): a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    }


def test_every_alarm_notifies_the_alert_topic(default: Synth) -> None:
    found = default.of_type("AWS::CloudWatch::Alarm")
    assert len(found) == 13  # 5 pipeline alarms + one per function (8)
    for alarm in found.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": default.alert_topic}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_alarms_cover_executions_failure_queue_rejected_lines_and_function_errors(default: Synth, keyed: Synth) -> None:
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for alarm in default.of_type("AWS::CloudWatch::Alarm").values():
        by_metric.setdefault(alarm["Properties"]["MetricName"], []).append(alarm["Properties"])
    machine = [{"Name": "StateMachineArn", "Value": {"Ref": default.state_machine}}]
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        (alarm,) = by_metric[metric]
        assert (alarm["Namespace"], alarm["Dimensions"], alarm["Threshold"]) == ("AWS/States", machine, 1)
    (queue,) = by_metric["ApproximateNumberOfMessagesVisible"]
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [default.failures, "QueueName"]}}]
    assert (queue["Threshold"], queue["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    (rejected,) = by_metric["LinesRejected"]
    assert (rejected["Namespace"], rejected["Statistic"], rejected["Period"]) == ("LabelSync", "Sum", 300)
    assert rejected["Dimensions"] == [{"Name": "service", "Value": "labelsync"}]
    assert rejected["Threshold"] == 1000
    assert {a["Dimensions"][0]["Value"]["Ref"] for a in by_metric["Errors"]} == set(default.functions.values())
    (keyed_rejected,) = [
        a for a in keyed.of_type("AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == "LinesRejected"
    ]
    assert keyed_rejected["Properties"]["Threshold"] == 50


def test_dashboard_graphs_the_pipeline_metrics(default: Synth) -> None:
    (dashboard,) = default.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "LinesRejected",
        "LinesWarned",
        "BytesSent",
        "RunsFailed",
        "ExecutionsFailed",
        "DescribeUpdate",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert needle in body, needle
    log_group = default.props(default.state_machine)["LoggingConfiguration"]["Destinations"][0][
        "CloudWatchLogsLogGroup"
    ]["LogGroupArn"]["Fn::GetAtt"][0]
    assert log_group in body


def test_outputs_for_the_new_resources(default: Synth) -> None:
    default.template.has_output("AlertTopicArn", {"Value": {"Ref": default.alert_topic}})
    default.template.has_output("FailedEventsQueueUrl", {"Value": {"Ref": default.failures}})
    outputs = default.json["Outputs"]
    assert "DashboardName" in outputs


# --- config --------------------------------------------------------------------------------------------


def test_config_reads_subscriptions_as_json_text() -> None:
    config = PipelineConfig.from_mapping({"subscriptions": json.dumps(SUBSCRIPTIONS), "kmsKey": KEY_ARN})
    assert [(s.topic, s.protocol) for s in config.subscriptions] == [
        ("report", "email"),
        ("report", "https"),
        ("alert", "sqs"),
    ]
    assert config.kms_key == KEY_ARN


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"kmsKey": "yes"}, "kmsKey"),
        ({"kmsKey": "arn:aws:kms:eu-west-1:123456789012:alias/foo"}, "kmsKey"),
        ({"subscriptions": "{not json"}, "subscriptions"),
        ({"subscriptions": {"topic": "report"}}, "subscriptions"),
        (
            {"subscriptions": [{"topic": "ops", "protocol": "email", "endpoint": "a@b.co"}]},
            r"subscriptions\[0\]\.topic",
        ),
        (
            {"subscriptions": [{"topic": "report", "protocol": "sms", "endpoint": "+1"}]},
            r"subscriptions\[0\]\.protocol",
        ),
        (
            {"subscriptions": [{"topic": "report", "protocol": "email", "endpoint": "nobody"}]},
            r"subscriptions\[0\]\.endpoint",
        ),
        (
            {"subscriptions": [{"topic": "report", "protocol": "https", "endpoint": "http://x"}]},
            r"subscriptions\[0\]\.endpoint",
        ),
        (
            {
                "subscriptions": [
                    {"topic": "alert", "protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:q.fifo"}
                ]
            },
            r"subscriptions\[0\]\.endpoint",
        ),
        (
            {"subscriptions": [{"topic": "report", "protocol": "email", "endpoint": "a@b.co", "filter": {}}]},
            r"subscriptions\[0\]",
        ),
        (
            {
                "subscriptions": [
                    {"topic": "report", "protocol": "email", "endpoint": "a@b.co", "filterPolicy": {"status": ["x"]}}
                ]
            },
            r"subscriptions\[0\]\.filterPolicy",
        ),
        (
            {
                "subscriptions": [
                    {"topic": "report", "protocol": "email", "endpoint": "a@b.co", "filterPolicy": {"kind": "alert"}}
                ]
            },
            r"subscriptions\[0\]\.filterPolicy",
        ),
        (
            {
                "subscriptions": [
                    {"topic": "alert", "protocol": "email", "endpoint": "a@b.co", "filterPolicy": {"kind": ["alert"]}}
                ]
            },
            r"subscriptions\[0\]\.filterPolicy",
        ),
        ({"subscriptions": [{"topic": "alert", "protocol": "email", "endpoint": "a@b.co"}] * 2}, r"subscriptions\[1\]"),
        ({"rejectedLinesAlarmThreshold": 0}, "rejectedLinesAlarmThreshold"),
        ({"logRetentionDays": 31}, "logRetentionDays"),
        ({"noncurrentRetentionDays": "never"}, "noncurrentRetentionDays"),
        ({"accessLogRetentionDays": 0}, "accessLogRetentionDays"),
        ({"nagChecks": "maybe"}, "nagChecks"),
    ],
)
def test_new_config_errors_name_the_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        PipelineConfig.from_mapping(values)


@pytest.mark.parametrize("name", ["created-key", "several"])
def test_cfn_lint_finds_nothing_in_the_variants(name: str) -> None:
    import cfnlint.api

    synth = synth_of(**VARIANTS[name])
    matches = cfnlint.api.lint(
        json.dumps(synth.json), config=cfnlint.api.ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"])
    )
    assert [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches] == []
