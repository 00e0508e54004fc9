"""The event feed: what other systems (an NVR, Home Assistant, a council's case system) are told.

A stored event (once all its files are in), an officer's confirmation or dismissal, and a change of a
camera's health status each become one message in the outbox (:mod:`evidence_api.services.outbox`),
in the same transaction as the change, so a message exists exactly when the change was committed; the
API's publisher (:mod:`evidence_api.mqtt`) sends them.  Topics, under the settings' prefix:

- ``<site>/<camera>/events``: one message per change of an event (QoS 1, not retained);
- ``<site>/<camera>/status``: the camera's health status and warnings (QoS 1, retained, so a subscriber
  connecting later learns the current state at once).

Messages carry no personal data: no plate unless ``include_plates`` (``TIPWATCH_MQTT_INCLUDE_PLATES``),
and never the event's free ``details`` (they hold the plate reader's views) nor an officer's reasons.
Formats: ``docs/event-feed.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from evidence_api.models import Camera, Event
from evidence_api.services import outbox
from evidence_api.services.camera_health import HealthWatch

EVENT_FORMAT = "tipwatch-event/1"
STATUS_FORMAT = "tipwatch-status/1"

EventChange = Literal["stored", "confirmed", "dismissed"]


@dataclass(frozen=True, slots=True)
class EventFeed:
    """The feed as configured: whether plates go out, and how health warnings are worked out (the
    same :class:`HealthWatch` the API answers with).  Services are handed one, or None when no feed
    is configured (then nothing is written)."""

    include_plates: bool = False
    watch: HealthWatch = field(default_factory=HealthWatch)

    def event_changed(self, *, session: Session, event: Event, change: EventChange) -> None:
        """Queue ``event``'s message on its camera's events topic."""
        payload = event_payload(event, change=change, include_plates=self.include_plates)
        topic = f"{event.site.key}/{event.camera.key}/events"
        outbox.add(session, topic=topic, payload=_json(payload), retain=False)

    def status_changed(self, *, session: Session, camera: Camera) -> None:
        """Queue ``camera``'s health, retained, on its status topic."""
        now = datetime.now(UTC)
        payload = status_payload(camera, warnings=self.watch.warnings(camera, now), at=now)
        outbox.add(
            session, topic=f"{camera.site.key}/{camera.key}/status", payload=_json(payload), retain=True
        )


def event_payload(event: Event, *, change: EventChange, include_plates: bool) -> dict[str, Any]:
    """An event's message: what happened where and when, its review state, and how many files back it."""
    stills = sum(1 for f in event.files if f.media_type == "image/jpeg")
    payload: dict[str, Any] = {
        "format": EVENT_FORMAT,
        "change": change,
        "at": _iso(datetime.now(UTC)),
        "id": str(event.id),
        "type": event.type,
        "site": event.site.key,
        "camera": event.camera.key,
        "zone": event.zone,
        "started_at": _iso(event.started_at),
        "ended_at": _iso(event.ended_at),
        "review_status": event.review_status,
        "authorised_at_capture": event.authorised_at_capture,
        "files": {"stills": stills, "clips": len(event.files) - stills},
        "linked_event_ids": list(event.linked_event_ids),
    }
    if include_plates and event.plate_text:
        payload["plate"] = {
            "text": event.plate_text,
            "confidence": event.plate_confidence,
            "valid_uk_format": event.plate_valid_uk_format,
        }
    return payload


def status_payload(camera: Camera, *, warnings: list[str], at: datetime) -> dict[str, Any]:
    """A camera's retained status: the edge box's reported status and the warnings a person acts on."""
    return {
        "format": STATUS_FORMAT,
        "at": _iso(at),
        "site": camera.site.key,
        "camera": camera.key,
        "status": camera.health_status or "unknown",
        "reported_at": _iso(camera.health_reported_at) if camera.health_reported_at else None,
        "warnings": warnings,
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
