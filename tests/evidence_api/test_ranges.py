"""A clip plays and seeks in a browser: evidence downloads honour HTTP Range (RFC 9110 §14), each
request an audited read with the range served."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import cv2
import pytest
from evidence_testutil import PASSWORD, Api, event_body, sha, upload
from sqlalchemy import select

from evidence_api.models import AuditEntry
from evidence_api.ranges import UNSATISFIABLE, ByteRange, Part, RangeRequest, plan_reply
from evidence_api.services import audit

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A few hundred KB of real MP4: three seconds of OpenCV's CCTV sample at full size."""
    clip = tmp_path_factory.mktemp("clip") / "clip.mp4"
    cap = cv2.VideoCapture(str(VTEST))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (768, 576))
    for _ in range(30):
        ok, frame = cap.read()
        assert ok
        writer.write(frame)
    writer.release()
    cap.release()
    data = clip.read_bytes()
    assert len(data) > 200_000
    return data


def _stored_clip(api: Api, clip: bytes) -> str:
    body = event_body({"clip.mp4": ("clip", clip)})
    upload(api, body, {"c": clip})
    return sha(clip)


def _reads(api: Api, action: str) -> list[dict[str, Any]]:
    """The details of each ``action`` entry in the audit log, oldest first (the chain must verify)."""
    with api.sessionmaker() as s:
        audit.verify_chain(s)
        entries = s.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [json.loads(e.details) for e in entries.scalars()]


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


def test_a_clip_download_honours_one_byte_range(api: Api, long_clip: bytes) -> None:
    digest = _stored_clip(api, long_clip)
    size = len(long_clip)
    url = f"/api/v1/blobs/{digest}"

    whole = api.client.get(url, headers=api.h("officer"))
    assert whole.status_code == 200 and whole.content == long_clip
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-length"] == str(size)
    assert whole.headers["content-type"] == "video/mp4" and "content-range" not in whole.headers
    assert whole.headers["cache-control"] == "no-store" and whole.headers["x-content-sha256"] == digest

    expected_reads: list[dict[str, Any]] = [{}]
    for range_, start, end in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-50", size - 50, size - 1),
    ]:
        r = api.client.get(url, headers={**api.h("officer"), "Range": range_})
        assert r.status_code == 206, range_
        assert r.content == long_clip[start : end + 1]
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert r.headers["content-length"] == str(end - start + 1)
        assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-sha256"] == digest  # the whole file's hash, not the part's
        expected_reads.append({"range": f"{start}-{end}"})
    assert len(api.client.get(url, headers={**api.h("officer"), "Range": "bytes=0-99"}).content) == 100
    expected_reads.append({"range": "0-99"})

    past = api.client.get(url, headers={**api.h("officer"), "Range": "bytes=999999999-"})
    assert past.status_code == 416 and past.content == b""
    assert past.headers["content-range"] == f"bytes */{size}" and past.headers["accept-ranges"] == "bytes"
    expected_reads.append({"range": "unsatisfiable"})

    for ignored in ["bytes=abc", "items=0-1", "bytes=5-1", "bytes=0-1,5-6"]:
        r = api.client.get(url, headers={**api.h("officer"), "Range": ignored})
        assert r.status_code == 200 and r.content == long_clip, ignored
        assert "content-range" not in r.headers and r.headers["accept-ranges"] == "bytes"
        expected_reads.append({})

    assert _reads(api, "evidence.read.blob") == expected_reads  # one entry per request, with its range


def test_head_answers_a_clips_headers_without_its_bytes(api: Api, long_clip: bytes) -> None:
    digest = _stored_clip(api, long_clip)
    url = f"/api/v1/blobs/{digest}"
    head = api.client.head(url, headers=api.h("officer"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(long_clip)) and head.headers["accept-ranges"] == "bytes"
    ranged = api.client.head(url, headers={**api.h("officer"), "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(long_clip)}"
    assert api.client.head(url).status_code == 401  # still signed-in staff only
    assert _reads(api, "evidence.read.blob") == [
        {"headers_only": True},
        {"range": "0-99", "headers_only": True},
    ]


def test_ranged_reads_reassemble_the_exhibit_bit_for_bit(api: Api, long_clip: bytes) -> None:
    """What a player does: ask for the start, learn the size, then fetch the rest in spans."""
    digest = _stored_clip(api, long_clip)
    url = f"/api/v1/blobs/{digest}"
    first = api.client.get(url, headers={**api.h("officer"), "Range": "bytes=0-65535"})
    m = re.fullmatch(r"bytes 0-65535/(\d+)", first.headers["content-range"])
    assert first.status_code == 206 and m
    size, parts = int(m.group(1)), [first.content]
    while (got := sum(len(p) for p in parts)) < size:
        r = api.client.get(url, headers={**api.h("officer"), "Range": f"bytes={got}-{got + 99_999}"})
        assert r.status_code == 206
        parts.append(r.content)
    assert hashlib.sha256(b"".join(parts)).hexdigest() == digest == first.headers["x-content-sha256"]
    assert len(_reads(api, "evidence.read.blob")) == len(parts)


def test_the_review_page_plays_the_clip_by_range(api: Api, long_clip: bytes) -> None:
    digest = _stored_clip(api, long_clip)
    size = len(long_clip)
    page = api.client.get("/login")
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m
    api.client.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": m.group(1)})
    url = f"/review/blobs/{digest}"

    opening = api.client.get(url, headers={"Range": "bytes=0-"})  # what <video> asks first
    assert opening.status_code == 206 and opening.content == long_clip
    assert opening.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    seek = api.client.get(url, headers={"Range": "bytes=200000-200099"})
    assert seek.status_code == 206 and seek.content == long_clip[200_000:200_100]
    assert seek.headers["content-type"] == "video/mp4" and seek.headers["cache-control"] == "no-store"
    tail = api.client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == long_clip[-50:]
    past = api.client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    for ignored in ["bytes=abc", "items=0-1", "bytes=5-1", "bytes=0-1,5-6"]:
        r = api.client.get(url, headers={"Range": ignored})
        assert r.status_code == 200 and r.content == long_clip and r.headers["accept-ranges"] == "bytes"
    head = api.client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)

    assert _reads(api, "evidence.read.blob.page") == [
        {"range": f"0-{size - 1}"},
        {"range": "200000-200099"},
        {"range": f"{size - 50}-{size - 1}"},
        {"range": "unsatisfiable"},
        {},
        {},
        {},
        {},
        {"headers_only": True},
    ]
