"""The API with its evidence in an S3-compatible object store (moto's server on loopback): an event's
stills and clip go in through the ingest contract and come out as a seekable download and a bundle
that verifies; the store going down is a 503 with Retry-After that leaves nothing half-written, and the
API carries on by itself when it is back."""

from __future__ import annotations

import hashlib
import logging
import random
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
from evidence_testutil import Api, api_settings, event_body, serve_api, sha, upload
from s3_testutil import MotoServer, object_keys, pending_uploads
from sqlalchemy import select
from tcp_relay import Relay

from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.verify import verify_bundle
from evidence_api.models import Authorisation, Blob, Event, Site
from evidence_api.routes import events
from evidence_api.storage.s3 import S3BlobStore


def test_evidence_goes_into_the_object_store_and_comes_back_out(
    s3_credentials: None, moto_server: MotoServer, sqlite_url: str, tmp_path: Path, media: dict[str, bytes]
) -> None:
    bucket = moto_server.new_bucket()
    settings = api_settings(sqlite_url, tmp_path, **moto_server.settings(bucket))
    KeyStore(settings.data_dir).generate()
    with serve_api(settings) as api:
        assert isinstance(api.client.app.state.store, S3BlobStore)  # type: ignore[attr-defined]
        files = {
            "before.jpg": ("before", media["bus"]),
            "act.jpg": ("act", media["zidane"]),
            "clip.mp4": ("clip", media["clip"]),
        }
        body = event_body(files)
        upload(api, body, {name: data for name, (_, data) in files.items()})
        event = api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer")).json()
        assert event["upload_status"] == "complete"

        # every original is an object under its hash, and so is each still's print copy
        keys = set(object_keys(moto_server.client(), bucket))
        with api.sessionmaker() as s:
            previews = {b.preview_sha256 for b in s.scalars(select(Blob)) if b.preview_sha256}
        wanted = {sha(data) for _, data in files.values()} | previews
        assert len(previews) == 2
        assert keys == {f"evidence/{h[:2]}/{h[2:4]}/{h}" for h in wanted}

        # a browser's video player seeks: a byte range of the clip, read from the store
        clip = media["clip"]
        url = f"/api/v1/blobs/{sha(clip)}"
        part = api.client.get(url, headers={**api.h("officer"), "Range": "bytes=1000-2999"})
        assert part.status_code == 206 and part.content == clip[1000:3000]
        assert part.headers["content-range"] == f"bytes 1000-2999/{len(clip)}"
        whole = api.client.get(url, headers=api.h("officer"))
        assert whole.status_code == 200 and whole.content == clip

        _confirm_into_a_case_and_export(api, body["id"], tmp_path)


def mp4_of(size: int) -> bytes:
    """A structurally whole MP4 (ftyp, moov, then an mdat) of about ``size`` bytes: what the ingest's
    box walk checks; its frames are not decoded on the way in."""
    ftyp = struct.pack(">I4s", 20, b"ftyp") + b"isom" + struct.pack(">I", 512) + b"isom"
    moov = struct.pack(">I4s", 16, b"moov") + struct.pack(">I4s", 8, b"free")
    payload = random.Random(5).randbytes(size)
    return ftyp + moov + struct.pack(">I4s", 8 + len(payload), b"mdat") + payload


def test_a_clip_larger_than_a_part_is_spooled_to_disk_and_stored_in_parts(
    s3_credentials: None,
    moto_server: MotoServer,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "UPLOAD_IN_MEMORY_BYTES", 64 * 1024)  # any clip rolls over to disk
    bucket = moto_server.new_bucket()
    part = 5 * 1024 * 1024
    settings = api_settings(
        sqlite_url,
        tmp_path,
        **{**moto_server.settings(bucket), "s3_part_bytes": part, "max_clip_bytes": 3 * part},
    )
    clip = mp4_of(2 * part + 999)
    with serve_api(settings) as api:
        body = event_body({"clip.mp4": ("clip", clip)})
        upload(api, body, {"clip": clip})
        key = f"evidence/{sha(clip)[:2]}/{sha(clip)[2:4]}/{sha(clip)}"
        head = moto_server.client().head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(clip)
        assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag counts its parts
        tail = api.client.get(
            f"/api/v1/blobs/{sha(clip)}", headers={**api.h("officer"), "Range": "bytes=-100"}
        )
        assert tail.status_code == 206 and tail.content == clip[-100:]
        assert list(settings.resolved_upload_dir.iterdir()) == []  # the spooled copy has gone


def _confirm_into_a_case_and_export(api: Api, event_id: str, tmp_path: Path) -> None:
    """An overt authorisation covers the site; the officer confirms the event into a case; legal
    exports the case's bundle, whose exhibits are read from the object store, and it verifies."""
    with api.sessionmaker() as s:
        site = s.scalars(select(Site).where(Site.key == "lay-by-a123")).one()
        event = s.get(Event, uuid.UUID(event_id))
        assert event is not None
        s.add(
            Authorisation(
                kind="overt",
                urn="OVERT-1",
                title="Overt",
                granted_on=event.started_at.date(),
                sites=[site],
            )
        )
        s.commit()
    off = api.h("officer")
    for action in ("start", "confirm"):
        r = api.client.post(f"/api/v1/events/{event_id}/review", json={"action": action}, headers=off)
        assert r.status_code == 200, r.text
    r = api.client.post("/api/v1/cases", json={"title": "A123", "event_ids": [event_id]}, headers=off)
    assert r.status_code == 201, r.text
    exported = api.client.post(f"/api/v1/cases/{r.json()['id']}/bundles", headers=api.h("legal"))
    assert exported.status_code == 201, exported.text
    bundle = exported.json()
    assert len(bundle["exhibits"]) == 3
    got = api.client.get(bundle["download_url"], headers=api.h("legal"))
    assert hashlib.sha256(got.content).hexdigest() == bundle["sha256"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(got.content)
    assert verify_bundle(path, fingerprint=bundle["fingerprint"]).ok


def test_the_object_store_going_away_is_a_503_and_nothing_is_half_written(
    s3_credentials: None,
    moto_server: MotoServer,
    sqlite_url: str,
    tmp_path: Path,
    media: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = moto_server.new_bucket()
    relay = Relay(("127.0.0.1", moto_server.port))  # the store, as the API reaches it
    client = moto_server.client()  # the test's own view of the bucket, not through the relay
    settings = api_settings(
        sqlite_url,
        tmp_path,
        **{**moto_server.settings(bucket), "s3_endpoint_url": f"http://127.0.0.1:{relay.port}"},
    )
    try:
        with serve_api(settings) as api:
            stored = event_body({"act.jpg": ("act", media["bus"])})
            upload(api, stored, {"act": media["bus"]})
            body = event_body({"act.jpg": ("act", media["zidane"]), "clip.mp4": ("clip", media["clip"])})
            assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
            before = set(object_keys(client, bucket))

            relay.cut()
            caplog.clear()
            with caplog.at_level(logging.INFO):
                put = _put(api, body["id"], media["clip"], "video/mp4")
                download = api.client.get(f"/api/v1/blobs/{sha(media['bus'])}", headers=api.h("officer"))
                api.client.cookies.set("tipwatch_session", api.tokens["officer"])
                page = api.client.get(f"/review/blobs/{sha(media['bus'])}")
                api.client.cookies.clear()
            for answer in (put, download):
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "5"
                assert "unavailable" in answer.json()["detail"]
            assert page.status_code == 503 and page.headers["retry-after"] == "5"
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1 and "object store (bucket" in errors[0].getMessage()
            assert not any(r.exc_info for r in caplog.records)  # no tracebacks

            # nothing half-written: no object, no unfinished upload, and nothing says it was received
            assert set(object_keys(client, bucket)) == before
            assert pending_uploads(client, bucket) == []
            event = api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer")).json()
            assert event["upload_status"] == "awaiting_files"
            assert all(f["received_at"] is None for f in event["files"])
            with api.sessionmaker() as s:
                assert s.get(Blob, sha(media["clip"])) is None

            relay.restore()  # back: the edge's retry is stored, with no restart of the API
            caplog.clear()
            with caplog.at_level(logging.INFO):
                for data, media_type in ((media["zidane"], "image/jpeg"), (media["clip"], "video/mp4")):
                    r = _put(api, body["id"], data, media_type)
                    assert r.status_code == 201, r.text
            assert any("back after" in r.getMessage() for r in caplog.records)
            event = api.client.get(f"/api/v1/events/{body['id']}", headers=api.h("officer")).json()
            assert event["upload_status"] == "complete"
            assert f"evidence/{sha(media['clip'])[:2]}/{sha(media['clip'])[2:4]}/{sha(media['clip'])}" in (
                object_keys(client, bucket)
            )
    finally:
        relay.cut()


def _put(api: Api, event_id: str, data: bytes, media_type: str) -> Any:
    return api.client.put(
        f"/api/v1/events/{event_id}/files/{sha(data)}",
        content=data,
        headers={**api.h("device"), "Content-Type": media_type},
    )
