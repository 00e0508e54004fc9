"""The event feed's outbox: messages written in the transaction of the change they announce, claimed by
one publisher at a time, marked once the receiver acknowledged them, and deleted after a while.

A row is *claimed* by writing the publisher's name and a lease (``claimed_until``) on it; another
publisher takes only rows that are unclaimed or whose lease ran out (a publisher that died).  On
PostgreSQL the claim reads with ``FOR UPDATE SKIP LOCKED``, so two replicas claiming at once each get
different rows without waiting on each other; on SQLite every transaction takes the write lock up front
(``db.make_engine``), so claims simply run one after the other.  Delivery is at least once: a publisher
that dies after the broker received a message but before it marked the row leaves it to be sent again
when the lease runs out (QoS 1 is at-least-once anyway; a message carries its event id).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session

from evidence_api.models import OutboxMessage

logger = logging.getLogger(__name__)

MQTT = "mqtt"
#: ``session.info`` key set when a transaction wrote outbox rows: after its commit the app wakes the
#: publisher (``main.build_event_feed``)
WRITTEN = "outbox_written"


@dataclass(frozen=True, slots=True)
class Claimed:
    """One message a publisher holds: send ``payload`` to ``topic``, then :func:`mark_published`."""

    id: int
    topic: str
    payload: str
    retain: bool


def add(session: Session, *, topic: str, payload: str, retain: bool, channel: str = MQTT) -> None:
    """Queue a message in ``session``'s transaction (committed or rolled back with it)."""
    session.add(OutboxMessage(channel=channel, topic=topic, payload=payload, retain=retain))
    session.info[WRITTEN] = True  # the app wakes its publisher after the commit


def claim(
    *, session: Session, owner: str, lease: timedelta, limit: int, channel: str = MQTT
) -> list[Claimed]:
    """Claim up to ``limit`` unpublished messages, oldest first, for ``lease``; commits.

    Of several retained messages for one topic in the batch only the newest is sent: a retained
    message replaces the one before, so the older ones are marked published unsent."""
    now = datetime.now(UTC)
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.published_at.is_(None),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    newest_retained = {row.topic: row.id for row in rows if row.retain}
    out: list[Claimed] = []
    for row in rows:
        if row.retain and newest_retained[row.topic] != row.id:
            row.published_at = now  # superseded by a newer retained message in this batch
            continue
        row.claimed_by, row.claimed_until = owner, now + lease
        out.append(Claimed(row.id, row.topic, row.payload, row.retain))
    session.commit()
    return out


def mark_published(*, session: Session, ids: Sequence[int]) -> None:
    """The receiver acknowledged these messages; commits."""
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(published_at=datetime.now(UTC), claimed_until=None)
        )
    session.commit()


def renew(*, session: Session, owner: str, ids: Sequence[int], lease: timedelta) -> None:
    """Extend ``owner``'s claim on messages still waiting for their acknowledgement; commits."""
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == owner)
            .values(claimed_until=datetime.now(UTC) + lease)
        )
    session.commit()


def release(*, session: Session, owner: str, ids: Sequence[int]) -> None:
    """Give back claimed messages that were not acknowledged (a publisher stopping), so the next
    publisher sends them at once instead of after the lease; commits."""
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.claimed_by == owner,
                OutboxMessage.published_at.is_(None),
            )
            .values(claimed_by=None, claimed_until=None)
        )
    session.commit()


def waiting(*, session: Session, channel: str = MQTT) -> int:
    """How many messages have not been published yet."""
    stmt = select(func.count()).where(OutboxMessage.channel == channel, OutboxMessage.published_at.is_(None))
    return int(session.execute(stmt).scalar_one())


@dataclass(frozen=True, slots=True)
class Purged:
    published: int
    expired: int  # never published, older than the backlog limit


def purge(*, session: Session, keep_published: timedelta, max_backlog: timedelta) -> Purged:
    """Delete published messages older than ``keep_published`` and unpublished ones older than
    ``max_backlog`` (a receiver gone for good must not grow the table without end); commits."""
    now = datetime.now(UTC)
    published: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        delete(OutboxMessage).where(OutboxMessage.published_at < now - keep_published)
    )
    unpublished: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        delete(OutboxMessage).where(
            OutboxMessage.published_at.is_(None), OutboxMessage.created_at < now - max_backlog
        )
    )
    expired = unpublished.rowcount
    session.commit()
    if expired:
        logger.warning(
            "event feed: %d message(s) deleted unpublished after waiting %s for the broker",
            expired,
            max_backlog,
        )
    return Purged(published.rowcount, expired)
