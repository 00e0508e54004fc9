"""The dashboard's numbers: confirmed fly-tips per site per month, the hours and days of the week they
happen (in the council's local time, the display time zone), and each site's confirmed against
dismissed events (:func:`evidence_api.services.returns.hotspot_counts`).

Incidents are confirmed dumping events, as in the WasteDataFlow return, counted by when the dumping
started.  Months, hours and days are the local calendar's: a tip at 00:30 BST on 1 July is July's, and
in the 00:00 hour.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.models import Event, ReviewStatus, Site
from evidence_api.services import returns
from evidence_api.services.errors import Invalid

logger = logging.getLogger(__name__)

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_MONTHS = 36


@dataclass(frozen=True, slots=True)
class SiteMonths:
    """One site's confirmed fly-tips in each month of :attr:`Dashboard.months`."""

    site_key: str
    site_name: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Dashboard:
    months: tuple[date, ...]  # the first day of each local month, oldest first
    per_site: tuple[SiteMonths, ...]  # busiest first
    by_hour: tuple[int, ...]  # 24 counts, local hours 00-23
    by_day: tuple[int, ...]  # 7 counts, Monday first
    review: tuple[returns.SiteCounts, ...]  # confirmed, dismissed and awaiting review per site

    @property
    def incidents(self) -> int:
        return sum(s.total for s in self.per_site)


def _month_starts(last: date, months: int) -> tuple[date, ...]:
    out = []
    year, month = last.year, last.month
    for _ in range(months):
        out.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return tuple(reversed(out))


def dashboard(*, session: Session, tz: str, months: int = 12, now: datetime | None = None) -> Dashboard:
    """The last ``months`` local months up to and including this one."""
    if not 1 <= months <= MAX_MONTHS:
        raise Invalid(f"months must be between 1 and {MAX_MONTHS}")
    zone = ZoneInfo(tz)
    local_now = (now or datetime.now(UTC)).astimezone(zone)
    starts = _month_starts(local_now.date(), months)
    since = datetime(starts[0].year, starts[0].month, 1, tzinfo=zone).astimezone(UTC)
    stmt = (
        select(Event.started_at, Site.key, Site.name)
        .join(Site, Event.site_id == Site.id)
        .where(
            Event.type == "dumping",
            Event.review_status == ReviewStatus.confirmed.value,
            Event.started_at >= since,
        )
    )
    index = {start: i for i, start in enumerate(starts)}
    per_site: dict[str, tuple[str, list[int]]] = {}
    hours: Counter[int] = Counter()
    days: Counter[int] = Counter()
    for started_at, key, name in session.execute(stmt):
        local = started_at.astimezone(zone)
        i = index.get(date(local.year, local.month, 1))
        if i is None:  # after this month: a clock ahead, kept out of the chart
            continue
        per_site.setdefault(key, (name, [0] * months))[1][i] += 1
        hours[local.hour] += 1
        days[local.weekday()] += 1
    sites = sorted(
        (SiteMonths(key, name, tuple(counts)) for key, (name, counts) in per_site.items()),
        key=lambda s: (-s.total, s.site_key),
    )
    return Dashboard(
        months=starts,
        per_site=tuple(sites),
        by_hour=tuple(hours[h] for h in range(24)),
        by_day=tuple(days[d] for d in range(7)),
        review=tuple(returns.hotspot_counts(session=session)),
    )
