"""Notifier over SNS, with string message attributes subscribers can filter on.

A structured message (MessageStructure json) carries one body per protocol: SNS sends the
`email` body to email subscribers and the `default` body to every other protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SnsNotifier:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, *, subject: str, message: str, attributes: Mapping[str, str], structured: bool = False) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=subject[:100],
            Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            **({"MessageStructure": "json"} if structured else {}),
        )
