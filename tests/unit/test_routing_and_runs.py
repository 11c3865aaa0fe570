import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelsync.domain.routing import RouteRejected, route
from labelsync.domain.runs import ManifestRef, RunLayout, execution_name
from labelsync.settings import ProjectPolicy, Settings, SettingsError, parse_projects

PROJECTS = {
    "pets": ProjectPolicy(),
    "cars": ProjectPolicy(dataset_types=frozenset({"TRAIN"}), create_missing_datasets=False),
}


def test_routes_project_and_dataset_type() -> None:
    target = route("incoming/pets/test/run 1.jsonl", "incoming/", PROJECTS)
    assert (target.project, target.dataset_type, target.create_missing) == ("pets", "TEST", True)
    assert route("incoming/cars/TRAIN/a.manifest.gz", "incoming/", PROJECTS).dataset_type == "TRAIN"


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("incoming/pets/train/../test/x.jsonl", "'.' or '..' folder"),
        ("incoming/pets/train/./x.jsonl", "'.' or '..' folder"),
        ("incoming/pets/train/sub/x.jsonl", "sub-folders"),
        ("incoming/pets/test/batch 1/run.jsonl", "sub-folders"),
    ],
)
def test_nested_and_dotted_keys_are_refused_naming_the_layout(key: str, said: str) -> None:
    """S3 keeps `..` literally: `train/../test/x` would otherwise land in TRAIN while reading like TEST."""
    with pytest.raises(RouteRejected) as caught:
        route(key, "incoming/", PROJECTS)
    assert caught.value.code == "ROUTE_MALFORMED_KEY"
    assert (
        said in caught.value.message
        and "incoming/<project>/<train|test>/[replace/[force/]]<file>" in caught.value.message
    )


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("other/pets/train/a.jsonl", "ROUTE_OUTSIDE_PREFIX"),
        ("incoming/pets/a.jsonl", "ROUTE_MALFORMED_KEY"),
        ("incoming/pets//a.jsonl", "ROUTE_MALFORMED_KEY"),
        ("incoming/pets/train/a.csv", "ROUTE_UNSUPPORTED_FILE_TYPE"),
        ("incoming/pets/validation/a.jsonl", "ROUTE_UNKNOWN_DATASET_TYPE"),
        ("incoming/birds/train/a.jsonl", "ROUTE_PROJECT_NOT_ALLOWED"),
        ("incoming/cars/test/a.jsonl", "ROUTE_DATASET_TYPE_NOT_ALLOWED"),
    ],
)
def test_unroutable_keys_are_rejected_with_the_rule(key: str, code: str) -> None:
    with pytest.raises(RouteRejected) as caught:
        route(key, "incoming/", PROJECTS)
    assert (caught.value.code == code and key.split("/")[-1] in str(caught.value)) or caught.value.message


@given(st.text(min_size=1, max_size=300), st.one_of(st.none(), st.text(max_size=40)), st.text(max_size=40))
def test_execution_names_are_valid_and_deterministic(key: str, version: str | None, etag: str) -> None:
    ref = ManifestRef("bucket", key, version, etag)
    name = execution_name(ref)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert name == execution_name(ManifestRef("bucket", key, version, etag))


def test_a_new_version_or_etag_is_a_new_run_and_a_duplicate_event_is_not() -> None:
    a = ManifestRef("b", "incoming/p/train/x.jsonl", "v1", "e1")
    assert execution_name(a) == execution_name(ManifestRef("b", a.key, "v1", "e1", sequencer="other"))
    assert execution_name(a) != execution_name(ManifestRef("b", a.key, "v2", "e1"))
    assert execution_name(ManifestRef("b", a.key, None, "e1")) != execution_name(ManifestRef("b", a.key, None, "e2"))


def test_run_files_live_under_the_work_prefix() -> None:
    layout = RunLayout.for_run("runs/", "x-1")
    assert layout.chunk_key(12) == "runs/x-1/chunks/000012.jsonl"
    assert all(k.startswith("runs/x-1/") for k in (layout.plan_key, layout.report_key, layout.rejects_key))


def test_settings_parse_and_complain_clearly() -> None:
    s = Settings.from_env({"ALLOWED_PROJECTS": '{"p": {"datasetTypes": ["train"]}}', "CHUNK_LIMIT_BYTES": "1000"})
    assert s.projects["p"].dataset_types == {"TRAIN"} and s.chunk_limit_bytes == 1000
    with pytest.raises(SettingsError, match="CHUNK_LIMIT_BYTES"):
        Settings.from_env({"CHUNK_LIMIT_BYTES": "lots"})
    with pytest.raises(SettingsError, match="unknown types"):
        parse_projects('{"p": {"datasetTypes": ["VALIDATION"]}}')
    with pytest.raises(SettingsError, match="missing pipeline settings: topic_arn"):
        Settings().require("topic_arn")
