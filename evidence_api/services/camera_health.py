"""Camera health: what each camera's edge box reports about itself, and the warnings a person acts on.

An edge box sends its spool's health record (``detector/sinks/health.py``) when it changes and every
minute otherwise (``POST /api/v1/cameras/{key}/health``).  The camera keeps the latest report; each
run of the same status is one :class:`~evidence_api.models.CameraHealthPeriod` (a heartbeat extends it,
a new status opens the next), so the history answers "since when has this camera's disk been full?"
without a row a minute.  A change of status is written to the audit log: a shifted view or a full disk
is part of the story of the evidence captured around it.

Warnings are worked out when asked, from the latest report and the server's own clock: a camera not
heard from for longer than ``camera_silent_after_s`` is *silent* whatever it last said.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.models import Camera, CameraHealthPeriod, Device
from evidence_api.schemas import CameraHealthIn
from evidence_api.services import audit
from evidence_api.services.errors import Forbidden, Invalid, NotFound

logger = logging.getLogger(__name__)

HISTORY_PERIODS = 50  # periods a health query returns, newest first


@dataclass(frozen=True, slots=True)
class HealthWatch:
    """When a camera needs a person: silent for longer than ``silent_after``, or a clock further than
    ``clock_tolerance_s`` seconds from the server's (the settings ``camera_silent_after_s`` and
    ``camera_clock_tolerance_s``)."""

    silent_after: timedelta = timedelta(minutes=10)
    clock_tolerance_s: float = 10.0

    def is_silent(self, camera: Camera, now: datetime) -> bool:
        """True when nothing (event or report) was heard from the camera within ``silent_after``; a
        camera never heard from is silent once it has been registered that long."""
        heard = camera.last_seen_at or camera.created_at
        return now - heard > self.silent_after

    def warnings(self, camera: Camera, now: datetime) -> list[str]:
        """What a person should look at, in words, most urgent first (empty: nothing to do)."""
        out: list[str] = []
        if self.is_silent(camera, now):
            if camera.last_seen_at is None:
                out.append("never heard from: check the edge box is installed, powered and online")
            else:
                out.append(
                    f"silent for {_duration(now - camera.last_seen_at)}: no event or health report since "
                    f"{camera.last_seen_at.astimezone(UTC).isoformat(timespec='seconds')}"
                )
        report = camera.health_report or {}
        if camera.health_status not in (None, "ok"):
            out.extend(str(p) for p in report.get("problems", []))
        offset = report.get("clock_offset_s")
        if isinstance(offset, int | float) and abs(offset) > self.clock_tolerance_s:
            direction = "ahead of" if offset > 0 else "behind"
            out.append(
                f"the edge box's clock is {abs(offset):.0f} s {direction} the server's: event times come "
                "from it; set up NTP on the box"
            )
        return out


def record_health(
    *, session: Session, camera_key: str, data: CameraHealthIn, device: Device | None, actor: str
) -> Camera:
    """Store one health report for ``camera_key``.

    Raises NotFound (an unknown camera, for staff), Forbidden (a device reporting for a camera that is
    not registered to it, or unknown) and Invalid (a body about another camera).
    """
    if data.camera_id != camera_key:
        raise Invalid(f"camera_id: the report is about {data.camera_id!r}, not {camera_key!r}")
    camera = session.execute(select(Camera).where(Camera.key == camera_key)).scalar_one_or_none()
    if camera is None or (device is not None and camera.device_id != device.id):
        if device is not None:
            raise Forbidden(f"camera {camera_key!r} is not registered to this device")
        raise NotFound(f"camera {camera_key!r} is not registered")
    now = datetime.now(UTC)
    latest = session.execute(
        select(CameraHealthPeriod)
        .where(CameraHealthPeriod.camera_id == camera.id)
        .order_by(CameraHealthPeriod.last_received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    problems = list(data.problems)
    if latest is not None and latest.status == data.status:
        latest.last_received_at = now
        latest.reports += 1
        latest.problems = problems
    else:
        previous = latest.status if latest is not None else None
        session.add(
            CameraHealthPeriod(
                camera_id=camera.id,
                status=data.status,
                first_received_at=now,
                last_received_at=now,
                reports=1,
                problems=problems,
            )
        )
        audit.append(
            session,
            actor=actor,
            action="camera.health",
            target_type="camera",
            target_id=str(camera.id),
            details={"camera": camera.key, "status": data.status, "previous": previous, "problems": problems},
        )
        if data.status == "ok":
            logger.info("camera %s health: ok (was %s)", camera.key, previous)
        else:
            logger.warning("camera %s health: %s (was %s): %s", camera.key, data.status, previous, problems)
    camera.health_status = data.status
    camera.health_reported_at = now
    camera.health_report = data.model_dump(mode="json")
    camera.last_seen_at = now
    session.flush()
    return camera


def health_periods(
    *, session: Session, camera: Camera, limit: int = HISTORY_PERIODS
) -> list[CameraHealthPeriod]:
    """The camera's health periods, newest first."""
    stmt = (
        select(CameraHealthPeriod)
        .where(CameraHealthPeriod.camera_id == camera.id)
        .order_by(CameraHealthPeriod.last_received_at.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
