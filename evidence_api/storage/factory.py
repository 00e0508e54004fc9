"""The one place a blob store is built from settings (the API, the admin commands, bundle export)."""

from __future__ import annotations

import logging
from typing import Any, Final

from evidence_api.settings import Settings
from evidence_api.storage.base import BlobStore
from evidence_api.storage.filesystem import FilesystemBlobStore

logger = logging.getLogger(__name__)

# Connections one S3 client keeps open: one per thread of the API's pool (anyio's default is 40) that
# may be reading or writing a blob at once, rather than botocore's 10, which would queue them.
S3_POOL_CONNECTIONS: Final = 40


def make_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings describe (``TIPWATCH_BLOB_STORE``):

    * ``filesystem`` (the default): a :class:`FilesystemBlobStore` in ``settings.resolved_blob_dir``
      (``TIPWATCH_BLOB_DIR``, default ``<data dir>/blobs``), created if missing;
    * ``s3``: an :class:`~evidence_api.storage.s3.S3BlobStore` in ``TIPWATCH_S3_BUCKET`` at
      ``TIPWATCH_S3_ENDPOINT_URL``, with credentials from the standard AWS variables.  Nothing is asked
      of the store here: an API whose store is down still starts, and answers 503 until it is back.
    """
    if settings.blob_store == "s3":
        from evidence_api.storage.s3 import S3BlobStore  # boto3 is imported only by deployments using it

        assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
        return S3BlobStore(
            client=make_s3_client(settings),
            bucket=settings.s3_bucket,
            prefix=settings.s3_key_prefix,
            part_bytes=settings.s3_part_bytes,
        )
    return FilesystemBlobStore(settings.resolved_blob_dir)


def make_s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the settings: endpoint, region, addressing, timeouts and retries."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
        retries={"max_attempts": settings.s3_max_attempts, "mode": "standard"},
        s3={"addressing_style": settings.s3_addressing_style},
        max_pool_connections=S3_POOL_CONNECTIONS,
        # boto3 ≥ 1.36 adds CRC checksums to every upload by default, which several S3-compatible
        # stores refuse; the content's SHA-256 is checked here instead, before an object is completed.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config
    )
