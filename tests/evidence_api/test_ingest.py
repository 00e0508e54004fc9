"""The ingest contract on SQLite and PostgreSQL: idempotent, verified, audited."""

from __future__ import annotations

import json
import uuid

import cv2
import numpy as np
from evidence_testutil import Api, event_body, sha, upload
from sqlalchemy import select, text

from detector.types import StillRole
from evidence_api.models import AuditEntry, Blob, Event
from evidence_api.schemas import FileRole
from evidence_api.services import audit
from evidence_api.services.ingest import backfill_print_copies


def test_the_api_accepts_every_still_role_the_edge_writes() -> None:
    # a role the API does not know is a 422 and the whole event goes to the spool's dead/ (the deposit
    # crop once did that to the demo's dumping event)
    assert {role.value for role in StillRole} | {"clip"} == {role.value for role in FileRole}


def test_event_with_still_and_clip_completes_and_is_downloadable(api: Api, media: dict[str, bytes]) -> None:
    files = {"act.jpg": ("act", media["bus"]), "clip.mp4": ("clip", media["clip"])}
    body = event_body(files)
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 201
    assert r.json()["status"] == "awaiting_files"
    assert sorted(r.json()["missing_files"]) == sorted([sha(media["bus"]), sha(media["clip"])])
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(media['bus'])}",
        content=media["bus"],
        headers={**api.h("device"), "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 201 and r.json()["missing_files"] == [sha(media["clip"])]
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(media['clip'])}",
        content=media["clip"],
        headers={**api.h("device"), "Content-Type": "video/mp4"},
    )
    assert r.status_code == 201 and r.json()["status"] == "complete"
    # the same file again: 200, stored once
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(media['clip'])}",
        content=media["clip"],
        headers={**api.h("device"), "Content-Type": "video/mp4"},
    )
    assert r.status_code == 200 and r.json()["stored"] is False
    r = api.client.get(f"/api/v1/blobs/{sha(media['bus'])}", headers=api.h("officer"))
    assert r.status_code == 200 and r.content == media["bus"]
    path = api.client.app.state.store.path(sha(media["bus"]))  # type: ignore[attr-defined]
    assert path.read_bytes() == media["bus"]
    with api.sessionmaker() as s:
        actions = [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]
        assert "event.create" in actions and "event.complete" in actions and "evidence.read.blob" in actions
        audit.verify_chain(s)


def test_same_event_twice_is_stored_once_and_different_content_is_409(
    api: Api, media: dict[str, bytes]
) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
    again = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert again.status_code == 200 and again.json()["missing_files"] == [sha(media["bus"])]
    changed = {**body, "zone": "lay-by"}
    r = api.client.post("/api/v1/events", json=changed, headers=api.h("device"))
    assert r.status_code == 409 and "different content" in r.json()["detail"]
    with api.sessionmaker() as s:
        assert s.execute(select(Event).where(Event.id == uuid.UUID(body["id"]))).scalars().all()


def test_device_may_only_ingest_for_its_own_camera(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])}, camera="cam-9", site="back-lane")
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 403 and "cam-9" in r.json()["detail"]


def test_a_jpeg_that_is_not_a_jpeg_is_refused_with_a_clear_message(api: Api, media: dict[str, bytes]) -> None:
    fake = b"GIF89a" + media["bus"][6:]
    body = event_body({"act.jpg": ("act", fake)})
    assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(fake)}",
        content=fake,
        headers={**api.h("device"), "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 422 and "not a JPEG" in r.text


def test_hash_mismatch_undeclared_and_too_large_are_refused(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    url = f"/api/v1/events/{body['id']}/files/{sha(media['bus'])}"
    r = api.client.put(
        url, content=media["zidane"], headers={**api.h("device"), "Content-Type": "image/jpeg"}
    )
    assert r.status_code == 422 and "hashes to" in r.text
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(media['zidane'])}",
        content=media["zidane"],
        headers={**api.h("device"), "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 422 and "not declared" in r.text
    big = b"\xff\xd8\xff" + b"\0" * 6_000_000
    r = api.client.put(url, content=big, headers={**api.h("device"), "Content-Type": "image/jpeg"})
    assert r.status_code == 413
    assert not api.client.app.state.store.exists(sha(media["bus"]))  # type: ignore[attr-defined]


def test_invalid_body_names_the_field(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"act.jpg": ("act", media["bus"])})
    body["files"][0]["sha256"] = "xyz"
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 422 and "sha256" in r.text


def test_covert_camera_without_authorisation_is_marked_not_authorised(
    api: Api, media: dict[str, bytes]
) -> None:
    files = {"act.jpg": ("act", media["bus"])}
    body = event_body(files, camera="cam-9", site="back-lane")
    r = api.client.post(
        "/api/v1/events", json=body, headers={"Authorization": f"Bearer {api.other_device_token}"}
    )
    assert r.status_code == 201
    r = api.client.get("/api/v1/events", params={"authorised": "false"}, headers=api.h("officer"))
    items = r.json()["items"]
    assert [i["id"] for i in items] == [body["id"]]
    assert items[0]["authorised_at_capture"] is False
    assert "no directed-surveillance authorisation" in items[0]["authorisation_note"]


def test_audit_chain_detects_an_edited_and_a_removed_entry(api: Api, media: dict[str, bytes]) -> None:
    upload(api, event_body({"act.jpg": ("act", media["bus"])}), {"a": media["bus"]})
    r = api.client.get("/api/v1/audit/verify", headers=api.h("legal"))
    assert r.json()["ok"] is True and r.json()["entries"] > 5
    with api.sessionmaker() as s:
        s.execute(text("UPDATE audit_entries SET actor = 'user:mallory' WHERE seq = 3"))
        s.commit()
    r = api.client.get("/api/v1/audit/verify", headers=api.h("admin"))
    assert r.json()["ok"] is False and "entry 3 was altered" in r.json()["error"]
    with api.sessionmaker() as s:
        last = s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
        assert last is not None
        s.execute(text("DELETE FROM audit_entries WHERE seq = :n"), {"n": last.seq})
        s.execute(text("UPDATE audit_entries SET actor = 'system:bootstrap' WHERE seq = 3"))
        s.commit()
    r = api.client.get("/api/v1/audit/verify", headers=api.h("admin"))
    assert r.json()["ok"] is False and "removed" in r.json()["error"]


def test_a_plate_the_edge_box_could_not_read_is_accepted_as_null(api: Api, media: dict[str, bytes]) -> None:
    """The detector sends text/confidence null when it looked for a plate and read nothing."""
    body = event_body({"vehicle.jpg": ("vehicle", media["bus"])})
    body["plate"] = {"text": None, "confidence": None, "valid_uk_format": False}
    r = api.client.post("/api/v1/events", json=body, headers=api.h("device"))
    assert r.status_code == 201, r.text
    with api.sessionmaker() as s:
        event = s.execute(select(Event).where(Event.id == uuid.UUID(body["id"]))).scalar_one()
        assert event.plate_text is None and event.plate_valid_uk_format is False


def test_a_still_gets_a_reduced_print_copy_and_its_hash_is_audited(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"act.jpg": ("act", media["bus"]), "clip.mp4": ("clip", media["clip"])})
    upload(api, body, {"still": media["bus"], "clip": media["clip"]})
    store = api.client.app.state.store  # type: ignore[attr-defined]
    with api.sessionmaker() as s:
        still, clip = s.get(Blob, sha(media["bus"])), s.get(Blob, sha(media["clip"]))
        assert clip is not None and clip.preview_sha256 is None  # clips are not printed
        assert still is not None and still.preview_sha256 is not None
        stored = [
            json.loads(e.details)
            for e in s.execute(select(AuditEntry).where(AuditEntry.action == "event.file.store")).scalars()
        ]
    with store.open(still.preview_sha256) as fh:
        print_copy = fh.read()
    assert sha(print_copy) == still.preview_sha256
    image = cv2.imdecode(np.frombuffer(print_copy, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (540, 405, 3)  # bus.jpg is 810x1080: decoded at half scale
    assert [d["preview_sha256"] for d in stored if d["role"] == "act"] == [still.preview_sha256]
    assert store.path(sha(media["bus"])).read_bytes() == media["bus"]  # the master is untouched


def test_a_still_that_does_not_decode_to_the_end_is_refused_and_not_stored(
    api: Api, media: dict[str, bytes]
) -> None:
    broken = media["bus"][:600]  # a JPEG header and nothing decodable after it
    body = event_body({"act.jpg": ("act", broken)})
    assert api.client.post("/api/v1/events", json=body, headers=api.h("device")).status_code == 201
    r = api.client.put(
        f"/api/v1/events/{body['id']}/files/{sha(broken)}",
        content=broken,
        headers={**api.h("device"), "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 422 and "cut short" in r.text
    assert not api.client.app.state.store.exists(sha(broken))  # type: ignore[attr-defined]
    with api.sessionmaker() as s:
        assert s.get(Blob, sha(broken)) is None
        assert s.get(Event, uuid.UUID(body["id"])).upload_status == "awaiting_files"  # type: ignore[union-attr]


def test_print_copies_missing_after_an_upgrade_are_made_again(api: Api, media: dict[str, bytes]) -> None:
    body = event_body({"a.jpg": ("act", media["bus"]), "b.jpg": ("after", media["zidane"])})
    upload(api, body, {"a": media["bus"], "b": media["zidane"]})
    store = api.client.app.state.store  # type: ignore[attr-defined]
    broken = media["bus"][:600]  # a still a version before the decode check stored: no copy can be made
    store.put(broken, sha256=sha(broken))
    with api.sessionmaker() as s:
        s.add(Blob(sha256=sha(broken), size=len(broken), media_type="image/jpeg"))
        s.commit()
    with api.sessionmaker() as s:
        bus, zidane = s.get(Blob, sha(media["bus"])), s.get(Blob, sha(media["zidane"]))
        assert bus is not None and zidane is not None and bus.preview_sha256 and zidane.preview_sha256
        expected = {bus.sha256: bus.preview_sha256, zidane.sha256: zidane.preview_sha256}
        bus.preview_sha256 = None  # stored by a version before print copies
        store.delete(zidane.preview_sha256)  # or its copy has gone
        s.commit()
    with api.sessionmaker() as s:
        assert backfill_print_copies(session=s, store=store, actor="cli:test") == {
            "made": 2,
            "not_decodable": 1,
        }
        s.commit()
        for master, preview in expected.items():
            blob = s.get(Blob, master)
            assert blob is not None and blob.preview_sha256 == preview and store.exists(preview)
        assert backfill_print_copies(session=s, store=store, actor="cli:test") == {
            "made": 0,
            "not_decodable": 1,
        }
        s.commit()
        actions = [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]
        assert actions[-2:] == ["print_copies.backfill", "print_copies.backfill"]
        audit.verify_chain(s)
