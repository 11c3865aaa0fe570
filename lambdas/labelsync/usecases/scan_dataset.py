"""One bounded step of the report's listing of the dataset (lambdas/labelsync/domain/dataset_scan.py).

Each step reads pages until the scan is done, its page budget is spent or its time runs short,
then stores where it stopped (S3, under the run's folder) and says whether the scan is done; the
state machine invokes the report function again until it is. This manifest's entry findings go
to one S3 file per step, so memory holds one step's pages at most. A throttled page stops the
step after storing what it read; the state machine's retry goes on from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from labelsync.domain import dataset_scan
from labelsync.domain.dataset_scan import (
    DONE,
    ERRORS,
    LOOKUP,
    LOOKUP_MAX,
    PRESENCE,
    RunRefs,
    ScanState,
    keys_of,
    ref_key,
)
from labelsync.domain.entry_errors import EntryError, entry_source_ref, errors_for_refs
from labelsync.domain.errors import ServiceThrottledError
from labelsync.domain.jsonl import dump_lines, utf8_json
from labelsync.domain.report import MISSING_SAMPLE, DatasetCheck
from labelsync.domain.runs import RunLayout
from labelsync.domain.side_files import side_file_items
from labelsync.ports import Datasets, ObjectStore


def load_state(store: ObjectStore, bucket: str, layout: RunLayout, execution: str) -> ScanState:
    key = layout.scan_state_key(execution)
    if key not in store.keys(bucket, key):
        return dataset_scan.start(execution)
    return ScanState.from_dict(json.loads(store.get_bytes(bucket, key)))


def scan_step(
    *,
    store: ObjectStore,
    datasets: Datasets,
    bucket: str,
    layout: RunLayout,
    dataset_arn: str,
    execution: str,
    refs: RunRefs,
    sent: RunRefs | None = None,
    texts: Callable[[], Iterator[str]] | None = None,
    time_left: Callable[[], bool] = lambda: True,
    max_pages: int = dataset_scan.MAX_PAGES_PER_STEP,
) -> ScanState:
    """Read pages from where the last step stopped; the state after this step (stored).

    The errors listing looks for all of `refs`; the presence check for `sent` (default: `refs`): by
    lookups when there are few of them and `texts` reads the run's refs, else by listing."""
    state = load_state(store, bucket, layout, execution)
    if state.phase == DONE:
        return state
    wanted = set(refs.distinct) if state.phase == ERRORS else set()

    def is_wanted(ref: str) -> bool:
        return ref_key(ref) in wanted

    left = dataset_scan.unseen(state)
    findings: list[EntryError] = []
    read = 0
    try:
        while state.phase != DONE and read < max_pages and (read == 0 or time_left()):
            if state.phase == LOOKUP:
                _look_up_next(state, datasets, dataset_arn, left)
                read += 1
                continue
            page = datasets.entry_page(dataset_arn, has_errors=state.phase == ERRORS, token=state.token)
            read += 1
            state.pages += 1
            if state.phase == ERRORS:
                findings += errors_for_refs(page.entries, is_wanted)
                state.token = page.next_token
                if page.next_token is None:
                    expect = refs if sent is None else sent
                    dataset_scan.begin_presence(state, expect, _lookup_texts(expect, texts))
                    left = dataset_scan.unseen(state)
                    wanted = set()

            else:
                left.difference_update(keys_of(map(entry_source_ref, page.entries)))
                state.token = page.next_token
                if not left or page.next_token is None:
                    state.phase = DONE
    except ServiceThrottledError:
        state.throttled += 1
        _save(store, bucket, layout, state, findings, left, read)
        raise
    _save(store, bucket, layout, state, findings, left, read)
    return state


def _look_up_next(state: ScanState, datasets: Datasets, dataset_arn: str, left: set[bytes]) -> None:
    """One page of the lookup of the next sent image (SourceRefContains matches substrings: its pages are
    read until the exact ref shows up or they end)."""
    lookups = state.lookups or []
    ref = lookups[0]
    page = datasets.entry_page(dataset_arn, has_errors=False, token=state.token, source_ref_contains=ref)
    state.pages += 1
    if ref in map(entry_source_ref, page.entries):
        left.discard(ref_key(ref))
    state.token = page.next_token
    if page.next_token is None or ref_key(ref) not in left:
        state.token, state.lookups = None, lookups[1:]
        if not state.lookups:
            state.phase = DONE


def _lookup_texts(expect: RunRefs, texts: Callable[[], Iterator[str]] | None) -> list[str]:
    """The sent refs themselves, when few enough to look up one by one (else none: list the dataset)."""
    if texts is None or not 0 < len(expect.distinct) <= LOOKUP_MAX:
        return []
    return dataset_scan.first_missing(texts(), (key.hex() for key in expect.distinct), LOOKUP_MAX)


def _save(
    store: ObjectStore,
    bucket: str,
    layout: RunLayout,
    state: ScanState,
    findings: list[EntryError],
    left: set[bytes],
    read: int,
) -> None:
    if findings:
        key = layout.scan_findings_key(state.execution, state.parts)
        store.put_bytes(bucket, key, dump_lines(f.as_dict() for f in findings), content_type="application/x-ndjson")
        state.parts += 1
    if state.phase in (PRESENCE, LOOKUP, DONE) and state.remaining is not None:
        state.remaining = dataset_scan.keep_order(state.remaining, left)
    state.steps += 1 if read else 0
    store.put_bytes(bucket, layout.scan_state_key(state.execution), utf8_json(state.as_dict()))


def stored_findings(store: ObjectStore, bucket: str, layout: RunLayout, state: ScanState) -> Iterator[EntryError]:
    """Every finding the scan stored, in listing order, streamed file by file."""
    for part in range(state.parts):
        key = layout.scan_findings_key(state.execution, part)
        for item in side_file_items(store.open(bucket, key)):
            yield EntryError(
                str(item.get("sourceRef", "")),
                str(item.get("code", "")),
                str(item.get("message", "")),
                str(item.get("location", "")),
                str(item.get("level", "error")),
            )


def scan_check(state: ScanState, refs: Callable[[], Iterator[str]]) -> DatasetCheck:
    """The presence check the finished scan amounts to; `refs` reads the run's source-refs again
    (streamed) only when some are missing, to name the first few."""
    remaining = state.remaining or []
    sample = dataset_scan.first_missing(refs(), remaining, MISSING_SAMPLE) if remaining else []
    return DatasetCheck(checked=True, expected=state.expected, missing=len(remaining), sample=tuple(sample))


def scan_progress(state: ScanState) -> dict[str, object]:
    """What a step that did not finish returns (the execution's history shows it)."""
    left = len(state.remaining) if state.remaining is not None else None
    return {
        "phase": state.phase,
        "pages": state.pages,
        "steps": state.steps,
        "left": left,
        "throttled": state.throttled,
    }
