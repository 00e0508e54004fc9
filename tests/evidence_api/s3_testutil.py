"""A real S3-compatible server for the tests: moto's standalone server, a subprocess on a free loopback
port (nothing beyond loopback), and settings that point the API at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

# moto takes any credentials; these are never real ones
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "tipwatch-test", "AWS_SECRET_ACCESS_KEY": "tipwatch-test-secret"}
REGION = "eu-west-2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1; ``stop`` kills it (the store going down), ``start`` runs
    a fresh one on the same port (the store back, empty)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.log_dir / f"moto-{self.port}.log").open("ab")
        env = {**os.environ, **TEST_CREDENTIALS}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}; see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start listening within 30 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def client(self) -> Any:
        """A plain boto3 client on the server (the tests' own view of the bucket)."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def new_bucket(self) -> str:
        name = f"tipwatch-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def settings(self, bucket: str) -> dict[str, Any]:
        """``Settings`` keywords for an API whose blobs are in ``bucket`` (quick to give up when down)."""
        return {
            "blob_store": "s3",
            "s3_endpoint_url": self.url,
            "s3_bucket": bucket,
            "s3_region": REGION,
            "s3_key_prefix": "evidence/",
            "s3_connect_timeout_s": 2.0,
            "s3_read_timeout_s": 10.0,
            "s3_max_attempts": 2,
        }


def object_keys(client: Any, bucket: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def pending_uploads(client: Any, bucket: str) -> list[str]:
    listed = client.list_multipart_uploads(Bucket=bucket)
    return [u["Key"] for u in listed.get("Uploads", [])]
