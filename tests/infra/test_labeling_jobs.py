"""Ground Truth jobs synced directly: built only when labelingJobs is set, the rule matches what the routes
can take, and the sync role may read exactly the routes' jobs and output paths."""

from __future__ import annotations

import json
from typing import Any

from labelsync.labeling_job_routes import JOB_STATE_CHANGE, SAGEMAKER_SOURCE
from tests.infra.stacks import Synth, render, synth_of
from tests.infra.test_production import CREATED_KEY, SEVERAL, VARIANTS

HANDLER = "labelsync.handlers.sync_labeling_job.handler"
JOBS = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:labeling-job/"


def sync_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v) for k, v in synth.of_type("AWS::Lambda::Function").items() if v["Properties"]["Handler"] == HANDLER
    ]
    return found


def sync_grants(synth: Synth) -> set[tuple[str, str]]:
    _, function = sync_function(synth)
    synth.roles["sync"] = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return synth.grants("sync")


def job_rule(synth: Synth) -> dict[str, Any]:
    (rule,) = [
        r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == [SAGEMAKER_SOURCE]
    ]
    return dict(rule)


def test_nothing_is_built_without_the_setting() -> None:
    synth = synth_of(**VARIANTS["default"])
    handlers = {f["Properties"]["Handler"] for f in synth.of_type("AWS::Lambda::Function").values()}
    assert HANDLER not in handlers
    assert all(
        r["Properties"]["EventPattern"].get("source") != [SAGEMAKER_SOURCE]
        for r in synth.of_type("AWS::Events::Rule").values()
    )


def test_name_routes_filter_the_rule_by_job_arn_and_scope_iam_to_those_names_and_paths() -> None:
    synth = synth_of(**SEVERAL)
    rule = job_rule(synth)
    pattern = rule["EventPattern"]
    assert (pattern["detail-type"], pattern["detail"]) == ([JOB_STATE_CHANGE], {"LabelingJobStatus": ["Completed"]})
    prefixes = sorted(render(r["prefix"]["equals-ignore-case"]) for r in pattern["resources"])
    assert prefixes == [f"{JOBS}Pets-", f"{JOBS}cars-"]
    logical_id, function = sync_function(synth)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    (permission,) = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com" and "SourceArn" in permission
    bucket = synth.bucket
    claims = [k for k, v in synth.of_type("AWS::DynamoDB::Table").items() if "Claims" in k]
    (claims_id,) = claims
    grants = sync_grants(synth)
    expected = (
        {("sagemaker:DescribeLabelingJob", f"{JOBS}{name}*") for name in ("Pets-", "pets-", "cars-")}
        | {
            ("s3:GetObject", "arn:${AWS::Partition}:s3:::gt-output/pets/*"),
            ("s3:GetObject", "arn:${AWS::Partition}:s3:::gt-output/cars/*"),
            ("s3:GetObject", f"${{{bucket}.Arn}}/incoming/*"),
            ("s3:PutObject", f"${{{bucket}.Arn}}/incoming/*"),
            ("s3:ListBucket", f"${{{bucket}.Arn}} if " + json.dumps({"StringLike": {"s3:prefix": ["incoming/*"]}})),
            ("sqs:SendMessage", f"${{{synth.failures}.Arn}}"),
        }
        | {
            (action, f"${{{claims_id}.Arn}}")
            for action in ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        }
    )
    kms = {pair for pair in grants if pair[0].startswith("kms:")}
    xray = {pair for pair in grants if pair[0].startswith(("xray:", "logs:"))}
    assert grants - kms - xray == expected
    assert {resource for _, resource in kms} == {SEVERAL["kmsKey"]}  # the existing key: the copy, the claims
    # Failed events (after two retries) go where the plan function's go.
    (config,) = [
        c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [synth.failures, "Arn"]}
    env = function["Properties"]["Environment"]["Variables"]
    assert json.loads(env["LABELING_JOBS"]) == SEVERAL["labelingJobs"]


def test_a_tag_route_takes_every_completed_job_and_reads_only_jobs_with_that_tag() -> None:
    synth = synth_of(**CREATED_KEY)
    assert "resources" not in job_rule(synth)["EventPattern"]
    tagged = {pair for pair in sync_grants(synth) if pair[0] == "sagemaker:DescribeLabelingJob"}
    condition = json.dumps({"StringEquals": {"aws:ResourceTag/dataset": "demo/test"}}, sort_keys=True)
    assert tagged == {
        ("sagemaker:DescribeLabelingJob", f"{JOBS}demo-*"),
        ("sagemaker:DescribeLabelingJob", f"{JOBS}* if {condition}"),
    }
    reads = {resource for action, resource in sync_grants(synth) if action == "s3:GetObject"}
    assert {"arn:${AWS::Partition}:s3:::gt-output/*", "arn:${AWS::Partition}:s3:::gt-tagged/jobs/*"} <= reads
