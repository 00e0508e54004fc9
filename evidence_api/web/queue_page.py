"""The review queue (staff): events newest first, narrowed by site, camera, type, status, a range of UK
local dates and an exact plate, a page at a time.

The filter form is a GET form, so a filtered view is an address an officer can bookmark or send on.
Every filter runs in SQL (:class:`~evidence_api.services.review.EventFilter`) with one count for the
paging.  Dates are calendar days where the council is (the display time zone): "from 29 March" starts
at local midnight, GMT or BST as it was that day, and "to" includes the whole of its last day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from evidence_api.deps import PageUser, SessionDep, SettingsDep
from evidence_api.models import Camera, Event, EventFile, ReviewStatus, Site
from evidence_api.schemas import EventType
from evidence_api.services import review
from evidence_api.services.errors import Invalid
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.rendering import render

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
"""Events on one page of the queue."""
THUMB_ROLES = ("act", "after", "vehicle", "arrival")
OPEN = "open"
ALL = "all"
STATUS_CHOICES: dict[str, tuple[str, ...]] = {
    OPEN: (ReviewStatus.new.value, ReviewStatus.under_review.value),
    **{s.value: (s.value,) for s in ReviewStatus},
    ALL: (),
}
"""The status filter's choices and the review statuses each stands for (``all``: no narrowing)."""
MAX_FIELD = 100

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The queue's filters as typed into the form (kept to put back in it and in the paging links)."""

    site: str = ""
    camera: str = ""
    type: str = ""
    status: str = OPEN
    date_from: str = ""
    date_to: str = ""
    plate: str = ""
    page: int = 1

    def params(self, **change: Any) -> str:
        """The query string for these filters (only the ones set), with ``change`` applied."""
        values = {
            "site": self.site,
            "camera": self.camera,
            "type": self.type,
            "status": self.status,
            "from": self.date_from,
            "to": self.date_to,
            "plate": self.plate,
            "page": self.page,
        }
        values.update(change)
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1) or k == "status"})


def _text(request: Request, name: str) -> str:
    return request.query_params.get(name, "").strip()[:MAX_FIELD]


def _local_day(text: str, label: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"{label}: {text[:20]!r} is not a date; use the date picker or YYYY-MM-DD") from exc


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC (midnight is never skipped in the UK)."""
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def read_query(request: Request) -> QueueQuery:
    """The filters from the address; a value that cannot be one is refused with a message."""
    status = _text(request, "status") or OPEN
    if status not in STATUS_CHOICES:
        raise Invalid(f"status: {status[:30]!r} is not one of {', '.join(STATUS_CHOICES)}")
    kind = _text(request, "type")
    if kind and kind not in {t.value for t in EventType}:
        raise Invalid(f"type: {kind[:30]!r} is not an event type")
    page_text = _text(request, "page") or "1"
    if not page_text.isdigit() or not 1 <= int(page_text) <= 100_000:
        raise Invalid(f"page: {page_text[:20]!r} is not a page number")
    return QueueQuery(
        site=_text(request, "site"),
        camera=_text(request, "camera"),
        type=kind,
        status=status,
        date_from=_text(request, "from"),
        date_to=_text(request, "to"),
        plate=_text(request, "plate"),
        page=int(page_text),
    )


def event_filter(q: QueueQuery, *, tz: str) -> review.EventFilter:
    """The service's filter for the form's values; ``from``/``to`` are local days in ``tz``, both
    included."""
    zone = ZoneInfo(tz)
    first = _local_day(q.date_from, "from")
    last = _local_day(q.date_to, "to")
    if first and last and last < first:
        raise Invalid(f"to: {last.isoformat()} is before from: {first.isoformat()}")
    return review.EventFilter(
        site=q.site or None,
        camera=q.camera or None,
        statuses=STATUS_CHOICES[q.status],
        type_=q.type or None,
        started_from=_day_start(first, zone) if first else None,
        started_before=_day_start(last + timedelta(days=1), zone) if last else None,
        plate=q.plate or None,
    )


def thumbnail(event: Event) -> EventFile | None:
    """The still that best shows what happened: the act, then after, vehicle, arrival, else the first."""
    stills = [f for f in event.files if f.media_type == "image/jpeg" and f.received_at is not None]
    for role in THUMB_ROLES:
        for f in stills:
            if f.role == role:
                return f
    return stills[0] if stills else None


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    q = read_query(request)
    events, total = review.list_events(
        session=session,
        where=event_filter(q, tz=settings.display_timezone),
        limit=PAGE_SIZE,
        offset=(q.page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "me": me,
        "rows": [(e, thumbnail(e)) for e in events],
        "q": q,
        "total": total,
        "pages": pages,
        "first_shown": (q.page - 1) * PAGE_SIZE + 1 if events else 0,
        "last_shown": (q.page - 1) * PAGE_SIZE + len(events),
        "sites": session.scalars(select(Site).order_by(Site.name)).all(),
        "cameras": session.scalars(select(Camera).order_by(Camera.key)).all(),
        "types": [t.value for t in EventType],
        "statuses": list(STATUS_CHOICES),
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "queue.html", context)
