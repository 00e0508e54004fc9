"""The S3-compatible blob store (AWS S3, MinIO, Garage, Ceph RGW …), through boto3.

Each blob is the object ``<prefix>ab/cd/abcd…`` in one bucket: the filesystem store's layout, under its
SHA-256, so an object's name says what its bytes must hash to.

* **Writing**: a blob that fits in one part (``s3_part_bytes``) is hashed and sent with one PUT; a larger
  one goes as a multipart upload, part by part, hashed as it goes, and the upload is completed (the only
  moment an object appears under its key) only when the whole hashes to the declared SHA-256; otherwise
  it is aborted and nothing is left.  At most one part is held in memory, whatever the clip's length.
* **Write-once**: a HEAD first, and an object already there is not written again.  Two replicas racing
  to store the same blob both send the same verified bytes (the key is their hash), so the race cannot
  change evidence; against someone holding the credentials, use the bucket's versioning or Object Lock
  (``docs/object-storage.md``).
* **Reading**: :meth:`S3BlobStore.open` returns a seekable stream that fetches lazily, with a ranged GET
  from wherever it is read, so an HTTP Range download asks the store only for bytes from its start.
* **Outages**: no connection, timeouts, throttling and 5xx answers (after botocore's retries), refused
  credentials and a missing bucket raise :class:`~evidence_api.storage.base.BlobStoreUnavailable`, which
  the API answers with 503 and ``Retry-After``; the log gets one line when the store stops answering and
  one when it answers again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final, cast

from botocore.exceptions import BotoCoreError, ClientError

from evidence_api.storage.base import (
    READ_CHUNK_BYTES,
    BlobError,
    BlobHashMismatch,
    BlobStoreUnavailable,
    Content,
    check_sha256,
    chunks_of,
)

logger = logging.getLogger(__name__)

MIN_PART_BYTES: Final = 5 * 1024 * 1024  # S3's smallest part (all but the last)
MAX_PART_BYTES: Final = 5 * 1024 * 1024 * 1024  # and its largest
_NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NotFound"})
# answers that mean "the store cannot serve anyone now", not "this request is wrong"
_UNAVAILABLE_CODES: Final = frozenset(
    {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)


class _Missing(Exception):
    """The object is not in the bucket (internal: each method says what that means for it)."""


class Availability:
    """Whether the store answered last time: one error line when it stops, one line when it is back."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._since: float | None = None
        self._refused = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: Exception) -> BlobStoreUnavailable:
        """The error to raise for ``exc``; logged once per outage."""
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        with self._lock:
            self._refused += 1
            first = self._since is None
            if first:
                self._since = time.monotonic()
        if first:
            logger.error("%s unavailable, answering 503 until it is back: %s", self.what, reason)
        return BlobStoreUnavailable(f"the {self.what} is unavailable: {reason}")

    def answered(self) -> None:
        if self._since is None:  # the usual case: no lock taken
            return
        with self._lock:
            if self._since is None:
                return
            lasted, refused = time.monotonic() - self._since, self._refused
            self._since, self._refused = None, 0
        logger.warning("%s back after %.0f s; %d call(s) refused meanwhile", self.what, lasted, refused)


def _parts(data: Content, part_bytes: int) -> Iterator[bytes | bytearray]:
    """``data`` in pieces of exactly ``part_bytes`` (the last one shorter; nothing for no bytes)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), part_bytes):
            yield view[start : start + part_bytes].tobytes()
        return
    buf = bytearray()
    for chunk in chunks_of(data, min(READ_CHUNK_BYTES, part_bytes)):
        buf += chunk
        if len(buf) == part_bytes:  # the usual case: handed over whole, not copied
            yield buf
            buf = bytearray()
        elif len(buf) > part_bytes:  # a stream's chunks need not divide a part: carry the rest over
            part = buf[:part_bytes]
            del buf[:part_bytes]
            yield part
    if buf:
        yield buf


class S3BlobStore:
    """A :class:`~evidence_api.storage.base.BlobStore` in an S3 bucket (see the module's docstring).

    Parameters:
        client: a boto3 S3 client (thread-safe; :func:`evidence_api.storage.factory.make_blob_store`
            makes one from the settings, with timeouts and retries).
        bucket: the bucket, which must exist.
        prefix: put before every key (``"tipwatch/"``), so one bucket can hold other things.
        part_bytes: the size of a multipart upload's parts, and so the most a write holds in memory.
    """

    def __init__(self, *, client: Any, bucket: str, prefix: str = "", part_bytes: int = 8 * 1024 * 1024):
        if not MIN_PART_BYTES <= part_bytes <= MAX_PART_BYTES:
            raise ValueError(f"part_bytes must be {MIN_PART_BYTES} to {MAX_PART_BYTES}, not {part_bytes}")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_bytes = part_bytes
        self.availability = Availability(f"object store (bucket {bucket})")

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def key(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 request: _Missing for "no such key", BlobStoreUnavailable when the store cannot serve,
        BlobError for anything else it refuses."""
        try:
            result = operation(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in _NOT_FOUND:
                self.availability.answered()
                raise _Missing from exc
            if status >= 500 or status in (401, 403) or code in _UNAVAILABLE_CODES:
                raise self.availability.failed(exc) from exc
            self.availability.answered()
            raise BlobError(
                f"the object store refused {operation.__name__}: {code} {error.get('Message')}"
            ) from exc
        except BotoCoreError as exc:  # no connection, a timeout, a reply cut short
            raise self.availability.failed(exc) from exc
        self.availability.answered()
        return result

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self._call(self.client.head_object, Key=key))
        except _Missing:
            return None

    def put(self, data: Content, *, sha256: str) -> bool:
        key = self.key(sha256)
        digest = hashlib.sha256()
        parts = _parts(data, self.part_bytes)
        first = next(parts, b"")
        digest.update(first)
        if len(first) < self.part_bytes:  # the whole blob, hashed before a byte is sent: one PUT
            _verify(digest, sha256)
            if self._head(key) is not None:
                return False
            self._call(self.client.put_object, Key=key, Body=bytes(first))
            logger.debug("stored blob %s (%d bytes)", sha256, len(first))
            return True
        if self._head(key) is not None:  # there already: only the hash is checked
            for part in parts:
                digest.update(part)
            _verify(digest, sha256)
            return False
        head = [first]
        del first  # held by head alone, which lets go of it once it is sent
        return self._put_multipart(key, sha256, digest, head, parts)

    def _put_multipart(
        self,
        key: str,
        sha256: str,
        digest: Any,
        head: list[bytes | bytearray],
        rest: Iterator[bytes | bytearray],
    ) -> bool:
        upload_id = self._call(self.client.create_multipart_upload, Key=key)["UploadId"]
        try:
            done = []
            number = 0
            # counted by hand: enumerate keeps its last (number, part) tuple, and so the last part, alive
            for part in _chain(head, rest):
                number += 1
                if number > 1:  # the first was hashed by put, before the upload began
                    digest.update(part)
                reply = self._call(
                    self.client.upload_part, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
                done.append({"PartNumber": number, "ETag": reply["ETag"]})
                del part  # before the next part is read: one part in memory, not two
            _verify(digest, sha256)
            self._call(
                self.client.complete_multipart_upload,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
            )
        except BaseException:
            self._abort(key, upload_id)
            raise
        logger.debug("stored blob %s in %d parts", sha256, number)
        return True

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._call(self.client.abort_multipart_upload, Key=key, UploadId=upload_id)
        except (BlobError, BlobStoreUnavailable, _Missing) as exc:
            # the parts stay invisible (no object has this key); a lifecycle rule removes them
            logger.warning("could not abort the multipart upload of %s (%s): %s", key, upload_id, exc)

    def exists(self, sha256: str) -> bool:
        return self._head(self.key(sha256)) is not None

    def size(self, sha256: str) -> int:
        head = self._head(self.key(sha256))
        if head is None:
            raise BlobError(f"blob {sha256} is not in the store")
        return int(head["ContentLength"])

    def open(self, sha256: str) -> BinaryIO:
        key = self.key(sha256)
        head = self._head(key)
        if head is None:
            raise BlobError(f"blob {sha256} is not in the store")
        return cast(BinaryIO, ObjectReader(self, key, int(head["ContentLength"])))

    def get_body(self, key: str, start: int, end: int) -> Any:
        """The streaming body of bytes ``start`` to ``end`` (inclusive) of ``key``."""
        try:
            return self._call(self.client.get_object, Key=key, Range=f"bytes={start}-{end}")["Body"]
        except _Missing as exc:
            raise BlobError(f"object {key} has gone from the store") from exc

    def delete(self, sha256: str) -> bool:
        key = self.key(sha256)
        if self._head(key) is None:
            return False
        try:
            self._call(self.client.delete_object, Key=key)
        except _Missing:
            return False
        logger.info("deleted blob %s", sha256)
        return True


def _chain(head: list[bytes | bytearray], rest: Iterator[bytes | bytearray]) -> Iterator[bytes | bytearray]:
    # head is emptied as it goes, so a sent part is not kept alive by the list
    while head:
        yield head.pop(0)
    yield from rest


def _verify(digest: Any, sha256: str) -> None:
    actual = digest.hexdigest()
    if actual != sha256:
        raise BlobHashMismatch(f"content hashes to {actual}, not the declared {sha256}")


class ObjectReader(io.RawIOBase):
    """A seekable read-only stream of one object: a seek costs nothing, and the next read opens one
    ranged GET from there to the end, read as the caller reads (never the whole object at once)."""

    def __init__(self, store: S3BlobStore, key: str, size: int) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._size = size
        self._pos = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        if position != self._pos:
            self._drop_body()
            self._pos = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed stream")
        left = self._size - self._pos
        if left <= 0 or size == 0:
            return b""
        want = left if size is None or size < 0 else min(size, left)
        if self._body is None:
            self._body = self._store.get_body(self._key, self._pos, self._size - 1)
        try:
            data = cast(bytes, self._body.read(want))
        except (BotoCoreError, OSError) as exc:
            self._drop_body()
            raise self._store.availability.failed(exc) from exc
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()
