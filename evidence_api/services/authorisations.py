"""Surveillance authorisations: RIPA directed surveillance for covert cameras, signage/DPIA for overt ones."""

from __future__ import annotations

import calendar
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from evidence_api.models import (
    Authorisation,
    AuthorisationKind,
    AuthorisationRenewal,
    AuthorisationReview,
    Camera,
    Site,
)
from evidence_api.schemas import AuthorisationIn, AuthorisationRenewalIn
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, Invalid, NotFound

logger = logging.getLogger(__name__)

RIPA_MIN_OFFENCE_MONTHS = 6
# The law's days are the United Kingdom's civil days (GMT in winter, BST in summer), whatever time
# zone the pages are shown in: RIPA 2000 s.43(3) — a directed-surveillance authorisation "shall
# cease to have effect at the end of ... three months beginning with the day on which it took
# effect", which (Interpretation Act usage) counts that day, so approval on 15 January covers
# 15 January to the end of 14 April, UK time; a renewal's three months begin with the day the
# authorisation would otherwise have ceased (s.43(4)).
LEGAL_TZ = ZoneInfo("Europe/London")
RIPA_PERIOD_MONTHS = 3


def add_months(d: date, months: int) -> date:
    """The same day of the month ``months`` later (the month's last day when it is shorter)."""
    month = d.month - 1 + months
    year = d.year + month // 12
    month = month % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def start_of_day(d: date) -> datetime:
    """The moment the UK civil day ``d`` begins (midnight GMT or BST), as UTC."""
    return datetime.combine(d, time(0, 0), tzinfo=LEGAL_TZ).astimezone(UTC)


def legal_day(at: datetime) -> date:
    """The UK civil date of ``at`` (timezone-aware)."""
    return at.astimezone(LEGAL_TZ).date()


def ripa_period_end(first_day: date) -> datetime:
    """When three months beginning with ``first_day`` end, as UTC: at the end of the UK day before
    the corresponding date three months on (the start of that date); when that month has no
    corresponding date (three months from 30 November), at the end of its last day (the corresponding
    date rule, Dodds v Walker [1981] 1 WLR 1027)."""
    month = first_day.month - 1 + RIPA_PERIOD_MONTHS
    year, month = first_day.year + month // 12, month % 12 + 1
    if first_day.day > calendar.monthrange(year, month)[1]:
        return start_of_day(add_months(first_day, RIPA_PERIOD_MONTHS) + timedelta(days=1))
    return start_of_day(date(year, month, first_day.day))


def state(auth: Authorisation, *, at: datetime | None = None) -> str:
    at = at or datetime.now(UTC)
    if auth.kind == AuthorisationKind.overt.value:
        return "cancelled" if auth.cancelled_at and auth.cancelled_at <= at else "active"
    if auth.cancelled_at is not None and auth.cancelled_at <= at:
        return "cancelled"
    if auth.magistrate_decision == "refused":
        return "refused"
    if auth.magistrate_decision != "approved" or auth.approved_at is None:
        return "awaiting_approval"
    if at < auth.approved_at:
        return "not_yet_approved"
    if auth.expires_at is not None and at >= auth.expires_at:
        return "expired"
    return "active"


EXPIRING = "expiring"  # an active RIPA authorisation within the settings' expiry_warning_days of its end


def standing(auth: Authorisation, *, warn_within: timedelta, at: datetime | None = None) -> str:
    """:func:`state` as a list of authorisations shows it: an active RIPA authorisation that ends within
    ``warn_within`` of ``at`` is ``expiring`` (still in force: renew or cancel it)."""
    at = at or datetime.now(UTC)
    current = state(auth, at=at)
    if (
        current == "active"
        and auth.kind == AuthorisationKind.ripa_directed_surveillance.value
        and auth.expires_at is not None
        and auth.expires_at - at <= warn_within
    ):
        return EXPIRING
    return current


def _describe(auth: Authorisation) -> dict[str, object]:
    return {
        "urn": auth.urn,
        "kind": auth.kind,
        "magistrate_decision": auth.magistrate_decision,
        "approved_at": auth.approved_at.isoformat() if auth.approved_at else None,
        "expires_at": auth.expires_at.isoformat() if auth.expires_at else None,
        "cancelled_at": auth.cancelled_at.isoformat() if auth.cancelled_at else None,
        "cameras": sorted(c.key for c in auth.cameras),
        "sites": sorted(s.key for s in auth.sites),
    }


def create(*, session: Session, data: AuthorisationIn, actor: str) -> Authorisation:
    if session.execute(select(Authorisation.id).where(Authorisation.urn == data.urn)).first():
        raise Conflict(f"an authorisation with URN {data.urn!r} already exists")
    if data.kind == AuthorisationKind.ripa_directed_surveillance:
        if data.offence_min_months is not None and data.offence_min_months < RIPA_MIN_OFFENCE_MONTHS:
            raise Invalid(
                "directed surveillance needs an offence carrying at least 6 months' imprisonment "
                "(s.33 EPA 1990 qualifies)"
            )
        if data.magistrate_decision == "approved" and data.magistrate_date is None:
            raise Invalid("an approved authorisation needs the magistrate's approval date")
    cameras = []
    for key in data.camera_keys:
        cam = session.execute(select(Camera).where(Camera.key == key)).scalar_one_or_none()
        if cam is None:
            raise NotFound(f"camera {key!r} is not registered")
        cameras.append(cam)
    sites = []
    for key in data.site_keys:
        site = session.execute(select(Site).where(Site.key == key)).scalar_one_or_none()
        if site is None:
            raise NotFound(f"site {key!r} is not registered")
        sites.append(site)
    fields = data.model_dump(exclude={"kind", "camera_keys", "site_keys"})
    auth = Authorisation(kind=data.kind.value, created_by=actor, **fields)
    auth.cameras = cameras
    auth.sites = sites
    if data.kind == AuthorisationKind.ripa_directed_surveillance and data.magistrate_decision == "approved":
        assert data.magistrate_date is not None
        auth.approved_at = start_of_day(data.magistrate_date)
        auth.expires_at = ripa_period_end(data.magistrate_date)
    session.add(auth)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="authorisation.create",
        target_type="authorisation",
        target_id=str(auth.id),
        after_hash=audit.hash_state(_describe(auth)),
        details={"urn": auth.urn, "kind": auth.kind},
    )
    return auth


def get(*, session: Session, authorisation_id: uuid.UUID) -> Authorisation:
    auth = session.get(Authorisation, authorisation_id)
    if auth is None:
        raise NotFound(f"authorisation {authorisation_id} not found")
    return auth


def list_all(*, session: Session) -> list[Authorisation]:
    stmt = (
        select(Authorisation)
        .options(selectinload(Authorisation.cameras), selectinload(Authorisation.sites))
        .order_by(Authorisation.created_at.desc())
    )
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class ExpiryWarning:
    authorisation: Authorisation
    days_left: int


def expiring(*, session: Session, within_days: int, now: datetime | None = None) -> list[ExpiryWarning]:
    """Active RIPA authorisations expiring within ``within_days`` (soonest first)."""
    now = now or datetime.now(UTC)
    out = []
    for auth in list_all(session=session):
        if auth.kind != AuthorisationKind.ripa_directed_surveillance.value or auth.expires_at is None:
            continue
        if state(auth, at=now) != "active":
            continue
        left = auth.expires_at - now
        if left <= timedelta(days=within_days):
            out.append(ExpiryWarning(auth, max(0, left.days)))
    return sorted(out, key=lambda w: w.authorisation.expires_at or now)


def add_review(
    *,
    session: Session,
    authorisation_id: uuid.UUID,
    notes: str,
    actor: str,
    next_review_date: date | None = None,
) -> Authorisation:
    """Record a periodic review; ``next_review_date`` (when given) becomes the authorisation's review
    date, so the record always says when the next one is due."""
    auth = get(session=session, authorisation_id=authorisation_id)
    session.add(AuthorisationReview(authorisation_id=auth.id, reviewer=actor, notes=notes))
    details: dict[str, object] = {"urn": auth.urn}
    if next_review_date is not None:
        details["next_review_date"] = next_review_date.isoformat()
        auth.review_date = next_review_date
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="authorisation.review",
        target_type="authorisation",
        target_id=str(auth.id),
        details=details,
    )
    session.refresh(auth)
    return auth


def renew(
    *, session: Session, authorisation_id: uuid.UUID, data: AuthorisationRenewalIn, actor: str
) -> Authorisation:
    auth = get(session=session, authorisation_id=authorisation_id)
    if auth.kind != AuthorisationKind.ripa_directed_surveillance.value:
        raise Invalid("only RIPA directed-surveillance authorisations are renewed")
    current = state(auth)
    if current not in ("active",):
        raise Conflict(f"authorisation {auth.urn} is {current}; only an active authorisation can be renewed")
    before = audit.hash_state(_describe(auth))
    assert auth.expires_at is not None
    # the renewal's three months begin with the day the authorisation would have ceased: the UK day
    # that starts at the current expiry
    new_expiry = ripa_period_end(legal_day(auth.expires_at))
    session.add(
        AuthorisationRenewal(
            authorisation_id=auth.id,
            magistrate_court=data.magistrate_court,
            magistrate_date=data.magistrate_date,
            previous_expires_at=auth.expires_at,
            new_expires_at=new_expiry,
            notes=data.notes,
        )
    )
    auth.expires_at = new_expiry
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="authorisation.renew",
        target_type="authorisation",
        target_id=str(auth.id),
        before_hash=before,
        after_hash=audit.hash_state(_describe(auth)),
        details={"urn": auth.urn, "expires_at": new_expiry.isoformat()},
    )
    session.refresh(auth)
    return auth


def cancel(*, session: Session, authorisation_id: uuid.UUID, reason: str, actor: str) -> Authorisation:
    auth = get(session=session, authorisation_id=authorisation_id)
    if auth.cancelled_at is not None:
        raise Conflict(f"authorisation {auth.urn} was already cancelled")
    before = audit.hash_state(_describe(auth))
    auth.cancelled_at = datetime.now(UTC)
    auth.cancellation_reason = reason
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="authorisation.cancel",
        target_type="authorisation",
        target_id=str(auth.id),
        before_hash=before,
        after_hash=audit.hash_state(_describe(auth)),
        details={"urn": auth.urn, "reason": reason},
    )
    return auth


@dataclass(frozen=True)
class CaptureDecision:
    authorised: bool
    authorisation: Authorisation | None
    note: str


def decide_at_capture(*, session: Session, camera: Camera, at: datetime) -> CaptureDecision:
    """Was capture by ``camera`` at ``at`` covered? Overt cameras need no RIPA authorisation."""
    if not camera.covert:
        overt = _covering(session, camera, AuthorisationKind.overt)
        active = [a for a in overt if state(a, at=at) == "active"]
        note = f"overt camera (signage/DPIA {active[0].dpia_reference})" if active else "overt camera"
        return CaptureDecision(True, active[0] if active else None, note)
    candidates = _covering(session, camera, AuthorisationKind.ripa_directed_surveillance)
    for auth in candidates:
        if state(auth, at=at) == "active":
            return CaptureDecision(True, auth, f"covered by RIPA authorisation {auth.urn}")
    if not candidates:
        note = "covert camera with no directed-surveillance authorisation covering it"
    else:
        note = "; ".join(f"{a.urn} was {state(a, at=at)} at capture" for a in candidates)
    return CaptureDecision(False, None, note)


def _covering(session: Session, camera: Camera, kind: AuthorisationKind) -> list[Authorisation]:
    stmt = (
        select(Authorisation)
        .where(Authorisation.kind == kind.value)
        .where(
            Authorisation.cameras.any(Camera.id == camera.id)
            | Authorisation.sites.any(Site.id == camera.site_id)
        )
        .order_by(Authorisation.created_at)
    )
    return list(session.execute(stmt).scalars())
