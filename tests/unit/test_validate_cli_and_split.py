"""The `validate` command, the WARNINGS_AS_REJECTIONS setting, and splitting a chunk the service refuses."""

import gzip
import io
import json
from pathlib import Path
from typing import BinaryIO

import pytest

from cli.validate import main
from labelsync.domain.errors import ChunkRejectedError, ChunkTooLargeError
from labelsync.ports import DatasetState
from labelsync.settings import Settings, SettingsError
from labelsync.usecases.apply_chunk import apply_chunk, split_in_two

GOOD = b'{"source-ref":"s3://b/1.jpg","a":1,"a-metadata":{"class-name":"x","type":"groundtruth/image-classification"}}'


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out), out.getvalue()


def test_validate_reports_and_exits_non_zero_on_rejections(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"\xef\xbb\xbf" + GOOD + b"\r\n\r\n" + b"not json\r\n" + GOOD.replace(b"1.jpg", b"2.jpg"))
    )
    code, text = run([str(path)])
    assert code == 1 and "ERROR_INVALID_JSON_LINE" in text and "line 3" in text
    code, text = run([str(path), "--json"])
    report = json.loads(text)
    assert code == 1 and report["counts"]["blank"] == 1 and report["counts"]["accepted"] == 2
    assert report["rejectedLines"][0]["line"] == 3


def test_validate_clean_file_exits_zero_and_warnings_can_reject(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(GOOD + b"\n" + b'{"source-ref":"s3://b/2.jpg"}')  # last line: no newline, no label
    code, text = run([str(path)])
    assert code == 0 and "WARNING_UNANNOTATED_RECORD" in text
    code, text = run([str(path), "--json", "--warnings-as-rejections", "--chunk-limit", "1000"])
    assert code == 1 and json.loads(text)["rejectedLines"][0]["code"] == "WARNING_UNANNOTATED_RECORD"


def test_validate_refuses_a_missing_file(tmp_path: Path) -> None:
    assert run([str(tmp_path / "nope.jsonl")])[0] == 2


def test_warnings_as_rejections_setting() -> None:
    assert Settings.from_env({}).warnings_as_rejections is False
    assert Settings.from_env({"WARNINGS_AS_REJECTIONS": "true"}).warnings_as_rejections is True
    with pytest.raises(SettingsError, match="WARNINGS_AS_REJECTIONS"):
        Settings.from_env({"WARNINGS_AS_REJECTIONS": "maybe"})


def FIXED(size: int, lines: int) -> list[int]:
    return [5, 10, 20]


class Store:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.objects[key]

    def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str = "") -> None:
        self.objects[key] = data

    def put_stream(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str = "") -> None:
        self.objects[key] = stream.read()

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> io.BytesIO:
        return io.BytesIO(self.objects[key])


class Datasets:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[bytes] = []

    def describe(self, dataset_arn: str) -> DatasetState:
        return DatasetState("UPDATE_COMPLETE", 1_700_000_000.0 + len(self.sent), 0)

    def update_entries(self, dataset_arn: str, changes: bytes) -> None:
        if len(changes) > self.limit:
            raise ChunkTooLargeError(f"groundTruth length {len(changes)} > {self.limit}")
        self.sent.append(changes)


def test_a_refused_chunk_is_split_until_each_part_fits_and_parts_go_one_per_call() -> None:
    lines = [b"x" * 90 + bytes([65 + i]) for i in range(8)]
    chunk = b"".join(line + b"\n" for line in lines)
    store = Store({"r/chunks/000003.jsonl": chunk, "r/plan.json": b"{}"})
    datasets = Datasets(limit=200)
    run_state = {"bucket": "b", "prefix": "r/"}
    result = apply_chunk(run_state, "arn", 3, store, datasets, schedule=FIXED)  # type: ignore[arg-type]
    assert result["wait"] == {"delay": 5, "rest": [10, 20], "restCount": 2, "polls": 0, "waited": 0}
    while result["pending"]:
        result = apply_chunk(
            {**run_state, "pending": result["pending"]},
            "arn",
            3,
            store,  # type: ignore[arg-type]
            datasets,  # type: ignore[arg-type]
            schedule=FIXED,
        )
    assert b"".join(datasets.sent) == chunk and all(len(sent) <= 200 for sent in datasets.sent)
    splits = json.loads(store.objects["r/plan.json"])["splits"]
    assert splits[0]["chunk"] == 3 and splits[0]["parts"] == ["r/chunks/000003.p1.jsonl", "r/chunks/000003.p2.jsonl"]


def test_a_single_line_cannot_be_split() -> None:
    store = Store({"r/chunks/000000.jsonl": b"x" * 300 + b"\n", "r/plan.json": b"{}"})
    with pytest.raises(ChunkRejectedError, match="single line"):
        apply_chunk({"bucket": "b", "prefix": "r/"}, "arn", 0, store, Datasets(limit=200), schedule=FIXED)  # type: ignore[arg-type]
    assert split_in_two(b"a\nb\n") == (b"a\n", b"b\n") and split_in_two(b"a\n") is None
