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
