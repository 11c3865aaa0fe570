"""The run ledger table, the Distributed Map's and the bare alert's permissions, and the dependency graph:
the state machine names its task functions, so nothing those functions (or the state machine) depend on
may name the state machine."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from infra.constructs.workflow import ITEM_READER, ITEMS_FILE, distributed_maps
from statemachine.definition import definition_text
from tests.infra.stacks import KEY_ARN, PROJECTS, Synth, _list, synth_of

KEYED: dict[str, Any] = {"projects": PROJECTS, "kmsKey": "create"}


@pytest.fixture(scope="module")
def synth() -> Synth:
    return synth_of(projects=PROJECTS)


@pytest.fixture(scope="module")
def keyed() -> Synth:
    return synth_of(**KEYED)


# --- dependency graph ----------------------------------------------------------------------------------


def _references(value: Any) -> Iterator[str]:
    """Logical ids a CloudFormation value refers to (Ref, Fn::GetAtt, ${X} / ${X.Attr} in Fn::Sub)."""
    if isinstance(value, dict):
        for name, arg in value.items():
            if name == "Ref" and isinstance(arg, str):
                yield arg
            elif name == "Fn::GetAtt":
                yield arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
            elif name == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for token in text.split("${")[1:]:
                    yield token.split("}")[0].split(".")[0]
                if isinstance(arg, list):
                    yield from _references(arg[1])
            else:
                yield from _references(arg)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def dependency_graph(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Resource -> the resources CloudFormation must create first (references and DependsOn)."""
    resources = template["Resources"]
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        needs = set(_references(resource.get("Properties", {}))) | set(_list(resource.get("DependsOn", [])))
        graph[logical_id] = {n for n in needs if n in resources}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str]:
    """One dependency cycle as a path (first node repeated at the end), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_cycle_check_finds_cycles() -> None:
    assert find_cycle({"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": set()}) == ["A", "B", "C", "A"]
    assert find_cycle({"A": {"B"}, "B": set()}) == []
    template = {
        "Resources": {
            "Fn": {"Type": "T", "DependsOn": ["Policy"]},
            "Policy": {"Type": "T", "Properties": {"R": {"Fn::Sub": "arn:${Machine.Name}"}}},
            "Machine": {"Type": "T", "Properties": {"S": {"Fn::GetAtt": ["Fn", "Arn"]}}},
        }
    }
    assert find_cycle(dependency_graph(template)) == ["Fn", "Policy", "Machine", "Fn"]


@pytest.mark.parametrize(
    "variant", [{"projects": PROJECTS}, KEYED, {"projects": {}}], ids=["default", "keyed", "empty"]
)
def test_no_dependency_cycle(variant: dict[str, Any]) -> None:
    assert find_cycle(dependency_graph(synth_of(**variant).json)) == []


def test_state_machine_and_its_tasks_do_not_wait_for_grants_that_name_the_state_machine(synth: Synth) -> None:
    """The grants that name the state machine (child executions, TakeTurn's lookups) sit in separate policies
    that the state machine and the task functions never depend on; the plan function, which makes the
    pipeline live, is created only after them."""
    graph = dependency_graph(synth.json)
    naming = {
        logical_id
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        if synth.state_machine in set(_references(policy["Properties"]["PolicyDocument"]))
    }
    by_role = {role: set(synth.policies_of(role)) for role in ("statemachine", "take_turn", "plan")}
    (child_executions,) = naming & by_role["statemachine"]
    (lookup,) = naming & by_role["take_turn"]
    assert naming == {child_executions, lookup} | by_role["plan"]

    def closure(node: str) -> set[str]:
        seen: set[str] = set()
        todo = [node]
        while todo:
            for child in graph[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    for name in ("take_turn", "resolve", "apply", "record_chunk", "report"):
        assert not closure(synth.functions[name]) & naming, name
    assert not closure(synth.state_machine) & naming
    assert {child_executions, lookup} <= graph[synth.functions["plan"]]


# --- the ledger table ----------------------------------------------------------------------------------


def test_ledger_table_keys_ttl_pitr_on_demand_and_retained(synth: Synth) -> None:
    table = synth.resources[synth.ledger]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "dataset", "KeyType": "HASH"},
        {"AttributeName": "entry", "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "dataset", "AttributeType": "S"},
        {"AttributeName": "entry", "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in props
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "TableName" not in props, "a generated name: the stack can be deployed twice in one account"
    assert not {"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"} & set(props)


def test_ledger_table_uses_the_aws_managed_key_without_a_pipeline_key(synth: Synth) -> None:
    # SSEEnabled without a key id: KMS with the AWS managed key aws/dynamodb (not the AWS owned default).
    assert synth.props(synth.ledger)["SSESpecification"] == {"SSEEnabled": True}


def test_ledger_table_uses_the_pipeline_key_when_there_is_one(keyed: Synth) -> None:
    key = keyed.logical_id(keyed.stack.key)
    assert keyed.props(keyed.ledger)["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
    }
    several = synth_of(projects=PROJECTS, kmsKey=KEY_ARN)
    assert several.props(several.ledger)["SSESpecification"]["KMSMasterKeyId"] == KEY_ARN


def test_ledger_is_reached_only_with_item_actions_on_the_table(synth: Synth) -> None:
    table = "${" + synth.ledger + ".Arn}"
    by_role: dict[str, set[str]] = {}
    for name in synth.roles:
        for action, resource in synth.grants(name):
            if action.startswith("dynamodb:"):
                assert resource == table, (name, action, resource)
                by_role.setdefault(name, set()).add(action)
    assert by_role == {
        "plan": {"dynamodb:PutItem"},
        "take_turn": {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "apply": {"dynamodb:GetItem"},
        "record_chunk": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "report": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    }


# --- the Distributed Map and the bare alert ------------------------------------------------------------


def test_the_definition_has_the_distributed_map_these_grants_are_for() -> None:
    (chunks,) = distributed_maps(json.loads(definition_text()))
    assert chunks["ItemReader"]["Resource"] == ITEM_READER
    assert chunks["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    # TakeTurn writes <run>/items.json, SkipUnchanged <run>/items-changed.json (the chunks still to send)
    assert chunks["ItemReader"]["Parameters"]["Key.$"] == "$.delta.itemsKey"
    assert ITEMS_FILE == "items-changed.json"


def test_distributed_map_grants_live_in_a_separate_policy_of_the_state_machine_role(synth: Synth) -> None:
    head = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${" + synth.state_machine + ".Name}"
    policies = synth.policies_of("statemachine")
    waited_for = set(_list(synth.resources[synth.state_machine]["DependsOn"]))
    (separate,) = [k for k in policies if k not in waited_for]  # the default policy is in DependsOn
    statements = policies[separate]["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(
        (action, json.dumps(resource, sort_keys=True))
        for s in statements
        for action in _list(s["Action"])
        for resource in _list(s["Resource"])
    ) == sorted(
        (action, json.dumps(resource, sort_keys=True))
        for action, resource in [
            ("states:StartExecution", {"Ref": synth.state_machine}),
            *[
                (action, _arn_join(head, suffix))
                for action in ("states:DescribeExecution", "states:StopExecution")
                for suffix in ("/*", ":*")
            ],
        ]
    )
    assert all("Condition" not in s for s in statements)
    assert "states:RedriveExecution" not in {a for s in statements for a in _list(s["Action"])}, (
        "runs resume via TakeTurn"
    )


def _arn_join(head: str, suffix: str) -> dict[str, Any]:
    """The Fn::Join CDK renders for format_arn(execution, '<name><suffix>')."""
    machine = head.split("${")[-1].rstrip("}").split(".")[0]
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:",
                {"Fn::GetAtt": [machine, "Name"]},
                suffix,
            ],
        ]
    }


def test_state_machine_reads_only_the_items_files_and_publishes_only_to_the_report_topic(synth: Synth) -> None:
    bucket = "${" + synth.bucket + ".Arn}"
    machine = synth.grants("statemachine")
    assert {r for a, r in machine if a.startswith("s3:")} == {f"{bucket}/runs/*/items-changed.json"}
    assert {a for a, _ in machine if a.startswith("s3:")} == {"s3:GetObject"}
    assert {r for a, r in machine if a.startswith("sns:")} == {"${" + synth.topic + "}"}
    assert {a for a, _ in machine if a.startswith("sns:")} == {"sns:Publish"}
    assert not [a for a, _ in machine if a.startswith("kms:")], "no key, no KMS grant"


def test_state_machine_may_use_the_pipeline_key_for_items_and_the_encrypted_topic(keyed: Synth) -> None:
    key = "${" + keyed.logical_id(keyed.stack.key) + ".Arn}"
    assert {p for p in keyed.grants("statemachine") if p[0].startswith("kms:")} == {
        ("kms:Decrypt", key),
        ("kms:GenerateDataKey", key),
    }
    several = synth_of(projects=PROJECTS, kmsKey=KEY_ARN)
    assert ("kms:GenerateDataKey", KEY_ARN) in several.grants("statemachine")


def test_take_turn_lists_only_under_the_work_prefix_and_looks_up_only_this_state_machine(synth: Synth) -> None:
    listing = [s for s in synth.statements(synth.roles["take_turn"]) if "s3:ListBucket" in _list(s["Action"])]
    assert listing == [
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["runs/*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [synth.bucket, "Arn"]},
        }
    ]
    custom = synth_of(projects=PROJECTS, workPrefix="work/sync/")
    (statement,) = [s for s in custom.statements(custom.roles["report"]) if "s3:ListBucket" in _list(s["Action"])]
    assert statement["Condition"] == {"StringLike": {"s3:prefix": ["work/sync/*"]}}
    assert ("s3:GetObject", "${" + custom.bucket + ".Arn}/work/sync/*/items-changed.json") in custom.grants(
        "statemachine"
    )


def test_executions_that_end_without_success_go_to_the_report_function() -> None:
    from infra.function_specs import EXECUTION_END_STATUSES

    rules = synth_of(projects=PROJECTS).template.find_resources("AWS::Events::Rule")
    (rule,) = rules.values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == list(EXECUTION_END_STATUSES)
    (target,) = rule["Properties"]["Targets"]
    assert "ReportRun" in json.dumps(target["Arn"]) and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
