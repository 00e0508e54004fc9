"""The one place a blob store is built from settings (the API, the admin commands, bundle export)."""

from __future__ import annotations

import logging

from evidence_api.settings import Settings
from evidence_api.storage.base import BlobStore
from evidence_api.storage.filesystem import FilesystemBlobStore

logger = logging.getLogger(__name__)


def make_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings describe: today a :class:`FilesystemBlobStore` in
    ``settings.resolved_blob_dir`` (``TIPWATCH_BLOB_DIR``, default ``<data dir>/blobs``), created if
    missing.  Another kind of store (S3-compatible) is added here, chosen by a setting."""
    return FilesystemBlobStore(settings.resolved_blob_dir)
