"""Camera health: what each camera's edge box reports about itself, and the warnings a person acts on.

An edge box sends its spool's health record (``detector/sinks/health.py``) when it changes and every
minute otherwise (``POST /api/v1/cameras/{key}/health``).  The camera keeps the latest report; each
run of the same status is one :class:`~evidence_api.models.CameraHealthPeriod` (a heartbeat extends it,
a new status opens the next), so the history answers "since when has this camera's disk been full?"
without a row a minute.  A status that has stood for :data:`MIN_PERIOD_S` is written to the audit log (at the
report that finds it has, or when the next status begins): a shifted view or a full disk is part of
the story of the evidence captured around it.

Warnings are worked out when asked, from the latest report and the server's own clock: a camera not
heard from for longer than ``camera_silent_after_s`` is *silent* whatever it last said, and one whose
box still reports but whose frames stopped flowing that long ago has *no picture* (a stream down, a
worker stopped: the uploader in the same process, or ``tipwatch upload`` from cron, keeps reporting).

What one device can make the server keep is bounded: a report's lists and texts are capped by the
schema; a status that lasted less than :data:`MIN_PERIOD_S` is overwritten by the next instead of
opening a period, and only a status that stood a minute is audited (so a box flapping at its disk
reserve, or a hostile token, makes at most one period and one audit entry a minute per camera, and
the status that finally stands is always on record); the audit entry and the log line carry the
first :data:`AUDITED_PROBLEMS` problems, shortened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.models import Camera, CameraHealthPeriod, Device
from evidence_api.schemas import CameraHealthIn
from evidence_api.services import audit
from evidence_api.services.errors import Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    from evidence_api.services.event_feed import EventFeed

logger = logging.getLogger(__name__)

EARLIEST_CAPTURE_YEAR = 2000  # a box clock reading earlier was never set (the default earliest capture)

HISTORY_PERIODS = 50  # periods a health query returns, newest first
#: a status that lasted less than this (seconds) is overwritten by the next one, unaudited
MIN_PERIOD_S = 60.0
AUDITED_PROBLEMS = 5  # problems named in an audit entry or a log line
AUDITED_PROBLEM_CHARS = 200


@dataclass(frozen=True, slots=True)
class HealthWatch:
    """When a camera needs a person: silent or without a picture for longer than ``silent_after``, or
    a clock further than ``clock_tolerance_s`` seconds from the server's (the settings
    ``camera_silent_after_s`` and ``camera_clock_tolerance_s``).  Times in warnings are read in
    ``display_timezone`` (UK local time by default)."""

    silent_after: timedelta = timedelta(minutes=10)
    clock_tolerance_s: float = 10.0
    display_timezone: str = "Europe/London"

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
                    f"{self._local(camera.last_seen_at)}"
                )
        report = camera.health_report or {}
        offset = report.get("clock_offset_s")
        offset_s = float(offset) if isinstance(offset, int | float) else None
        picture = self._no_picture(report, offset_s, now)
        if picture:
            out.append(picture)
        if camera.health_status not in (None, "ok"):
            out.extend(str(p) for p in report.get("problems", []))
        out.extend(self._clock(camera, report, offset_s))
        return out

    def _no_picture(self, report: dict[str, object], offset_s: float | None, now: datetime) -> str | None:
        processed = _time(report.get("frames_processed_at"))
        started = _time(report.get("worker_started_at"))
        since = processed or started  # a run that never got a frame counts from its start
        if since is None:
            return None
        seen = since - timedelta(seconds=offset_s or 0.0)  # on the server's clock
        if seen - now > self.silent_after:
            return (
                "no picture can be confirmed: the box's record of its last frame lies in the future "
                f"({self._local(seen)}); its clock was changed; check the camera's stream"
            )
        if now - seen <= self.silent_after:
            return None
        what = (
            "no frames have been processed since"
            if processed
            else "no frame has arrived since the worker started at"
        )
        return (
            f"no picture for {_duration(now - seen)}: the box still reports, but {what} "
            f"{self._local(seen)}; check the camera's stream and the detection worker"
        )

    def _clock(self, camera: Camera, report: dict[str, object], offset_s: float | None) -> list[str]:
        out: list[str] = []
        written = _time(report.get("updated_at"))
        if written is not None and written.astimezone(UTC).year < EARLIEST_CAPTURE_YEAR:
            out.append(
                f"the edge box's clock is not set (it reads {written.astimezone(UTC).date()}): its events "
                "cannot be timed; set up NTP on the box"
            )
        elif offset_s is not None and abs(offset_s) > self.clock_tolerance_s:
            direction = "ahead of" if offset_s > 0 else "behind"
            out.append(
                f"the edge box's clock is {abs(offset_s):.0f} s {direction} the server's: event times come "
                "from it; set up NTP on the box"
            )
        elif offset_s is None and written is not None and camera.health_reported_at is not None:
            # No measured offset (an older box): a record written in the server's future is a fast clock.
            ahead = (written - camera.health_reported_at).total_seconds()
            if ahead > self.clock_tolerance_s:
                out.append(
                    f"the edge box's clock is at least {ahead:.0f} s ahead of the server's: event times come "
                    "from it; set up NTP on the box"
                )
        held = report.get("clock_held")
        if isinstance(held, int) and held > 0:
            out.append(
                f"{held} event(s) held on the box because the box's clock ran fast when they were "
                "captured: they are sent once real time reaches their times"
            )
        unset = report.get("clock_unset_held")
        if isinstance(unset, int) and unset > 0:
            out.append(
                f"{unset} event(s) held on the box because they were captured before its clock was set: "
                "they cannot be sent as they are; someone must establish the footage's true time "
                "(`tipwatch upload` on the box lists them)"
            )
        return out

    def _local(self, at: datetime) -> str:
        return at.astimezone(ZoneInfo(self.display_timezone)).strftime("%d %b %Y %H:%M %Z")


def record_health(
    *,
    session: Session,
    camera_key: str,
    data: CameraHealthIn,
    device: Device | None,
    actor: str,
    feed: EventFeed | None,
) -> Camera:
    """Store one health report for ``camera_key``; a status other than the camera's last (its first
    report included) is told to ``feed``.

    Raises NotFound (an unknown camera, for staff), Forbidden (a device reporting for a camera that is
    not registered to it, or unknown) and Invalid (a body about another camera).
    """
    if data.camera_id != camera_key:
        raise Invalid(f"camera_id: the report is about {data.camera_id!r}, not {camera_key!r}")
    # The camera's row is locked for the report (PostgreSQL): two reports at once (``detect`` and
    # ``tipwatch upload`` on one spool) must not both open a period or lose a count.
    camera = session.execute(
        select(Camera).where(Camera.key == camera_key).with_for_update()
    ).scalar_one_or_none()
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
    young = latest is not None and (now - latest.first_received_at).total_seconds() < MIN_PERIOD_S
    if latest is not None and (latest.status == data.status or young):
        # The same status extends the period; a status that lasted under a minute (never audited yet)
        # is replaced by the next one (bounded history, see above).
        latest.status = data.status
        latest.last_received_at = now
        latest.reports += 1
        latest.problems = problems
    else:
        if latest is not None and not latest.audited:
            _audit_period(session, camera, latest, actor)  # it stood a minute: on record before the next
        latest = CameraHealthPeriod(
            camera_id=camera.id,
            status=data.status,
            first_received_at=now,
            last_received_at=now,
            reports=1,
            problems=problems,
            audited=False,
        )
        session.add(latest)
    if not latest.audited and (now - latest.first_received_at).total_seconds() >= MIN_PERIOD_S:
        _audit_period(session, camera, latest, actor)
    changed = camera.health_status != data.status
    camera.health_status = data.status
    camera.health_reported_at = now
    camera.health_report = data.model_dump(mode="json")
    camera.last_seen_at = now
    session.flush()
    if feed is not None and changed:
        feed.status_changed(session=session, camera=camera)
    return camera


def _audit_period(session: Session, camera: Camera, period: CameraHealthPeriod, actor: str) -> None:
    """Write a status that stood at least :data:`MIN_PERIOD_S` to the audit log (and the server log),
    naming the status audited before it."""
    previous = session.execute(
        select(CameraHealthPeriod.status)
        .where(CameraHealthPeriod.camera_id == camera.id, CameraHealthPeriod.audited.is_(True))
        .order_by(CameraHealthPeriod.first_received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    named = [p[:AUDITED_PROBLEM_CHARS] for p in period.problems[:AUDITED_PROBLEMS]]
    audit.append(
        session,
        actor=actor,
        action="camera.health",
        target_type="camera",
        target_id=str(camera.id),
        details={
            "camera": camera.key,
            "status": period.status,
            "previous": previous,
            "since": period.first_received_at.isoformat(),
            "problems": named,
        },
    )
    period.audited = True
    if period.status == "ok":
        logger.info("camera %s health: ok (was %s)", camera.key, previous)
    else:
        logger.warning("camera %s health: %s (was %s): %s", camera.key, period.status, previous, named)


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


def _time(value: object) -> datetime | None:
    """A report's ISO time (as the schema stored it), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
