"""The DEFRA WasteDataFlow return page (staff): choose a quarter, see its confirmed fly-tips counted by
land type x size x waste type and by each category alone, and the enforcement actions recorded in it;
download the CSV that :mod:`evidence_api.services.returns` writes (``wastedataflow-2026-27-Q2.csv``).

Quarters are the return service's financial-year quarters
(:func:`~evidence_api.services.returns.quarter_bounds`: 2026 Q2 is July–September 2026).  The page opens
on the last complete quarter, the one a council is filing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from evidence_api import defra
from evidence_api.deps import PageUser, SessionDep, SettingsDep
from evidence_api.services import returns
from evidence_api.services.errors import Invalid
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.rendering import render

logger = logging.getLogger(__name__)

PAGE = "/returns"
NOT_RECORDED = returns.UNRECORDED

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Quarter:
    year: int
    quarter: int

    @property
    def name(self) -> str:
        return returns.quarter_name(self.year, self.quarter)

    @property
    def months(self) -> str:
        return returns.QUARTER_MONTHS[self.quarter - 1]

    @property
    def csv_name(self) -> str:
        return f"wastedataflow-{self.year}-{(self.year + 1) % 100:02d}-Q{self.quarter}.csv"


def last_complete_quarter(now: datetime) -> Quarter:
    """The financial-year quarter before the one ``now`` is in: the return a council is filing."""
    year, quarter = returns.quarter_of(now)
    return Quarter(year - 1, 4) if quarter == 1 else Quarter(year, quarter - 1)


def _chosen(year: str | None, quarter: str | None) -> Quarter:
    """The quarter asked for (``year``, ``quarter`` 1-4 or ``Q1``-``Q4``), or the last complete one;
    Invalid, in words, for one that is not a quarter."""
    if not year and not quarter:
        return last_complete_quarter(datetime.now(UTC))
    try:
        chosen = Quarter(int(year or ""), int((quarter or "").upper().removeprefix("Q")))
    except ValueError as exc:
        raise Invalid("choose a year (such as 2026) and a quarter, Q1 to Q4") from exc
    returns.quarter_bounds(chosen.year, chosen.quarter)  # refuses one out of range, in words
    return chosen


def _by(rows: list[returns.ReturnRow], attribute: str, names: dict[str, str]) -> list[tuple[str, int]]:
    """Incidents by one category, every DEFRA category in its order (0 where none), then any other
    value the rows hold ("not recorded" last)."""
    counts: Counter[str] = Counter()
    for row in rows:
        counts[getattr(row, attribute)] += row.incidents
    listed = [(name, counts.pop(value, 0)) for value, name in names.items()]
    unrecorded = counts.pop(NOT_RECORDED, 0)
    others = [(defra.label(names, value), n) for value, n in sorted(counts.items())]
    return listed + others + [(defra.NOT_RECORDED, unrecorded)]


@router.get(PAGE, response_class=HTMLResponse)
def return_page(
    request: Request,
    me: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    year: str | None = None,
    quarter: str | None = None,
) -> Response:
    try:
        chosen = _chosen(year, quarter)
    except Invalid as exc:
        context = {
            "me": me,
            "error": str(exc),
            "typed": {"year": (year or "")[:10], "quarter": (quarter or "")[:3]},
            "warnings": expiry_warnings(session, settings),
        }
        return render(request, "returns.html", context, status_code=exc.status_code)
    rows = returns.wastedataflow_return(session=session, year=chosen.year, quarter=chosen.quarter)
    start, end = returns.quarter_bounds(chosen.year, chosen.quarter)
    context = {
        "me": me,
        "chosen": chosen,
        "typed": {"year": str(chosen.year), "quarter": str(chosen.quarter)},
        "period": (start, end),
        "rows": rows,
        "total": sum(r.incidents for r in rows),
        "by_size": _by(rows, "size_band", defra.SIZE_BANDS),
        "by_waste": _by(rows, "waste_type", defra.WASTE_TYPES),
        "by_land": _by(rows, "land_type", defra.LAND_TYPES),
        "actions": [
            (defra.label(defra.ENFORCEMENT_ACTIONS, action), n)
            for action, n in returns.enforcement_action_counts(
                session=session, year=chosen.year, quarter=chosen.quarter
            ).items()
        ],
        "defra": defra,
        "label": defra.label,
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "returns.html", context)


@router.get(PAGE + "/wastedataflow-{year:int}-{next_year:int}-Q{quarter:int}.csv")
def download(year: int, next_year: int, quarter: int, me: PageUser, session: SessionDep) -> Response:
    """The quarter's return as the CSV the JSON API gives, named for the financial year and quarter
    (``wastedataflow-2026-27-Q2.csv``); never cached."""
    if next_year != (year + 1) % 100:
        raise Invalid(f"{year}-{next_year:02d} is not a financial year: the second part is the next year's")
    rows = returns.wastedataflow_return(session=session, year=year, quarter=quarter)
    name = Quarter(year, quarter).csv_name
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(returns.to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
