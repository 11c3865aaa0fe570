"""Delta sync: leave out of the run every line the dataset already holds as it is (once the run has
its turn and the dataset is ready, so no other run of ours changes it meanwhile).

Where the dataset's state comes from, cheapest first:
1. the dataset's index (domain/dataset_index.py), when DescribeDataset still says the
   LastUpdatedTimestamp it was written at: one GET, whatever the dataset's size;
2. an empty dataset: nothing to compare;
3. otherwise a listing of the whole dataset (ListDatasetEntries, 100 entries a page), trusted only if
   the timestamp is the same after the last page; it becomes the new index. A step lists until half
   its time is used, stores where it stopped and what it read, and returns `continue`: the state
   machine invokes it again (2,500 pages for 250,000 entries can outlast one invocation). If the
   dataset changes meanwhile, or the listing passes MAX_LISTING_PAGES, every line is sent: an index
   that might be stale never makes a changed line look unchanged.

Per chunk, what was left out and the digests of what is sent go to `delta/<chunk>.json` (the report
counts `unchanged` and updates the index from them); a chunk with nothing left to send gets its
applied marker here, so the Map skips it and a resume counts it done. What is left of consecutive
chunks is then sent together, as many as fit under the chunk limit in one update (an item's `parts`):
1% of a 250,000-line manifest, edited here and there, is one update instead of one per chunk, and each
part keeps its own applied marker, so resumes and the report still count chunk by chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from labelsync.domain.dataset_index import EMPTY, INDEX, LISTING, DatasetIndex, pack, unpack
from labelsync.domain.entry_digest import entry_digest, stored_digest
from labelsync.domain.errors import DatasetBusyError, ReplaceRefusedError
from labelsync.domain.jsonl import utf8_json
from labelsync.domain.lines import split_lines
from labelsync.domain.replace import DEFAULT_MAX_REMOVED_PERCENT, Removal, guard_refusal, rebuild_refusal
from labelsync.domain.routing import forced_folder
from labelsync.domain.runs import RunLayout, dataset_index_key
from labelsync.ports import Datasets, DatasetState, ObjectStore
from labelsync.usecases.replace_listing import BackupKeeper, manifest_refs, rebuild_sources

MAX_LISTING_PAGES = 5_000  # 500,000 entries: twice the service's dataset limit


def skip_unchanged(
    event: Mapping[str, Any],
    *,
    store: ObjectStore,
    datasets: Datasets,
    work_prefix: str,
    enabled: bool,
    chunk_limit: int,
    time_left: Callable[[], bool] = lambda: True,
    max_pages: int = MAX_LISTING_PAGES,
    max_removed_percent: int = DEFAULT_MAX_REMOVED_PERCENT,
) -> dict[str, Any]:
    run, target = event["run"], event["target"]
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    dataset_arn = str(event["datasetArn"])
    items: list[dict[str, Any]] = json.loads(store.get_bytes(bucket, str(event["itemsKey"])))
    index_key = dataset_index_key(work_prefix, str(target["key"]))
    if target.get("mode") == "replace":
        return _replace(
            event,
            store=store,
            datasets=datasets,
            items=items,
            index_key=index_key,
            enabled=enabled,
            chunk_limit=chunk_limit,
            time_left=time_left,
            max_pages=max_pages,
            max_removed_percent=max_removed_percent,
        )
    if not enabled:
        return _decided(store, bucket, layout, items, chunk_limit, {"enabled": False, "reason": "deltaSync is off"})
    if not items:
        no_chunk = {"enabled": True, "indexKey": index_key, "reason": "no chunk left"}
        return _decided(store, bucket, layout, items, chunk_limit, no_chunk)
    state = _settled_state(datasets, dataset_arn)
    found = _dataset_state(store, datasets, bucket, layout, index_key, dataset_arn, state, time_left, max_pages)
    if found is None:  # the listing goes on in the next step
        return _listing_continues(store, bucket, layout)
    index, source, reason = found
    decision: dict[str, Any] = {"enabled": True, "indexKey": index_key, "source": source, "reason": reason}
    return _send_changed(store, bucket, layout, items, chunk_limit, decision, index)


def _settled_state(datasets: Datasets, dataset_arn: str) -> DatasetState:
    state = datasets.describe(dataset_arn)
    if state.status.endswith("_IN_PROGRESS"):
        # Someone else's update is under way: entries listed or compared now may change when it completes.
        raise DatasetBusyError(f"the dataset is {state.status}: unchanged lines are decided once it has finished")
    return state


def _listing_continues(store: ObjectStore, bucket: str, layout: RunLayout) -> dict[str, Any]:
    progress = json.loads(store.get_bytes(bucket, layout.delta_listing_key))
    return {"continue": True, "listing": {"pages": progress["pages"], "entries": progress["entries"]}}


def _send_changed(
    store: ObjectStore,
    bucket: str,
    layout: RunLayout,
    items: list[dict[str, Any]],
    chunk_limit: int,
    decision: dict[str, Any],
    index: DatasetIndex | None,
) -> dict[str, Any]:
    """The items with the lines `index` holds as they are left out (all of them when there is no index)."""
    if index is None:
        return _decided(store, bucket, layout, items, chunk_limit, decision)
    kept = [item for item in (_filter(store, bucket, layout, item, index) for item in items) if item is not None]
    compared = {**decision, "asOf": index.as_of, "indexEntries": len(index.entries)}
    return _decided(store, bucket, layout, kept, chunk_limit, compared)


def _replace(
    event: Mapping[str, Any],
    *,
    store: ObjectStore,
    datasets: Datasets,
    items: list[dict[str, Any]],
    index_key: str,
    enabled: bool,
    chunk_limit: int,
    time_left: Callable[[], bool],
    max_pages: int,
    max_removed_percent: int,
) -> dict[str, Any]:
    """Replace mode: the manifest is the whole dataset. The dataset is always listed (its index holds no
    source-refs and leaves out flagged entries: the guard, the list of what is removed and the backup
    need every entry). Nothing to remove: an ordinary update (delta sync as configured). Too much to
    remove: refused. Otherwise the state machine rebuilds the dataset (usecases/replace_dataset.py)."""
    run, target = event["run"], event["target"]
    bucket, layout = str(run["bucket"]), RunLayout(str(run["prefix"]))
    dataset_arn = str(event["datasetArn"])
    state = _settled_state(datasets, dataset_arn)
    sources = rebuild_sources(store, bucket, layout, items)
    index: DatasetIndex | None = DatasetIndex(dataset_arn, state.last_updated, {}, EMPTY)
    source, reason, removal = EMPTY, "the dataset has no entries", Removal(0, 0)
    if state.total_entries:
        refs = manifest_refs(store, bucket, layout, sources)

        def keeper(progress: dict[str, Any]) -> BackupKeeper:
            return BackupKeeper(store, bucket, layout, refs, progress.get("replace") or {})

        listed = _list_step(store, datasets, bucket, layout, dataset_arn, state, time_left, max_pages, keeper)
        if listed is None:
            return _listing_continues(store, bucket, layout)
        if isinstance(listed, str):
            raise ReplaceRefusedError(
                f"replace refused: the dataset could not be read whole ({listed}); nothing was changed. "
                "Drop the manifest again once nothing else updates the dataset"
            )
        progress = json.loads(store.get_bytes(bucket, layout.delta_listing_key))
        counters = progress["replace"]
        removal = Removal(int(counters["removed"]), int(counters["listed"]))
        index = DatasetIndex(dataset_arn, state.last_updated, listed, LISTING)
        if enabled:
            store.put_bytes(bucket, index_key, index.to_bytes(), content_type="application/octet-stream")
        source, reason = (
            LISTING,
            f"a replace lists the whole dataset: {removal.dataset_entries:,} entries "
            f"({progress['pages']:,} ListDatasetEntries pages)",
        )
    note = {
        "removed": removal.removed,
        "datasetEntries": removal.dataset_entries,
        "maxRemovedPercent": max_removed_percent,
        "force": bool(target.get("force")),
        "listedAt": state.last_updated,
        "rebuild": False,
    }
    decision: dict[str, Any] = {"enabled": enabled, "indexKey": index_key, "source": source, "reason": reason}
    refusal = guard_refusal(
        removal,
        max_percent=max_removed_percent,
        force=bool(target.get("force")),
        forced_folder=forced_folder(str(run["manifest"]["key"])),
    )
    if refusal is None and removal.removed:
        refusal = rebuild_refusal(
            str(target["project"]),
            create_allowed=bool(target.get("createMissing", True)),
            lines=sum(s.lines for s in sources),
            size=sum(s.size for s in sources),
        )
    if refusal is not None:
        store.put_bytes(
            bucket, layout.delta_key, utf8_json({**decision, "unchanged": 0, "replace": {**note, "refused": refusal}})
        )
        raise ReplaceRefusedError(refusal)
    if not removal.removed:  # every entry of the dataset is in the manifest: an update does it
        if not enabled:
            decision["reason"] = "deltaSync is off"
            index = None
        return _send_changed(store, bucket, layout, items, chunk_limit, {**decision, "replace": note}, index)
    note["rebuild"] = True
    decided = _decided(store, bucket, layout, [], chunk_limit, {**decision, "replace": note})
    return {**decided, "replace": {"removed": removal.removed, "datasetEntries": removal.dataset_entries}}


def _dataset_state(
    store: ObjectStore,
    datasets: Datasets,
    bucket: str,
    layout: RunLayout,
    index_key: str,
    dataset_arn: str,
    state: DatasetState,
    time_left: Callable[[], bool],
    max_pages: int,
) -> tuple[DatasetIndex | None, str | None, str] | None:
    """(the entries to compare with, where they came from, why), (None, None, why every line is sent),
    or None while a listing is under way (this step stored its progress)."""
    stored = _load_index(store, bucket, index_key)
    if stored is not None and stored.fresh(dataset_arn, state.last_updated):
        return stored, INDEX, f"the dataset's index ({len(stored.entries):,} entries) is current"
    if state.total_entries == 0:
        return DatasetIndex(dataset_arn, state.last_updated, {}, EMPTY), EMPTY, "the dataset has no entries"
    why = "no index of this dataset yet" if stored is None else "the dataset changed since its index was written"
    listed = _list_step(store, datasets, bucket, layout, dataset_arn, state, time_left, max_pages)
    if listed is None:
        return None
    if isinstance(listed, str):
        return None, None, f"{why}, and {listed}"
    index = DatasetIndex(dataset_arn, state.last_updated, listed, LISTING)
    store.put_bytes(bucket, index_key, index.to_bytes(), content_type="application/octet-stream")
    pages = json.loads(store.get_bytes(bucket, layout.delta_listing_key))["pages"]
    return index, LISTING, f"{why}: listed its {len(listed):,} entries ({pages:,} ListDatasetEntries pages)"


def _list_step(
    store: ObjectStore,
    datasets: Datasets,
    bucket: str,
    layout: RunLayout,
    dataset_arn: str,
    state: DatasetState,
    time_left: Callable[[], bool],
    max_pages: int,
    keeper: Callable[[dict[str, Any]], BackupKeeper] | None = None,
) -> dict[bytes, bytes] | str | None:
    """One step of the listing: every entry once it is done, None to go on, or why it cannot be used.

    `keeper` (replace mode): also keeps every entry as a backup line and each one the manifest lacks."""
    progress = _listing_progress(store, bucket, layout, state)
    kept = keeper(progress) if keeper is not None else None
    entries: dict[bytes, bytes] = {}
    token, read = progress["token"], 0
    while True:
        if progress["pages"] >= max_pages:
            return f"its listing passed {max_pages:,} pages"
        page = datasets.entry_page(dataset_arn, has_errors=False, token=token)
        progress["pages"] += 1
        read += 1
        for line in page.entries:
            digest = stored_digest(line)
            if digest is not None:
                entries[digest[0]] = digest[1]
            if kept is not None:
                kept.add(line)
        token = page.next_token
        if token is None or not time_left():
            break
    if kept is not None:
        progress["replace"] = kept.flush()
    if token is not None:  # stopped for time: store what this step read, and where to go on
        store.put_bytes(bucket, layout.delta_listing_part_key(progress["parts"]), pack(entries.items()))
        progress |= {"token": token, "parts": progress["parts"] + 1, "entries": progress["entries"] + len(entries)}
        store.put_bytes(bucket, layout.delta_listing_key, utf8_json(progress))
        return None
    for part in range(progress["parts"]):
        entries.update(unpack(store.get_bytes(bucket, layout.delta_listing_part_key(part))))
    store.put_bytes(bucket, layout.delta_listing_key, utf8_json({**progress, "token": None, "done": True}))
    after = datasets.describe(dataset_arn)
    if after.last_updated != progress["startedAt"] or after.status.endswith("_IN_PROGRESS"):
        return f"it changed again while its {progress['pages']:,} pages were being listed"
    return entries


def _listing_progress(store: ObjectStore, bucket: str, layout: RunLayout, state: DatasetState) -> dict[str, Any]:
    """Where the listing stopped; a fresh start when there is none, or the dataset changed since it began."""
    key = layout.delta_listing_key
    if key in store.keys(bucket, key):
        progress: dict[str, Any] = json.loads(store.get_bytes(bucket, key))
        if not progress.get("done") and progress.get("startedAt") == state.last_updated:
            return progress
    return {"startedAt": state.last_updated, "token": None, "pages": 0, "parts": 0, "entries": 0}


def _load_index(store: ObjectStore, bucket: str, key: str) -> DatasetIndex | None:
    if key not in store.keys(bucket, key):
        return None
    try:
        return DatasetIndex.from_bytes(store.get_bytes(bucket, key))
    except (ValueError, KeyError):
        return None  # unreadable: as if there were none (the listing rebuilds it)


def _filter(
    store: ObjectStore, bucket: str, layout: RunLayout, item: Mapping[str, Any], index: DatasetIndex
) -> dict[str, Any] | None:
    """The item with its unchanged lines left out (a filtered part file), or None when none is left."""
    chunk, key = int(item["chunk"]), str(item["key"])
    kept: list[bytes] = []
    unchanged: list[str] = []
    sent: list[list[str]] = []
    for line in split_lines(store.get_bytes(bucket, key)):
        if not line.strip():
            continue
        digest = entry_digest(line)
        if digest is not None and index.unchanged(*digest):
            unchanged.append(digest[0].hex())
            continue
        kept.append(line + b"\n")
        if digest is not None:
            sent.append([digest[0].hex(), digest[1].hex()])
    record = {"chunk": chunk, "key": key, "unchanged": len(unchanged), "unchangedRefs": unchanged, "sent": sent}
    store.put_bytes(bucket, layout.delta_chunk_key(chunk), utf8_json(record))
    size = sum(len(line) for line in kept)
    if not unchanged:
        return {**item, "bytes": size}
    if not kept:
        marker = {"chunk": chunk, "key": key, "lines": 0, "bytes": 0, "unchanged": len(unchanged)}
        store.put_bytes(bucket, layout.applied_key(chunk), json.dumps(marker).encode())
        return None
    part = layout.part_key(chunk, "changed")
    store.put_bytes(bucket, part, b"".join(kept), content_type="application/x-ndjson")
    return {**item, "key": part, "lines": len(kept), "bytes": size}


def merge_parts(items: list[dict[str, Any]], chunk_limit: int) -> list[dict[str, Any]]:
    """Consecutive items sent as one update while their bytes stay strictly under `chunk_limit`.

    Each Map item names its first part (`chunk`, `key`) and lists every part (`parts`: chunk, key, lines);
    items without a size (nothing was filtered) stay alone."""
    merged: list[dict[str, Any]] = []
    size = -1  # the bytes of the last item, -1 when unknown: nothing joins it
    for item in items:
        part = {"chunk": item["chunk"], "key": item["key"], "lines": item["lines"]}
        nbytes = item.get("bytes")
        if merged and nbytes is not None and size >= 0 and size + nbytes < chunk_limit:
            merged[-1]["parts"].append(part)
            merged[-1]["lines"] += part["lines"]
            size += nbytes
        else:
            merged.append({**part, "parts": [part]})
            size = nbytes if nbytes is not None else -1
    return merged


def _decided(
    store: ObjectStore,
    bucket: str,
    layout: RunLayout,
    items: list[dict[str, Any]],
    chunk_limit: int,
    decision: dict[str, Any],
) -> dict[str, Any]:
    """Write the items to apply (joined where they fit: only filtered ones carry a size) and the decision
    (delta.json); return what the state machine keeps."""
    unchanged = sum(
        int(json.loads(store.get_bytes(bucket, key)).get("unchanged", 0))
        for key in store.keys(bucket, layout.delta_prefix)
    )
    store.put_bytes(bucket, layout.delta_key, utf8_json({**decision, "unchanged": unchanged}))
    items = merge_parts(items, chunk_limit)
    store.put_bytes(bucket, layout.changed_items_key, json.dumps(items).encode())
    return {
        "itemsKey": layout.changed_items_key,
        "chunks": len(items),
        "unchanged": unchanged,
        "source": decision.get("source"),
    }
