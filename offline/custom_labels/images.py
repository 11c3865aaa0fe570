"""The service's view of the images a manifest points at: the local S3 (moto's backend, same process).

The guide's image rules (limits; ERROR_INVALID_IMAGE in tm-debugging-json-line-errors): an image
is a PNG or JPEG object of at most 15 MB, 64 to 4096 px a side, aspect ratio at most 20:1, and it
must exist. Only the file's header is read, for its format and size in pixels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from offline.custom_labels.entry_rules import MAX_ASPECT_RATIO, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE

MAX_IMAGE_BYTES = 15 * 1024 * 1024  # limits: "Maximum file size for an image in an Amazon S3 bucket is 15 MB"
HEADER_BYTES = 64 * 1024  # enough for the dimensions of any PNG and of JPEGs without huge metadata blocks
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class ImageObject:
    """What the service learns from an image object: its size in bytes and its first bytes."""

    size: int
    header: bytes


class ImageView(Protocol):
    """Where the service looks images up; None when the object does not exist (or cannot be read)."""

    def image(self, bucket: str, key: str) -> ImageObject | None: ...


class MotoS3Images:
    """The local S3: moto's backend for one account, read in this process (no request, no event)."""

    def __init__(self, account_id: str, partition: str = "aws") -> None:
        self.account_id = account_id
        self.partition = partition

    def image(self, bucket: str, key: str) -> ImageObject | None:
        from moto.s3.models import s3_backends

        try:
            found = s3_backends[self.account_id][self.partition].get_object(bucket, key)
        except Exception:  # moto raises a different class per missing thing
            return None
        if found is None:
            return None
        size = int(found.size)
        return ImageObject(size, bytes(found.value[:HEADER_BYTES]) if size <= MAX_IMAGE_BYTES else b"")


def dimensions(header: bytes) -> tuple[str, int, int] | None:
    """("PNG" | "JPEG", width, height) from the file's first bytes; None when it is neither."""
    if header.startswith(_PNG) and len(header) >= 24 and header[12:16] == b"IHDR":
        width, height = struct.unpack(">II", header[16:24])
        return "PNG", width, height
    if header.startswith(_JPEG):
        at = 2
        while at + 9 <= len(header):
            if header[at] != 0xFF:
                return None
            marker = header[at + 1]
            if marker == 0xFF:  # fill byte
                at += 1
                continue
            if marker in _SOF:
                height, width = struct.unpack(">HH", header[at + 5 : at + 9])
                return "JPEG", width, height
            (length,) = struct.unpack(">H", header[at + 2 : at + 4])
            at += 2 + length
    return None


def image_problem(found: ImageObject | None, source_ref: str) -> str | None:
    """Why the image cannot be used (the message of ERROR_INVALID_IMAGE), or None when it can."""
    if found is None:
        return f"The image is invalid. Check S3 path and/or image properties: {source_ref} does not exist."
    if found.size > MAX_IMAGE_BYTES:
        return f"The image is invalid: {found.size:,} bytes, over the 15 MB limit."
    parsed = dimensions(found.header)
    if parsed is None:
        return "The image is invalid: it is not a PNG or JPEG file."
    kind, width, height = parsed
    sides_ok = all(MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in (width, height))
    if not sides_ok or max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        return (
            f"The image is invalid: the {kind} is {width}x{height} px (each side {MIN_IMAGE_SIDE} to "
            f"{MAX_IMAGE_SIDE} px, aspect ratio at most 20:1)."
        )
    return None
