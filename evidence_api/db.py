"""Engine and sessions: SQLite (embedded default) or PostgreSQL, with UTC-aware datetimes on both."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

logger = logging.getLogger(__name__)

PG_CONNECT_TIMEOUT_S = 5
#: seconds until a silent PostgreSQL peer is given up: first keepalive probe after 10 s idle, then 3
#: unanswered probes 5 s apart; data left unacknowledged this long also ends the connection
PG_DEAD_PEER_S = 25
#: the server ends a statement running longer than this, and a wait for a lock longer than that, so a
#: request never waits without end on a hung query or another transaction's lock (an error, hence a
#: 503); migrations lift the statement limit for themselves
PG_STATEMENT_TIMEOUT_MS = 60_000
PG_LOCK_TIMEOUT_MS = 15_000
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": PG_CONNECT_TIMEOUT_S,
    "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} -c lock_timeout={PG_LOCK_TIMEOUT_MS}",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": PG_DEAD_PEER_S * 1000,  # milliseconds
}


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware datetimes (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> Engine:
    """An engine; SQLite transactions take the write lock up front (BEGIN IMMEDIATE) so writers serialise."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # pre-ping: a connection the server dropped (restart, failover) is replaced, not used and failed;
    # connect_timeout: a database host that has gone silent fails a request in seconds, not minutes;
    # keepalives and tcp_user_timeout: a connection whose packets silently stop arriving (a failover
    # that moved the address, a NAT or firewall dropping state, a pulled cable: no RST ever comes) is
    # declared dead by the kernel in about PG_DEAD_PEER_S instead of the OS default (~2 h idle, ~15 min
    # with data unacknowledged), so a request fails (503) and the pool replaces the connection.
    connect_args = {**PG_CONNECT_ARGS, **kwargs.pop("connect_args", {})}
    given = make_url(url).query.get("options")  # the URL's own (a search_path, say) come too
    if given:
        connect_args["options"] = " ".join(
            [*([given] if isinstance(given, str) else given), connect_args["options"]]
        )
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if schema:

        @event.listens_for(engine, "connect")
        def _pg_search_path(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
