"""Delta sync's two rules: when two lines are the same entry, and when the dataset's index may be trusted."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from labelsync.domain.dataset_index import DatasetIndex
from labelsync.domain.dataset_scan import ref_key
from labelsync.domain.entry_digest import entry_digest, stored_digest

ENTRY: dict[str, Any] = {
    "source-ref": "s3://b/a.jpg",
    "bb": {"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": [{"class_id": 0, "left": 1.5}]},
    "bb-metadata": {"class-map": {"0": "cat"}, "objects": [{"confidence": 1}], "type": "groundtruth/object-detection"},
}


def digest(entry: Any) -> bytes:
    pair = entry_digest(json.dumps(entry))
    assert pair is not None
    return pair[1]


def test_key_order_spacing_and_whole_floats_do_not_make_a_different_entry() -> None:
    shuffled = json.loads(json.dumps(ENTRY))
    shuffled["bb-metadata"]["objects"][0]["confidence"] = 1.0
    reordered = dict(reversed(list(shuffled.items())))
    assert digest(reordered) == digest(ENTRY)
    assert entry_digest(json.dumps(ENTRY, indent=2).encode()) == entry_digest(json.dumps(ENTRY))


def test_what_the_service_adds_when_it_stores_a_line_is_not_part_of_the_entry() -> None:
    stored = json.loads(json.dumps(ENTRY))
    stored["cl-metadata"] = {"is_labeled": True}
    stored["cl-errors"] = [{"code": "ERROR_X", "message": "m"}]
    stored["bb"]["warnings"] = [{"code": "WARNING_NO_ANNOTATIONS"}]
    stored["bb"]["annotations"][0]["errors"] = [{"code": "ERROR_INVALID_BOUNDING_BOX"}]
    stored["bb-metadata"]["errors"] = []
    assert digest(stored) == digest(ENTRY)


def test_any_real_change_is_a_different_entry() -> None:
    for change in (
        lambda e: e["bb-metadata"]["class-map"].update({"0": "dog"}),
        lambda e: e["bb"]["annotations"][0].update({"left": 1.25}),
        lambda e: e["bb"]["annotations"].append({"class_id": 0, "left": 2}),
        lambda e: e.update({"extra": 1}),
        lambda e: e["bb"]["annotations"][0].update({"cl-metadata": 1}),  # only top-level cl-metadata is the service's
    ):
        changed = json.loads(json.dumps(ENTRY))
        change(changed)
        assert digest(changed) != digest(ENTRY)


def test_lines_that_are_not_entries_have_no_digest_and_are_always_sent() -> None:
    assert entry_digest(b"not json") is None
    assert entry_digest(b'{"no": "ref"}') is None
    assert entry_digest(b"[" * 10_000 + b"]" * 10_000) is None
    pair = entry_digest(b'{"source-ref": "s3://b/k"}')
    assert pair is not None and pair[0] == ref_key("s3://b/k")


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
        max_size=6,
    )
)
def test_a_digest_depends_on_values_not_on_order(extra: dict[str, Any]) -> None:
    entry = {
        "source-ref": "s3://b/k",
        **{
            k: v
            for k, v in extra.items()
            if k not in ("source-ref", "cl-metadata", "errors", "cl-errors", "warnings", "cl-warnings")
        },
    }
    assert digest(dict(reversed(list(entry.items())))) == digest(entry)


def test_the_index_round_trips_and_is_trusted_only_at_its_own_timestamp() -> None:
    entries = {ref_key(f"s3://b/{i}"): bytes([i]) * 16 for i in range(200)}
    index = DatasetIndex("arn:d", 1_700_000_000.123, entries, "listing")
    again = DatasetIndex.from_bytes(index.to_bytes())
    assert again == index
    assert again.fresh("arn:d", 1_700_000_000.123)
    assert not again.fresh("arn:d", 1_700_000_000.124)  # any later update, ours or anyone's
    assert not again.fresh("arn:other", 1_700_000_000.123)  # a replaced dataset
    assert not DatasetIndex("arn:d", None).fresh("arn:d", None)
    truncated = index.to_bytes()[:-5]
    try:
        DatasetIndex.from_bytes(truncated)
    except ValueError:
        pass
    else:
        raise AssertionError("a truncated index was read")


def test_an_entry_the_service_flagged_with_an_error_is_never_unchanged_but_one_with_a_warning_is() -> None:
    flagged = json.loads(json.dumps(ENTRY))
    flagged["bb"]["annotations"][0]["errors"] = [{"code": "ERROR_INVALID_BOUNDING_BOX", "message": "off frame"}]
    assert stored_digest(json.dumps(flagged)) is None
    assert entry_digest(json.dumps(flagged)) == entry_digest(json.dumps(ENTRY))  # the line itself is the same
    warned = json.loads(json.dumps(ENTRY))
    warned["cl-warnings"] = [{"code": "WARNING_UNANNOTATED_RECORD", "message": "m"}]
    assert stored_digest(json.dumps(warned)) == entry_digest(json.dumps(ENTRY))
