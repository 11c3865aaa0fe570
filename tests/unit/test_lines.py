import io

from hypothesis import given, settings
from hypothesis import strategies as st

from labelsync.domain.lines import read_lines
from tests.unit.line_oracle import oracle_lines


def lines_of(data: bytes, max_bytes: int = 1000, block_size: int = 7) -> list[tuple[int, bytes, int]]:
    return [
        (line.number, line.data, line.length)
        for line in read_lines(io.BytesIO(data), max_bytes=max_bytes, block_size=block_size)
    ]


def test_crlf_bom_blank_and_last_line_without_newline() -> None:
    data = b'\xef\xbb\xbf{"a":1}\r\n\r\n{"b":2}'
    assert lines_of(data) == [(1, b'{"a":1}', 7), (2, b"", 0), (3, b'{"b":2}', 7)]


def test_oversize_line_is_not_kept_but_counted() -> None:
    data = b"short\n" + b"x" * 50 + b"\nafter\n"
    got = list(read_lines(io.BytesIO(data), max_bytes=20, block_size=8))
    assert [line.number for line in got] == [1, 2, 3]
    assert got[1].oversize and got[1].length == 50 and got[1].data == b""
    assert got[2].data == b"after"


def test_bom_split_across_reads() -> None:
    assert lines_of(b"\xef\xbb\xbfab\n", block_size=1) == [(1, b"ab", 2)]


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30), st.integers(1, 64))
def test_every_line_comes_back_in_order(parts: list[bytes], block_size: int) -> None:
    data = b"".join(p + b"\n" for p in parts)
    got = lines_of(data, max_bytes=10_000, block_size=block_size)
    expected = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    if data.startswith(b"\xef\xbb\xbf"):
        expected[0] = expected[0][3:]
    assert [g[1] for g in got] == expected
    assert [g[0] for g in got] == list(range(1, len(parts) + 1))


@given(st.binary(max_size=300), st.integers(1, 40), st.integers(1, 64))
def test_block_reader_matches_the_oracle(data: bytes, max_bytes: int, block_size: int) -> None:
    got = [
        (x.number, x.data, x.length) for x in read_lines(io.BytesIO(data), max_bytes=max_bytes, block_size=block_size)
    ]
    want = [(x.number, x.data, x.length) for x in oracle_lines(io.BytesIO(data), max_bytes=max_bytes)]
    assert got == want


@settings(max_examples=1000)
@given(
    st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf"]), max_size=80).map(b"".join),
    st.integers(1, 12),
    st.integers(1, 16),
)
def test_crs_at_every_block_and_limit_edge_match_the_oracle(data: bytes, max_bytes: int, block_size: int) -> None:
    assert lines_of(data, max_bytes=max_bytes, block_size=block_size) == [
        (x.number, x.data, x.length) for x in oracle_lines(io.BytesIO(data), max_bytes=max_bytes)
    ]


def test_an_oversize_crlf_line_does_not_count_its_cr_whatever_the_blocks() -> None:
    # The fuzzer found "500,001 bytes" with 4 KB blocks and "500,000" with 1 MB ones.
    data = b"x" * 50 + b"\r\nok\r\n"
    for block_size in range(1, 60):
        got = lines_of(data, max_bytes=20, block_size=block_size)
        assert got == [(1, b"", 50), (2, b"ok", 2)], block_size
