"""Template tests for the CDK stack: synthesized once per variant (tests/infra/stacks.py), offline (no
credentials, no Docker), each variant built as app.py builds it, so cdk-nag runs on every one of them."""

from __future__ import annotations

import json
from typing import Any

import cfnlint.api
import pytest
from aws_cdk.assertions import Annotations, Match

from infra.config import ConfigError, PipelineConfig
from labelsync.event_contract import DETAIL_TYPES, RUN_FAILED, SOURCE
from labelsync.settings import (
    ENV_BUCKET,
    ENV_CHUNK_LIMIT,
    ENV_DELTA_SYNC,
    ENV_INCOMING_PREFIX,
    ENV_LEDGER_TABLE,
    ENV_POLL_INITIAL,
    ENV_POLL_MAX,
    ENV_POLL_TIMEOUT,
    ENV_PROJECTS,
    ENV_REFUSE_UNUSABLE,
    ENV_REPLACE_MAX_REMOVED_PERCENT,
    ENV_REPORT_MAX_ERRORS,
    ENV_STATE_MACHINE_ARN,
    ENV_TOPIC_ARN,
    ENV_WARNINGS_AS_REJECTIONS,
    ENV_WORK_PREFIX,
    parse_projects,
)
from statemachine.definition import (
    APPLY_CHUNK_FUNCTION,
    PLACEHOLDERS,
    RECORD_CHUNK_FUNCTION,
    REPLACE_DATASET_FUNCTION,
    REPORT_FUNCTION,
    REPORT_TOPIC,
    RESOLVE_DATASET_FUNCTION,
    SKIP_UNCHANGED_FUNCTION,
    TAKE_TURN_FUNCTION,
    definition_text,
)
from tests.infra.stacks import HANDLERS, PROJECT, PROJECTS, Synth, _list, cdk_context, synth_of

POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
PIPELINE_ENV = {
    "plan": {
        ENV_BUCKET,
        ENV_STATE_MACHINE_ARN,
        ENV_PROJECTS,
        ENV_CHUNK_LIMIT,
        ENV_INCOMING_PREFIX,
        ENV_WORK_PREFIX,
        ENV_POLL_INITIAL,
        ENV_POLL_MAX,
        ENV_POLL_TIMEOUT,
        ENV_WARNINGS_AS_REJECTIONS,
        ENV_REFUSE_UNUSABLE,
        ENV_LEDGER_TABLE,
    },
    "take_turn": {ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE},
    "resolve": {ENV_PROJECTS},
    "apply": {ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE, ENV_POLL_INITIAL, ENV_POLL_MAX, ENV_POLL_TIMEOUT},
    "record_chunk": {ENV_BUCKET, ENV_WORK_PREFIX, ENV_LEDGER_TABLE},
    "report": {ENV_BUCKET, ENV_TOPIC_ARN, ENV_WORK_PREFIX, ENV_REPORT_MAX_ERRORS, ENV_LEDGER_TABLE},
    "skip_unchanged": {ENV_BUCKET, ENV_WORK_PREFIX, ENV_DELTA_SYNC, ENV_CHUNK_LIMIT, ENV_REPLACE_MAX_REMOVED_PERCENT},
    "replace_dataset": {ENV_BUCKET, ENV_WORK_PREFIX},
}
SIZES = {
    "plan": (1024, 900),
    "take_turn": (512, 900),  # a late run may rewrite every chunk
    "resolve": (256, 60),
    "apply": (512, 300),
    "record_chunk": (256, 60),
    "report": (512, 900),
    "skip_unchanged": (1024, 900),  # the dataset's index and one chunk; a listing step stops at half its time
    "replace_dataset": (512, 900),  # streamed joins of the backup and the new manifest
}
TASKS = ("take_turn", "resolve", "skip_unchanged", "apply", "record_chunk", "replace_dataset", "report")

# Actions that accept no resource ARN (or whose resource is not knowable here): the only ones allowed on "*".
STAR_ACTIONS = {
    "rekognition:DescribeProjects",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
ARN_HEAD = "arn:${AWS::Partition}:rekognition:${AWS::Region}:${AWS::AccountId}:project/"
# demo-project allows TRAIN and TEST: one grant per type (dataset ARNs spell the type in lower case).
DATASETS = {f"{ARN_HEAD}{PROJECT}/dataset/train/*", f"{ARN_HEAD}{PROJECT}/dataset/test/*"}
PROJECTS_ARN = f"{ARN_HEAD}{PROJECT}/*"


@pytest.fixture(scope="module")
def synth() -> Synth:
    return synth_of(projects=PROJECTS)


# --- storage -------------------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_versioned_and_retained(synth: Synth) -> None:
    synth.template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                }
            ),
        },
    )


def test_bucket_policy_denies_plain_http(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": synth.bucket},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_run_files_and_their_old_versions_expire(synth: Synth) -> None:
    rules = synth.props(synth.bucket)["LifecycleConfiguration"]["Rules"]
    (work,) = [rule for rule in rules if rule.get("Prefix") == "runs/"]
    assert work["Status"] == "Enabled"
    assert work["ExpirationInDays"] == 30
    assert work["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    # Nothing expires manifests under incoming/.
    assert all(rule.get("Prefix") == "runs/" or "ExpirationInDays" not in rule for rule in rules)


def test_new_objects_under_incoming_prefix_trigger_the_plan_function(synth: Synth) -> None:
    (notifications,) = synth.of_type("Custom::S3BucketNotifications").values()
    config = notifications["Properties"]["NotificationConfiguration"]
    assert set(config) == {"LambdaFunctionConfigurations"}
    (target,) = config["LambdaFunctionConfigurations"]
    assert target["Events"] == ["s3:ObjectCreated:*"]
    assert target["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}
    assert target["LambdaFunctionArn"] == {"Fn::GetAtt": [synth.functions["plan"], "Arn"]}
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [synth.functions["plan"], "Arn"]},
            "SourceArn": {"Fn::GetAtt": [synth.bucket, "Arn"]},
        },
    )


# --- topic ---------------------------------------------------------------------------------------------


def test_report_topic_requires_tls(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": synth.topic}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


# --- functions -----------------------------------------------------------------------------------------


def test_eight_pipeline_functions_share_runtime_architecture_and_one_self_contained_code_asset(synth: Synth) -> None:
    props = {name: synth.props(fid) for name, fid in synth.functions.items()}
    for name, p in props.items():
        assert p["Runtime"] == "python3.14", name
        assert p["Architectures"] == ["arm64"], name
        assert p["TracingConfig"] == {"Mode": "Active"}, name
        assert (p["MemorySize"], p["Timeout"]) == SIZES[name], name
        # /tmp: the plan step's side files spill there (a 1 GB manifest of rejected lines); the rest keep 512 MB.
        assert p.get("EphemeralStorage") == ({"Size": 3072} if name == "plan" else None), name
        # Powertools is bundled in the asset: no layer, so no per-region SSM parameter that may be missing.
        assert "Layers" not in p, name
    assert len({json.dumps(p["Code"], sort_keys=True) for p in props.values()}) == 1, "one code asset"
    # The only SSM lookup left is CDK's own bootstrap version check (what `cdk bootstrap` writes in the region).
    assert set(synth.json.get("Parameters", {})) == {"BootstrapVersion"}


def test_each_function_gets_exactly_its_environment(synth: Synth) -> None:
    for name, fid in synth.functions.items():
        env = synth.props(fid)["Environment"]["Variables"]
        assert set(env) == POWERTOOLS_ENV | PIPELINE_ENV[name], name
        assert env["POWERTOOLS_SERVICE_NAME"] == "labelsync"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LabelSync"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        if ENV_PROJECTS in env:
            assert set(parse_projects(env[ENV_PROJECTS])) == {PROJECT}
        if ENV_BUCKET in env:
            assert env[ENV_BUCKET] == {"Ref": synth.bucket}
        if ENV_WORK_PREFIX in env:
            assert env[ENV_WORK_PREFIX] == "runs/"
        if ENV_LEDGER_TABLE in env:
            assert env[ENV_LEDGER_TABLE] == {"Ref": synth.ledger}
    plan = synth.props(synth.functions["plan"])["Environment"]["Variables"]
    assert plan[ENV_STATE_MACHINE_ARN] == {"Ref": synth.state_machine}
    assert plan[ENV_INCOMING_PREFIX] == "incoming/"
    assert plan[ENV_CHUNK_LIMIT] == "5242880"
    context = cdk_context()  # cdk.json's values (they override infra/config.py DEFAULTS)
    assert (plan[ENV_POLL_INITIAL], plan[ENV_POLL_MAX], plan[ENV_POLL_TIMEOUT]) == tuple(
        str(context[k]) for k in ("pollInitialSeconds", "pollMaxSeconds", "pollTimeoutSeconds")
    )
    report = synth.props(synth.functions["report"])["Environment"]["Variables"]
    assert report[ENV_TOPIC_ARN] == {"Ref": synth.topic}
    assert report[ENV_REPORT_MAX_ERRORS] == "100"
    apply = synth.props(synth.functions["apply"])["Environment"]["Variables"]
    poll = (ENV_POLL_INITIAL, ENV_POLL_MAX, ENV_POLL_TIMEOUT)
    assert [apply[k] for k in poll] == [plan[k] for k in poll]  # the fallback schedule: the same settings
    # TakeTurn derives the state machine ARN from its execution ARN: an env var would be a dependency cycle.
    assert ENV_STATE_MACHINE_ARN not in synth.props(synth.functions["take_turn"])["Environment"]["Variables"]


def test_each_function_has_its_own_role_and_log_group_with_retention(synth: Synth) -> None:
    log_groups = set()
    for name, fid in synth.functions.items():
        props = synth.props(fid)
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        log_groups.add(log_group)
        assert synth.props(log_group)["RetentionInDays"] > 0, name
        assert "ManagedPolicyArns" not in synth.props(synth.roles[name]), name
    assert len(log_groups) == 8
    assert len({synth.roles[name] for name in HANDLERS}) == 8


# --- state machine -------------------------------------------------------------------------------------


def test_state_machine_runs_the_checked_in_definition(synth: Synth) -> None:
    props = synth.props(synth.state_machine)
    assert props["StateMachineType"] == "STANDARD"
    deployed = json.loads(props["DefinitionString"])
    # The file plus the top-level TimeoutSeconds the stack derives from the settings (test_monitoring.py).
    assert deployed.pop("TimeoutSeconds") == synth.stack.config.execution_budget().total
    assert deployed == json.loads(definition_text())
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == set(PLACEHOLDERS)
    assert substitutions == {
        TAKE_TURN_FUNCTION: {"Fn::GetAtt": [synth.functions["take_turn"], "Arn"]},
        RESOLVE_DATASET_FUNCTION: {"Fn::GetAtt": [synth.functions["resolve"], "Arn"]},
        SKIP_UNCHANGED_FUNCTION: {"Fn::GetAtt": [synth.functions["skip_unchanged"], "Arn"]},
        APPLY_CHUNK_FUNCTION: {"Fn::GetAtt": [synth.functions["apply"], "Arn"]},
        RECORD_CHUNK_FUNCTION: {"Fn::GetAtt": [synth.functions["record_chunk"], "Arn"]},
        REPLACE_DATASET_FUNCTION: {"Fn::GetAtt": [synth.functions["replace_dataset"], "Arn"]},
        REPORT_FUNCTION: {"Fn::GetAtt": [synth.functions["report"], "Arn"]},
        REPORT_TOPIC: {"Ref": synth.topic},
    }
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    log_group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synth.props(log_group)["RetentionInDays"] > 0


def test_plan_function_starts_the_state_machine_but_is_not_a_task_in_it(synth: Synth) -> None:
    plan_arn = {"Fn::GetAtt": [synth.functions["plan"], "Arn"]}
    assert plan_arn not in synth.props(synth.state_machine)["DefinitionSubstitutions"].values()
    assert ("lambda:InvokeFunction", "${" + synth.functions["plan"] + ".Arn}") not in synth.grants("statemachine")


def test_outputs(synth: Synth) -> None:
    synth.template.has_output("BucketName", {"Value": {"Ref": synth.bucket}})
    synth.template.has_output("ReportTopicArn", {"Value": {"Ref": synth.topic}})
    synth.template.has_output("StateMachineArn", {"Value": {"Ref": synth.state_machine}})
    synth.template.has_output("IncomingPrefix", {"Value": "incoming/"})
    synth.template.has_output("LedgerTableName", {"Value": {"Ref": synth.ledger}})


# --- IAM -----------------------------------------------------------------------------------------------


EVENT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"


def event_condition(*types: str) -> str:
    return json.dumps({"StringEquals": {"events:detail-type": list(types), "events:source": SOURCE}}, sort_keys=True)


def test_every_role_has_exactly_the_expected_grants(synth: Synth) -> None:
    fn = synth.functions
    bucket = "${" + synth.bucket + ".Arn}"
    table = "${" + synth.ledger + ".Arn}"
    work = f"{bucket}/runs/*"
    listing = bucket + ' if {"StringLike": {"s3:prefix": ["runs/*"]}}'
    logs = {name: "${" + synth.props(fid)["LoggingConfig"]["LogGroup"]["Ref"] + ".Arn}" for name, fid in fn.items()}
    lambda_basics = {
        name: {
            ("logs:CreateLogStream", logs[name]),
            ("logs:PutLogEvents", logs[name]),
            ("xray:PutTraceSegments", "*"),
            ("xray:PutTelemetryRecords", "*"),
        }
        for name in fn
    }
    head = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${" + synth.state_machine + ".Name}"
    executions = head + ":*"
    expected = {
        "plan": {
            ("s3:GetObject", f"{bucket}/incoming/*"),
            ("s3:GetObjectVersion", f"{bucket}/incoming/*"),
            ("s3:PutObject", work),
            ("states:StartExecution", "${" + synth.state_machine + "}"),
            ("states:DescribeExecution", executions),
            ("sqs:SendMessage", "${" + synth.failures + ".Arn}"),
            ("dynamodb:PutItem", table),
        },
        "take_turn": {
            ("s3:GetObject", work),
            ("s3:PutObject", work),
            ("s3:ListBucket", listing),
            ("states:DescribeExecution", executions),
            ("dynamodb:Query", table),
            ("dynamodb:GetItem", table),
            ("dynamodb:PutItem", table),
            ("dynamodb:UpdateItem", table),
        },
        "resolve": {
            ("rekognition:DescribeProjects", "*"),
            ("rekognition:CreateDataset", PROJECTS_ARN),
            *{("rekognition:DescribeDataset", arn) for arn in DATASETS},
            *{("rekognition:ListDatasetLabels", arn) for arn in DATASETS},  # the label-limit check
            ("s3:GetObject", f"{bucket}/runs/*/plan.json"),  # the plan's labels
        },
        "apply": {
            ("s3:GetObject", work),
            ("s3:PutObject", work),  # a chunk refused for its size is split into part files
            *{("rekognition:UpdateDatasetEntries", arn) for arn in DATASETS},
            *{("rekognition:DescribeDataset", arn) for arn in DATASETS},  # the timestamp before each update
            ("dynamodb:GetItem", table),
        },
        "skip_unchanged": {
            ("s3:GetObject", work),  # items, chunks, the dataset's index
            ("s3:PutObject", work),  # filtered chunks, delta records, markers, the index a listing rebuilt
            ("s3:ListBucket", listing),
            *{("rekognition:DescribeDataset", arn) for arn in DATASETS},  # is the index current?
            *{("rekognition:ListDatasetEntries", arn) for arn in DATASETS},  # if not, the listing
        },
        "record_chunk": {
            ("s3:PutObject", work),
            ("dynamodb:GetItem", table),
            ("dynamodb:PutItem", table),
        },
        "replace_dataset": {
            ("s3:GetObject", work),  # the listing's backup parts, the chunks, its own state
            ("s3:PutObject", work),  # the joined backup, removed list and new manifest; markers
            ("s3:GetObjectVersion", work),  # CreateDataset reads the manifest version with the caller's credentials
            ("s3:ListBucket", listing),
            ("rekognition:DescribeProjects", "*"),  # the dataset a retried CreateDataset already made
            ("rekognition:CreateDataset", PROJECTS_ARN),
            *{("rekognition:DescribeDataset", arn) for arn in DATASETS},
            *{("rekognition:DeleteDataset", arn) for arn in DATASETS},
        },
        "report": {
            ("s3:GetObject", work),
            ("s3:PutObject", work),
            ("s3:ListBucket", listing),
            *{("rekognition:ListDatasetEntries", arn) for arn in DATASETS},
            ("sns:Publish", "${" + synth.topic + "}"),
            ("events:PutEvents", f"{EVENT_BUS} if {event_condition(*DETAIL_TYPES)}"),
            ("dynamodb:GetItem", table),
            ("dynamodb:PutItem", table),
            ("dynamodb:UpdateItem", table),
        },
    }
    for name in fn:
        assert synth.grants(name) == expected[name] | lambda_basics[name], name

    machine = synth.grants("statemachine")
    invoked = {resource for action, resource in machine if action == "lambda:InvokeFunction"}
    assert invoked == {"${" + fn[name] + ".Arn}" for name in TASKS}
    scoped = {pair for pair in machine if pair[0] != "lambda:InvokeFunction" and pair[1] != "*"}
    assert scoped == {
        *{("rekognition:DescribeDataset", arn) for arn in DATASETS},
        ("sns:Publish", "${" + synth.topic + "}"),
        ("events:PutEvents", f"{EVENT_BUS} if {event_condition(RUN_FAILED)}"),
        ("s3:GetObject", f"{bucket}/runs/*/items-changed.json"),
        ("states:StartExecution", "${" + synth.state_machine + "}"),
        ("states:DescribeExecution", head + "/*"),
        ("states:DescribeExecution", head + ":*"),
        ("states:StopExecution", head + "/*"),
        ("states:StopExecution", head + ":*"),
    }
    others = {pair for pair in machine if pair[1] == "*"}
    assert all(action in STAR_ACTIONS for action, _ in others), others


def test_wildcard_resources_only_for_actions_without_resource_scope(synth: Synth) -> None:
    for role, statement in synth.all_statements():
        if "*" in _list(statement["Resource"]):
            assert set(_list(statement["Action"])) <= STAR_ACTIONS, (role, statement)
        for action in _list(statement["Action"]):
            assert "*" not in action, (role, statement)


@pytest.mark.parametrize(
    ("action", "roles"),
    [
        ("rekognition:UpdateDatasetEntries", {"apply"}),
        ("rekognition:ListDatasetEntries", {"report", "skip_unchanged"}),
        # resolve_dataset reads the status of a dataset it has just created; the poll loops are the state machine's;
        # skip_unchanged and apply read its LastUpdatedTimestamp (delta sync).
        ("rekognition:DescribeDataset", {"statemachine", "resolve", "skip_unchanged", "apply", "replace_dataset"}),
        # a replace that removes entries deletes the dataset and creates it again (replace_dataset only)
        ("rekognition:DeleteDataset", {"replace_dataset"}),
        ("rekognition:CreateDataset", {"resolve", "replace_dataset"}),
        ("rekognition:ListDatasetLabels", {"resolve"}),
        # AlertWithoutReport publishes from the state machine when the report function failed too.
        ("sns:Publish", {"report", "statemachine"}),
        # The Distributed Map starts its child executions with the state machine's role.
        ("states:StartExecution", {"plan", "statemachine"}),
        ("states:StopExecution", {"statemachine"}),
        ("states:DescribeExecution", {"plan", "take_turn", "statemachine"}),
        ("dynamodb:Query", {"take_turn"}),
        ("dynamodb:UpdateItem", {"take_turn", "report"}),
        ("s3:ListBucket", {"take_turn", "skip_unchanged", "replace_dataset", "report"}),
    ],
)
def test_sensitive_actions_only_in_their_roles(synth: Synth, action: str, roles: set[str]) -> None:
    by_id = {role_id: name for name, role_id in synth.roles.items()}
    holders = {
        by_id.get(role_id, role_id)
        for role_id, statement in synth.all_statements()
        if action in _list(statement["Action"])
    }
    assert holders == roles


# --- lint and variants ---------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing(synth: Synth) -> None:
    matches = cfnlint.api.lint(
        json.dumps(synth.json),
        config=cfnlint.api.ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]),
    )
    found = [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches]
    assert found == []


def test_empty_projects_synthesizes_without_rekognition_dataset_permissions() -> None:
    empty = synth_of(projects={})
    stack = empty.stack
    for role, statement in empty.all_statements():
        assert not any(a.startswith("rekognition:") for a in _list(statement["Action"])), (role, statement)
    Annotations.from_stack(stack).has_warning("/LabelSyncStack", Match.string_like_regexp("No project is configured"))
    assert json.loads(empty.props(empty.functions["plan"])["Environment"]["Variables"][ENV_PROJECTS]) == {}


# --- config (no synth) ---------------------------------------------------------------------------------


def test_config_accepts_projects_as_json_text_and_numbers_as_strings() -> None:
    config = PipelineConfig.from_mapping(
        {"projects": json.dumps(PROJECTS), "chunkLimitBytes": "1000", "workPrefix": "work", "incomingPrefix": None}
    )
    assert set(config.projects) == {PROJECT}
    assert config.chunk_limit_bytes == 1000
    assert config.work_prefix == "work/"
    assert config.incoming_prefix == "incoming/"
    assert parse_projects(config.projects_json())[PROJECT].dataset_types == frozenset({"TRAIN", "TEST"})
    # The functions read the policy the app was given, replace setting included.
    curated = PipelineConfig.from_mapping({"projects": {"curated": {"replace": True}}})
    assert parse_projects(curated.projects_json())["curated"].replace


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"projects": "{not json"}, "projects"),
        ({"projects": {"p": {"datasetTypes": ["VALIDATION"]}}}, "projects"),
        ({"projects": {"bad name*": {}}}, "projects"),
        ({"projects": ["p"]}, "projects"),
        (
            {"projects": {"p": {"replace": True, "createMissingDatasets": False}}},
            r"^projects\['p'\]: replace: true needs",
        ),
        ({"projects": {"p": {"createMissingDatasets": "false"}}}, r"createMissingDatasets must be true or false"),
        ({"projects": {"p": {"dataset_types": ["TRAIN"]}}}, r"unknown keys \['dataset_types'\]"),
        ({"chunkLimitBytes": 0}, "chunkLimitBytes"),
        ({"chunkLimitBytes": 5_242_881}, "chunkLimitBytes"),
        ({"pollInitialSeconds": "soon"}, "pollInitialSeconds"),
        ({"pollMaxSeconds": 1, "pollInitialSeconds": 5}, "pollMaxSeconds"),
        ({"reportMaxErrors": True}, "reportMaxErrors"),
        ({"incomingPrefix": ""}, "incomingPrefix"),
        ({"workPrefix": "incoming/runs/"}, "workPrefix"),
        ({"workRetentionDays": 0}, "workRetentionDays"),
        ({"powertoolsVersion": "3.37.0"}, "powertoolsVersion is no longer a setting: Powertools is bundled"),
        ({"turnWaitSeconds": -1}, "turnWaitSeconds"),
        ({"maxChunksPerRun": 0}, "maxChunksPerRun"),
        ({"maxChunksPerRun": 10_000}, "execution timeout"),
    ],
)
def test_config_errors_name_the_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        PipelineConfig.from_mapping(values)
