"""ORM rows → response models."""

from __future__ import annotations

from datetime import UTC, datetime

from evidence_api.models import Authorisation, Camera, Case, Event
from evidence_api.schemas import AuthorisationOut, CameraOut, CaseOut, EventFileOut, EventOut
from evidence_api.services import authorisations
from evidence_api.services.camera_health import HealthWatch


def event_out(e: Event) -> EventOut:
    return EventOut(
        id=e.id,
        type=e.type,
        site_key=e.site.key,
        camera_key=e.camera.key,
        started_at=e.started_at,
        ended_at=e.ended_at,
        clock_source=e.clock_source,
        model_name=e.model_name,
        model_sha256=e.model_sha256,
        rule_version=e.rule_version,
        zone=e.zone,
        plate_text=e.plate_text,
        plate_confidence=e.plate_confidence,
        plate_valid_uk_format=e.plate_valid_uk_format,
        details=e.details,
        linked_event_ids=e.linked_event_ids,
        upload_status=e.upload_status,
        review_status=e.review_status,
        review_reason=e.review_reason,
        reviewed_by=e.reviewed_by,
        reviewed_at=e.reviewed_at,
        authorised_at_capture=e.authorised_at_capture,
        authorisation_urn=e.authorisation.urn if e.authorisation else None,
        authorisation_note=e.authorisation_note,
        legal_override=bool(e.overrides),
        case_id=e.case_id,
        received_at=e.received_at,
        files=[EventFileOut.model_validate(f) for f in e.files],
    )


def camera_out(c: Camera, watch: HealthWatch, now: datetime | None = None) -> CameraOut:
    """The camera as the API shows it, with the warnings ``watch`` finds at ``now`` (default: now)."""
    now = now or datetime.now(UTC)
    return CameraOut(
        id=c.id,
        key=c.key,
        site_key=c.site.key,
        covert=c.covert,
        device_name=c.device.name if c.device else None,
        device_identity=c.device_identity,
        clock_source=c.clock_source,
        status=c.status,
        last_seen_at=c.last_seen_at,
        health_status=c.health_status,
        health_reported_at=c.health_reported_at,
        silent=watch.is_silent(c, now),
        warnings=watch.warnings(c, now),
    )


def case_out(c: Case) -> CaseOut:
    return CaseOut(
        id=c.id,
        reference=c.reference,
        title=c.title,
        status=c.status,
        officer_in_charge=c.officer_in_charge,
        notes=c.notes,
        suspect_vehicle=c.suspect_vehicle,
        suspect_registration=c.suspect_registration,
        outcome=c.outcome,
        size_band=c.size_band,
        waste_type=c.waste_type,
        land_type=c.land_type,
        enforcement_actions=[a.action for a in c.actions],
        created_at=c.created_at,
        created_by=c.created_by,
        closed_at=c.closed_at,
        event_ids=[e.id for e in c.events],
    )


def authorisation_out(a: Authorisation) -> AuthorisationOut:
    now = datetime.now(UTC)
    return AuthorisationOut(
        id=a.id,
        kind=a.kind,
        urn=a.urn,
        title=a.title,
        subjects=a.subjects,
        authorising_officer_name=a.authorising_officer_name,
        authorising_officer_grade=a.authorising_officer_grade,
        grounds=a.grounds,
        offence_min_months=a.offence_min_months,
        necessity=a.necessity,
        proportionality=a.proportionality,
        collateral_intrusion=a.collateral_intrusion,
        granted_on=a.granted_on,
        magistrate_court=a.magistrate_court,
        magistrate_date=a.magistrate_date,
        magistrate_decision=a.magistrate_decision,
        approved_at=a.approved_at,
        expires_at=a.expires_at,
        cancelled_at=a.cancelled_at,
        cancellation_reason=a.cancellation_reason,
        signage_description=a.signage_description,
        dpia_reference=a.dpia_reference,
        review_date=a.review_date,
        camera_keys=sorted(c.key for c in a.cameras),
        site_keys=sorted(s.key for s in a.sites),
        reviews=[
            {"reviewed_at": r.reviewed_at.isoformat(), "reviewer": r.reviewer, "notes": r.notes}
            for r in a.reviews
        ],
        renewals=[
            {
                "renewed_at": r.renewed_at.isoformat(),
                "magistrate_date": r.magistrate_date.isoformat() if r.magistrate_date else None,
                "new_expires_at": r.new_expires_at.isoformat(),
            }
            for r in a.renewals
        ],
        state=authorisations.state(a, at=now),
        days_to_expiry=(a.expires_at - now).days if a.expires_at else None,
    )
