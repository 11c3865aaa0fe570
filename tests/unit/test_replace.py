"""Replace mode's rules and its rebuild's steps, without AWS: the key that asks for it, the removal guard,
the streamed join, and a rebuild that is retried at any step without doing anything twice."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelsync.adapters.s3_store import JoinedObjects
from labelsync.domain.errors import DatasetCreateRefusedError, ReplaceFailedError, ReplaceRefusedError
from labelsync.domain.replace import (
    CREATE_MAX_LINES,
    DONE,
    Removal,
    guard_refusal,
    rebuild_refusal,
)
from labelsync.domain.routing import RouteRejected, forced_folder, route
from labelsync.domain.runs import RunLayout
from labelsync.ports import DatasetState
from labelsync.settings import (
    ENV_REPLACE_MAX_REMOVED_PERCENT,
    ProjectPolicy,
    Settings,
    SettingsError,
    parse_projects,
)
from labelsync.usecases.replace_dataset import replace_dataset
from tests.unit.test_usecases import FakeStore

PROJECTS = {"pets": ProjectPolicy(), "curated": ProjectPolicy(replace=True)}


@pytest.mark.parametrize(
    ("key", "mode", "force"),
    [
        ("incoming/pets/train/a.jsonl", "update", False),
        ("incoming/pets/train/replace/a.jsonl", "replace", False),
        ("incoming/pets/test/replace/force/a.manifest", "replace", True),
        ("incoming/pets/train/replace.jsonl", "update", False),  # a file named replace is a file
        ("incoming/curated/train/a.jsonl", "replace", False),  # the project's policy says every file is one
        ("incoming/curated/train/replace/a.jsonl", "replace", False),
        ("incoming/curated/test/replace/force/a.jsonl", "replace", True),
    ],
)
def test_the_key_says_update_replace_or_forced_replace(key: str, mode: str, force: bool) -> None:
    target = route(key, "incoming/", PROJECTS)
    assert (target.mode, target.force) == (mode, force)
    assert target.as_dict()["mode"] == mode and target.as_dict()["force"] is force


@pytest.mark.parametrize(
    "key",
    [
        "incoming/pets/train/replace/a.jsonl",
        "incoming/pets/train/replace/force/a.jsonl",
        "incoming/curated/train/a.jsonl",  # a replace by the project's policy: its folder has no replace/
    ],
)
def test_a_refused_replace_names_the_forced_folder_of_its_own_dataset(key: str) -> None:
    folder = forced_folder(key)
    assert folder == key.split("/train/")[0] + "/train/replace/force/"
    assert route(folder + "a.jsonl", "incoming/", PROJECTS).force


def test_a_replace_project_is_parsed_strictly_and_must_let_the_pipeline_create_datasets() -> None:
    assert parse_projects('{"p": {"replace": true}}')["p"] == ProjectPolicy(replace=True)
    assert not parse_projects('{"p": {}}')["p"].replace
    with pytest.raises(SettingsError, match=r"\['p'\]: replace: true needs createMissingDatasets: true"):
        parse_projects('{"p": {"replace": true, "createMissingDatasets": false}}')
    # A string "false" is true in Python: a policy's switches are JSON booleans or an error.
    with pytest.raises(SettingsError, match=r"\['p'\]\.createMissingDatasets must be true or false"):
        parse_projects('{"p": {"createMissingDatasets": "false"}}')
    with pytest.raises(SettingsError, match=r"\['p'\]\.replace must be true or false"):
        parse_projects('{"p": {"replace": "yes"}}')
    # A misspelt key would silently mean its default.
    with pytest.raises(SettingsError, match=r"unknown keys \['createMisingDatasets'\]; a policy takes datasetTypes"):
        parse_projects('{"p": {"createMisingDatasets": false}}')
    with pytest.raises(SettingsError, match=r"datasetTypes must be a list"):
        parse_projects('{"p": {"datasetTypes": "TRAIN"}}')


@pytest.mark.parametrize(
    "key",
    [
        "incoming/pets/train/force/a.jsonl",  # force alone is not a mode
        "incoming/pets/train/Replace/a.jsonl",  # exact names only
        "incoming/pets/train/replace/force/more/a.jsonl",
        "incoming/pets/train/replace/other/a.jsonl",
    ],
)
def test_other_folders_are_still_refused_naming_the_ones_allowed(key: str) -> None:
    with pytest.raises(RouteRejected) as caught:
        route(key, "incoming/", PROJECTS)
    assert caught.value.code == "ROUTE_MALFORMED_KEY" and "replace/force/" in caught.value.message


@given(st.integers(0, 10_000), st.integers(1, 10_000), st.integers(0, 100))
def test_the_guard_refuses_exactly_above_the_share_and_never_when_forced(
    removed: int, entries: int, percent: int
) -> None:
    removed = min(removed, entries)
    refusal = guard_refusal(Removal(removed, entries), max_percent=percent, force=False, forced_folder="f/")
    assert (refusal is not None) == (removed * 100 > percent * entries)
    assert guard_refusal(Removal(removed, entries), max_percent=percent, force=True, forced_folder="f/") is None
    if refusal:
        assert f"remove {removed:,} of the dataset's {entries:,}" in refusal and "f/" in refusal


def test_half_the_dataset_is_refused_by_the_default_guard_and_a_fifth_is_not() -> None:
    refusal = guard_refusal(
        Removal(50, 100), max_percent=20, force=False, forced_folder="incoming/p/train/replace/force/"
    )
    assert refusal is not None and "(50.0%), more than the 20%" in refusal and "nothing was changed" in refusal
    assert guard_refusal(Removal(20, 100), max_percent=20, force=False, forced_folder="x") is None


def test_a_rebuild_needs_a_creatable_project_and_a_manifest_create_dataset_takes() -> None:
    assert "createMissingDatasets: false" in str(rebuild_refusal("cars", create_allowed=False, lines=1, size=1))
    assert "250,000" in str(rebuild_refusal("p", create_allowed=True, lines=CREATE_MAX_LINES + 1, size=1))
    assert rebuild_refusal("p", create_allowed=True, lines=CREATE_MAX_LINES, size=10) is None


def test_the_share_setting_is_bounded() -> None:
    assert Settings.from_env({ENV_REPLACE_MAX_REMOVED_PERCENT: "35"}).replace_max_removed_percent == 35
    assert Settings.from_env({}).replace_max_removed_percent == 20
    with pytest.raises(SettingsError, match=ENV_REPLACE_MAX_REMOVED_PERCENT):
        Settings.from_env({ENV_REPLACE_MAX_REMOVED_PERCENT: "101"})


@given(st.lists(st.binary(max_size=40), max_size=6), st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_joined_objects_read_as_their_concatenation_with_a_newline_where_one_is_missing(
    parts: list[bytes], sizes: list[int]
) -> None:
    keys = [str(i) for i in range(len(parts))]
    stream = JoinedObjects(lambda key: io.BytesIO(parts[int(key)]), keys)
    read, turn = [], 0
    while chunk := stream.read(sizes[turn % len(sizes)]):
        assert len(chunk) <= sizes[turn % len(sizes)]
        read.append(chunk)
        turn += 1
    expected, last = b"", b"\n"
    for part in parts:
        if part and last != b"\n":
            expected += b"\n"
        if part:
            expected += part
            last = part[-1:]
    assert b"".join(read) == expected


# -- the rebuild, step by step ----------------------------------------------------------------------------

PREFIX = "runs/r1/"
PROJECT = "arn:project/pets/1"
OLD = "arn:project/pets/dataset/train/1"


class ScriptedService:
    """The dataset calls a rebuild makes, with the service's asynchronous states; `crash_after` raises once
    right after the named call went through (a Lambda that died before it recorded the step)."""

    def __init__(
        self,
        *,
        create_fails: bool = False,
        crash_after: str | None = None,
        refuse_new: bool = False,
        restore_fails: bool = False,
    ) -> None:
        self.datasets: dict[str, dict[str, Any]] = {OLD: {"status": "UPDATE_COMPLETE", "at": 100.0, "source": "old"}}
        self.create_fails, self.crash_after, self.refuse_new = create_fails, crash_after, refuse_new
        self.restore_fails = restore_fails
        self.calls: list[str] = []
        self.serial = 1

    def _crash(self, call: str) -> None:
        self.calls.append(call)
        if self.crash_after == call:
            self.crash_after = None
            raise RuntimeError(f"the function died after {call}")

    def tick(self) -> None:
        """Time passes: deletions end, creations finish."""
        for arn, dataset in list(self.datasets.items()):
            if dataset["status"] == "DELETE_IN_PROGRESS":
                del self.datasets[arn]
            elif dataset["status"] == "CREATE_IN_PROGRESS":
                failed = (self.create_fails and dataset["source"].endswith("new.manifest")) or (
                    self.restore_fails and dataset["source"].endswith("backup.manifest")
                )
                dataset["status"] = "CREATE_FAILED" if failed else "CREATE_COMPLETE"

    def describe(self, arn: str) -> DatasetState:
        dataset = self.datasets[arn]
        return DatasetState(
            dataset["status"],
            dataset["at"],
            3,
            "ERROR_TOO_MANY_RECORDS_IN_ERROR" if "FAILED" in dataset["status"] else "",
        )

    def describe_if_exists(self, arn: str) -> DatasetState | None:
        return self.describe(arn) if arn in self.datasets else None

    def delete(self, arn: str) -> None:
        if arn in self.datasets:
            self.datasets[arn]["status"] = "DELETE_IN_PROGRESS"
        self._crash("delete")

    def create_from_manifest(
        self, project_arn: str, dataset_type: str, bucket: str, key: str, version: str | None
    ) -> str:
        if self.refuse_new and key.endswith("new.manifest"):
            raise DatasetCreateRefusedError("CreateDataset: InvalidS3ObjectException: Unable to get object")
        existing = [arn for arn, d in self.datasets.items() if d["status"] != "DELETE_IN_PROGRESS"]
        if existing:  # ResourceAlreadyExistsException: the adapter answers with that dataset
            return existing[0]
        self.serial += 1
        arn = f"arn:project/pets/dataset/train/{self.serial}"
        self.datasets[arn] = {"status": "CREATE_IN_PROGRESS", "at": 200.0 + self.serial, "source": key}
        self._crash("create")
        return arn


def prepared_store() -> FakeStore:
    layout = RunLayout(PREFIX)
    chunks = [{"index": i, "key": layout.chunk_key(i), "lines": 1, "bytes": 30} for i in range(2)]
    objects = {
        layout.plan_key: json.dumps({"chunks": chunks}).encode(),
        layout.items_key: json.dumps([{"chunk": c["index"], "key": c["key"], "lines": 1} for c in chunks]).encode(),
        layout.chunk_key(0): b'{"source-ref":"s3://i/a.jpg"}\n',
        layout.chunk_key(1): b'{"source-ref":"s3://i/b.jpg"}\n',
        layout.delta_key: json.dumps({"replace": {"listedAt": 100.0, "removed": 1, "rebuild": True}}).encode(),
        layout.delta_listing_key: json.dumps(
            {"replace": {"listed": 2, "removed": 1, "backupParts": 1, "removedParts": 1}}
        ).encode(),
        layout.replace_backup_part_key(0): b'{"source-ref":"s3://i/a.jpg"}\n{"source-ref":"s3://i/old.jpg"}\n',
        layout.replace_removed_part_key(0): b'"s3://i/old.jpg"\n',
    }
    return FakeStore(objects)


def rebuild(store: FakeStore, service: ScriptedService, *, max_steps: int = 40) -> dict[str, Any]:
    event = {
        "run": {"bucket": "pipe", "prefix": PREFIX, "manifest": {"key": "incoming/pets/train/replace/curated.jsonl"}},
        "target": {"datasetType": "TRAIN"},
        "itemsKey": RunLayout(PREFIX).items_key,
        "datasetArn": OLD,
        "projectArn": PROJECT,
        "poll": {"initialSeconds": 5, "maxSeconds": 60, "timeoutSeconds": 3600},
    }
    for _ in range(max_steps):
        try:
            result = replace_dataset(event, store=store, datasets=service)  # type: ignore[arg-type]
        except RuntimeError:
            continue  # the state machine's Retry invokes the step again
        if result.get("done"):
            return result
        assert isinstance(result["wait"], int)
        service.tick()
    raise AssertionError("the rebuild did not finish")


@pytest.mark.parametrize("crash_after", [None, "delete", "create"])
def test_a_rebuild_deletes_once_creates_once_and_marks_every_chunk_even_when_a_step_is_retried(
    crash_after: str | None,
) -> None:
    store, service = prepared_store(), ScriptedService(crash_after=crash_after)
    result = rebuild(store, service)
    assert result["done"] and result["datasetArn"] != OLD and result["removed"] == 1
    assert service.calls.count("create") == 1 and OLD not in service.datasets
    layout = RunLayout(PREFIX)
    assert (
        store.objects[layout.replace_manifest_key] == b'{"source-ref":"s3://i/a.jpg"}\n{"source-ref":"s3://i/b.jpg"}\n'
    )
    assert store.objects[layout.replace_backup_key].count(b"source-ref") == 2
    markers = [json.loads(store.objects[layout.applied_key(i)]) for i in range(2)]
    assert all(m["replacedBy"] == "CreateDataset" and m["datasetArn"] == result["datasetArn"] for m in markers)
    assert json.loads(store.objects[layout.replace_state_key])["phase"] == DONE


def test_a_failed_create_is_deleted_and_the_backup_created_in_its_place() -> None:
    store, service = prepared_store(), ScriptedService(create_fails=True)
    with pytest.raises(ReplaceFailedError) as caught:
        rebuild(store, service)
    (restored,) = service.datasets.values()
    assert restored["status"] == "CREATE_COMPLETE" and restored["source"].endswith("backup.manifest")
    assert "undone" in str(caught.value) and "ERROR_TOO_MANY_RECORDS_IN_ERROR" in str(caught.value)


def test_a_dataset_changed_since_it_was_listed_is_not_deleted() -> None:
    store, service = prepared_store(), ScriptedService()
    service.datasets[OLD]["at"] = 150.0  # someone updated it after the listing
    with pytest.raises(ReplaceRefusedError, match="changed after it was listed"):
        rebuild(store, service)
    assert service.calls == [] and service.datasets[OLD]["status"] == "UPDATE_COMPLETE"


def test_a_create_the_service_refuses_outright_also_restores_the_backup() -> None:
    store, service = prepared_store(), ScriptedService(refuse_new=True)
    with pytest.raises(ReplaceFailedError, match="InvalidS3ObjectException") as caught:
        rebuild(store, service)
    (restored,) = service.datasets.values()
    assert restored["source"].endswith("backup.manifest") and "restored from the backup" in str(caught.value)


def test_a_restore_that_fails_too_says_what_is_left_and_how_to_put_the_old_entries_back() -> None:
    store, service = prepared_store(), ScriptedService(create_fails=True, restore_fails=True)
    with pytest.raises(ReplaceFailedError) as caught:
        rebuild(store, service)
    (left,) = service.datasets
    said = str(caught.value)
    assert f"TRAIN dataset {left} is CREATE_FAILED: delete it" in said
    assert f"drop the backup s3://pipe/{RunLayout(PREFIX).replace_backup_key} (2 entries" in said
    assert said.endswith("under incoming/pets/train/replace/force/ to restore it")
