"""Test helper: the images a blob of JSON lines points at, put into moto's S3 (see offline/fixture_images.py)."""

from __future__ import annotations

from offline.fixture_images import image_refs, stage_images

ACCOUNT = "123456789012"


def put_images(*blobs: bytes | str, account: str = ACCOUNT) -> int:
    """Stage a tiny PNG at every source-ref of the blobs (call it inside `mock_aws()`); how many were put."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account]["aws"]
    refs = set().union(*(image_refs(b.encode() if isinstance(b, str) else b) for b in blobs))
    return stage_images(backend, refs)
