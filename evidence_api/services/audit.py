"""Append-only, hash-chained audit log (scheme ``tipwatch-audit/1``, the one bundles verify).

The hash scheme and canonical JSON are the bundle format's (:mod:`evidence_api.bundle.format`), so the
live log and the offline verifier cannot drift apart.

``append`` adds to the caller's transaction and never commits. Appends serialise on the chain head:
a row lock (``SELECT ... FOR UPDATE``) on PostgreSQL, the database write lock (BEGIN IMMEDIATE) on SQLite.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.bundle.format import AUDIT_HASH_SCHEME, GENESIS_HASH, canonical_json, compute_hash
from evidence_api.models import AuditEntry, AuditHead

logger = logging.getLogger(__name__)

SCHEME = AUDIT_HASH_SCHEME  # the scheme every entry of this log is hashed under


class AuditChainError(Exception):
    """The audit chain does not verify: history was edited or entries are missing."""


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    """The hashed content of an entry other than seq/prev_hash (what bundles carry as ``fields``)."""
    return {
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "before_hash": entry.before_hash,
        "after_hash": entry.after_hash,
        "details": entry.details,
    }


def _lock_head(session: Session) -> AuditHead:
    stmt = select(AuditHead).where(AuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        # the first append of a fresh database races too: create the head row idempotently, then lock it
        session.execute(
            insert(AuditHead)
            .values(id=1, seq=0, head_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return session.execute(stmt.with_for_update().execution_options(populate_existing=True)).scalar_one()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, head_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    before_hash: str | None = None,
    after_hash: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction (no commit)."""
    head = _lock_head(session)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=(at or datetime.now(UTC)).astimezone(UTC),
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before_hash=before_hash,
        after_hash=after_hash,
        details=canonical_json(details or {}).decode("utf-8"),
        prev_hash=head.head_hash,
    )
    entry.entry_hash = compute_hash(entry.seq, entry.prev_hash, entry_fields(entry))
    session.add(entry)
    head.seq = entry.seq
    head.head_hash = entry.entry_hash
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str


def verify_chain(session: Session, *, batch: int = 5000) -> str:
    """Recompute every entry's hash and link; return the head hash or raise AuditChainError."""
    return verify_chain_report(session, batch=batch).head_hash


def verify_chain_report(session: Session, *, batch: int = 5000) -> ChainReport:
    prev = GENESIS_HASH
    expected_seq = 1
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                raise AuditChainError(f"audit entry {expected_seq} is missing (found {e.seq} next)")
            if e.prev_hash != prev:
                raise AuditChainError(f"audit entry {e.seq} does not link to entry {e.seq - 1}")
            actual = compute_hash(e.seq, e.prev_hash, entry_fields(e))
            if actual != e.entry_hash:
                raise AuditChainError(
                    f"audit entry {e.seq} was altered: its content no longer matches its hash"
                )
            prev = e.entry_hash
            expected_seq += 1
            last_seq = e.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last_seq or head.head_hash != prev):
        raise AuditChainError(
            f"chain head says entry {head.seq} but the log ends at entry {last_seq}: entries were removed"
        )
    return ChainReport(entries=last_seq, head_hash=prev)


def hash_state(state: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON state, for before/after hashes."""
    return hashlib.sha256(canonical_json(state)).hexdigest()
