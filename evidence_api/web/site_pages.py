"""The sites and cameras page: every site on a map drawn from its coordinates (and in a table), every
camera with its mode, last contact in UK local time, reported health and the warnings a person must act
on (silent longer than expected, picture moved, disk low, wrong clock) shown first; admins add a site
and a camera here.

Staff read it; adding is an admin's (:mod:`evidence_api.services.sites` checks and audits each).  A
refusal is shown beside the form that asked, with what was typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from evidence_api import defra
from evidence_api.deps import (
    HealthWatchDep,
    PageUser,
    Principal,
    SessionDep,
    SettingsDep,
    require_page_roles,
)
from evidence_api.models import Camera, Role
from evidence_api.schemas import CameraIn, SiteIn
from evidence_api.services import sites
from evidence_api.services.camera_health import HealthWatch
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.settings import Settings
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.rendering import CheckedForm, form_model, render
from evidence_api.web.site_map import site_map

logger = logging.getLogger(__name__)

PAGE = "/sites"
SITE_FORM, CAMERA_FORM = "site", "camera"
CLOCK_SOURCES = {
    "stream": "the camera's stream (its own clock)",
    "receive": "when the edge box received each frame",
    "ntp": "the edge box's NTP-synchronised clock",
    "gps": "a GPS clock",
}
SITE_LABELS = {
    "key": "Site key",
    "name": "Name",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "location_description": "Where it is",
    "land_type": "Land type",
    "parish_ward": "Parish or ward",
}
CAMERA_LABELS = {
    "key": "Camera key",
    "site_key": "Site",
    "covert": "Mode",
    "device_identity": "Device identity",
    "clock_source": "Clock source",
}
MODES = {"overt": False, "covert": True}  # the camera form's choice -> CameraIn.covert
DONE = {SITE_FORM: "Site {key} is added.", CAMERA_FORM: "Camera {key} is added."}

router = APIRouter(include_in_schema=False)

Admin = Annotated[
    Principal, Depends(require_page_roles(Role.admin, refusal="only an admin adds sites and cameras"))
]


@dataclass(frozen=True, slots=True)
class CameraRow:
    """A camera as the page shows it, with what needs a person (most urgent first)."""

    camera: Camera
    warnings: list[str]


def _camera_rows(session: Session, watch: HealthWatch) -> list[CameraRow]:
    now = datetime.now(UTC)
    return [CameraRow(c, watch.warnings(c, now)) for c in sites.list_cameras(session=session)]


def _page(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    watch: HealthWatch,
    status_code: int = 200,
    notice: str | None = None,
    error: DomainError | None = None,
    error_for: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    all_sites = sites.list_sites(session=session)
    cameras = _camera_rows(session, watch)
    context: dict[str, Any] = {
        "me": me,
        "sites": all_sites,
        "map": site_map(all_sites),
        "cameras": cameras,
        "attention": [row for row in cameras if row.warnings],
        "land_types": defra.LAND_TYPES,
        "clock_sources": CLOCK_SOURCES,
        "is_admin": me.role == Role.admin,
        "notice": notice,
        "error": str(error) if error else None,
        "error_for": error_for,
        "typed": typed or {},
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "sites.html", context, status_code=status_code)


def _done_notice(request: Request) -> str | None:
    """The message for ``?done=site|camera&key=...`` (fixed wording; the key only once it is known)."""
    what, key = request.query_params.get("done", ""), request.query_params.get("key", "")
    return DONE[what].format(key=key) if what in DONE and key else None


@router.get(PAGE, response_class=HTMLResponse)
def sites_page(
    request: Request, me: PageUser, session: SessionDep, settings: SettingsDep, watch: HealthWatchDep
) -> Response:
    notice = _done_notice(request)
    if notice is not None and not _known(session, request.query_params["done"], request.query_params["key"]):
        notice = None
    return _page(request, me=me, session=session, settings=settings, watch=watch, notice=notice)


def _known(session: Session, what: str, key: str) -> bool:
    try:
        if what == SITE_FORM:
            sites.get_site(session=session, key=key)
        else:
            sites.get_camera(session=session, key=key)
    except DomainError:
        return False
    return True


def _refused(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    watch: HealthWatch,
    exc: DomainError,
    error_for: str,
    typed: dict[str, str],
) -> Response:
    session.rollback()
    return _page(
        request,
        me=me,
        session=session,
        settings=settings,
        watch=watch,
        status_code=exc.status_code,
        error=exc,
        error_for=error_for,
        typed=typed,
    )


@router.post(PAGE, response_class=HTMLResponse)
def add_site(
    request: Request,
    form: CheckedForm,
    me: Admin,
    session: SessionDep,
    settings: SettingsDep,
    watch: HealthWatchDep,
) -> Response:
    typed = {f"site_{k}": form.get(k, "") for k in SITE_LABELS}
    fields: dict[str, Any] = {k: form.get(k, "").strip() for k in SITE_LABELS}
    fields["location_description"] = form.get("location_description", "")
    for optional in ("latitude", "longitude"):
        if not fields[optional]:
            del fields[optional]
    try:
        data = form_model(SiteIn, fields, SITE_LABELS)
        site = sites.create_site(session=session, data=data, actor=me.actor)
    except DomainError as exc:
        return _refused(
            request,
            me=me,
            session=session,
            settings=settings,
            watch=watch,
            exc=exc,
            error_for=SITE_FORM,
            typed=typed,
        )
    return RedirectResponse(f"{PAGE}?done={SITE_FORM}&key={site.key}#site-{site.key}", status_code=303)


@router.post(PAGE + "/cameras", response_class=HTMLResponse)
def add_camera(
    request: Request,
    form: CheckedForm,
    me: Admin,
    session: SessionDep,
    settings: SettingsDep,
    watch: HealthWatchDep,
) -> Response:
    typed = {f"camera_{k}": form.get(k, "") for k in CAMERA_LABELS}
    fields: dict[str, Any] = {k: form.get(k, "").strip() for k in CAMERA_LABELS}
    if not fields["clock_source"]:
        del fields["clock_source"]  # the model's default
    try:
        if fields["covert"] not in MODES:
            raise Invalid("Mode: choose overt or covert")
        fields["covert"] = MODES[fields["covert"]]
        data = form_model(CameraIn, fields, CAMERA_LABELS)
        camera = sites.create_camera(session=session, data=data, actor=me.actor)
    except DomainError as exc:
        return _refused(
            request,
            me=me,
            session=session,
            settings=settings,
            watch=watch,
            exc=exc,
            error_for=CAMERA_FORM,
            typed=typed,
        )
    return RedirectResponse(
        f"{PAGE}?done={CAMERA_FORM}&key={camera.key}#camera-{camera.key}", status_code=303
    )
