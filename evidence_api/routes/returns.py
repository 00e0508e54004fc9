"""WasteDataFlow quarterly return and hotspot counts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from evidence_api.deps import SessionDep, Staff
from evidence_api.services import returns

router = APIRouter(tags=["returns"])


class ReturnRowOut(BaseModel):
    land_type: str
    size_band: str
    waste_type: str
    incidents: int


class ReturnOut(BaseModel):
    year: int
    quarter: int
    total_incidents: int
    rows: list[ReturnRowOut]


class SiteCountsOut(BaseModel):
    site_key: str
    site_name: str
    land_type: str
    events: int
    confirmed: int
    dismissed: int
    awaiting_review: int


@router.get(
    "/returns/wastedataflow",
    response_model=ReturnOut,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def wastedataflow(
    principal: Staff,
    session: SessionDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    quarter: Annotated[int, Query(ge=1, le=4)],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | ReturnOut:
    """A quarter's confirmed fly-tips by land type × size band × waste type (JSON or CSV).  ``year`` is
    the financial year starting in April (2026 = 2026/27) and ``quarter`` WasteDataFlow's: Q1 April–June,
    Q2 July–September, Q3 October–December, Q4 January–March, by UK local dates."""
    rows = returns.wastedataflow_return(session=session, year=year, quarter=quarter)
    if format == "csv":
        return PlainTextResponse(
            returns.to_csv(rows),
            media_type="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="wastedataflow-{year}-{(year + 1) % 100:02d}-Q{quarter}.csv"'
                )
            },
        )
    return ReturnOut(
        year=year,
        quarter=quarter,
        total_incidents=sum(r.incidents for r in rows),
        rows=[ReturnRowOut(**asdict(r)) for r in rows],
    )


@router.get("/dashboard/hotspots", response_model=list[SiteCountsOut])
def hotspots(principal: Staff, session: SessionDep) -> list[SiteCountsOut]:
    """Event counts per site, busiest first."""
    return [SiteCountsOut(**asdict(s)) for s in returns.hotspot_counts(session=session)]
