"""The labelingJobs setting (one parser for the CDK app and the function), job matching, and the sync use
case with fakes: every refusal names the job and the rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from labelsync.labeling_job_routes import (
    AmbiguousJob,
    JobRoute,
    job_name_of,
    manifest_key,
    parse_labeling_jobs,
    route_for,
    routes_json,
    state_change_pattern,
)
from labelsync.ports import LabelingJob
from labelsync.settings import ProjectPolicy, SettingsError
from labelsync.usecases.sync_labeling_job import JobNotSyncable, sync_labeling_job

PROJECTS = {"birds": ProjectPolicy(), "cats": ProjectPolicy(dataset_types=frozenset({"TRAIN"}))}
BY_NAME = {"namePrefix": "Birds-", "project": "birds", "datasetType": "train", "outputPath": "s3://gt-out/birds"}
BY_TAG = {
    "tag": {"key": "team", "value": "vision"},
    "project": "birds",
    "datasetType": "TEST",
    "outputPath": "s3://gt-tags",
}
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:labeling-job/"


def test_routes_are_normalised_and_round_trip() -> None:
    routes = parse_labeling_jobs([BY_NAME, BY_TAG], PROJECTS)
    assert routes[0] == JobRoute("birds", "TRAIN", "gt-out", "birds/", name_prefix="Birds-")
    assert routes[1].output_path == "s3://gt-tags/" and routes[1].tag == ("team", "vision")
    assert parse_labeling_jobs(routes_json(routes), PROJECTS) == routes


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"not": "a list"}, "must be a list of objects"),
        ("[", "is not valid JSON"),
        ([{**BY_NAME, "extra": 1}], "labelingJobs[0] has unknown keys ['extra']"),
        ([{**BY_NAME, **BY_TAG}], "exactly one of namePrefix or tag"),
        ([{k: v for k, v in BY_NAME.items() if k != "namePrefix"}], "exactly one of namePrefix or tag"),
        ([{**BY_NAME, "namePrefix": "-x"}], "namePrefix must be the start of a labeling job name"),
        ([{**BY_NAME, "namePrefix": "a*"}], "namePrefix must be the start of a labeling job name"),
        ([{**BY_TAG, "tag": {"key": ""}}], ".tag must be"),
        ([{**BY_NAME, "project": "nope"}], "project 'nope' is not in projects"),
        ([{**BY_NAME, "project": "cats", "datasetType": "TEST"}], "does not allow TEST datasets"),
        ([{**BY_NAME, "datasetType": "validation"}], "datasetType must be TRAIN or TEST"),
        ([{**BY_NAME, "outputPath": "gt-out/birds/"}], "outputPath must be s3://BUCKET/"),
        ([{**BY_NAME, "outputPath": "s3://Upper/"}], "outputPath must be s3://BUCKET/"),
        ([{**BY_NAME, "outputPath": "s3://gt-out/a*/"}], "must not contain '*'"),
        ([BY_NAME, {**BY_NAME, "namePrefix": "birds-2026"}], "labelingJobs[0] and labelingJobs[1]: name prefixes"),
        ([BY_TAG, {**BY_TAG, "datasetType": "TRAIN"}], "have the same tag team=vision"),
    ],
)
def test_bad_settings_name_the_entry_and_the_rule(setting: Any, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_labeling_jobs(setting, PROJECTS)
    assert message in str(raised.value)


def test_matching_by_prefix_ignores_case_and_by_tag_needs_the_value() -> None:
    by_name, by_tag = parse_labeling_jobs([BY_NAME, BY_TAG], PROJECTS)
    assert route_for("birds-0042", {}, [by_name, by_tag]) is by_name
    assert route_for("BIRDS-x", {}, [by_name]) is by_name
    assert route_for("cats-1", {"team": "vision"}, [by_name, by_tag]) is by_tag
    assert route_for("cats-1", {"team": "other"}, [by_name, by_tag]) is None
    with pytest.raises(AmbiguousJob, match="matches 2 labelingJobs entries"):
        route_for("birds-1", {"team": "vision"}, [by_name, by_tag])


def test_output_must_be_under_the_path_in_the_same_bucket() -> None:
    (route,) = parse_labeling_jobs([BY_NAME], PROJECTS)
    assert route.holds("s3://gt-out/birds/job/manifests/output/output.manifest")
    assert not route.holds("s3://gt-out/birdsong/job/output.manifest")
    assert not route.holds("s3://gt-out-2/birds/job/output.manifest")
    assert not route.holds("https://gt-out/birds/x")


def test_names_keys_and_patterns() -> None:
    by_name, by_tag = parse_labeling_jobs([BY_NAME, BY_TAG], PROJECTS)
    assert job_name_of(f"{ARN}birds-1") == "birds-1"
    with pytest.raises(ValueError, match="not a labeling job ARN"):
        job_name_of("arn:aws:sagemaker:eu-west-1:123456789012:training-job/birds-1")
    assert manifest_key("incoming/", by_name, "Birds-7") == "incoming/birds/train/labeling-job-Birds-7.manifest"
    only_names = state_change_pattern([by_name], ARN)
    assert only_names["resources"] == [{"prefix": {"equals-ignore-case": f"{ARN}Birds-"}}]
    assert only_names["detail"] == {"LabelingJobStatus": ["Completed"]}
    assert "resources" not in state_change_pattern([by_name, by_tag], ARN)  # tags are not in the event


@dataclass
class FakeJobs:
    job: LabelingJob

    def describe(self, name: str) -> LabelingJob:
        assert name.lower() == self.job.name.lower()
        return self.job


@dataclass
class FakeCopies:
    objects: dict[str, str] = field(default_factory=dict)  # key -> job arn

    def copied_job(self, bucket: str, key: str) -> str | None:
        return self.objects.get(key)

    def copy(self, source_uri: str, bucket: str, key: str, *, job_arn: str) -> str:
        self.objects[key] = job_arn
        return "v1"


def job(**changes: Any) -> LabelingJob:
    values: dict[str, Any] = {
        "name": "Birds-9",
        "arn": f"{ARN}birds-9",
        "status": "Completed",
        "output_manifest": "s3://gt-out/birds/Birds-9/manifests/output/output.manifest",
        "tags": {},
    }
    return LabelingJob(**{**values, **changes})


def sync(labeling_job: LabelingJob, copies: FakeCopies | None = None) -> dict[str, Any]:
    return sync_labeling_job(
        labeling_job.arn,
        routes=parse_labeling_jobs([BY_NAME], PROJECTS),
        jobs=FakeJobs(labeling_job),
        copies=copies or FakeCopies(),
        bucket="pipeline",
        incoming_prefix="incoming/",
    )


def test_a_completed_job_is_copied_once() -> None:
    copies = FakeCopies()
    first = sync(job(), copies)
    assert first["outcome"] == "COPIED"
    assert first["manifest"] == "s3://pipeline/incoming/birds/train/labeling-job-Birds-9.manifest"
    assert sync(job(), copies)["outcome"] == "ALREADY_COPIED"


def test_an_unmatched_job_is_ignored() -> None:
    assert sync(job(name="cats-1", arn=f"{ARN}cats-1"))["outcome"] == "IGNORED"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"status": "Stopped"}, "JOB_NOT_COMPLETED"),
        ({"output_manifest": None}, "JOB_HAS_NO_OUTPUT_MANIFEST"),
        ({"output_manifest": "s3://elsewhere/Birds-9/output.manifest"}, "JOB_OUTPUT_OUTSIDE_PATH"),
    ],
)
def test_jobs_that_cannot_be_synced_raise_with_the_job_named(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(JobNotSyncable) as raised:
        sync(job(**changes))
    assert raised.value.code == code and "'Birds-9'" in str(raised.value)
