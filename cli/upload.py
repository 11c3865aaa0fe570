"""`labelsync push`'s upload: to the key the pipeline watches, gzipped on the fly when large, in parts
when large, with a progress callback; returns the version S3 gave the object (the plan step reads
exactly that version, so it is how the command finds its run)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from labelsync.domain.routing import FORCE_FOLDER, REPLACE_FOLDER

PART_BYTES = 16 * 1024 * 1024  # S3 parts: at least 5 MiB except the last; 10,000 parts at most (156 GiB)
GZIP_AT = 64 * 1024 * 1024  # files larger than this go up gzipped unless told otherwise
READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Uploaded:
    key: str
    version_id: str | None
    source_bytes: int
    sent_bytes: int
    gzipped: bool


def target_key(
    incoming_prefix: str,
    project: str,
    dataset: str,
    path: Path,
    gzipped: bool,
    *,
    replace: bool = False,
    force: bool = False,
) -> str:
    """The watched key (domain/routing.py reads it back): the dataset folder, or its replace/[force/] folder."""
    name = path.name
    if gzipped and not name.endswith(".gz"):
        name += ".gz"
    mode = f"{REPLACE_FOLDER}/{FORCE_FOLDER}/" if force else f"{REPLACE_FOLDER}/" if replace else ""
    return f"{incoming_prefix}{project}/{dataset.lower()}/{mode}{name}"


def _gzipped(stream: BinaryIO, seen: Callable[[int], None]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member, as `gzip` writes it
    while block := stream.read(READ_BYTES):
        seen(len(block))
        if out := compressor.compress(block):
            yield out
    yield compressor.flush()


def _plain(stream: BinaryIO, seen: Callable[[int], None]) -> Iterator[bytes]:
    while block := stream.read(READ_BYTES):
        seen(len(block))
        yield block


def _parts(blocks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for block in blocks:
        buffer += block
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def upload(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    *,
    gzipped: bool,
    progress: Callable[[int], None] = lambda n: None,
    part_bytes: int = PART_BYTES,
) -> Uploaded:
    """Put `path` at `key`; `progress` gets the source bytes read so far. One PutObject when it fits one
    part; otherwise a multipart upload, aborted (nothing left behind) if any part fails."""
    total = 0

    def seen(n: int) -> None:
        nonlocal total
        total += n
        progress(total)

    content_type = "application/gzip" if gzipped else "application/x-ndjson"
    with path.open("rb") as stream:
        parts = _parts((_gzipped if gzipped else _plain)(stream, seen), part_bytes)
        first = next(parts, b"")
        second = next(parts, None)
        if second is None:
            response = s3.put_object(Bucket=bucket, Key=key, Body=first, ContentType=content_type)
            return Uploaded(key, response.get("VersionId"), total, len(first), gzipped)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
        sent, done = 0, []
        try:
            for number, body in enumerate([first, second], start=1):
                done.append(_part(s3, bucket, key, upload_id, number, body))
                sent += len(body)
            for number, body in enumerate(parts, start=3):
                done.append(_part(s3, bucket, key, upload_id, number, body))
                sent += len(body)
            response = s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
    return Uploaded(key, response.get("VersionId"), total, sent, gzipped)


def _part(s3: Any, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)["ETag"]
    return {"ETag": etag, "PartNumber": number}
