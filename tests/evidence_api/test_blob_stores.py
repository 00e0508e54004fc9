"""The blob store contract, run against both stores the factory builds: the filesystem store and the
S3-compatible one on a real S3 server (moto's, on loopback).

A blob is stored only under the SHA-256 of its bytes, once; bytes that do not hash to their key are
refused and leave nothing behind; a stored blob reads back whole or from any offset; a clip passes
through in bounded memory, on the way in and on the way out.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_testutil import MotoServer, object_keys, pending_uploads
from tcp_relay import Relay

from evidence_api import ranges
from evidence_api.settings import Settings
from evidence_api.storage import (
    BlobError,
    BlobHashMismatch,
    BlobStore,
    BlobStoreUnavailable,
    FilesystemBlobStore,
    make_blob_store,
)
from evidence_api.storage.s3 import S3BlobStore

PART = 5 * 1024 * 1024  # S3's smallest part: a few parts make a "large" object quickly


class Backend:
    """A store built by the factory, and a look at what it holds from outside (files, or objects and
    unfinished multipart uploads)."""

    def __init__(self, store: BlobStore, leftovers: Any) -> None:
        self.store = store
        self.leftovers = leftovers


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    common = {"env": "test", "secret_key": "store-secret-0123456789", "data_dir": tmp_path}
    if request.param == "filesystem":
        store = make_blob_store(Settings(**common))
        assert isinstance(store, FilesystemBlobStore)
        root = store.root
        return Backend(store, lambda: sorted(str(p) for p in root.rglob("*") if p.is_file()))
    request.getfixturevalue("s3_credentials")
    server: MotoServer = request.getfixturevalue("moto_server")
    bucket = server.new_bucket()
    settings = Settings(**common, **{**server.settings(bucket), "s3_part_bytes": PART})
    store = make_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    client = server.client()
    return Backend(store, lambda: object_keys(client, bucket) + pending_uploads(client, bucket))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Generated(io.RawIOBase):
    """``total`` reproducible pseudo-random bytes, made as they are read (never held whole), optionally
    with one byte changed at ``flip`` (a clip damaged in transit)."""

    def __init__(self, total: int, *, seed: int = 7, flip: int | None = None) -> None:
        super().__init__()
        self._random = random.Random(seed)
        self._left = total
        self._pos = 0
        self._flip = flip

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._random.randbytes(n)
        if self._flip is not None and self._pos <= self._flip < self._pos + n:
            i = self._flip - self._pos
            data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
        self._left -= n
        self._pos += n
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def generated_sha(total: int, *, seed: int = 7) -> str:
    digest, stream = hashlib.sha256(), Generated(total, seed=seed)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def test_a_blob_is_stored_once_under_its_hash_and_reads_back(backend: Backend) -> None:
    store = backend.store
    data = b"a still's bytes " * 1000
    key = sha(data)
    assert not store.exists(key)
    assert store.put(data, sha256=key) is True
    assert store.exists(key) and store.size(key) == len(data)
    with store.open(key) as fh:
        assert fh.read() == data
    assert store.put(data, sha256=key) is False  # already there: not written again
    assert store.put(io.BytesIO(data), sha256=key) is False  # nor from a stream
    assert len(backend.leftovers()) == 1
    assert store.delete(key) is True
    assert not store.exists(key) and store.delete(key) is False
    assert backend.leftovers() == []


def test_an_empty_blob_is_a_blob(backend: Backend) -> None:
    key = sha(b"")
    assert backend.store.put(b"", sha256=key) is True
    assert backend.store.size(key) == 0
    with backend.store.open(key) as fh:
        assert fh.read() == b""


def test_missing_blobs_and_bad_keys_are_blob_errors(backend: Backend) -> None:
    store, absent = backend.store, sha(b"never stored")
    for call in (store.open, store.size):
        with pytest.raises(BlobError, match="not in the store"):
            call(absent)
    for bad in ("ABC", "../../etc/passwd", "g" * 64, sha(b"x").upper()):
        with pytest.raises(BlobError, match="not a SHA-256"):
            store.exists(bad)


@pytest.mark.parametrize("size", [1000, 2 * PART + 123], ids=["one-part", "multipart"])
def test_bytes_that_do_not_hash_to_their_key_are_refused_and_nothing_is_left(
    backend: Backend, size: int
) -> None:
    claimed = generated_sha(size)
    damaged = Generated(size, flip=size - 1)  # the last byte: found only once everything was sent
    with pytest.raises(BlobHashMismatch, match="not the declared"):
        backend.store.put(damaged, sha256=claimed)
    assert not backend.store.exists(claimed)
    assert backend.leftovers() == []  # no object, no temporary file, no unfinished upload


def test_a_stored_blob_is_never_replaced(backend: Backend) -> None:
    store = backend.store
    original = b"the master as captured"
    key = sha(original)
    store.put(original, sha256=key)
    with pytest.raises(BlobHashMismatch):
        store.put(b"something else", sha256=key)
    with store.open(key) as fh:
        assert fh.read() == original


def test_a_byte_range_is_read_from_where_it_starts(backend: Backend) -> None:
    data = random.Random(3).randbytes(3 * 256 * 1024 + 17)
    key = sha(data)
    backend.store.put(data, sha256=key)
    size = backend.store.size(key)
    for header, want in [
        ("bytes=0-99", data[:100]),
        ("bytes=500000-", data[500000:]),
        ("bytes=-10", data[-10:]),
        ("bytes=262100-262200", data[262100:262201]),
    ]:
        part = ranges.RangeRequest(header).select(size=size)
        reply = ranges.plan_reply(backend.store.open(key), size=size, media_type="video/mp4", part=part)
        assert reply.status == 206 and b"".join(reply.body) == want, header
    with backend.store.open(key) as fh:  # seeking back and forth on one stream
        fh.seek(10)
        assert fh.read(5) == data[10:15]
        fh.seek(-3, io.SEEK_END)
        assert fh.read() == data[-3:]
        fh.seek(0)
        assert fh.read(4) == data[:4] and fh.tell() == 4


def _peak_while(action: Any) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_clip_passes_through_in_bounded_memory(backend: Backend) -> None:
    total = 10 * PART + 4321  # 50 MiB: ten times the part size
    key = generated_sha(total)
    peak_in = _peak_while(lambda: backend.store.put(Generated(total), sha256=key))
    assert backend.store.size(key) == total

    def read_back() -> None:
        digest = hashlib.sha256()
        with backend.store.open(key) as fh:
            while chunk := fh.read(ranges.CHUNK_BYTES):
                digest.update(chunk)
        assert digest.hexdigest() == key

    peak_out = _peak_while(read_back)
    # one part in flight at most (S3), one chunk (filesystem), never the clip
    assert peak_in < 2 * PART, f"{peak_in / 2**20:.1f} MiB held to store a {total / 2**20:.0f} MiB clip"
    assert peak_out < 4 * ranges.CHUNK_BYTES + (2 << 20), f"{peak_out / 2**20:.1f} MiB held to read it"


def test_an_object_store_that_cannot_be_reached_is_unavailable_not_missing(
    s3_credentials: None, tmp_path: Path
) -> None:
    from s3_testutil import free_port

    settings = Settings(
        env="test",
        secret_key="store-secret-0123456789",
        data_dir=tmp_path,
        blob_store="s3",
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        s3_bucket="evidence",
        s3_region="eu-west-2",
        s3_max_attempts=1,
        s3_connect_timeout_s=1,
    )
    store = make_blob_store(settings)
    key = sha(b"x")
    calls: Iterator[Any] = iter(
        [
            lambda: store.exists(key),
            lambda: store.open(key),
            lambda: store.size(key),
            lambda: store.delete(key),
            lambda: store.put(b"x", sha256=key),
        ]
    )
    for call in calls:
        with pytest.raises(BlobStoreUnavailable, match="unavailable"):
            call()


def test_an_object_store_dying_mid_upload_shows_nothing_under_the_key(
    s3_credentials: None, moto_server: MotoServer, tmp_path: Path
) -> None:
    bucket = moto_server.new_bucket()
    relay = Relay(("127.0.0.1", moto_server.port))
    overrides = {"s3_endpoint_url": f"http://127.0.0.1:{relay.port}", "s3_part_bytes": PART}
    settings = Settings(
        env="test",
        secret_key="store-secret-0123456789",
        data_dir=tmp_path,
        **{**moto_server.settings(bucket), **overrides},
    )
    store = make_blob_store(settings)
    total = 3 * PART
    key = generated_sha(total)

    class CutMidway(Generated):
        def read(self, size: int | None = -1) -> bytes:
            if self._pos > PART:  # the first part is sent; the store goes away during the second
                relay.cut()
            return super().read(size)

    try:
        with pytest.raises(BlobStoreUnavailable):
            store.put(CutMidway(total), sha256=key)
        relay.restore()
        assert not store.exists(key)
        # no object; the parts sent before the cut (if the abort could not reach the store) are in
        # no object, and the bucket's lifecycle rule removes them (docs/object-storage.md)
        assert object_keys(moto_server.client(), bucket) == []
        assert store.put(Generated(total), sha256=key) is True  # the retry stores it whole
        assert store.size(key) == total
    finally:
        relay.cut()


def test_s3_settings_need_a_bucket() -> None:
    with pytest.raises(ValueError, match="TIPWATCH_S3_BUCKET"):
        Settings(env="test", secret_key="store-secret-0123456789", blob_store="s3")
