"""DEFRA WasteDataFlow fly-tipping return (quarterly counts) and the hotspot dashboard."""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from evidence_api.models import Case, CaseAction, EnforcementAction, Event, ReviewStatus, Site
from evidence_api.services.errors import Invalid

logger = logging.getLogger(__name__)

UNRECORDED = "not_recorded"
UK_TIME = ZoneInfo("Europe/London")  # WasteDataFlow counts by the day in England


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """UTC [start, end) of quarter ``quarter`` of the financial year that begins on 1 April ``year``
    (2026 is 2026/27): WasteDataFlow's quarters, Q1 = April–June … Q4 = January–March of the next
    calendar year, as DEFRA's fly-tipping statistics run April to March.  The bounds are midnight in
    UK local time (GMT/BST), so a fly-tip at 00:30 BST on 1 July is in Q2.  Invalid for a quarter not
    1–4 or a year outside 2000–2100."""
    if quarter not in (1, 2, 3, 4):
        raise Invalid("quarter must be 1, 2, 3 or 4")
    if not 2000 <= year <= 2100:
        raise Invalid("year must be between 2000 and 2100")

    def first_of(index: int) -> datetime:  # the first day of the index-th quarter from April ``year``
        months = 3 + 3 * index  # months after January ``year``
        local = datetime(year + months // 12, months % 12 + 1, 1, tzinfo=UK_TIME)
        return local.astimezone(UTC)

    return first_of(quarter - 1), first_of(quarter)


def quarter_name(year: int, quarter: int) -> str:
    """``2026/27 Q2``: how DEFRA names a financial-year quarter."""
    return f"{year}/{(year + 1) % 100:02d} Q{quarter}"


QUARTER_MONTHS = ("April–June", "July–September", "October–December", "January–March")


def quarter_of(at: datetime) -> tuple[int, int]:
    """The (financial year, quarter) that ``at`` (aware) falls in, by UK local time."""
    local = at.astimezone(UK_TIME)
    months_since_april = (local.month - 4) % 12
    year = local.year if local.month >= 4 else local.year - 1
    return year, months_since_april // 3 + 1


@dataclass(frozen=True)
class ReturnRow:
    land_type: str
    size_band: str
    waste_type: str
    incidents: int


def wastedataflow_return(*, session: Session, year: int, quarter: int) -> list[ReturnRow]:
    """Confirmed dumping incidents started in the quarter, counted by land type × size band × waste type.

    One incident per confirmed dumping event; the case's DEFRA categories apply to its events, and an
    event outside a case (or a case without them) takes the site's land type and ``not_recorded``.
    """
    start, end = quarter_bounds(year, quarter)
    stmt = (
        select(Event)
        .options(selectinload(Event.site), selectinload(Event.case))
        .where(
            Event.review_status == ReviewStatus.confirmed.value,
            Event.type == "dumping",
            Event.started_at >= start,
            Event.started_at < end,
        )
    )
    counts: Counter[tuple[str, str, str]] = Counter()
    for event in session.execute(stmt).scalars():
        case: Case | None = event.case
        land = (case.land_type if case and case.land_type else None) or event.site.land_type
        size = (case.size_band if case else None) or UNRECORDED
        waste = (case.waste_type if case else None) or UNRECORDED
        counts[(land, size, waste)] += 1
    return [ReturnRow(*key, n) for key, n in sorted(counts.items())]


def to_csv(rows: list[ReturnRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["land_type", "size_band", "waste_type", "incidents"])
    for r in rows:
        writer.writerow([r.land_type, r.size_band, r.waste_type, r.incidents])
    return buf.getvalue()


def enforcement_action_counts(*, session: Session, year: int, quarter: int) -> dict[str, int]:
    """Enforcement actions recorded on cases in the quarter, by action: every DEFRA action, in its
    order, none taken counted 0."""
    start, end = quarter_bounds(year, quarter)
    stmt = (
        select(CaseAction.action, func.count(CaseAction.id))
        .where(CaseAction.recorded_at >= start, CaseAction.recorded_at < end)
        .group_by(CaseAction.action)
    )
    taken: dict[str, int] = {action: n for action, n in session.execute(stmt)}
    counts = {action.value: int(taken.pop(action.value, 0)) for action in EnforcementAction}
    return counts | {action: int(n) for action, n in sorted(taken.items())}  # one no longer listed


@dataclass(frozen=True)
class SiteCounts:
    site_key: str
    site_name: str
    land_type: str
    events: int
    confirmed: int
    dismissed: int
    awaiting_review: int


def hotspot_counts(*, session: Session) -> list[SiteCounts]:
    """Events per site by review status, busiest first."""
    stmt = (
        select(Site.key, Site.name, Site.land_type, Event.review_status, func.count(Event.id))
        .join(Event, Event.site_id == Site.id, isouter=True)
        .group_by(Site.key, Site.name, Site.land_type, Event.review_status)
    )
    per: dict[str, dict[str, object]] = {}
    for key, name, land, status, n in session.execute(stmt):
        row = per.setdefault(key, {"name": name, "land": land, "counts": Counter()})
        if status is not None:
            row["counts"][status] += n  # type: ignore[index]
    out = []
    for key, row in per.items():
        c: Counter[str] = row["counts"]  # type: ignore[assignment]
        out.append(
            SiteCounts(
                site_key=key,
                site_name=str(row["name"]),
                land_type=str(row["land"]),
                events=sum(c.values()),
                confirmed=c[ReviewStatus.confirmed.value],
                dismissed=c[ReviewStatus.dismissed.value],
                awaiting_review=c[ReviewStatus.new.value] + c[ReviewStatus.under_review.value],
            )
        )
    return sorted(out, key=lambda s: (-s.events, s.site_key))
