"""Reports whose memory does not grow with the manifest's bad lines: listed lists are samples, S3 has all."""

import json

from offline.stack import OfflineStack


def test_many_rejected_lines_are_counted_sampled_and_kept_whole_in_s3(stack: OfflineStack) -> None:
    good = [json.dumps({"source-ref": f"s3://labelsync-demo-images/b/{i}.jpg"}) for i in range(10_000)]
    bad = ["not json " + "x" * i for i in range(1_500)]  # 13% of the lines: under the 20% refusal
    stack.drop("incoming/demo-project/train/bad.jsonl", ("\n".join(good + bad) + "\n").encode())
    stack.wait_until_idle(timeout=300)
    (report,) = stack.reports()
    assert report["counts"]["rejected"] == 1_500
    assert report["reconciliation"]["balanced"] is True
    assert report["truncated"]["rejectedLines"] is True
    assert report["rejectsUri"].endswith("/rejects.jsonl")
    bucket, key = report["rejectsUri"][5:].split("/", 1)
    stored = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    assert len(stored) == 1_500
    full = json.loads(
        stack.client("s3").get_object(Bucket=bucket, Key=report["reportUri"].split("/", 3)[3])["Body"].read()
    )
    assert len(full["rejectedLines"]) == 1_000 and full["rejectedLines"][0]["line"] == 10_001
