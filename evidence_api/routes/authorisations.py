"""Surveillance authorisations (RIPA directed surveillance / overt signage and DPIA)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from evidence_api.deps import LegalUser, SessionDep, SettingsDep, Staff
from evidence_api.routes.views import authorisation_out
from evidence_api.schemas import (
    AuthorisationIn,
    AuthorisationOut,
    AuthorisationRenewalIn,
    AuthorisationReviewIn,
    CancelIn,
)
from evidence_api.services import authorisations

router = APIRouter(prefix="/authorisations", tags=["authorisations"])


@router.post("", response_model=AuthorisationOut, status_code=201, responses={404: {}, 409: {}})
def create(data: AuthorisationIn, principal: LegalUser, session: SessionDep) -> AuthorisationOut:
    """Record an authorisation and the cameras/sites it covers."""
    return authorisation_out(authorisations.create(session=session, data=data, actor=principal.actor))


@router.get("", response_model=list[AuthorisationOut])
def list_all(principal: Staff, session: SessionDep) -> list[AuthorisationOut]:
    """All authorisations with their current state."""
    return [authorisation_out(a) for a in authorisations.list_all(session=session)]


@router.get("/expiring", response_model=list[AuthorisationOut])
def expiring(
    principal: Staff,
    session: SessionDep,
    settings: SettingsDep,
    days: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> list[AuthorisationOut]:
    """Active RIPA authorisations expiring within ``days`` (default: the configured warning period)."""
    within = settings.expiry_warning_days if days is None else days
    return [
        authorisation_out(w.authorisation)
        for w in authorisations.expiring(session=session, within_days=within)
    ]


@router.get("/{authorisation_id}", response_model=AuthorisationOut, responses={404: {}})
def get(authorisation_id: uuid.UUID, principal: Staff, session: SessionDep) -> AuthorisationOut:
    """One authorisation."""
    return authorisation_out(authorisations.get(session=session, authorisation_id=authorisation_id))


@router.post(
    "/{authorisation_id}/reviews", response_model=AuthorisationOut, status_code=201, responses={404: {}}
)
def add_review(
    authorisation_id: uuid.UUID, data: AuthorisationReviewIn, principal: LegalUser, session: SessionDep
) -> AuthorisationOut:
    """Record a periodic review (and, optionally, when the next one is due)."""
    auth = authorisations.add_review(
        session=session,
        authorisation_id=authorisation_id,
        notes=data.notes,
        actor=principal.actor,
        next_review_date=data.next_review_date,
    )
    return authorisation_out(auth)


@router.post(
    "/{authorisation_id}/renewals",
    response_model=AuthorisationOut,
    status_code=201,
    responses={404: {}, 409: {}},
)
def renew(
    authorisation_id: uuid.UUID, data: AuthorisationRenewalIn, principal: LegalUser, session: SessionDep
) -> AuthorisationOut:
    """Renew for a further three months (magistrate-approved)."""
    auth = authorisations.renew(
        session=session, authorisation_id=authorisation_id, data=data, actor=principal.actor
    )
    return authorisation_out(auth)


@router.post("/{authorisation_id}/cancel", response_model=AuthorisationOut, responses={404: {}, 409: {}})
def cancel(
    authorisation_id: uuid.UUID, data: CancelIn, principal: LegalUser, session: SessionDep
) -> AuthorisationOut:
    """Cancel an authorisation (with reasons)."""
    auth = authorisations.cancel(
        session=session, authorisation_id=authorisation_id, reason=data.reason, actor=principal.actor
    )
    return authorisation_out(auth)
