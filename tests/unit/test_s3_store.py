"""S3Store.open: a manifest version that is gone is ObjectNotReadable (an alert), anything else is raised."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from labelsync.adapters.s3_store import S3Store
from labelsync.ports import ObjectNotReadable


class FailingS3:
    def __init__(self, code: str) -> None:
        self.code = code
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        raise ClientError({"Error": {"Code": self.code, "Message": "nope"}}, "GetObject")


@pytest.mark.parametrize("code", ["NoSuchVersion", "NoSuchKey", "AccessDenied", "MethodNotAllowed"])
def test_a_version_that_is_gone_names_key_version_and_reason(code: str) -> None:
    s3 = FailingS3(code)
    with pytest.raises(ObjectNotReadable) as caught:
        S3Store(s3).open("bucket", "incoming/p/train/x.jsonl", version_id="v1")
    assert s3.calls == [{"Bucket": "bucket", "Key": "incoming/p/train/x.jsonl", "VersionId": "v1"}]
    assert str(caught.value) == f"s3://bucket/incoming/p/train/x.jsonl version v1 could not be read: {code}: nope"


def test_other_errors_are_raised_for_the_retry() -> None:
    with pytest.raises(ClientError):
        S3Store(FailingS3("SlowDown")).open("bucket", "k", version_id="null")


class Body:
    closed = False

    def read(self, size: int | None = None) -> bytes:
        return b'{"source-ref": "s3://b/k.jpg"}\n'

    def close(self) -> None:
        Body.closed = True


class MarkedS3:
    """The version is there; a HEAD of the key answers as S3 does when its current version is a delete
    marker (404 with x-amz-delete-marker), or with another error, or the object."""

    def __init__(self, head: str) -> None:
        self.head = head

    def get_object(self, **kwargs: Any) -> Any:
        return {"Body": Body()}

    def head_object(self, **kwargs: Any) -> Any:
        if self.head == "object":
            return {}
        headers = {"x-amz-delete-marker": "true"} if self.head == "marker" else {}
        code = "404" if self.head == "marker" else "403"
        raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPHeaders": headers}}, "HeadObject")


def test_a_version_hidden_by_a_delete_marker_is_taken_back_and_not_planned() -> None:
    with pytest.raises(ObjectNotReadable, match="a delete marker was placed on the key") as caught:
        S3Store(MarkedS3("marker")).open("bucket", "incoming/p/train/x.jsonl", version_id="v1")
    assert caught.value.version_id == "v1" and Body.closed
    for head in ("object", "forbidden"):  # the current object, or an answer that says nothing of a marker
        assert S3Store(MarkedS3(head)).open("bucket", "incoming/p/train/x.jsonl", version_id="v1").read()
