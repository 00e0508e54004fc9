"""The council's bundle-signing keys (Ed25519): generate, rotate, list, load.

Layout under the data directory::

    keys/                      0700
      keys.json                registry: every key ever made, which one is active (0600)
      <key_id>.pub.pem         public keys, kept for ever so old bundles still name their key (0644)
      <key_id>.key.pem         the active private key only (0600); retired private keys are destroyed

A private key is written once with ``O_EXCL`` and mode 0600 and is never logged, printed or put in a
bundle; only its public half and fingerprint leave this module.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence_api.bundle.verify import format_fingerprint, load_public_key_pem, public_key_fingerprint

logger = logging.getLogger(__name__)

REGISTRY_NAME = "keys.json"


class SigningKeyError(RuntimeError):
    """The key store cannot do what was asked; the message says what to run instead."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    fingerprint: str
    created_at: str
    active: bool
    retired_at: str | None = None
    comment: str = ""

    @property
    def fingerprint_display(self) -> str:
        return format_fingerprint(self.fingerprint)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key, loaded for signing one bundle."""

    record: KeyRecord
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return self.record.key_id

    @property
    def fingerprint(self) -> str:
        return self.record.fingerprint

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


class KeyStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.directory = Path(data_dir) / "keys"

    # -- registry ---------------------------------------------------------------------------------
    def _registry_path(self) -> Path:
        return self.directory / REGISTRY_NAME

    def records(self) -> list[KeyRecord]:
        path = self._registry_path()
        if not path.exists():
            return []
        try:
            raw = json.loads(path.read_text("utf-8"))
            return [KeyRecord(**item) for item in raw["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise SigningKeyError(
                f"the key registry {path} is damaged ({exc}); restore it from backup"
            ) from exc

    def _save(self, records: list[KeyRecord]) -> None:
        path = self._registry_path()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"keys": [asdict(r) for r in records]}, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def active(self) -> KeyRecord:
        active = [r for r in self.records() if r.active]
        if not active:
            raise SigningKeyError(
                f"no active signing key under {self.directory}; run `tipwatch admin keys generate`"
            )
        return active[0]

    def get(self, key_id_or_fingerprint: str) -> KeyRecord:
        wanted = key_id_or_fingerprint.replace(" ", "").lower()
        for record in self.records():
            if wanted in (record.key_id.lower(), record.fingerprint):
                return record
        raise SigningKeyError(
            f"no signing key {key_id_or_fingerprint!r}; `tipwatch admin keys list` shows them"
        )

    def public_key(self, record: KeyRecord) -> Ed25519PublicKey:
        return load_public_key_pem((self.directory / f"{record.key_id}.pub.pem").read_bytes())

    def public_pem(self, record: KeyRecord) -> bytes:
        return (self.directory / f"{record.key_id}.pub.pem").read_bytes()

    # -- changes ----------------------------------------------------------------------------------
    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def _new_key(self, comment: str) -> KeyRecord:
        private = Ed25519PrivateKey.generate()
        fingerprint = public_key_fingerprint(private.public_key())
        now = datetime.now(UTC)
        key_id = f"tipwatch-{now:%Y%m%d}-{fingerprint[:8]}"
        private_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fd = os.open(self.directory / f"{key_id}.key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
            fh.flush()
            os.fsync(fh.fileno())
        pub_path = self.directory / f"{key_id}.pub.pem"
        pub_path.write_bytes(public_pem)
        os.chmod(pub_path, 0o644)
        logger.info("generated signing key %s (fingerprint %s)", key_id, format_fingerprint(fingerprint))
        return KeyRecord(
            key_id=key_id, fingerprint=fingerprint, created_at=now.isoformat(), active=True, comment=comment
        )

    def generate(self, comment: str = "") -> KeyRecord:
        """Create the first signing key; refuses when one is already active (use rotate)."""
        self._prepare_directory()
        records = self.records()
        if any(r.active for r in records):
            raise SigningKeyError(
                "a signing key is already active; use `tipwatch admin keys rotate` to replace it"
            )
        record = self._new_key(comment)
        self._save([*records, record])
        return record

    def rotate(self, comment: str = "") -> tuple[KeyRecord, KeyRecord | None]:
        """Make a new active key; the old one is retired: public half kept, private half destroyed."""
        self._prepare_directory()
        records = self.records()
        new = self._new_key(comment)
        now = datetime.now(UTC).isoformat()
        retired: KeyRecord | None = None
        updated: list[KeyRecord] = []
        for r in records:
            if r.active:
                retired = KeyRecord(
                    key_id=r.key_id,
                    fingerprint=r.fingerprint,
                    created_at=r.created_at,
                    active=False,
                    retired_at=now,
                    comment=r.comment,
                )
                updated.append(retired)
            else:
                updated.append(r)
        self._save([*updated, new])
        if retired is not None:
            old_private = self.directory / f"{retired.key_id}.key.pem"
            if old_private.exists():
                old_private.unlink()
            logger.info("retired signing key %s; its public key stays in the store", retired.key_id)
        return new, retired

    def load_active(self) -> SigningKey:
        record = self.active()
        path = self.directory / f"{record.key_id}.key.pem"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise SigningKeyError(
                f"the active key's private half {path} is missing; rotate to a new key"
            ) from exc
        if mode & 0o077:
            raise SigningKeyError(f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyError(f"{path} is not an Ed25519 private key")
        if public_key_fingerprint(private.public_key()) != record.fingerprint:
            raise SigningKeyError(f"{path} does not match the fingerprint recorded for {record.key_id}")
        return SigningKey(record=record, private_key=private)
