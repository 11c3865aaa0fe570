"""ObjectStore over S3: streamed reads (gunzipped for .gz keys), small writes."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, cast

from boto3.s3.transfer import MB, TransferConfig
from botocore.exceptions import ClientError

from labelsync.ports import ObjectNotReadable

# GetObject's answers for a version that is gone: 404 with s3:ListBucket, 403 without it (the plan
# function has none), 405 for a delete marker's own version id, 400 for a version id S3 never issued.
GONE = frozenset(
    {"NoSuchKey", "NoSuchVersion", "404", "AccessDenied", "403", "MethodNotAllowed", "405", "InvalidArgument"}
)


class S3Store:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> BinaryIO:
        kwargs: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id and version_id != "null":
            kwargs["VersionId"] = version_id
        try:
            body = self._s3.get_object(**kwargs)["Body"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code")) not in GONE:
                raise
            reason = f"{error.get('Code')}: {error.get('Message') or 'no message'}"
            raise ObjectNotReadable(bucket, key, kwargs.get("VersionId"), reason) from exc
        if "VersionId" in kwargs and self._taken_back(bucket, key):
            body.close()
            reason = "a delete marker was placed on the key after this version was written: the upload was taken back"
            raise ObjectNotReadable(bucket, key, kwargs["VersionId"], reason)
        raw = cast(BinaryIO, _ClosingStream(body))
        if key.lower().endswith(".gz"):
            return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
        return raw

    def _taken_back(self, bucket: str, key: str) -> bool:
        """The key's current version is a delete marker (`aws s3 rm` in a versioned bucket): S3 answers a
        HEAD of the key with x-amz-delete-marker: true. Any other answer (the object, or an error without
        that header) leaves the version to be planned."""
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return str(headers.get("x-amz-delete-marker", "")).lower() == "true"
        return False

    def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def put_stream(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str = "application/json") -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=stream, ContentType=content_type)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return cast(bytes, self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [str(item["Key"]) for page in pages for item in page.get("Contents", [])]

    def join(self, bucket: str, key: str, sources: Sequence[str], *, content_type: str) -> str | None:
        """A managed (multipart above 8 MB) upload read from the sources in turn: at most JOIN_CONFIG's
        parts in memory at once, whatever the total."""
        stream = JoinedObjects(lambda source: self._s3.get_object(Bucket=bucket, Key=source)["Body"], sources)
        self._s3.upload_fileobj(stream, bucket, key, ExtraArgs={"ContentType": content_type}, Config=JOIN_CONFIG)
        version = self._s3.head_object(Bucket=bucket, Key=key).get("VersionId")
        return str(version) if version and version != "null" else None


JOIN_CONFIG = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=2)


class JoinedObjects:
    """Several objects read as one file, with a newline between two where the first lacks its last one
    (put before the next bytes that come: an empty object adds nothing)."""

    def __init__(self, open_body: Callable[[str], Any], sources: Sequence[str]) -> None:
        self._open, self._pending = open_body, list(reversed(sources))
        self._body: Any = None
        self._last = b"\n"
        self._held = b""  # read but not yet returned (a separating newline and what followed it)
        self._fresh = False  # nothing read yet from the current object

    def read(self, size: int = -1) -> bytes:
        out: list[bytes] = []
        wanted = size if size is not None and size >= 0 else -1
        while wanted != 0:
            if self._held:
                take = self._held if wanted < 0 else self._held[:wanted]
                self._held = self._held[len(take) :]
                out.append(take)
                wanted -= len(take) if wanted > 0 else 0
                continue
            if self._body is None:
                if not self._pending:
                    break
                self._body = self._open(self._pending.pop())
                self._fresh = True
            data = self._body.read(None if wanted < 0 else wanted)
            if not data:
                self._body.close()
                self._body = None
                continue
            if self._last != b"\n" and self._fresh:
                data = b"\n" + data
            self._fresh = False
            self._last = data[-1:]
            self._held = data
        return b"".join(out)

    def readable(self) -> bool:
        return True


class _ClosingStream:
    """botocore's StreamingBody as a context-managed binary file (read + close)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return cast(bytes, self._body.read(None if size is None or size < 0 else size))

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _ClosingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The metadata key that records which labeling job a copied manifest came from.
JOB_METADATA = "labeling-job-arn"


class S3ManifestCopies:
    """ManifestCopies over S3: CopyObject (server-side, up to S3's 5 GB single-copy limit) and HeadObject."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def copied_job(self, bucket: str, key: str) -> str | None:
        # Listed first: without s3:ListBucket a HEAD of a missing key is a 403, indistinguishable from a denial.
        listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if not listed or listed[0]["Key"] != key:
            return None
        job = self._s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(JOB_METADATA)
        return str(job) if job else None

    def copy(self, source_uri: str, bucket: str, key: str, *, job_arn: str) -> str:
        source_bucket, _, source_key = source_uri.removeprefix("s3://").partition("/")
        response = self._s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            # Our own metadata and no tags: the source's tags would need s3:GetObjectTagging there.
            MetadataDirective="REPLACE",
            Metadata={JOB_METADATA: job_arn},
            ContentType="application/jsonl",
            TaggingDirective="REPLACE",
        )
        return str(response.get("VersionId") or "null")
