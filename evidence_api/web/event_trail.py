"""An event's audit trail as its page shows it: who saw it, reviewed it, reopened it, exported its case.

The rows come from the audit log itself (:func:`evidence_api.services.audit.entries_for`): the entries
about the event, and the bundle exports of the case it is in (an export is recorded against the case).
Each action is put in words a person reads; one this module does not know is shown as recorded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from evidence_api.models import Event
from evidence_api.services import audit
from evidence_api.services.bundle_history import EXPORT_STARTED, EXPORTED

logger = logging.getLogger(__name__)

TRAIL_LIMIT = 500
"""The newest entries an event page lists (each page view and each still opened is one)."""
CASE_ACTIONS_SHOWN = {EXPORT_STARTED: "began exporting its case", EXPORTED: "exported its case"}
WORDS = {
    "event.create": "received the event",
    "event.file.store": "stored a file",
    "event.complete": "received the last file",
    "event.review.under_review": "started the review",
    "event.review.confirmed": "confirmed it",
    "event.review.dismissed": "dismissed it",
    "event.reopen": "reopened it",
    "event.legal_override": "recorded a legal override",
    "evidence.read.event.page": "viewed the event page",
    "evidence.read.event": "read the event (API)",
    "evidence.read.blob.page": "opened a still or the clip",
    "evidence.read.blob.page.print_copy": "saw a thumbnail",
}
"""What each recorded action means, in words (prefix ``evidence.read.``: a read of the evidence)."""


@dataclass(frozen=True, slots=True)
class TrailRow:
    at: datetime
    actor: str
    what: str
    reason: str


def _reason(details: str) -> str:
    try:
        parsed = json.loads(details or "{}")
    except ValueError:
        logger.warning("an audit entry's details are not JSON: %.60r", details)
        return ""
    return str(parsed.get("reason", "")) if isinstance(parsed, dict) else ""


def event_trail(session: Session, event: Event) -> list[TrailRow]:
    """The event's trail, oldest first."""
    targets = [("event", str(event.id))]
    if event.case_id is not None:
        targets.append(("case", str(event.case_id)))
    rows = []
    for entry in audit.entries_for(session, targets=targets, limit=TRAIL_LIMIT):
        if entry.target_type == "case":
            if entry.action not in CASE_ACTIONS_SHOWN:
                continue
            what = CASE_ACTIONS_SHOWN[entry.action]
        elif entry.action in WORDS:
            what = WORDS[entry.action]
        elif entry.action.startswith("evidence.read."):
            what = f"read the evidence ({entry.action.removeprefix('evidence.read.')})"
        else:
            what = entry.action
        rows.append(TrailRow(at=entry.at, actor=entry.actor, what=what, reason=_reason(entry.details)))
    return rows
