"""Real media and a realistic case description for the bundle tests.

Stills are real photographs (ultralytics' bus.jpg and zidane.jpg, with people in them) and frames of
real CCTV (OpenCV's vtest.avi); the clip is a real mp4 encoded from that footage.  The audit log is a
real hash chain built with the scheme the verifier recomputes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import pytest
import ultralytics

from evidence_api.bundle.format import GENESIS_HASH, audit_entry_hash
from evidence_api.bundle.signing import KeyStore, SigningKey
from evidence_api.bundle.spec import (
    AuditExtract,
    AuditRecord,
    Authorisation,
    AuthorisationKind,
    BundleSpec,
    CaseInfo,
    CustodyStep,
    EventRecord,
    ExhibitSource,
    LegalOverride,
    Producer,
    RedactionOptions,
    ReviewDecision,
    VehicleBox,
    WorkingFile,
)

ASSETS = Path(ultralytics.__file__).parent / "assets"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SCHEME = "tipwatch-audit/1"
MODEL_SHA = hashlib.sha256(b"ssd_mobilenet_v2_coco_2018_03_29 frozen graph").hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


@dataclass(frozen=True)
class Media:
    bus: Path
    zidane: Path
    frames: list[Path]
    clip: Path
    annotated: Path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("media")
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: install Debian's opencv-doc (bash deploy/dev.sh test does)")
    cap = cv2.VideoCapture(str(VTEST))
    frames: list[Path] = []
    clip = root / "clip.mp4"
    writer = None
    for i in range(40):
        ok, frame = cap.read()
        assert ok, "vtest.avi did not decode"
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (w, h))
        writer.write(frame)
        if i % 10 == 0:
            path = root / f"frame{i:03d}.jpg"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
            frames.append(path)
    assert writer is not None
    writer.release()
    cap.release()
    bus = ASSETS / "bus.jpg"
    annotated = root / "bus_annotated.jpg"
    image = cv2.imread(str(bus))
    assert image is not None, f"cannot read {bus}"
    cv2.rectangle(image, (50, 230), (800, 750), (0, 0, 255), 4)
    cv2.putText(image, "bus 0.91", (55, 225), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 255), 3)
    cv2.imwrite(str(annotated), image)
    return Media(bus=bus, zidane=ASSETS / "zidane.jpg", frames=frames, clip=clip, annotated=annotated)


class Chain:
    """A real hash-chained audit log, built entry by entry."""

    def __init__(self) -> None:
        self.entries: list[AuditRecord] = []

    def add(self, at: datetime, actor: str, action: str, subject: str, **details: Any) -> int:
        seq = len(self.entries) + 1
        prev = self.entries[-1].entry_hash if self.entries else GENESIS_HASH
        fields = {"at": at.isoformat(), "actor": actor, "action": action, "subject": subject, **details}
        self.entries.append(AuditRecord(seq, prev, audit_entry_hash(SCHEME, seq, prev, fields), fields))
        return seq

    def extract(self) -> AuditExtract:
        return AuditExtract(tuple(self.entries), self.entries[-1].entry_hash, SCHEME)


T0 = datetime(2026, 7, 14, 21, 5, 0, tzinfo=UTC)  # BST in London
T_WINTER = datetime(2026, 1, 9, 8, 30, 0, tzinfo=UTC)  # GMT, before any authorisation


@dataclass
class CaseBuilder:
    media: Media
    blur_people: bool = False
    with_override: bool = False
    ripa_approved: bool = True

    def build(self) -> BundleSpec:
        m = self.media
        chain = Chain()
        auth_dpia = Authorisation(
            authorisation_id="auth-1",
            kind=AuthorisationKind.OVERT_DPIA,
            reference="DPIA-2026-07 lay-by A123",
            site_ids=("lay-by-a123",),
            valid_from=datetime(2026, 6, 1, tzinfo=UTC),
            valid_until=datetime(2027, 6, 1, tzinfo=UTC),
            granted_by="Data Protection Officer",
            summary="Overt cameras with signage at both lay-by entrances",
        )
        auth_ripa = Authorisation(
            authorisation_id="auth-2",
            kind=AuthorisationKind.RIPA_DIRECTED,
            reference="RIPA/2026/004",
            site_ids=("back-lane",),
            valid_from=datetime(2026, 7, 1, tzinfo=UTC),
            valid_until=datetime(2026, 10, 1, tzinfo=UTC),
            granted_by="Head of Legal (authorising officer)",
            approved_by="District Judge (Magistrates' Courts) Patel" if self.ripa_approved else None,
            approved_at=datetime(2026, 7, 3, tzinfo=UTC) if self.ripa_approved else None,
        )
        events = [
            EventRecord(
                event_id="0190f5c2-0000-7000-8000-000000000001",
                type="dumping",
                site_id="lay-by-a123",
                site_name="A123 lay-by",
                camera_id="cam-1",
                started_at=T0,
                ended_at=T0 + timedelta(minutes=3),
                clock_source="stream",
                model_name="ssd_mobilenet_v2_coco_2018_03_29",
                model_sha256=MODEL_SHA,
                rule_version="rules/1",
                zone="verge",
                plate_text="AB12CDE",
            ),
            EventRecord(
                event_id="0190f5c2-0000-7000-8000-000000000002",
                type="dumping",
                site_id="back-lane",
                site_name="Back Lane",
                camera_id="cam-7",
                started_at=T0 + timedelta(days=1),
                ended_at=T0 + timedelta(days=1, minutes=2),
                clock_source="receive",
                model_name="ssd_mobilenet_v2_coco_2018_03_29",
                model_sha256=MODEL_SHA,
                rule_version="rules/1",
            ),
            EventRecord(
                event_id="0190f5c2-0000-7000-8000-000000000003",
                type="vehicle_visit",
                site_id="lay-by-a123",
                site_name="A123 lay-by",
                camera_id="cam-1",
                started_at=T_WINTER,
                ended_at=T_WINTER + timedelta(minutes=1),
                clock_source="stream",
                model_name="ssd_mobilenet_v2_coco_2018_03_29",
                model_sha256=MODEL_SHA,
                rule_version="rules/1",
            ),
        ]
        files: list[tuple[EventRecord, str, Path, datetime]] = [
            (events[0], "arrival", m.frames[0], T0),
            (events[0], "act", m.bus, T0 + timedelta(seconds=40)),
            (events[0], "departure", m.frames[1], T0 + timedelta(seconds=150)),
            (events[0], "clip", m.clip, T0),
            (events[1], "act", m.zidane, T0 + timedelta(days=1, seconds=20)),
            (events[1], "after", m.frames[2], T0 + timedelta(days=1, seconds=90)),
            (events[2], "vehicle", m.frames[3], T_WINTER + timedelta(seconds=10)),  # not authorised
        ]
        exhibits: list[ExhibitSource] = []
        decisions: list[ReviewDecision] = []
        for ev in events:
            received = ev.ended_at + timedelta(minutes=1)
            ingest = chain.add(received, "device:edge-1", "event.ingested", f"event:{ev.event_id}")
            ev_files = [f for f in files if f[0] is ev]
            stored = {
                role: chain.add(received, "device:edge-1", "file.stored", f"blob:{sha256_file(p)}", role=role)
                for _, role, p, _ in ev_files
            }
            decided = ev.ended_at + timedelta(hours=20)
            review = chain.add(decided, "officer:sgreen", "event.confirmed", f"event:{ev.event_id}")
            decisions.append(
                ReviewDecision(ev.event_id, "confirmed", "Sam Green", decided, "vehicle and act clear")
            )
            for _, role, path, captured in ev_files:
                annotated = None
                if path == m.bus:
                    annotated = WorkingFile(
                        sha256_file(m.annotated), m.annotated.stat().st_size, opener(m.annotated)
                    )
                exhibits.append(
                    ExhibitSource(
                        event_id=ev.event_id,
                        role=role,
                        media_type="video/mp4" if role == "clip" else "image/jpeg",
                        sha256=sha256_file(path),
                        size=path.stat().st_size,
                        captured_at=captured,
                        camera_id=ev.camera_id,
                        site_id=ev.site_id,
                        model_name=ev.model_name,
                        model_sha256=ev.model_sha256,
                        rule_version=ev.rule_version,
                        open=opener(path),
                        received_at=received,
                        annotated=annotated,
                        vehicle=VehicleBox((50, 230, 800, 750), (300, 600, 420, 640))
                        if path == m.bus
                        else None,
                        custody=(
                            CustodyStep(
                                "upload", received, "device:edge-1", "event metadata received", ingest
                            ),
                            CustodyStep(
                                "storage",
                                received,
                                "device:edge-1",
                                "bytes stored, hash checked",
                                stored[role],
                            ),
                            CustodyStep("review", decided, "officer:sgreen", "confirmed by officer", review),
                        ),
                    )
                )
        overrides = []
        unauthorised = exhibits[-1]
        if self.with_override:
            overrides.append(
                LegalOverride(
                    "ovr-1",
                    unauthorised.sha256,
                    "Council Solicitor",
                    T0 + timedelta(days=3),
                    "Relevant to the defendant's account of earlier visits; disclosure (CPIA 1996 s.3).",
                )
            )
            chain.add(
                T0 + timedelta(days=3), "legal:solicitor", "override.granted", f"blob:{unauthorised.sha256}"
            )
        exported_at = T0 + timedelta(days=5)
        export_seq = chain.add(exported_at, "legal:solicitor", "bundle.export.started", "case:case-1")
        exhibits = [
            ExhibitSource(
                **{
                    **{f: getattr(ex, f) for f in ex.__dataclass_fields__},
                    "custody": (
                        *ex.custody,
                        CustodyStep(
                            "export", exported_at, "legal:solicitor", "exported to bundle", export_seq
                        ),
                    ),
                }
            )
            for ex in exhibits
        ]
        return BundleSpec(
            case=CaseInfo(
                case_id="case-1",
                reference="FT/2026/0142",
                title="Fly-tipping at A123 lay-by and Back Lane",
                offence="s.33(1)(a) Environmental Protection Act 1990",
                officer_name="Sam Green",
                officer_initials="SG",
                opened_at=T0 + timedelta(days=2),
            ),
            events=events,
            decisions=decisions,
            exhibits=exhibits,
            authorisations=[auth_dpia, auth_ripa],
            overrides=overrides,
            audit=chain.extract(),
            producer=Producer(
                name="Sam Green",
                role="Enforcement Officer",
                organisation="Anytown District Council",
                system_description="Tipwatch cameras at fly-tipping hotspots flag vehicles and deposits.",
                clock_statement="Each edge box keeps its clock with NTP (chrony) against council servers.",
                storage_statement="Masters are stored write-once, addressed by SHA-256, backed up daily.",
            ),
            exported_by="Council Solicitor",
            exported_at=exported_at,
            redaction=RedactionOptions(crop_vehicle=True, blur_people=self.blur_people),
        )


@pytest.fixture
def make_case(media: Media) -> Callable[..., BundleSpec]:
    """``make_case(blur_people=..., with_override=..., ripa_approved=...)`` -> a fresh BundleSpec."""
    return lambda **options: CaseBuilder(media, **options).build()


@pytest.fixture
def signer(tmp_path: Path) -> SigningKey:
    store = KeyStore(tmp_path / "data")
    store.generate(comment="test")
    return store.load_active()
