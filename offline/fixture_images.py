"""Tiny image objects where the manifests point, so the local dataset service finds its images.

The local service looks every image up in the local S3, as the real one does (missing images are
flagged ERROR_INVALID_IMAGE, and over 20% of them fail the update). Manifests dropped on the offline
stack point at made-up buckets, so `ImageStager` puts a 64 x 64 PNG (the smallest size the service
takes) at every `source-ref` of a manifest written under the watched prefix, before the object is
stored, so before the pipeline can see it. One place for the demo, every test, the server's `aws s3
cp` and the benchmarks. `stack.images.paused()` drops a manifest whose images are really missing.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_SOURCE_REF = re.compile(r"s3://([^/]+)/(.+)", re.DOTALL)
_MAX_READ = 1 << 30  # a gzip manifest is read up to the service's 1 GB limit, no further
_MAX_LINE = 200_000  # bytes: past the service's 100,000 characters a line names no image


def png(width: int = 64, height: int = 64) -> bytes:
    """A valid grayscale PNG of the given size (about 100 bytes at 64 x 64)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


TINY_PNG = png()


def image_refs(manifest: bytes) -> set[tuple[str, str]]:
    """(bucket, key) of every readable line's `source-ref`; a gzip manifest is read decompressed.

    Streamed a block at a time, up to the service's 1 GB: a gzip of a gigabyte of newlines, or of
    one 4 GB line, costs this test fixture no more memory than a small manifest (a line longer than
    the service's 100,000 characters cannot name an image and is skipped unread)."""
    stream: Any = io.BytesIO(manifest)
    if manifest[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream)
    refs: set[tuple[str, str]] = set()
    try:
        for raw in _lines(stream):
            if b"source-ref" not in raw:
                continue
            try:
                doc = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            ref = doc.get("source-ref") if isinstance(doc, dict) else None
            match = _SOURCE_REF.fullmatch(ref) if isinstance(ref, str) else None
            if match is not None:
                refs.add((match.group(1), match.group(2)))
    except (OSError, EOFError):  # a gzip cut short: the images of what could be read
        pass
    return refs


def _lines(stream: Any, block: int = 1 << 20) -> Iterator[bytes]:
    """The lines that mention `source-ref`, of at most _MAX_LINE bytes, read a block at a time."""
    pending, read, skipping = b"", 0, False
    while read < _MAX_READ and (data := stream.read(block)):
        read += len(data)
        buffer = pending + data
        cut = buffer.rfind(b"\n")
        if cut < 0:  # no line ends here: one long line goes on
            pending = buffer
        else:
            whole, pending = buffer[:cut], buffer[cut + 1 :]
            if b"source-ref" in whole:
                parts = whole.split(b"\n")
                yield from (p for p in parts[1 if skipping else 0 :] if b"source-ref" in p)
            skipping = False
        if len(pending) > _MAX_LINE:
            pending, skipping = b"", True
    if pending and not skipping and b"source-ref" in pending:
        yield pending


def stage_images(backend: Any, refs: set[tuple[str, str]], region: str = "us-east-1") -> int:
    """Put TINY_PNG at each (bucket, key) of moto's S3 `backend` that has no object yet; how many were put."""
    put = 0
    for bucket, key in sorted(refs):
        if bucket not in backend.buckets:
            try:
                backend.create_bucket(bucket, region)
            except Exception:  # a name S3 refuses: the image stays missing, as it would be on AWS
                continue
        if backend.get_bucket(bucket).keys.get(key) is None:
            backend.put_object(bucket, key, TINY_PNG, disable_notification=True)
            put += 1
    return put


class ImageStager:
    """Stages the images of every manifest written to `bucket` under `prefix` (while installed and not paused)."""

    def __init__(self, bucket: str, prefix: str, region: str) -> None:
        self.bucket, self.prefix, self.region = bucket, prefix, region
        self.enabled = True
        self.staged = 0

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Manifests written meanwhile keep their images missing (a test of the service's image rules)."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    def install(self) -> ImageStager:
        _install_hook()
        with _lock:
            _stagers.append(self)
        return self

    def uninstall(self) -> None:
        with _lock:
            if self in _stagers:
                _stagers.remove(self)

    def wants(self, bucket: str, key: str) -> bool:
        return self.enabled and bucket == self.bucket and key.startswith(self.prefix)


_lock = threading.Lock()
_stagers: list[ImageStager] = []
_staging = threading.local()


def _install_hook() -> None:
    """Wrap moto's `S3Backend.put_object` once: stage a manifest's images before storing the manifest."""
    from moto.s3.models import S3Backend

    with _lock:
        if getattr(S3Backend.put_object, "_stages_images", False):
            return
        original: Callable[..., Any] = S3Backend.put_object

        def put_object(self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
            if not getattr(_staging, "active", False):
                with _lock:
                    stagers = [s for s in _stagers if s.wants(bucket_name, key_name)]
                if stagers:
                    _staging.active = True
                    try:
                        for stager in stagers:
                            stager.staged += stage_images(self, image_refs(bytes(value)), stager.region)
                    finally:
                        _staging.active = False
            return original(self, bucket_name, key_name, value, *args, **kwargs)

        put_object._stages_images = True  # type: ignore[attr-defined]
        S3Backend.put_object = put_object  # type: ignore[method-assign]
