"""The dashboard (staff, ``/dashboard``): confirmed fly-tips per site per month, the busiest hours and
days of the week in the council's local time, and each site's confirmed against dismissed events; each
chart drawn by the server as SVG (:mod:`evidence_api.web.charts`) with its numbers in a table beside
it.  The numbers come from :mod:`evidence_api.services.dashboard`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from evidence_api.deps import PageUser, SessionDep, SettingsDep
from evidence_api.services import dashboard
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.charts import bar_chart
from evidence_api.web.rendering import render

logger = logging.getLogger(__name__)

PAGE = "/dashboard"
CHARTED_SITES = 5  # the busiest sites get a colour each in the monthly chart; the rest are summed

router = APIRouter(include_in_schema=False)


@router.get(PAGE, response_class=HTMLResponse)
def dashboard_page(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    tz = settings.display_timezone
    d = dashboard.dashboard(session=session, tz=tz)
    month_names = [m.strftime("%b %y") for m in d.months]
    charted = [(s.site_name, s.counts) for s in d.per_site[:CHARTED_SITES]]
    rest = d.per_site[CHARTED_SITES:]
    if rest:
        charted.append(("other sites", tuple(map(sum, zip(*(s.counts for s in rest), strict=True)))))
    span = f"{d.months[0]:%B %Y} to {d.months[-1]:%B %Y}"
    charts = {
        "months": bar_chart(
            id="chart-months",
            title="Confirmed fly-tips per site per month",
            description=f"{d.incidents} confirmed fly-tips from {span}, by site; the table has each number.",
            categories=month_names,
            series=charted or [("all sites", (0,) * len(d.months))],
            label_every=2,  # twelve month names do not fit under a phone-width chart
        ),
        "hours": bar_chart(
            id="chart-hours",
            title=f"Busiest hours ({tz})",
            description=f"Confirmed fly-tips from {span} by the hour they started, local time.",
            categories=[f"{h:02d}" for h in range(24)],
            series=[("fly-tips", d.by_hour)],
            label_every=3,
        ),
        "days": bar_chart(
            id="chart-days",
            title=f"Busiest days ({tz})",
            description=f"Confirmed fly-tips from {span} by the day of the week they started, local time.",
            categories=[day[:3] for day in dashboard.DAYS],
            series=[("fly-tips", d.by_day)],
        ),
        "review": bar_chart(
            id="chart-review",
            title="Confirmed and dismissed events per site",
            description="Every event reviewed so far at each site: confirmed against dismissed.",
            categories=[s.site_name for s in d.review],
            series=[
                ("confirmed", [s.confirmed for s in d.review]),
                ("dismissed", [s.dismissed for s in d.review]),
            ],
        ),
    }
    context = {
        "me": me,
        "d": d,
        "days": dashboard.DAYS,
        "month_names": month_names,
        "span": span,
        "charts": charts,
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "dashboard.html", context)
