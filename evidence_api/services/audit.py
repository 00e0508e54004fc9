"""Append-only, hash-chained audit log (scheme ``tipwatch-audit/1``, the one bundles verify).

The hash scheme and canonical JSON are the bundle format's (:mod:`evidence_api.bundle.format`), so the
live log and the offline verifier cannot drift apart.

``append`` adds to the caller's transaction and never commits. Appends serialise on the chain head:
a row lock (``SELECT ... FOR UPDATE``) on PostgreSQL, the database write lock (BEGIN IMMEDIATE) on SQLite.

``verify_chain_report`` recomputes the chain up to the head row (which must exist once there are
entries, and name the last one) and holds it to signed checkpoints; a chain alone cannot show that its
newest entries were cut off, the checkpoints kept outside the database can
(:mod:`evidence_api.services.audit_checkpoints` writes and reads them).  Verification reads the head
first and follows appends committed meanwhile, so it can run beside a busy API.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from evidence_api.bundle.checkpoint import Checkpoint
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
    """What a check found: the entries that verified and the hash of the last one."""

    entries: int
    head_hash: str


def verify_chain(session: Session, *, batch: int = 5000) -> str:
    """Recompute every entry's hash and link; return the head hash or raise AuditChainError."""
    return verify_chain_report(session, batch=batch).head_hash


def verify_chain_report(
    session: Session, *, batch: int = 5000, checkpoints: Sequence[Checkpoint] = ()
) -> ChainReport:
    """Recompute every entry's hash and link up to the chain head, and hold the log to ``checkpoints``
    (signed elsewhere; their signatures are the caller's to check): the log must reach each one's
    ``tree_size``, and that entry must hash to its ``head_hash``.  AuditChainError names the first fault.
    """
    _refuse_entries_before_the_chain(session)
    marks = {cp.tree_size for cp in checkpoints}
    walked = _walk_to_head(session, after=0, prev=GENESIS_HASH, batch=batch, marks=marks)
    for cp in checkpoints:
        if cp.tree_size > walked.seq:
            raise AuditChainError(
                f"the log ends at entry {walked.seq}, but {cp.describe()} covers entry {cp.tree_size}: "
                "entries were removed"
            )
        if walked.marked.get(cp.tree_size) != cp.head_hash:
            raise AuditChainError(
                f"audit entry {cp.tree_size} hashes to {walked.marked.get(cp.tree_size, '?')[:16]}..., "
                f"not to the head hash {cp.head_hash[:16]}... of {cp.describe()}: the log was rewritten"
            )
    walked.check_head()
    return ChainReport(entries=walked.seq, head_hash=walked.last_hash)


def verify_since(session: Session, since: Checkpoint | None, *, batch: int = 5000) -> ChainReport:
    """Check only what was appended after a checkpoint (everything, without one), up to the committed
    head: entry ``since.tree_size`` must still hash to the checkpoint's head hash, and each later entry
    must hash and link.  What the checkpoint writer runs before it signs the next checkpoint."""
    after, prev = 0, GENESIS_HASH
    if since is not None:
        entry = session.execute(
            select(AuditEntry)
            .where(AuditEntry.seq == since.tree_size)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if entry is None:
            last = _last_seq_after(session, 0) or 0
            raise AuditChainError(
                f"the log ends at entry {last}, but {since.describe()} covers entry {since.tree_size}: "
                "entries were removed"
            )
        if compute_hash(entry.seq, entry.prev_hash, entry_fields(entry)) != since.head_hash:
            raise AuditChainError(
                f"audit entry {since.tree_size} no longer hashes to the head hash of {since.describe()}: "
                "the log was rewritten"
            )
        after, prev = since.tree_size, since.head_hash
    _refuse_entries_before_the_chain(session)
    walked = _walk_to_head(session, after=after, prev=prev, batch=batch, marks=set())
    walked.check_head()
    return ChainReport(entries=walked.seq, head_hash=walked.last_hash)


def _refuse_entries_before_the_chain(session: Session) -> None:
    """The chain starts at entry 1: an entry numbered 0 or below was put there by hand, outside the
    chain that the walk checks, and readers that select by target would still find it."""
    stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.seq < 1)
    below = session.execute(stmt).scalar_one()
    if below:
        raise AuditChainError(
            f"{below} audit entr{'y is' if below == 1 else 'ies are'} numbered below 1, outside the chain: "
            "entries were inserted by hand"
        )


@dataclass
class _Walked:
    """Where a walk along the chain ended, and the head it walked to."""

    head: _Head | None
    seq: int  # the last entry checked: the log's last entry, whatever the head says
    last_hash: str
    marked: dict[int, str]  # seq -> entry hash, for the entries asked for
    past_head: bool  # entries were found past a head that did not move on to cover them

    def check_head(self) -> None:
        """The head row must exist once there are entries, and name the last one."""
        head, seq = self.head, self.seq
        if head is None:
            if seq:
                raise AuditChainError(
                    f"the chain head (audit_head) is missing but the log has {seq} entries: the head was "
                    "deleted, and the newest entries may have gone with it"
                )
            return
        if head.seq > seq:
            raise AuditChainError(
                f"chain head says entry {head.seq} but the log ends at entry {seq}: entries were removed"
            )
        if self.past_head or head.seq < seq:
            raise AuditChainError(
                f"entries {head.seq + 1} to {seq} lie beyond the chain head (entry {head.seq}): the head "
                "was moved back"
            )
        if head.head_hash != self.last_hash:
            raise AuditChainError(
                f"the chain head's hash is not entry {seq}'s: the head or the entry was changed"
            )


def _walk_to_head(session: Session, *, after: int, prev: str, batch: int, marks: set[int]) -> _Walked:
    """Walk from entry ``after`` (which hashed to ``prev``) to the committed head.  The head is read
    first and the walk stops there; entries found past it send the walk on to the head as it is now
    (appends committed meanwhile), unless that head does not cover them (it is missing or was moved
    back): then the walk goes on to the last entry, and says so (``past_head``)."""
    head = _read_head(session)
    upto = max(head.seq, after) if head else after
    seq, last_hash, marked = _walk(session, after=after, prev=prev, upto=upto, batch=batch, marks=marks)
    while (beyond := _last_seq_after(session, seq)) is not None:
        newer = _read_head(session)
        past_head = newer is None or newer.seq < beyond or (head is not None and newer.seq <= head.seq)
        if newer is not None and not past_head:
            head = newer
        seq, last_hash, more = _walk(
            session,
            after=seq,
            prev=last_hash,
            upto=None if past_head else head.seq if head else None,
            batch=batch,
            marks=marks,
        )
        marked.update(more)
        if past_head:
            return _Walked(head, seq, last_hash, marked, True)
    return _Walked(head, seq, last_hash, marked, False)


@dataclass(frozen=True)
class _Head:
    """The chain head as read at one moment (a copy: the ORM row changes under a later read)."""

    seq: int
    head_hash: str


def _read_head(session: Session) -> _Head | None:
    """The committed head as it is now (not what the session read earlier)."""
    stmt = select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    row = session.execute(stmt).scalar_one_or_none()
    return _Head(row.seq, row.head_hash) if row is not None else None


def _last_seq_after(session: Session, seq: int) -> int | None:
    return session.execute(select(func.max(AuditEntry.seq)).where(AuditEntry.seq > seq)).scalar_one()


def _walk(
    session: Session, *, after: int, prev: str, upto: int | None, batch: int, marks: set[int]
) -> tuple[int, str, dict[int, str]]:
    """Recompute entries ``after`` + 1 .. ``upto`` (or the last), each linking to the one before
    (entry ``after`` hashed to ``prev``); return the last seq, its hash, and the hashes at ``marks``."""
    last_seq, marked = after, {}
    while True:
        stmt = select(AuditEntry).where(AuditEntry.seq > last_seq)
        if upto is not None:
            stmt = stmt.where(AuditEntry.seq <= upto)
        rows = session.execute(stmt.order_by(AuditEntry.seq).limit(batch)).scalars().all()
        if not rows:
            break
        for e in rows:
            if e.seq != last_seq + 1:
                raise AuditChainError(f"audit entry {last_seq + 1} is missing (found {e.seq} next)")
            if e.prev_hash != prev:
                raise AuditChainError(f"audit entry {e.seq} does not link to entry {e.seq - 1}")
            if compute_hash(e.seq, e.prev_hash, entry_fields(e)) != e.entry_hash:
                raise AuditChainError(
                    f"audit entry {e.seq} was altered: its content no longer matches its hash"
                )
            if e.seq in marks:
                marked[e.seq] = e.entry_hash
            prev, last_seq = e.entry_hash, e.seq
    return last_seq, prev, marked


def hash_state(state: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON state, for before/after hashes."""
    return hashlib.sha256(canonical_json(state)).hexdigest()


def entries_for(
    session: Session, *, targets: Sequence[tuple[str, str]], limit: int = 500
) -> list[AuditEntry]:
    """The entries about any of ``targets`` ((target_type, target_id) pairs), oldest first, at most
    ``limit`` of the newest: an event's own trail on its page (who viewed, reviewed, exported it)."""
    if not targets:
        return []
    wanted = or_(*(and_(AuditEntry.target_type == t, AuditEntry.target_id == i) for t, i in targets))
    newest = session.scalars(select(AuditEntry).where(wanted).order_by(AuditEntry.seq.desc()).limit(limit))
    return sorted(newest, key=lambda e: e.seq)
