"""Content-addressed blob storage: the :class:`BlobStore` protocol, its stores, and one factory.

Originals are written once under their SHA-256 and never changed.  Build a store with
:func:`make_blob_store` from the settings, not by naming a store class: the filesystem store (the
embedded default) or the S3-compatible one (:mod:`evidence_api.storage.s3`, imported only when chosen).
"""

from evidence_api.storage.base import (
    BlobError,
    BlobHashMismatch,
    BlobStore,
    BlobStoreUnavailable,
    Content,
    check_sha256,
)
from evidence_api.storage.factory import make_blob_store
from evidence_api.storage.filesystem import FilesystemBlobStore

__all__ = [
    "BlobError",
    "BlobHashMismatch",
    "BlobStore",
    "BlobStoreUnavailable",
    "Content",
    "FilesystemBlobStore",
    "check_sha256",
    "make_blob_store",
]
