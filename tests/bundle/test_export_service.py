"""A case in the real database (SQLite and PostgreSQL) exports to a bundle that verifies."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
import sqlalchemy
from sqlalchemy.orm import Session

from evidence_api import models
from evidence_api.bundle.signing import KeyStore
from evidence_api.bundle.verify import verify_bundle
from evidence_api.db import Base, make_engine, make_sessionmaker
from evidence_api.services import audit
from evidence_api.services.audit_checkpoints import verify_audit_log
from evidence_api.services.bundle_export import ExportSetup, export_case
from evidence_api.services.bundle_spec import CouncilProfile, _event_record, officer_initials
from evidence_api.services.errors import BundleExportError
from evidence_api.services.ingest import store_preview
from evidence_api.settings import Settings
from evidence_api.storage import FilesystemBlobStore

PG_URL = os.environ.get("TIPWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 7, 14, 21, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'tipwatch.db'}")
        schema = None
    else:
        schema = f"bundle_test_{uuid.uuid4().hex[:10]}"
        admin = sqlalchemy.create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        except sqlalchemy.exc.OperationalError as exc:
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
        engine = make_engine(PG_URL, schema=schema)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()
    if schema:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def add_event(
    session: Session,
    store: FilesystemBlobStore,
    *,
    case: models.Case,
    site: models.Site,
    camera: models.Camera,
    start: datetime,
    files: list[tuple[str, str, Path]],
) -> models.Event:
    event = models.Event(
        id=uuid.uuid4(),
        type="dumping",
        site_id=site.id,
        camera_id=camera.id,
        started_at=start,
        ended_at=start + timedelta(minutes=2),
        clock_source="stream",
        model_name="ssd_mobilenet_v2_coco_2018_03_29",
        model_sha256="ab" * 32,
        rule_version="rules/1",
        metadata_sha256="cd" * 32,
        upload_status="complete",
        authorised_at_capture=True,
        received_at=start + timedelta(minutes=3),
    )
    session.add(event)
    session.flush()
    audit.append(
        session, actor="device:edge-1", action="event.ingested", target_type="event", target_id=str(event.id)
    )
    for position, (role, media_type, path) in enumerate(files):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        store.put(data, sha256=sha)
        if session.get(models.Blob, sha) is None:  # as ingest stores it, with a still's print copy
            preview = store_preview(store, data, sha) if media_type == "image/jpeg" else None
            session.add(
                models.Blob(sha256=sha, size=len(data), media_type=media_type, preview_sha256=preview)
            )
        session.add(
            models.EventFile(
                event_id=event.id,
                position=position,
                name=path.name,
                role=role,
                kind="original",
                media_type=media_type,
                sha256=sha,
                size=len(data),
                captured_at=start + timedelta(seconds=10 * position),
                received_at=start + timedelta(minutes=3),
            )
        )
        audit.append(session, actor="device:edge-1", action="file.stored", target_type="blob", target_id=sha)
    event.review_status = models.ReviewStatus.confirmed.value
    event.reviewed_by = "officer:sgreen"
    event.reviewed_at = start + timedelta(hours=20)
    event.review_reason = "van and act clearly visible"
    event.case_id = case.id
    audit.append(
        session,
        actor="officer:sgreen",
        action="event.confirmed",
        target_type="event",
        target_id=str(event.id),
    )
    audit.append(
        session, actor="officer:sgreen", action="case.event_added", target_type="case", target_id=str(case.id)
    )
    return event


@pytest.fixture
def world(session: Session, tmp_path: Path, media: object) -> dict[str, object]:
    store = FilesystemBlobStore(tmp_path / "blobs")
    site = models.Site(key="lay-by-a123", name="A123 lay-by", land_type="highway")
    camera = models.Camera(key="cam-1", site=site)
    session.add_all([site, camera])
    session.flush()
    session.add(
        models.Authorisation(
            kind=models.AuthorisationKind.overt.value,
            urn="OVERT-2026-01",
            title="Overt camera, A123 lay-by",
            granted_on=date(2026, 6, 1),
            signage_description="Two signs at the entrances",
            dpia_reference="DPIA-2026-07",
            created_by="dpo",
            sites=[site],
        )
    )
    case = models.Case(reference="FT/2026/0142", title="A123 lay-by fly-tip", officer_in_charge="Sam Green")
    session.add(case)
    session.flush()
    m = media
    covered = add_event(
        session,
        store,
        case=case,
        site=site,
        camera=camera,
        start=T0,
        files=[
            ("act", "image/jpeg", m.bus),  # type: ignore[attr-defined]
            ("departure", "image/jpeg", m.frames[0]),  # type: ignore[attr-defined]
            ("clip", "video/mp4", m.clip),  # type: ignore[attr-defined]
        ],
    )
    before_authorisation = add_event(
        session,
        store,
        case=case,
        site=site,
        camera=camera,
        start=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        files=[("act", "image/jpeg", m.zidane)],  # type: ignore[attr-defined]
    )
    session.commit()
    keys = KeyStore(tmp_path / "data")
    keys.generate()
    setup = ExportSetup(
        store=store,
        keys=keys,
        council=CouncilProfile.from_settings(Settings(data_dir=tmp_path / "data")),
        data_dir=tmp_path / "data",
    )
    return {
        "store": store,
        "keys": keys,
        "setup": setup,
        "case": case,
        "covered": covered,
        "early": before_authorisation,
    }


def test_export_verifies_and_leaves_out_what_was_not_authorised(
    session: Session, world: dict, tmp_path: Path
) -> None:
    out = tmp_path / "bundles" / "case.zip"
    result = export_case(
        session=session,
        case="FT/2026/0142",
        setup=world["setup"],
        out_path=out,
        exported_by="legal:solicitor",
    )
    report = verify_bundle(out, fingerprint=world["keys"].active().fingerprint)
    assert report.ok, report.problems
    assert result.exhibit_references == ["SG/1", "SG/2", "SG/3"]
    assert [x["event_id"] for x in result.excluded] == [str(world["early"].id)]
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    act = manifest["exhibits"][0]
    assert act["authorisation_id"] and act["site_id"] == "lay-by-a123" and act["camera_id"] == "cam-1"
    stages = [s["stage"] for s in act["custody"]]
    assert stages[0] == "capture" and {"upload", "storage", "review", "case", "export"} <= set(stages)
    # the export itself is in the chain, and the chain is intact after it
    entries = (
        session.execute(sqlalchemy.select(models.AuditEntry).order_by(models.AuditEntry.seq)).scalars().all()
    )
    assert [e.action for e in entries[-2:]] == ["bundle.export_started", "bundle.exported"]
    assert entries[-1].after_hash == result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["continuity"]["head_hash"] == entries[-2].entry_hash
    audit.verify_chain(session)
    # the printed list shows each still's print copy as stored at ingest
    with zipfile.ZipFile(out) as zf:
        pdf = pypdf.PdfReader(io.BytesIO(zf.read("documents/exhibit_list.pdf")), strict=True)
    printed = [x.get_object().get_data() for p in pdf.pages for x in p["/Resources"]["/XObject"].values()]
    stored = []
    for ex in manifest["exhibits"][:2]:  # SG/1 and SG/2 are the stills; SG/3 is the clip
        preview = session.get(models.Blob, ex["sha256"]).preview_sha256
        with world["store"].open(preview) as fh:
            stored.append(fh.read())
    assert printed == stored


def test_an_export_signs_a_checkpoint_the_bundle_carries_and_a_cut_log_makes_no_bundle(
    session: Session, world: dict, tmp_path: Path
) -> None:
    setup, keys = world["setup"], world["keys"]
    out = tmp_path / "anchored.zip"
    export_case(session=session, case="FT/2026/0142", setup=setup, out_path=out, exported_by="legal:x")
    session.commit()
    checkpoints = setup.checkpoints.read()
    assert setup.checkpoints.path == tmp_path / "data" / "audit" / "checkpoints.jsonl"
    with zipfile.ZipFile(out) as zf:
        continuity = json.loads(zf.read("manifest.json"))["continuity"]
    # the extract ends at the checkpoint the export signed into the log, and the bundle carries it
    assert continuity["checkpoint"] == checkpoints[-1].record()
    assert continuity["head_seq"] == checkpoints[-1].tree_size
    started = session.execute(
        sqlalchemy.select(models.AuditEntry).where(models.AuditEntry.seq == checkpoints[-1].tree_size)
    ).scalar_one()
    assert started.action == "bundle.export_started"
    report = verify_bundle(out, fingerprint=keys.active().fingerprint)
    assert report.ok and report.checkpoint.startswith(f"signed checkpoint #{checkpoints[-1].index} of ")
    assert verify_audit_log(session=session, keys=keys, log=setup.checkpoints).latest == checkpoints[-1]

    # someone cuts the export's own entries out of the database: the next export refuses, says why
    cut = checkpoints[-1].tree_size - 1
    session.execute(sqlalchemy.delete(models.AuditEntry).where(models.AuditEntry.seq > cut))
    previous = session.get(models.AuditEntry, cut)
    head = session.get(models.AuditHead, 1)
    head.seq, head.head_hash = cut, previous.entry_hash
    session.commit()
    again = tmp_path / "again.zip"
    with pytest.raises(BundleExportError, match="the audit log does not verify, so no bundle is made"):
        export_case(session=session, case="FT/2026/0142", setup=setup, out_path=again, exported_by="legal:x")
    assert not again.exists()
    assert setup.checkpoints.read() == checkpoints  # nothing signed over the cut


def test_the_councils_particulars_and_time_zone_come_from_the_settings(
    session: Session, world: dict, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        council_name="Anytown District Council",
        council_address="Town Hall, High Street, Anytown AN1 1AA",
        producer_role="Senior Enforcement Officer",
        offence_wording="s.33(1)(a) Environmental Protection Act 1990",
        display_timezone="Europe/Paris",
    )
    setup = dataclasses.replace(world["setup"], council=CouncilProfile.from_settings(settings))
    out = tmp_path / "council.zip"
    export_case(session=session, case="FT/2026/0142", setup=setup, out_path=out, exported_by="legal:x")
    assert verify_bundle(out).ok
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        statement = zf.read("documents/statement_s9.html").decode()
    assert manifest["producer"]["organisation"] == "Anytown District Council"
    assert manifest["producer"]["address"] == "Town Hall, High Street, Anytown AN1 1AA"
    assert manifest["case"]["offence"] == "s.33(1)(a) Environmental Protection Act 1990"
    assert "Senior Enforcement Officer at Anytown District Council" in statement
    # 21:05 UTC in July is 23:05 in Paris; the DPIA granted on 1 June runs from Paris midnight
    assert manifest["exhibits"][0]["captured_at_local"].startswith("2026-07-14 23:05:00 CEST")
    assert manifest["authorisations"][0]["valid_from"] == "2026-05-31T22:00:00+00:00"


def test_legal_override_includes_the_unauthorised_event(
    session: Session, world: dict, tmp_path: Path
) -> None:
    session.add(
        models.LegalOverride(
            event_id=world["early"].id,
            decided_by="Council Solicitor",
            reasons="Disclosure under CPIA 1996 s.3",
        )
    )
    audit.append(
        session,
        actor="legal:solicitor",
        action="override.granted",
        target_type="event",
        target_id=str(world["early"].id),
    )
    session.commit()
    out = tmp_path / "override.zip"
    result = export_case(
        session=session,
        case=str(world["case"].id),
        setup=world["setup"],
        out_path=out,
        exported_by="legal:x",
    )
    assert verify_bundle(out).ok
    assert len(result.exhibit_references) == 4 and not result.excluded
    with zipfile.ZipFile(out) as zf:
        overrides = json.loads(zf.read("authorisations/overrides.json"))
    assert overrides[0]["reasons"] == "Disclosure under CPIA 1996 s.3"


def test_export_refuses_without_a_signing_key_or_a_case(
    session: Session, world: dict, tmp_path: Path
) -> None:
    with pytest.raises(BundleExportError, match="no case"):
        export_case(
            session=session,
            case="FT/none",
            setup=world["setup"],
            out_path=tmp_path / "x.zip",
            exported_by="x",
        )
    with pytest.raises(BundleExportError, match="admin keys generate"):
        export_case(
            session=session,
            case="FT/2026/0142",
            setup=dataclasses.replace(world["setup"], keys=KeyStore(tmp_path / "empty")),
            out_path=tmp_path / "x.zip",
            exported_by="x",
        )


@pytest.mark.parametrize(
    ("name", "initials"), [("Sam Green", "SG"), ("Anne-Marie O'Neil", "AMO"), ("prince", "P")]
)
def test_officer_initials(name: str, initials: str) -> None:
    assert officer_initials(name) == initials


def test_cli_export_then_verify(
    session: Session,
    world: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tipwatch.cli import main as tipwatch

    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    if not url.startswith("sqlite"):
        pytest.skip("the CLI takes a URL; the PostgreSQL fixture uses a per-test schema search_path")
    monkeypatch.setenv("TIPWATCH_BLOB_DIR", str(tmp_path / "blobs"))
    out = tmp_path / "cli.zip"
    rc = tipwatch(
        [
            "bundle",
            "export",
            "--case",
            "FT/2026/0142",
            "--out",
            str(out),
            "--db",
            url,
            "--data",
            str(tmp_path / "data"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "3 exhibits, 1 left out" in capsys.readouterr().out
    assert tipwatch(["bundle", "verify", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert (
            zf.read("documents/exhibit_list.pdf").count(b"/Subtype /Image") == 2
        )  # the stills, not the clip
    lean = tmp_path / "lean.zip"
    args = [
        "bundle",
        "export",
        "--case",
        "FT/2026/0142",
        "--out",
        str(lean),
        "--db",
        url,
        "--data",
        str(tmp_path / "data"),
    ]
    assert tipwatch([*args, "--no-print-stills"]) == 0
    with zipfile.ZipFile(lean) as zf:
        assert b"/Subtype /Image" not in zf.read("documents/exhibit_list.pdf")
    assert tipwatch(["bundle", "verify", str(lean)]) == 0


def test_cli_export_blurs_people_only_with_the_person_finder_it_is_given(
    session: Session,
    world: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evidence_api.commands import bundle as bundle_command
    from tipwatch.person_finder import ssd_person_finder

    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    if not url.startswith("sqlite"):
        pytest.skip("the CLI takes a URL; the PostgreSQL fixture uses a per-test schema search_path")
    monkeypatch.setenv("TIPWATCH_BLOB_DIR", str(tmp_path / "blobs"))
    parser = argparse.ArgumentParser()
    bundle_command.add_arguments(parser)
    out = tmp_path / "blurred.zip"
    argv = [
        "export",
        "--case",
        "FT/2026/0142",
        "--out",
        str(out),
        "--db",
        url,
        "--data",
        str(tmp_path / "data"),
    ]
    args = parser.parse_args([*argv, "--blur-people"])
    assert bundle_command.run(args) == 1
    assert "no person finder" in capsys.readouterr().err and not out.exists()
    assert bundle_command.run(args, person_finder_factory=ssd_person_finder) == 0
    assert verify_bundle(out).ok
    with zipfile.ZipFile(out) as zf:
        assert any(name.endswith("_people_blurred.jpg") for name in zf.namelist())


@pytest.mark.parametrize(
    ("text", "valid", "plate", "note"),
    [
        ("AB12CDE", True, "AB12CDE", None),
        ("CERO0", False, None, "CERO0 (fits no UK registration format)"),
        ("AB12", None, None, "AB12 (fits no UK registration format)"),
        (None, None, None, None),
    ],
)
def test_a_bundle_names_a_registration_only_when_the_read_fits_a_uk_format(
    text: str | None, valid: bool | None, plate: str | None, note: str | None
) -> None:
    site = models.Site(key="lay-by-a123", name="A123 lay-by")
    camera = models.Camera(key="cam-1", site=site)
    event = models.Event(
        id=uuid.uuid4(),
        type="vehicle_visit",
        site=site,
        camera=camera,
        started_at=datetime(2026, 7, 3, 9, 0, tzinfo=UTC),
        ended_at=datetime(2026, 7, 3, 9, 2, tzinfo=UTC),
        clock_source="stream",
        model_name="ssd_mobilenet_v2_coco_2018_03_29",
        model_sha256="ab" * 32,
        rule_version="rules/1",
        plate_text=text,
        plate_valid_uk_format=valid,
        details={},
        linked_event_ids=[],
    )
    record = _event_record(event)
    assert record.plate_text == plate
    assert record.details.get("unverified_text_read") == note


@pytest.mark.parametrize(
    ("action", "stage"),
    [
        ("evidence.read.event.page", "read"),  # before: "upload" (the word "event")
        ("evidence.read.still", "read"),
        ("evidence.read.clip", "read"),
        ("event.file.store", "storage"),
        ("event.create", "upload"),
        ("event.review.confirmed", "review"),
        ("event.purge", "retention"),
        ("bundle.exported", "export"),
    ],
)
def test_the_exhibit_continuity_calls_a_read_a_read(action: str, stage: str) -> None:
    """An officer looking at an exhibit is a read in its chain of custody, never its upload or storage."""
    from evidence_api.services.bundle_spec import custody_stage

    assert custody_stage(action) == stage
