"""What an authorisation lets in: which of a case's exhibits a bundle may carry, and on what authority.

An exhibit goes in when a surveillance authorisation covered its camera at the moment of capture (a RIPA
authorisation only once a magistrate approved it), or when a lawyer recorded a legal override for it.
Everything else is left out and named, with the reason, in the manifest and the exhibit list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from evidence_api.bundle.manifest import AuthorisationEntry, ExcludedEntry, OverrideEntry, utc_iso
from evidence_api.bundle.spec import (
    Authorisation,
    BundleBuildError,
    BundleSpec,
    ExhibitSource,
    LegalOverride,
)

logger = logging.getLogger(__name__)

# the order exhibits are numbered in, within one event captured at the same instant
ROLE_ORDER = {
    r: i
    for i, r in enumerate(("arrival", "vehicle", "plate", "act", "departure", "before", "after", "deposit"))
}
NOT_AUTHORISED = (
    "no surveillance authorisation covered this camera at the capture time, "
    "and no legal override was recorded"
)


@dataclass(frozen=True, slots=True)
class Admitted:
    """An exhibit the bundle may carry, and what lets it in: an authorisation, else a legal override."""

    exhibit: ExhibitSource
    authorisation: Authorisation | None
    override: LegalOverride | None

    @property
    def authority(self) -> str:
        """The authority in words, as the exhibit list prints it."""
        auth = self.authorisation
        if auth is not None:
            approved = f", approved by {auth.approved_by}" if auth.approved_by else ""
            return f"{auth.kind.value} {auth.reference} (granted by {auth.granted_by}{approved})"
        override = self.override
        assert override is not None  # admit() lets nothing in without one or the other
        return f"legal override {override.override_id} by {override.granted_by}: {override.reasons}"


def exhibit_order(ex: ExhibitSource) -> tuple[datetime, str, int, str]:
    """Capture time, then event, then role (arrival before the act before departure), then hash."""
    return (ex.captured_at, ex.event_id, ROLE_ORDER.get(ex.role, len(ROLE_ORDER)), ex.sha256)


def admit(spec: BundleSpec) -> tuple[list[Admitted], list[ExcludedEntry]]:
    """Decide, before anything is copied, which exhibits go in (in exhibit-number order) and which are
    left out.  The same bytes attached twice are one exhibit.  BundleBuildError when nothing may go in."""
    overrides = {o.exhibit_sha256: o for o in spec.overrides}
    included: list[Admitted] = []
    excluded: list[ExcludedEntry] = []
    seen: set[str] = set()
    for ex in sorted(spec.exhibits, key=exhibit_order):
        if ex.sha256 in seen:
            continue
        seen.add(ex.sha256)
        auth = next(
            (a for a in spec.authorisations if a.covers(ex.site_id, ex.camera_id, ex.captured_at)), None
        )
        override = overrides.get(ex.sha256) if auth is None else None
        if auth is None and override is None:
            excluded.append(
                {
                    "event_id": ex.event_id,
                    "role": ex.role,
                    "sha256": ex.sha256,
                    "captured_at_utc": utc_iso(ex.captured_at),
                    "reason": NOT_AUTHORISED,
                }
            )
            logger.warning(
                "exhibit %s of event %s left out: not authorised at capture", ex.sha256[:12], ex.event_id
            )
            continue
        included.append(Admitted(ex, auth, override))
    if not included:
        raise BundleBuildError(
            f"case {spec.case.reference}: no exhibit was authorised at capture (or overridden); "
            "nothing to export"
        )
    return included, excluded


def authorisation_entry(auth: Authorisation) -> AuthorisationEntry:
    return {
        "authorisation_id": auth.authorisation_id,
        "kind": auth.kind.value,
        "reference": auth.reference,
        "site_ids": list(auth.site_ids),
        "camera_ids": list(auth.camera_ids),
        "valid_from": utc_iso(auth.valid_from),
        "valid_until": utc_iso(auth.valid_until),
        "granted_by": auth.granted_by,
        "approved_by": auth.approved_by,
        "approved_at": utc_iso(auth.approved_at) if auth.approved_at else None,
        "summary": auth.summary,
    }


def override_entry(ov: LegalOverride) -> OverrideEntry:
    return {
        "override_id": ov.override_id,
        "exhibit_sha256": ov.exhibit_sha256,
        "granted_by": ov.granted_by,
        "granted_at": utc_iso(ov.granted_at),
        "reasons": ov.reasons,
    }
