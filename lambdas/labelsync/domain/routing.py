"""Which dataset a dropped object is for, and how: `<incoming>/<project>/<train|test>/[replace/[force/]]<file>`.

The key is the only routing input, checked against the deployed allow-list, so a
misplaced file is rejected with a reason instead of landing in the wrong dataset. A file in the
dataset folder updates the dataset (entries are added or replaced); one in its `replace/` folder is
the whole dataset (entries it does not hold are removed, within the removal guard); `replace/force/`
lifts the guard (domain/replace.py). A project whose policy says `"replace": true` treats every file in
the dataset folder as a replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labelsync.settings import ProjectPolicy

MANIFEST_SUFFIXES = (".jsonl", ".manifest", ".jsonl.gz", ".manifest.gz")
DATASET_TYPES = {"train": "TRAIN", "test": "TEST"}
REPLACE_FOLDER = "replace"
FORCE_FOLDER = "force"


@dataclass(frozen=True)
class Target:
    project: str
    dataset_type: str
    create_missing: bool
    replace: bool = False  # the manifest is the whole dataset: entries it does not hold are removed
    force: bool = False  # a replace that may remove more than the guard's share

    @property
    def dataset_key(self) -> str:
        """The ledger's key for the dataset: one queue and one lock per project and dataset type."""
        return f"{self.project}/{self.dataset_type}"

    @property
    def mode(self) -> str:
        return "replace" if self.replace else "update"

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "datasetType": self.dataset_type,
            "createMissing": self.create_missing,
            "key": self.dataset_key,
            "mode": self.mode,
            "force": self.force,
        }


class RouteRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_folder_marker(key: str) -> bool:
    """Consoles create zero-byte `folder/` objects; they are not manifests."""
    return key.endswith("/")


def route(key: str, incoming_prefix: str, projects: Mapping[str, ProjectPolicy]) -> Target:
    expected = (
        f"{incoming_prefix}<project>/<train|test>/[{REPLACE_FOLDER}/[{FORCE_FOLDER}/]]<file>"
        f"{{{','.join(MANIFEST_SUFFIXES)}}}"
    )
    if not key.startswith(incoming_prefix):
        raise RouteRejected(
            "ROUTE_OUTSIDE_PREFIX", f"key {key!r} is not under {incoming_prefix!r}; expected {expected}"
        )
    parts = key[len(incoming_prefix) :].split("/")
    if any(part in (".", "..") for part in parts):
        raise RouteRejected(
            "ROUTE_MALFORMED_KEY",
            f"key {key!r} has a '.' or '..' folder (S3 keeps it as written, it does not mean 'up'); expected {expected}",
        )
    replace, force = _mode(parts)
    parts = parts[:2] + parts[2 + replace + force :]
    if len(parts) > 3 and all(parts):
        raise RouteRejected(
            "ROUTE_MALFORMED_KEY",
            f"key {key!r} has sub-folders below the dataset folder other than {REPLACE_FOLDER}/ and "
            f"{REPLACE_FOLDER}/{FORCE_FOLDER}/; put the file directly in one of them: expected {expected}",
        )
    if len(parts) != 3 or not all(parts):
        raise RouteRejected("ROUTE_MALFORMED_KEY", f"key {key!r} does not match {expected}")
    project, type_part, filename = parts
    if not filename.lower().endswith(MANIFEST_SUFFIXES):
        raise RouteRejected(
            "ROUTE_UNSUPPORTED_FILE_TYPE",
            f"file {filename!r} is not a manifest: the name must end with one of {', '.join(MANIFEST_SUFFIXES)}",
        )
    dataset_type = DATASET_TYPES.get(type_part.lower())
    if dataset_type is None:
        raise RouteRejected(
            "ROUTE_UNKNOWN_DATASET_TYPE", f"dataset folder {type_part!r} in {key!r} must be 'train' or 'test'"
        )
    policy = projects.get(project)
    if policy is None:
        allowed = ", ".join(sorted(projects)) or "none configured"
        raise RouteRejected(
            "ROUTE_PROJECT_NOT_ALLOWED", f"project {project!r} is not in this deployment's allow-list ({allowed})"
        )
    if dataset_type not in policy.dataset_types:
        raise RouteRejected(
            "ROUTE_DATASET_TYPE_NOT_ALLOWED",
            f"project {project!r} does not allow {dataset_type} updates (allowed: {', '.join(sorted(policy.dataset_types))})",
        )
    return Target(
        project=project,
        dataset_type=dataset_type,
        create_missing=policy.create_missing_datasets,
        replace=replace or policy.replace,
        force=force,
    )


def forced_folder(key: str) -> str:
    """The folder where `key`'s manifest, dropped again, is a replace without the removal guard (`key` is one
    route() accepted: the dataset folder, its replace/ folder, or replace/force/ itself)."""
    folder = key.rsplit("/", 1)[0]
    for tail in (f"/{REPLACE_FOLDER}/{FORCE_FOLDER}", f"/{REPLACE_FOLDER}"):
        if folder.endswith(tail):
            folder = folder[: -len(tail)]
            break
    return f"{folder}/{REPLACE_FOLDER}/{FORCE_FOLDER}/"


def _mode(parts: list[str]) -> tuple[bool, bool]:
    """(replace, force) from the folders after `<project>/<type>/` (exact, lower-case names: a file named
    `replace` is a file, and `Replace/` is a sub-folder like any other)."""
    replace = len(parts) > 3 and parts[2] == REPLACE_FOLDER
    force = replace and len(parts) > 4 and parts[3] == FORCE_FOLDER
    return replace, force
