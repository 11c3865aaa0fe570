"""Issue 15's template checks: every SNS publisher is allowed (topic policy, key policy or identity policy),
IAM mirrors the allow-list per project and dataset type, and the monitoring means something (a derived
execution timeout, rejections that are not execution failures, short bare alerts). Plus the small ones:
object ownership and kmsKey validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError, PipelineConfig
from labelsync.event_contract import DETAIL_TYPES, RUN_FAILED, SOURCE
from labelsync.settings import ENV_PROJECTS, parse_projects
from statemachine.definition import definition_text
from tests.infra.nodes import walk
from tests.infra.stacks import KEY_ARN, PROJECTS, Synth, _list, render, synth_of

CLOUDWATCH = "cloudwatch.amazonaws.com"
SERVICE_PUBLISHERS = {"cloudwatch", "events", "s3"}  # what could publish as a service principal
MIXED = {
    "pets": {},  # TRAIN and TEST, may create missing datasets
    "cars": {"datasetTypes": ["TRAIN"], "createMissingDatasets": False},
    "signs": {"datasetTypes": ["TEST"], "createMissingDatasets": True},
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"projects": PROJECTS},
    "created-key": {"projects": PROJECTS, "kmsKey": "create"},
    "existing-key": {"projects": MIXED, "kmsKey": KEY_ARN},
    "empty": {"projects": {}},
}
ARN_HEAD = "arn:${AWS::Partition}:rekognition:${AWS::Region}:${AWS::AccountId}:project/"


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def publishers(synth: Synth) -> list[tuple[str, str, str]]:
    """(kind, who, topic logical id) for everything in the template that publishes to one of its topics:
    alarm actions, EventBridge targets, S3 notifications (service principals), the state machine's sns:publish
    tasks and functions told a topic ARN (IAM roles)."""
    topics = set(synth.of_type("AWS::SNS::Topic"))
    found: list[tuple[str, str, str]] = []
    for alarm in synth.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        arn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + render(props["AlarmName"])
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in props.get(key, []):
                if _ref(action) in topics:
                    found.append(("cloudwatch", arn, str(_ref(action))))
    for rule_id, rule in synth.of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            if _ref(target["Arn"]) in topics:
                found.append(("events", rule_id, str(_ref(target["Arn"]))))
    for notifications in synth.of_type("Custom::S3BucketNotifications").values():
        for config in notifications["Properties"]["NotificationConfiguration"].get("TopicConfigurations", []):
            found.append(("s3", "bucket", str(_ref(config["TopicArn"]))))
    machine = synth.props(synth.state_machine)
    substitutions = machine["DefinitionSubstitutions"]
    for state in walk(json.loads(machine["DefinitionString"])):
        if str(state.get("Resource", "")).startswith("arn:aws:states:::sns:publish"):
            placeholder = state["Parameters"]["TopicArn"].strip("${}")
            found.append(("role", synth.roles["statemachine"], str(_ref(substitutions[placeholder]))))
    for name, function_id in synth.functions.items():
        for value in synth.props(function_id)["Environment"]["Variables"].values():
            if _ref(value) in topics:
                found.append(("role", synth.roles[name], str(_ref(value))))
    return found


def _principal_services(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    return set(_list(principal.get("Service", []))) if isinstance(principal, dict) else set()


def _alarm_condition_covers(statement: dict[str, Any], alarm_arn: str) -> bool:
    condition = statement.get("Condition", {})
    account = condition.get("StringEquals", {}).get("aws:SourceAccount")
    sources = {render(arn) for arn in _list(condition.get("ArnLike", {}).get("aws:SourceArn", []))}
    return account == {"Ref": "AWS::AccountId"} and alarm_arn in sources


# --- item 2: every notification path is allowed ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_sns_publisher_in_the_template_is_allowed_by_a_policy_statement(name: str) -> None:
    synth = synth_of(**VARIANTS[name])
    found = publishers(synth)
    kinds = {(kind, topic) for kind, _, topic in found}
    # Not vacuous: the alarms (5, and one per function) publish to the alert topic, the state machine and the report function to the
    # report topic; nothing else publishes (no EventBridge rule or S3 notification targets a topic).
    functions = len(synth.of_type("AWS::Lambda::Function")) - 1  # not CDK's bucket-notification handler
    assert len([f for f in found if f[0] == "cloudwatch"]) == 5 + functions
    assert kinds == {("cloudwatch", synth.alert_topic), ("role", synth.topic)}
    assert {who for kind, who, _ in found if kind == "role"} == {synth.roles["statemachine"], synth.roles["report"]}

    policies = {
        str(_ref(topic)): policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synth.of_type("AWS::SNS::TopicPolicy").values()
        for topic in policy["Properties"]["Topics"]
    }
    keys = synth.of_type("AWS::KMS::Key")
    for kind, who, topic in found:
        topic_key = synth.props(topic).get("KmsMasterKeyId")
        if kind in SERVICE_PUBLISHERS:
            service = f"{kind}.amazonaws.com"
            allowing = [
                s
                for s in policies[topic]
                if s["Effect"] == "Allow" and service in _principal_services(s) and "sns:Publish" in _list(s["Action"])
            ]
            assert allowing, (kind, who, topic)
            if kind == "cloudwatch":
                assert all(_alarm_condition_covers(s, who) for s in allowing), (who, allowing)
            key_id = topic_key.get("Fn::GetAtt", [None])[0] if isinstance(topic_key, dict) else None
            if key_id in keys:  # a key this stack creates: its policy must let the service use it for the topic
                statements = keys[key_id]["Properties"]["KeyPolicy"]["Statement"]
                granted = [
                    s
                    for s in statements
                    if s["Effect"] == "Allow"
                    and service in _principal_services(s)
                    and {"kms:GenerateDataKey", "kms:Decrypt"} <= set(_list(s["Action"]))
                ]
                assert granted and all(_alarm_condition_covers(s, who) for s in granted), (who, statements)
        else:  # an IAM role of this account: its identity policy allows the publish (and the topic's key)
            role = next(r for r, rid in synth.roles.items() if rid == who)
            grants = synth.grants(role)
            assert ("sns:Publish", "${" + topic + "}") in grants, (role, topic)
            if topic_key is not None:
                key = render(topic_key)
                assert {("kms:GenerateDataKey", key), ("kms:Decrypt", key)} <= grants, (role, key)
    # Topic policies deny only plain HTTP: no Deny could catch a publisher allowed above.
    for statements in policies.values():
        for statement in statements:
            if statement["Effect"] == "Deny":
                assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, statement


def test_alarm_names_are_the_stack_name_and_the_alarm() -> None:
    synth = synth_of(**VARIANTS["default"])
    names = {render(a["Properties"]["AlarmName"]) for a in synth.of_type("AWS::CloudWatch::Alarm").values()}
    assert "${AWS::StackName}-ExecutionsFailed" in names and "${AWS::StackName}-ReportRunErrors" in names
    assert all(n.startswith("${AWS::StackName}-") for n in names)


# --- item 3: IAM mirrors the allow-list --------------------------------------------------------------------


def test_rekognition_grants_follow_each_projects_dataset_types_and_creation_setting() -> None:
    synth = synth_of(projects=MIXED)
    datasets = {
        f"{ARN_HEAD}pets/dataset/train/*",
        f"{ARN_HEAD}pets/dataset/test/*",
        f"{ARN_HEAD}cars/dataset/train/*",  # cars: TRAIN only
        f"{ARN_HEAD}signs/dataset/test/*",  # signs: TEST only
    }
    expected = {
        "resolve": {
            ("rekognition:DescribeProjects", "*"),
            # CreateDataset acts on the project ARN: only the projects with createMissingDatasets.
            ("rekognition:CreateDataset", f"{ARN_HEAD}pets/*"),
            ("rekognition:CreateDataset", f"{ARN_HEAD}signs/*"),
            *{("rekognition:DescribeDataset", arn) for arn in datasets},
            *{("rekognition:ListDatasetLabels", arn) for arn in datasets},
        },
        "apply": {
            *{("rekognition:UpdateDatasetEntries", arn) for arn in datasets},
            *{("rekognition:DescribeDataset", arn) for arn in datasets},
        },
        "skip_unchanged": {
            *{("rekognition:DescribeDataset", arn) for arn in datasets},
            *{("rekognition:ListDatasetEntries", arn) for arn in datasets},
        },
        "report": {("rekognition:ListDatasetEntries", arn) for arn in datasets},
        "statemachine": {("rekognition:DescribeDataset", arn) for arn in datasets},
        "plan": set(),
        "take_turn": set(),
        "record_chunk": set(),
    }
    for role, pairs in expected.items():
        assert {p for p in synth.grants(role) if p[0].startswith("rekognition:")} == pairs, role
    # Nowhere a grant the allow-list does not give: no other type, no dataset/* and no CreateDataset for cars.
    everything = {render(r) for _, s in synth.all_statements() for r in _list(s["Resource"])}
    for forbidden in (
        f"{ARN_HEAD}cars/dataset/test/*",
        f"{ARN_HEAD}signs/dataset/train/*",
        f"{ARN_HEAD}cars/*",
        *(f"{ARN_HEAD}{p}/dataset/*" for p in MIXED),
    ):
        assert forbidden not in everything, forbidden
    # ResolveDataset decides from its own environment (the same allow-list), never from the execution input.
    env = synth.props(synth.functions["resolve"])["Environment"]["Variables"]
    policies = parse_projects(env[ENV_PROJECTS])
    assert {name: (sorted(p.dataset_types), p.create_missing_datasets) for name, p in policies.items()} == {
        "cars": (["TRAIN"], False),
        "pets": (["TEST", "TRAIN"], True),
        "signs": (["TEST"], True),
    }
    (resolve,) = [
        s
        for s in json.loads(synth.props(synth.state_machine)["DefinitionString"])["States"].values()
        if s.get("Resource") == "${ResolveDatasetFunctionArn}"
    ]
    assert "createMissing" not in json.dumps(resolve["Parameters"])


def test_no_create_dataset_grant_when_no_project_may_create() -> None:
    synth = synth_of(projects={"cars": {"datasetTypes": ["TRAIN"], "createMissingDatasets": False}})
    assert not [p for p in synth.grants("resolve") if p[0] == "rekognition:CreateDataset"]


# --- item 4: monitoring that means something ---------------------------------------------------------------


def _deployed(synth: Synth) -> dict[str, Any]:
    return dict(json.loads(synth.props(synth.state_machine)["DefinitionString"]))


def test_execution_timeout_is_derived_from_the_settings() -> None:
    default = synth_of(**VARIANTS["default"])
    # 86,400 s turn wait + 900 s TakeTurn; 3 x 60 s ResolveDataset + 3,600 s creation poll timeout;
    # 200 chunks x (3 x 300 s ApplyChunk + 3,600 s poll timeout + 3 x 60 s RecordChunk); 3 x 900 s ReportRun.
    assert _deployed(default)["TimeoutSeconds"] == 87_300 + 3_780 + 200 * 4_680 + 2_700 == 1_029_780
    small = synth_of(projects=PROJECTS, turnWaitSeconds=3600, maxChunksPerRun=10, pollTimeoutSeconds=600)
    assert _deployed(small)["TimeoutSeconds"] == (3600 + 900) + (180 + 600) + 10 * (900 + 600 + 180) + 2700
    assert "TimeoutSeconds" not in json.loads(definition_text())  # the file itself stays setting-free


def test_a_rejected_run_ends_in_succeed_after_its_alert_and_only_real_failures_fail() -> None:
    states = _deployed(synth_of(**VARIANTS["default"]))["States"]
    assert states["CheckPlan"]["Choices"][0]["Next"] == "ReportRejected"
    assert states[states["ReportRejected"]["Next"]]["Type"] == "Succeed"
    # Every Fail state is reached only through an alert that says FAILED (report or bare alert).
    fails = {name for name, state in states.items() if state["Type"] == "Fail"}
    assert fails == {"FailedAfterReport", "Failed", "FailedWithoutReport", "ChunkFailed"}
    synth = synth_of(**VARIANTS["default"])
    (failed,) = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ExecutionsFailed"
    ]
    assert failed["Namespace"] == "AWS/States" and "Rejected manifests" in failed["AlarmDescription"]


def test_bare_alerts_publish_a_short_document_not_the_state() -> None:
    definition = _deployed(synth_of(**VARIANTS["default"]))
    publishes = [s for s in walk(definition) if str(s.get("Resource", "")).endswith(":::sns:publish")]
    assert len(publishes) == 2  # AlertWithoutReport and, in the map's child, ChunkAlertWithoutReport
    for state in publishes:
        assert state["Parameters"]["Message.$"] == "States.JsonToString($.alert)"
    builders = [s for s in walk(definition) if s.get("ResultPath") == "$.alert"]
    assert len(builders) == 2
    for builder in builders:
        paths = {value for node in walk(builder["Parameters"]) for key, value in node.items() if key.endswith(".$")}
        assert "$" not in paths and "$.reportError" not in paths  # never the whole state or the raw error
        assert builder["Parameters"]["failure"] == {"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause"}
        assert builder["Parameters"]["reportError"] == {"Error.$": "$.reportError.Error"}


# --- item 6: the small ones --------------------------------------------------------------------------------


def test_buckets_enforce_bucket_owner_object_ownership() -> None:
    synth = synth_of(**VARIANTS["default"])
    for bucket in (synth.bucket, synth.access_logs):
        assert synth.props(bucket)["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
)
def test_kms_key_arns_like_aws_key_ids_are_accepted(arn: str) -> None:
    assert PipelineConfig.from_mapping({"kmsKey": arn}).kms_key == arn


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:kms:eu-west-1:123456789012:key/1234",  # not a key id
        "arn:aws:kms:eu-west-1:123456789012:key/1234ABCD-12AB-34CD-56EF-1234567890AB",  # key ids are lower case
        "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234",
        "arn:aws:kms:eu-west-1:123456789012:alias/pipeline",  # an alias is not a key
        "arn:aws:kms:eu-west-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab",  # 11-digit account
        "arn:aws:kms:europe:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",  # not a region
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab/x",
        "1234abcd-12ab-34cd-56ef-1234567890ab",  # a bare key id: the ARN is needed (region and account)
    ],
)
def test_kms_key_values_that_are_not_key_arns_are_refused(arn: str) -> None:
    with pytest.raises(ConfigError, match="kmsKey"):
        PipelineConfig.from_mapping({"kmsKey": arn})


# --- completion events (issue 17): who may put them, and only ours ------------------------------------------


def test_completion_events_are_allowed_on_the_default_bus_for_our_source_and_types_only() -> None:
    synth = synth_of(**VARIANTS["default"])
    bus = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"

    def allowed(role: str) -> set[tuple[str, str]]:
        return {(action, resource) for action, resource in synth.grants(role) if action.startswith("events:")}

    def condition(*types: str) -> str:
        return json.dumps(
            {"StringEquals": {"events:detail-type": list(types), "events:source": SOURCE}}, sort_keys=True
        )

    assert allowed("report") == {("events:PutEvents", f"{bus} if {condition(*DETAIL_TYPES)}")}
    assert allowed("statemachine") == {("events:PutEvents", f"{bus} if {condition(RUN_FAILED)}")}
    others = set(synth.roles) - {"report", "statemachine"}
    assert all(not allowed(role) for role in others)
    # Every putEvents task of the definition sends what the state machine's role allows.
    machine = synth.props(synth.state_machine)
    tasks = [s for s in walk(json.loads(machine["DefinitionString"])) if "events:putEvents" in str(s.get("Resource"))]
    assert len(tasks) == 2
    for task in tasks:
        (entry,) = task["Parameters"]["Entries"]
        assert (entry["Source"], entry["DetailType"], "EventBusName" in entry) == (SOURCE, RUN_FAILED, False)
