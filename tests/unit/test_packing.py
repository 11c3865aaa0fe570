import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelsync.domain.packing import ChunkPacker


class MemorySink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write_chunk(self, index: int, data: bytes) -> str:
        assert index == len(self.chunks)
        self.chunks.append(data)
        return f"chunk-{index}"


@given(
    st.integers(2, 400), st.lists(st.binary(min_size=0, max_size=120).map(lambda b: b.replace(b"\n", b"")), max_size=80)
)
def test_every_line_once_in_order_each_chunk_strictly_under_limit(limit: int, lines: list[bytes]) -> None:
    fitting = [line for line in lines if len(line) + 1 < limit]
    sink = MemorySink()
    packer = ChunkPacker(limit, sink)
    for number, line in enumerate(fitting, 1):
        packer.add(number, line)
    infos = packer.finish()
    assert b"".join(sink.chunks) == b"".join(line + b"\n" for line in fitting)
    assert all(0 < len(chunk) < limit for chunk in sink.chunks)
    assert [i.bytes for i in infos] == [len(c) for c in sink.chunks]
    assert sum(i.lines for i in infos) == len(fitting)
    # Greedy: no two neighbouring chunks could have been merged.
    assert all(len(a) + len(b) >= limit for a, b in zip(sink.chunks, sink.chunks[1:], strict=False))
    total = sum(len(line) + 1 for line in fitting)
    assert len(sink.chunks) >= math.ceil(total / (limit - 1))


def test_line_that_cannot_fit_raises() -> None:
    packer = ChunkPacker(10, MemorySink())
    with pytest.raises(ValueError, match="cannot fit"):
        packer.add(1, b"123456789")


def test_chunk_info_records_line_span() -> None:
    sink = MemorySink()
    packer = ChunkPacker(9, sink)
    for number, line in [(1, b"aaa"), (3, b"bbb"), (4, b"ccc")]:
        packer.add(number, line)
    infos = packer.finish()
    assert [(i.first_line, i.last_line, i.lines) for i in infos] == [(1, 3, 2), (4, 4, 1)]
    assert sink.chunks == [b"aaa\nbbb\n", b"ccc\n"]
