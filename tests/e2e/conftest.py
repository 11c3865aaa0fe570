from collections.abc import Iterator

import pytest

from offline.stack import OfflineConfig, OfflineStack


@pytest.fixture
def stack() -> Iterator[OfflineStack]:
    with OfflineStack(OfflineConfig(time_scale=0.001, log_level="INFO")) as running:
        running.create_project("demo-project", ["TRAIN"])
        yield running
