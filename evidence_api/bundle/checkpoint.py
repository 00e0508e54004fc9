"""Signed checkpoints of the audit log: Certificate Transparency's signed tree head, for a hash chain.

A checkpoint says "the council's audit log had ``tree_size`` entries, and entry ``tree_size`` hashed to
``head_hash``, at time ``at``", signed with the council's bundle-signing key (Ed25519).  Because each
entry's hash covers the one before it, that one hash pins every entry up to ``tree_size``: whoever holds
a checkpoint can tell whether a log shown to them later was cut short (it ends before ``tree_size``) or
rewritten (entry ``tree_size`` hashes to something else), without trusting the database that holds it.

Checkpoints are numbered (``index`` 1, 2, 3 ...) and kept, one JSON line each, in a checkpoint log
outside the database (:mod:`evidence_api.services.audit_checkpoints` writes and checks it); every bundle
carries the checkpoint its audit extract ends at (``continuity.checkpoint`` in ``manifest.json``).

The signed bytes are the canonical JSON (:func:`~evidence_api.bundle.format.canonical_json`) of the body::

    {"format": "tipwatch-checkpoint/1", "hash_scheme": "tipwatch-audit/1", "index": 7,
     "tree_size": 312, "head_hash": "<64 hex>", "at": "2026-11-24T10:05:00+00:00",
     "key_fingerprint": "<64 hex: SHA-256 of the raw Ed25519 public key>"}

and a record (a line of the log, or ``continuity.checkpoint``) is ``{"checkpoint": body, "signature":
"<128 hex>"}``.  The body's ``format`` keeps a checkpoint signature from ever passing as a manifest's.

Standard library and ``cryptography`` only, like :mod:`evidence_api.bundle.verify`, which imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence_api.bundle.format import canonical_json

CHECKPOINT_FORMAT = "tipwatch-checkpoint/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_FIELDS = frozenset({"format", "hash_scheme", "index", "tree_size", "head_hash", "at", "key_fingerprint"})


class CheckpointSigner(Protocol):
    """What signs a checkpoint: the council's signing key (``bundle.signing.SigningKey``)."""

    @property
    def fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed checkpoint; ``signature`` is over :meth:`signed_bytes`."""

    index: int
    tree_size: int
    head_hash: str
    at: datetime
    key_fingerprint: str
    hash_scheme: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "hash_scheme": self.hash_scheme,
            "index": self.index,
            "tree_size": self.tree_size,
            "head_hash": self.head_hash,
            "at": self.at.astimezone(UTC).isoformat(),
            "key_fingerprint": self.key_fingerprint,
        }

    def signed_bytes(self) -> bytes:
        return canonical_json(self.body())

    def record(self) -> dict[str, Any]:
        """The JSON form kept in the checkpoint log and in a bundle's manifest."""
        return {"checkpoint": self.body(), "signature": self.signature.hex()}

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """Whether ``signature`` is ``key``'s signature of this body (the caller checks that ``key`` is
        the one ``key_fingerprint`` names)."""
        try:
            key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            return False
        return True

    def describe(self) -> str:
        """How a person reads it: ``signed checkpoint #7 of 2026-11-24 10:05:00 UTC (312 entries)``."""
        when = self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"signed checkpoint #{self.index} of {when} ({self.tree_size} entries)"


def sign_checkpoint(
    *, index: int, tree_size: int, head_hash: str, hash_scheme: str, signer: CheckpointSigner, at: datetime
) -> Checkpoint:
    unsigned = Checkpoint(
        index, tree_size, head_hash, at.astimezone(UTC), signer.fingerprint, hash_scheme, b""
    )
    return Checkpoint(
        index,
        tree_size,
        head_hash,
        unsigned.at,
        signer.fingerprint,
        hash_scheme,
        signer.sign(unsigned.signed_bytes()),
    )


def parse_checkpoint(record: object) -> Checkpoint:
    """A checkpoint from its JSON record; ValueError saying what is wrong with it (nothing is trusted:
    the record may come from a bundle made by anyone)."""
    if not isinstance(record, dict) or set(record) != {"checkpoint", "signature"}:
        raise ValueError('a checkpoint record is {"checkpoint": {...}, "signature": "..."}')
    body, signature = record["checkpoint"], record["signature"]
    if not isinstance(body, dict) or set(body) != _FIELDS:
        raise ValueError(f"a checkpoint has exactly the fields {', '.join(sorted(_FIELDS))}")
    if body["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"unknown checkpoint format {body['format']!r}, expected {CHECKPOINT_FORMAT}")
    index, tree_size = body["index"], body["tree_size"]
    if type(index) is not int or index < 1 or type(tree_size) is not int or tree_size < 1:
        raise ValueError("a checkpoint's index and tree_size are whole numbers from 1")
    for name in ("head_hash", "key_fingerprint"):
        if not isinstance(body[name], str) or not _HEX64.fullmatch(body[name]):
            raise ValueError(f"a checkpoint's {name} is 64 lower-case hex digits")
    if not isinstance(signature, str) or not _HEX128.fullmatch(signature):
        raise ValueError("a checkpoint's signature is 128 lower-case hex digits (64 bytes, Ed25519)")
    if not isinstance(body["hash_scheme"], str) or not isinstance(body["at"], str):
        raise ValueError("a checkpoint's hash_scheme and at are strings")
    at = datetime.fromisoformat(body["at"])
    if at.tzinfo is None:
        raise ValueError(f"a checkpoint's time {body['at']!r} has no UTC offset")
    checkpoint = Checkpoint(
        index,
        tree_size,
        body["head_hash"],
        at,
        body["key_fingerprint"],
        body["hash_scheme"],
        bytes.fromhex(signature),
    )
    if checkpoint.signed_bytes() != canonical_json(body):
        raise ValueError(f"a checkpoint's time is written {body['at']!r}, not in its canonical form")
    return checkpoint
