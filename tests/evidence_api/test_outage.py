"""The database going away under the API: 503 with Retry-After, one log line, recovery by itself.

A real PostgreSQL server sits behind a TCP relay the test owns; cutting the relay (closing its
listener and every connection through it) is the database going away, as a failover or a network
cut looks to the API; opening it again is the database coming back.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from tcp_relay import Relay

from evidence_api.main import create_app
from evidence_api.outage import SETTLE_S
from evidence_api.services import bootstrap, users
from evidence_api.settings import Settings


@pytest.fixture
def relayed(pg_url: str) -> Iterator[tuple[Relay, str]]:
    parts = urlsplit(pg_url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{relay.port}"
    url = urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    yield relay, url
    relay.cut()


def test_the_database_going_away_is_a_503_with_retry_after_and_the_api_recovers(
    relayed: tuple[Relay, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    relay, url = relayed
    secret = "outage-secret-0123456789"
    settings = Settings(env="test", secret_key=secret, data_dir=tmp_path, database_url=url)
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        staff = bootstrap.ensure_staff(session=session, password="correct horse battery")
        token, _ = users.issue_user_token(
            session=session, user=staff["officer"], pepper=settings.secret_key, hours=1
        )
        session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/api/v1/events", headers=auth).status_code == 200

        relay.cut()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            answers = [client.get("/api/v1/events", headers=auth) for _ in range(20)]
            # a request with a body meets the outage first where its sign-in is checked
            posted = client.post("/api/v1/cases", json={"reference": "FT/1", "title": "x"}, headers=auth)
            client.cookies.set("tipwatch_session", token)
            page = client.get("/review")
        assert {r.status_code for r in answers} == {503}
        assert all(r.headers["retry-after"] == "5" for r in answers)
        assert "unavailable" in answers[0].json()["detail"]
        assert posted.status_code == 503 and posted.headers["retry-after"] == "5"
        assert page.status_code in (503, 303)  # the page, or its sign-in redirect, never a 500
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "database unavailable" in errors[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)  # no tracebacks

        relay.restore()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert client.get("/api/v1/events", headers=auth).status_code == 200
            assert app.state.outage.ongoing, "one success is not yet the end of the outage (SETTLE_S)"
            time.sleep(SETTLE_S + 0.2)
            assert client.get("/api/v1/events", headers=auth).status_code == 200
        backs = [r for r in caplog.records if "database back after" in r.getMessage()]
        assert len(backs) == 1
        assert not app.state.outage.ongoing


def test_an_outage_that_flickers_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Before: connections that passed the pre-ping just before the server killed them succeeded once
    each, logging 11 "back"/"unavailable" pairs within 170 ms of one outage."""
    from sqlalchemy.exc import OperationalError

    from evidence_api.outage import OutageLog

    log = OutageLog(settle_s=0.3)
    failure = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    with caplog.at_level(logging.INFO, logger="evidence_api.outage"):
        for _ in range(11):
            log.refused(failure)
            log.connected()
        assert log.ongoing
        log.connected()
        time.sleep(0.35)
        log.connected()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1, messages
    assert sum("back after" in m for m in messages) == 1, messages
    assert not log.ongoing


def test_a_connection_whose_peer_goes_silent_is_given_up_by_the_kernel_in_seconds(pg_url: str) -> None:
    """A database whose packets stop arriving with no RST (a failover that moved the address, a NAT
    dropping state) must fail requests in seconds, not hang them for the OS default of ~2 hours idle or
    ~15 minutes of unacknowledged data.  Read back from the socket libpq really uses, as the kernel
    will apply it.  (A userspace relay cannot stage the silence itself: its kernel keeps acknowledging.)"""
    from evidence_api.db import PG_DEAD_PEER_S, make_engine

    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            fd = conn.connection.dbapi_connection.fileno()  # type: ignore[union-attr]
            sock = socket.socket(fileno=socket.dup(fd))
            try:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
                count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
                assert idle + interval * count <= PG_DEAD_PEER_S <= 60
                user_timeout_ms = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
                assert 0 < user_timeout_ms <= PG_DEAD_PEER_S * 1000
            finally:
                sock.close()
    finally:
        engine.dispose()


def test_a_hung_query_or_a_held_lock_ends_in_bounded_time(pg_url: str) -> None:
    """The server ends a statement or a lock wait that would otherwise hold a request without end
    (a hung query, another transaction's lock): the request fails, and is answered 503."""
    from evidence_api.db import PG_LOCK_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS, make_engine

    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            statement = conn.exec_driver_sql(
                "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            )
            lock = conn.exec_driver_sql("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
            assert int(statement.scalar_one()) == PG_STATEMENT_TIMEOUT_MS
            assert int(lock.scalar_one()) == PG_LOCK_TIMEOUT_MS
            assert 0 < PG_LOCK_TIMEOUT_MS <= PG_STATEMENT_TIMEOUT_MS <= 120_000
    finally:
        engine.dispose()


def test_a_lock_wait_past_the_limit_is_a_503_logged_as_busy_not_as_an_outage(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one contended lock was logged as "database unavailable ... until it is back"."""
    import evidence_api.db as db

    monkeypatch.setitem(db.PG_CONNECT_ARGS, "options", "-c statement_timeout=60000 -c lock_timeout=300")
    settings = Settings(
        env="test", secret_key="test-secret-0123456789abcdef", data_dir=tmp_path, database_url=pg_url
    )
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        staff = bootstrap.ensure_staff(session=session, password="correct horse battery")
        token, _ = users.issue_user_token(
            session=session, user=staff["admin"], pepper=settings.secret_key, hours=1
        )
        session.commit()
    holder = db.make_engine(pg_url)
    try:
        with TestClient(app) as client, holder.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("SELECT * FROM audit_head FOR UPDATE")  # every audited write waits on it
            caplog.clear()
            with caplog.at_level(logging.INFO):
                r = client.post(
                    "/api/v1/sites",
                    json={"key": "busy-site", "name": "Busy", "land_type": "highway"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            conn.exec_driver_sql("ROLLBACK")
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        assert "busy" in r.json()["detail"]
        messages = [rec.getMessage() for rec in caplog.records]
        assert any("took too long" in m for m in messages), messages
        assert not any("database unavailable" in m for m in messages), messages
        assert not app.state.outage.ongoing
    finally:
        holder.dispose()
        app.state.engine.dispose()
