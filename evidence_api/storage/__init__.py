"""Content-addressed blob storage: the :class:`BlobStore` protocol, its stores, and one factory.

Originals are written once under their SHA-256 and never changed.  Build a store with
:func:`make_blob_store` from the settings, not by naming a store class.
"""

from evidence_api.storage.base import BlobError, BlobHashMismatch, BlobStore, check_sha256
from evidence_api.storage.factory import make_blob_store
from evidence_api.storage.filesystem import FilesystemBlobStore

__all__ = [
    "BlobError",
    "BlobHashMismatch",
    "BlobStore",
    "FilesystemBlobStore",
    "check_sha256",
    "make_blob_store",
]
