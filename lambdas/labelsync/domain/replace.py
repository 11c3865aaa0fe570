"""Replace mode's rules: when a manifest may stand for the whole dataset, and the steps that make it so.

UpdateDatasetEntries can add or replace entries, never remove one; a project holds one TRAIN and one
TEST dataset. So a replace that removes entries deletes the dataset and creates it again from the
manifest's accepted lines (CreateDataset from one GroundTruthManifest object). Before anything is
deleted the old entries are listed into a backup manifest; if the new dataset cannot be created, the
old one is created again from that backup. A replace that removes nothing is an ordinary update.

Each rule is written once, here: the removal guard, CreateDataset's manifest limits, and the order of
the steps (a step is done when the service says so, so a retried or resumed step repeats no harm).
"""

from __future__ import annotations

from dataclasses import dataclass

from labelsync.domain import rules

DEFAULT_MAX_REMOVED_PERCENT = 20
# A manifest file for CreateDataset: the service's file limits (domain/rules.py). The plan step already
# refuses a larger file; this checks the accepted lines as joined (conversions can add bytes).
CREATE_MAX_LINES = rules.MAX_MANIFEST_LINES
CREATE_MAX_BYTES = rules.MAX_MANIFEST_BYTES

# The steps of a rebuild, in order; RESTORE_* run only when the new dataset could not be created.
PREPARE = "prepare"  # join the backup, the removed source-refs and the new manifest into one object each
DELETE = "delete"  # DeleteDataset, once the dataset is still as it was listed
DELETING = "deleting"  # until DescribeDataset answers ResourceNotFoundException
CREATE = "create"  # CreateDataset from the new manifest
CREATING = "creating"  # until CREATE_COMPLETE (done) or CREATE_FAILED (restore)
RESTORE_DELETE = "restore-delete"  # the failed dataset goes, so the project has a TRAIN/TEST slot again
RESTORE_DELETING = "restore-deleting"
RESTORE_CREATE = "restore-create"  # CreateDataset from the backup
RESTORE_CREATING = "restore-creating"
DONE = "done"


@dataclass(frozen=True)
class Removal:
    """What a replace would remove: entries of the dataset whose source-ref the manifest does not hold."""

    removed: int
    dataset_entries: int

    @property
    def percent(self) -> float:
        return 100.0 * self.removed / self.dataset_entries if self.dataset_entries else 0.0


def guard_refusal(removal: Removal, *, max_percent: int, force: bool, forced_folder: str) -> str | None:
    """Why the replace is refused (it would remove more than `max_percent` of the dataset), or None."""
    if force or removal.removed * 100 <= max_percent * removal.dataset_entries:
        return None
    return (
        f"replace refused: it would remove {removal.removed:,} of the dataset's {removal.dataset_entries:,} "
        f"entries ({removal.percent:.1f}%), more than the {max_percent}% this deployment allows "
        f"(setting replaceMaxRemovedPercent); nothing was changed. To remove them anyway, drop the manifest "
        f"again under {forced_folder}"
    )


def rebuild_refusal(project: str, *, create_allowed: bool, lines: int, size: int) -> str | None:
    """Why a replace that removes entries cannot rebuild the dataset, or None: the project must let the
    pipeline create datasets (removing entries means creating the dataset again), and CreateDataset must
    take the accepted lines as one manifest file."""
    if not create_allowed:
        return (
            f"replace refused: removing entries means creating the dataset again, and project {project!r} does not "
            "let the pipeline create datasets (createMissingDatasets: false in the projects allow-list); nothing "
            "was changed"
        )
    return create_limit_refusal(lines, size)


def create_limit_refusal(lines: int, size: int) -> str | None:
    """Why CreateDataset could not take the manifest's accepted lines as one file, or None."""
    if lines > CREATE_MAX_LINES:
        return (
            f"replace refused: the manifest has {lines:,} accepted lines and CreateDataset takes at most "
            f"{CREATE_MAX_LINES:,} in one manifest file; nothing was changed"
        )
    if size > CREATE_MAX_BYTES:
        return (
            f"replace refused: the manifest's accepted lines are {size:,} bytes and CreateDataset takes at most "
            f"{CREATE_MAX_BYTES:,} in one manifest file; nothing was changed"
        )
    return None
