"""The event feed: stored events and camera health changes reach a real MQTT broker (Debian's Mosquitto,
started here on a free loopback port), without plates by default, and a broker that is down costs an
upload nothing: what was stored meanwhile is published when it returns, once.

Runs on SQLite and on the real PostgreSQL (the ``db_url`` fixture).  Skipped without Mosquitto, failed
when ``CI=true``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from evidence_testutil import Api, api_settings, event_body, serve_api, sha, upload
from mqtt_testutil import Mosquitto, Received, Subscriber, mosquitto_binary
from pydantic import ValidationError
from sqlalchemy import select, update
from test_camera_health import post, report

from evidence_api.models import OutboxMessage
from evidence_api.mqtt import BrokerAddress, BrokerAddressError
from evidence_api.services import outbox
from evidence_api.settings import Settings

EVENTS = "tipwatch/lay-by-a123/cam-1/events"
STATUS = "tipwatch/lay-by-a123/cam-1/status"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(mosquitto_binary(), tmp_path)
    yield server
    server.stop()


@pytest.fixture
def subscriber(broker: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(broker.port)
    yield sub
    sub.close()


def feed_api(
    db_url: str, tmp_path: Path, broker: Mosquitto, **overrides: object
) -> AbstractContextManager[Api]:
    """The test API with the event feed on ``broker``."""
    return serve_api(api_settings(db_url, tmp_path, mqtt_url=broker.url, **overrides))


def on(topic: str, event_id: str | None = None, change: str | None = None) -> Callable[[Received], bool]:
    def match(m: Received) -> bool:
        if m.topic != topic:
            return False
        payload = m.payload
        return (event_id is None or payload.get("id") == event_id) and (
            change is None or payload.get("change") == change
        )

    return match


def outbox_rows(api: Api) -> list[OutboxMessage]:
    with api.sessionmaker() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_stored_event_is_published_once_complete_without_its_plate_and_again_when_confirmed(
    db_url: str, tmp_path: Path, broker: Mosquitto, subscriber: Subscriber, media: dict[str, bytes]
) -> None:
    with feed_api(db_url, tmp_path, broker) as api:
        files = {"before.jpg": ("before", media["bus"]), "after.jpg": ("after", media["zidane"])}
        body = event_body(files)
        r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
        assert r.status_code == 201, r.text
        assert outbox_rows(api) == [], "an event waiting for its files is not announced"
        for data in (media["zidane"], media["bus"]):
            r = api.client.put(
                f"/api/v1/events/{body['id']}/files/{sha(data)}",
                content=data,
                headers={**api.h("device"), "Content-Type": "image/jpeg"},
            )
            assert r.status_code == 201, r.text

        (message,) = subscriber.wait_for(on(EVENTS, body["id"], "stored"))
        payload = message.payload
        assert payload["format"] == "tipwatch-event/1"
        assert (payload["type"], payload["site"], payload["camera"]) == ("dumping", "lay-by-a123", "cam-1")
        assert payload["zone"] == "verge" and payload["review_status"] == "new"
        assert payload["files"] == {"stills": 2, "clips": 0}
        assert datetime.fromisoformat(payload["started_at"]) == datetime.fromisoformat(body["started_at"])
        assert "plate" not in payload and b"AB12CDE" not in message.raw, "no plate unless the setting says so"
        assert b"deposit_area_px" not in message.raw, "the event's free details are never sent"
        assert not message.retain

        r = api.client.post(
            f"/api/v1/events/{body['id']}/review", json={"action": "confirm"}, headers=api.h("officer")
        )
        assert r.status_code == 200, r.text
        (confirmed,) = subscriber.wait_for(on(EVENTS, body["id"], "confirmed"))
        assert confirmed.payload["review_status"] == "confirmed"
        deadline = time.monotonic() + 10
        while any(row.published_at is None for row in outbox_rows(api)) and time.monotonic() < deadline:
            time.sleep(0.05)
        rows = outbox_rows(api)
        assert len(rows) == 2 and all(row.published_at is not None for row in rows), "marked after PUBACK"
    assert len(subscriber.matching(on(EVENTS, body["id"]))) == 2, "each change published once"


def test_plates_are_published_only_when_the_setting_allows(
    sqlite_url: str, tmp_path: Path, broker: Mosquitto, media: dict[str, bytes]
) -> None:
    subscriber = Subscriber(broker.port, "council/#")
    try:
        settings = {"mqtt_include_plates": True, "mqtt_topic_prefix": "council/tw"}
        with feed_api(sqlite_url, tmp_path, broker, **settings) as api:
            body = event_body({"after.jpg": ("after", media["bus"])})
            upload(api, body, {"after.jpg": media["bus"]})
            (message,) = subscriber.wait_for(lambda m: m.topic == "council/tw/lay-by-a123/cam-1/events")
    finally:
        subscriber.close()
    assert message.payload["plate"] == {"text": "AB12CDE", "confidence": 0.91, "valid_uk_format": True}


def test_a_health_status_change_is_retained_on_the_camera_status_topic(
    db_url: str, tmp_path: Path, broker: Mosquitto, subscriber: Subscriber
) -> None:
    with feed_api(db_url, tmp_path, broker) as api:
        assert post(api, report("ok")).status_code == 200
        subscriber.wait_for(lambda m: m.topic == STATUS and m.payload["status"] == "ok")
        problem = "disk low: 104.9 MB free, below the 209.7 MB reserve; free space on the box"
        for _ in range(2):  # a change, then a heartbeat of the same status
            r = post(api, report("disk_low", free_bytes=104_900_000, problems=[problem]))
            assert r.status_code == 200, r.text
        subscriber.wait_for(lambda m: m.topic == STATUS and m.payload["status"] == "disk_low")

        late = Subscriber(broker.port, STATUS)  # connects after the change: the broker's retained copy
        try:
            (retained,) = late.wait_for(lambda m: m.topic == STATUS)
        finally:
            late.close()
        assert retained.retain, "the status topic is retained"
        assert retained.payload["status"] == "disk_low"
        assert retained.payload["camera"] == "cam-1" and retained.payload["site"] == "lay-by-a123"
        assert problem in retained.payload["warnings"]
        time.sleep(0.5)
        assert len(subscriber.matching(lambda m: m.topic == STATUS)) == 2, "a heartbeat publishes nothing"


def test_with_the_broker_down_ingest_answers_at_once_and_the_event_is_published_when_it_returns(
    db_url: str, tmp_path: Path, media: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # The broker keeps the subscriber's session across its restart (persistence on), so the message is
    # queued for it however soon the API reconnects.
    broker = Mosquitto(mosquitto_binary(), tmp_path, persist_dir=tmp_path)
    subscriber = Subscriber(broker.port, EVENTS, client_id="tipwatch-test-nvr", clean=False)
    try:
        with feed_api(db_url, tmp_path, broker) as api:
            deadline = time.monotonic() + 10
            while not api.client.app.state.mqtt_publisher.link.connected.is_set():  # type: ignore[attr-defined]
                assert time.monotonic() < deadline, "the API did not connect to the broker"
                time.sleep(0.05)
            broker.stop()
            body = event_body({"after.jpg": ("after", media["bus"])})
            started = time.monotonic()
            upload(api, body, {"after.jpg": media["bus"]})  # asserts 201s
            assert time.monotonic() - started < 2.0, "the broker being down must not slow an upload"
            time.sleep(0.5)
            (row,) = outbox_rows(api)
            assert row.published_at is None, "kept in the outbox while the broker is away"

            broker.start()
            subscriber.wait_for(on(EVENTS, body["id"], "stored"), timeout=45)
            deadline = time.monotonic() + 10
            while outbox_rows(api)[0].published_at is None:
                assert time.monotonic() < deadline, "the row is marked published after the PUBACK"
                time.sleep(0.05)
        feed_lines = [r.getMessage() for r in caplog.records if r.name == "evidence_api.mqtt"]
        assert len([line for line in feed_lines if "unavailable" in line]) == 1, feed_lines
        assert len([line for line in feed_lines if "back after" in line]) == 1, feed_lines
    finally:
        subscriber.close()
        broker.stop()


def test_nothing_is_published_twice_after_the_api_restarts(
    db_url: str, tmp_path: Path, broker: Mosquitto, subscriber: Subscriber, media: dict[str, bytes]
) -> None:
    body = event_body({"after.jpg": ("after", media["bus"])})
    with feed_api(db_url, tmp_path, broker) as api:
        upload(api, body, {"after.jpg": media["bus"]})
        subscriber.wait_for(on(EVENTS, body["id"]))
    with feed_api(db_url, tmp_path, broker) as again:  # a new process's state, the same database
        assert post(again, report("ok")).status_code == 200
        subscriber.wait_for(lambda m: m.topic == STATUS)  # the new publisher has been round the outbox
        time.sleep(0.5)
    assert len(subscriber.matching(on(EVENTS, body["id"]))) == 1


def test_two_publishers_never_claim_the_same_message(api: Api) -> None:
    with api.sessionmaker() as session:
        for i in range(40):
            outbox.add(session, topic=f"site/cam/events-{i}", payload="{}", retain=False)
        session.commit()
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(2)

    def claimer(owner: str) -> None:
        start.wait()
        got: list[int] = []
        for _ in range(4):
            with api.sessionmaker() as session:
                got += [
                    m.id
                    for m in outbox.claim(session=session, owner=owner, lease=timedelta(minutes=1), limit=7)
                ]
        claims[owner] = got

    threads = [threading.Thread(target=claimer, args=(name,)) for name in ("replica-a", "replica-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a, b = set(claims["replica-a"]), set(claims["replica-b"])
    assert not a & b, "a message claimed by both replicas"
    assert len(a | b) == 40
    with api.sessionmaker() as session:
        assert outbox.claim(session=session, owner="replica-c", lease=timedelta(minutes=1), limit=10) == []


def test_the_outbox_is_bounded(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    now = datetime.now(UTC)
    with api.sessionmaker() as session:
        for topic, created, published in [
            ("old/published/events", now - timedelta(days=2), now - timedelta(days=2)),
            ("new/published/events", now, now),
            ("old/waiting/events", now - timedelta(days=8), None),
            ("new/waiting/events", now - timedelta(days=6), None),
        ]:
            outbox.add(session, topic=topic, payload="{}", retain=False)
            session.flush()
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.topic == topic)
                .values(created_at=created, published_at=published)
            )
        session.commit()
        purged = outbox.purge(
            session=session, keep_published=timedelta(hours=24), max_backlog=timedelta(days=7)
        )
        left = sorted(session.scalars(select(OutboxMessage.topic)))
    assert (purged.published, purged.expired) == (1, 1)
    assert left == ["new/published/events", "new/waiting/events"]
    assert any("deleted unpublished" in r.getMessage() for r in caplog.records)


def test_the_broker_url_is_checked_at_start_up(tmp_path: Path) -> None:
    address = BrokerAddress.parse("mqtts://feed%40council:p%2Fss@broker.example")
    assert (address.host, address.port, address.tls) == ("broker.example", 8883, True)
    assert (address.username, address.password) == ("feed@council", "p/ss")
    assert "p/ss" not in str(address) and str(address) == "mqtts://broker.example:8883"
    assert BrokerAddress.parse("mqtt://127.0.0.1").port == 1883
    for bad in ("http://broker", "mqtt://", "mqtt://broker:99999", "mqtt://broker/topic"):
        with pytest.raises(BrokerAddressError):
            BrokerAddress.parse(bad)
    with pytest.raises(ValidationError, match="mqtt:// or mqtts://"):
        Settings(data_dir=tmp_path, mqtt_url="tcp://broker:1883")
    with pytest.raises(ValidationError, match="wildcards"):
        Settings(data_dir=tmp_path, mqtt_topic_prefix="tipwatch/#")
    assert Settings(data_dir=tmp_path).mqtt_url is None, "no feed unless configured"
