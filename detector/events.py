"""Rule decisions become :class:`~detector.types.Event` records: ids, times, model, zone and details.

The event id, the idempotency key of the ingest contract, is derived from what the event is
(``detector.identity``: site, camera, footage, type, first capture and video time, ordinal, rule
version), so processing the same footage again gives the same ids and cannot store an incident
twice.  A vehicle visit's id is minted when the visit starts, so a dumping event confirmed while
the vehicle is still there can already link to it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from detector.backends.registry import ModelInfo
from detector.config import CameraConfig
from detector.identity import event_id
from detector.rules import RULE_VERSION, DumpingIncident, VehicleVisit
from detector.types import ClockSource, Event, EventType

logger = logging.getLogger(__name__)


class EventFactory:
    """Builds the events of one camera from the rules' decisions.

    ``footage_id`` is :func:`detector.identity.footage_identity` of the source; without it (a
    pipeline run outside the worker) the run gets a random one, so its ids are unique but not
    repeatable.
    """

    def __init__(
        self, site_id: str, camera: CameraConfig, model: ModelInfo, footage_id: str | None = None
    ) -> None:
        self.site_id = site_id
        self.camera = camera
        self.model = model
        self.footage_id = footage_id or f"unidentified:{secrets.token_hex(16)}"

    def _event_id(self, kind: EventType, started_at: datetime, started_s: float, ordinal: int) -> str:
        return event_id(
            site_id=self.site_id,
            camera_id=self.camera.id,
            footage_id=self.footage_id,
            event_type=str(kind),
            started_at=started_at,
            started_video_s=started_s,
            ordinal=ordinal,
            rule_version=RULE_VERSION,
        )

    def visit_id(self, visit: VehicleVisit) -> str:
        """The id of a vehicle visit, minted when it starts (a dumping event may link to it)."""
        return self._event_id(EventType.VEHICLE_VISIT, visit.started_at, visit.started_s, visit.visit_id)

    def _common(
        self,
        kind: EventType,
        start_s: float,
        end_s: float,
        started_at: datetime,
        ended_at: datetime,
        clock_source: ClockSource,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "site_id": self.site_id,
            "camera_id": self.camera.id,
            "started_at": started_at,
            "ended_at": ended_at,
            "start_video_s": start_s,
            "end_video_s": end_s,
            "clock_source": clock_source,
            "model_name": self.model.name,
            "model_sha256": self.model.sha256,
            "rule_version": RULE_VERSION,
        }

    def visit(self, visit: VehicleVisit, clock_source: ClockSource) -> Event:
        """The event of a final (cooled-down) vehicle visit; its files are added by the evidence policy."""
        assert visit.ended_s is not None and visit.ended_at is not None
        return Event(
            event_id=visit.event_id or self.visit_id(visit),
            zone=visit.zone,
            details={
                "vehicle_class": visit.object_class.name.lower(),
                "track_id": visit.track_id,
                "dwell_s": round(visit.ended_s - visit.started_s, 1),
                "deposits": visit.deposits,
                "present_at_start": visit.present_at_start,
                "camera_mode": self.camera.mode,
            },
            **self._common(
                EventType.VEHICLE_VISIT,
                visit.started_s,
                visit.ended_s,
                visit.started_at,
                visit.ended_at,
                clock_source,
            ),
        )

    def dumping(
        self,
        incident: DumpingIncident,
        linked_event_ids: list[str],
        clock_source: ClockSource,
        persistence_s: float,
    ) -> Event:
        """The event of a confirmed dumping incident, linked to the events of its vehicle visits."""
        x1, y1, x2, y2 = incident.box
        cut_short: dict[str, str | int | float | bool] = {}
        if incident.cut_short_s is not None:
            cut_short = {
                "persistence_cut_short_s": round(incident.cut_short_s, 1),
                "persistence_note": f"the detection worker was stopped when this had stayed "
                f"{incident.cut_short_s:.0f} s of the {persistence_s:.0f} s required: it may have been "
                "taken away again; check the site",
            }
        return Event(
            event_id=self._event_id(
                EventType.DUMPING, incident.started_at, incident.started_s, incident.incident_id
            ),
            zone=incident.zone,
            linked_event_ids=linked_event_ids,
            details={
                "deposit_area_px": int((x2 - x1) * (y2 - y1)),
                "deposit_box": f"{x1},{y1},{x2},{y2}",
                "people": len(incident.people),
                "vehicles": len(incident.vehicles),
                "persistence_s": persistence_s,
                "first_seen_video_s": round(incident.deposits[0].first_seen_s, 2),
                "deposited_at": (
                    incident.confirmed_at - timedelta(seconds=incident.confirmed_s - incident.deposit_s)
                ).isoformat(),
                "camera_mode": self.camera.mode,
                **cut_short,
            },
            **self._common(
                EventType.DUMPING,
                incident.started_s,
                incident.confirmed_s,
                incident.started_at,
                incident.confirmed_at,
                clock_source,
            ),
        )
