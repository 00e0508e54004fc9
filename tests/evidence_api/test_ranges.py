"""A clip plays and seeks in a browser: evidence downloads honour HTTP Range (RFC 9110 §14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_api.ranges import UNSATISFIABLE, ByteRange, Part, RangeRequest, plan_reply

SIZE = 1000


@pytest.mark.parametrize(
    ("range_", "part"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-50", ByteRange(950, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),  # a last position past the end is cut to the end
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file is all of it
        ("BYTES=0-0", ByteRange(0, 0)),  # the unit is case-insensitive
        ("bytes=0-99,", ByteRange(0, 99)),  # an empty list element is ignored
        ("bytes=999-", ByteRange(999, 999)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=999999999-", UNSATISFIABLE),
        ("bytes=" + "9" * 5000 + "-", UNSATISFIABLE),  # beyond int()'s digit limit: still past the end
        ("bytes=-0", UNSATISFIABLE),
        (None, None),
        ("bytes=abc", None),
        ("items=0-1", None),
        ("bytes=5-1", None),  # reversed: invalid, ignored (RFC 9110 §14.2 allows ignoring or 416)
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("bytes=-", None),
        ("bytes=+1-2", None),
        ("bytes=١-٢", None),  # digits of another script are not digits here
        ("bytes 0-1", None),
    ],
)
def test_a_range_header_is_read_as_rfc_9110_says(range_: str | None, part: Part) -> None:
    assert RangeRequest(range_).select(size=SIZE) == part


def test_a_range_guarded_by_if_range_gets_the_whole_file() -> None:
    # we send no validator, so no If-Range can match it
    assert RangeRequest("bytes=0-99", if_range='"abc"').select(size=SIZE) is None


def test_a_span_is_read_in_bounded_chunks_and_the_stream_closed(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    (tmp_path / "f").write_bytes(data)
    stream = (tmp_path / "f").open("rb")
    reply = plan_reply(
        stream, size=len(data), media_type="video/mp4", part=ByteRange(100, 5099), chunk_bytes=1024
    )
    chunks = list(reply.body)
    assert reply.status == 206 and reply.headers["Content-Range"] == f"bytes 100-5099/{len(data)}"
    assert max(len(c) for c in chunks) == 1024 and b"".join(chunks) == data[100:5100]
    assert stream.closed
