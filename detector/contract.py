"""The ingest contract: an :class:`~detector.types.Event` to the ``POST /api/v1/events`` body and back.

The payload is exactly the metadata of ``docs/ingest-contract.md``: plain JSON (numpy scalars
unwrapped, non-finite numbers dropped or written as text), times as ISO-8601 UTC with an offset and
millisecond precision, and a ``name`` per file that is unique and safe inside the event's directory.
The spool writes it as ``event.json`` and the uploader posts it unchanged, so what this module
produces is what the API stores.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from detector.types import ClockSource, Event, EventType, EvidenceFile, FileKind, PlateRead

logger = logging.getLogger(__name__)

#: a file name the contract allows inside an event directory (no path separators, no leading dot)
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class ContractError(ValueError):
    """An event cannot be written as an ingest payload, or a payload is not a valid event."""


def iso_utc(value: datetime) -> str:
    """``2026-11-24T16:00:00.123+00:00``; a naive datetime is a :class:`ContractError`."""
    if value.tzinfo is None:
        raise ContractError(f"naive datetime {value!r}: the contract needs UTC with an offset")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def file_names(files: list[EvidenceFile], reserved: Collection[str] = ()) -> list[str]:
    """A unique, safe name per file inside the event directory (the staged basename where possible).

    ``reserved`` are names the directory already uses for itself (the spool's ``event.json`` ...);
    a file that would take one gets its index in front.
    """
    names: list[str] = []
    taken: set[str] = set()
    for i, f in enumerate(files):
        name = f.path.name if SAFE_FILE_NAME.match(f.path.name) else f"file-{i}{f.path.suffix[:8]}"
        if name in taken or name in reserved:
            name = f"{i}-{name}"
        taken.add(name)
        names.append(name)
    return names


def _detail_value(key: str, value: Any) -> str | int | float | bool:
    """A flat JSON value for ``details`` (numpy scalars unwrapped; NaN and anything else as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    logger.warning("event detail %r has a %s value; sent as text", key, type(value).__name__)
    return str(value)


def _confidence(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def event_to_payload(event: Event, *, reserved_names: Collection[str] = ()) -> dict[str, Any]:
    """The ``POST /api/v1/events`` body for an event (``docs/ingest-contract.md``).

    Parameters
    ----------
    event:
        A complete event; its files' basenames become their ``name`` (see :func:`file_names`).
    reserved_names:
        File names the receiving directory keeps for itself; no evidence file is given one.

    Returns a dict of plain JSON values.  Raises :class:`ContractError` for a naive datetime and
    ``TypeError``/``ValueError`` for values that are not numbers where numbers are due.
    """
    plate = (
        None
        if event.plate is None
        else {
            "text": event.plate.text,
            "confidence": _confidence(event.plate.confidence),
            "valid_uk_format": event.plate.valid_uk_format,
        }
    )
    files = [
        {
            "name": name,
            "role": f.role,
            "kind": str(f.kind),
            "media_type": f.media_type,
            "sha256": f.sha256,
            "size": int(f.size),
            "captured_at": iso_utc(f.captured_at),
        }
        for f, name in zip(event.files, file_names(event.files, reserved_names), strict=True)
    ]
    return {
        "id": event.event_id,
        "type": str(event.type),
        "site_id": event.site_id,
        "camera_id": event.camera_id,
        "started_at": iso_utc(event.started_at),
        "ended_at": iso_utc(event.ended_at),
        "clock_source": str(event.clock_source),
        "model": {"name": event.model_name, "sha256": event.model_sha256},
        "rule_version": event.rule_version,
        "zone": event.zone,
        "linked_event_ids": list(event.linked_event_ids),
        "plate": plate,
        "details": {str(k): _detail_value(str(k), v) for k, v in event.details.items()},
        "files": files,
    }


def payload_to_event(
    payload: dict[str, Any],
    base_dir: Path | None = None,
    *,
    start_video_s: float = 0.0,
    end_video_s: float = 0.0,
) -> Event:
    """The :class:`Event` back from a payload; file paths are ``base_dir / name``.

    Video times are not part of the contract (the spool keeps them beside it); pass them in.
    Raises :class:`ContractError` naming what is missing or malformed.
    """
    try:
        base = base_dir if base_dir is not None else Path()
        plate = payload.get("plate")
        return Event(
            event_id=str(payload["id"]),
            type=EventType(payload["type"]),
            site_id=str(payload["site_id"]),
            camera_id=str(payload["camera_id"]),
            started_at=datetime.fromisoformat(payload["started_at"]),
            ended_at=datetime.fromisoformat(payload["ended_at"]),
            start_video_s=start_video_s,
            end_video_s=end_video_s,
            clock_source=ClockSource(payload["clock_source"]),
            model_name=str(payload["model"]["name"]),
            model_sha256=str(payload["model"]["sha256"]),
            rule_version=str(payload["rule_version"]),
            zone=payload.get("zone"),
            linked_event_ids=[str(x) for x in payload.get("linked_event_ids", [])],
            plate=None
            if plate is None
            else PlateRead(
                text=plate.get("text"),
                confidence=plate.get("confidence"),
                valid_uk_format=bool(plate.get("valid_uk_format")),
            ),
            files=[
                EvidenceFile(
                    path=base / f["name"],
                    role=str(f["role"]),
                    kind=FileKind(f["kind"]),
                    media_type=str(f["media_type"]),
                    sha256=str(f["sha256"]),
                    size=int(f["size"]),
                    captured_at=datetime.fromisoformat(f["captured_at"]),
                )
                for f in payload.get("files", [])
            ],
            details=dict(payload.get("details") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"not a valid event payload: {exc!r}") from exc
