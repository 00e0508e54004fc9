"""What makes an event the same event: a deterministic event id, and the identity of the footage.

The event id is the idempotency key of the ingest contract.  Minting it at random (a UUIDv7) made
re-processing the same footage store every incident a second time under a new id.  It is now
derived from what the event *is*, so the same incident seen again in the same footage gets the
same id and the API answers "already stored":

    site · camera · footage identity · event type · first capture time (µs) · first video time ·
    the incident's ordinal in its run · rule version

**Scheme: UUIDv8 (RFC 9562 §5.8), time-prefixed.**  The first 48 bits are the Unix milliseconds of
the incident's first capture time, exactly where a UUIDv7 keeps its timestamp, so ids still sort by
when things happened (the spool uploads oldest first and reports the age of its oldest event from
the id, :func:`event_time`); the remaining 74 free bits are the first bits of the SHA-256 of the
identity fields above, namespaced by :data:`EVENT_ID_NAMESPACE`.  UUIDv5 was the other candidate: it
is deterministic too, but SHA-1 based and unordered, which would have cost the time order every
reader of the spool relies on.  74 bits of SHA-256 make an accidental collision between distinct
incidents of the *same camera in the same millisecond* the only way to clash, at odds of 2^-74.

Distinct incidents stay distinct: a live stream's capture times are this box's clock at arrival,
so two incidents (or the same place watched again after a restart) never share a first capture
time *and* ordinal; within one run the ordinal (the rules' visit or incident number) separates two
incidents that start on the same frame.  The same file processed again gives the same frames, the
same tracker and rule decisions, and so the same ordinals, times and ids; the evidence bytes are
deterministic too (``detector.clips``), so the whole payload repeats and ingest answers 200.  The
same footage given another ``--start-time`` is a different claim about when it happened, and gets
other ids.

**Footage identity** (:func:`footage_identity`): a file is its content (SHA-256 of every byte, so
a copy or a renamed file is the same footage and a re-export is not); an image folder is the names
and SHA-256 of its images, in order; a live stream is its URL without credentials.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from detector.storage import sha256_file

logger = logging.getLogger(__name__)

#: names the scheme inside the hash: a future scheme must change it, never reuse it
EVENT_ID_NAMESPACE = "tipwatch.event-id/1"

_TIME_ORDERED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[78][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def event_id(
    *,
    site_id: str,
    camera_id: str,
    footage_id: str,
    event_type: str,
    started_at: datetime,
    started_video_s: float,
    ordinal: int,
    rule_version: str,
) -> str:
    """The deterministic id of an incident (canonical lower-case UUIDv8 text; see the module).

    ``started_at`` must be timezone-aware; ``ordinal`` is the rules' number for the visit or
    incident in this run of the footage.
    """
    if started_at.tzinfo is None:
        raise ValueError(f"naive capture time {started_at!r}: event ids need UTC with an offset")
    at = started_at.astimezone(UTC)
    identity = json.dumps(
        [
            EVENT_ID_NAMESPACE,
            site_id,
            camera_id,
            footage_id,
            str(event_type),
            at.isoformat(timespec="microseconds"),
            f"{started_video_s:.6f}",
            int(ordinal),
            rule_version,
        ],
        separators=(",", ":"),
    )
    digest = int.from_bytes(hashlib.sha256(identity.encode()).digest(), "big")
    ms = max(0, int(at.timestamp() * 1000)) & 0xFFFF_FFFF_FFFF
    rand_a = digest >> (256 - 12)
    rand_b = (digest >> (256 - 12 - 62)) & ((1 << 62) - 1)
    value = ms << 80 | 0x8 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def is_time_ordered(value: str) -> bool:
    """True for an id whose first 48 bits are its time: a UUIDv7 (older events) or this UUIDv8."""
    return bool(_TIME_ORDERED.match(value))


def event_time(value: str) -> datetime:
    """The time in the first 48 bits of a time-ordered id (millisecond precision, UTC)."""
    return datetime.fromtimestamp((uuid.UUID(value).int >> 80) / 1000.0, tz=UTC)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path, parts.query, ""))


def footage_identity(spec: str, *, stream: bool) -> str:
    """What the footage named by ``spec`` (a file, an image folder or a stream URL) is.

    Hashing a file reads it once, which costs a small fraction of decoding it.  Raises ``OSError``
    if a file or folder cannot be read.
    """
    if stream:
        return "stream:" + _without_credentials(spec)
    path = Path(spec)
    if path.is_dir():
        from detector.sources import IMAGE_SUFFIXES

        digest = hashlib.sha256()
        for image in sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            digest.update(f"{image.name}\0{sha256_file(image)[0]}\n".encode())
        return "folder:" + digest.hexdigest()
    return "file:" + sha256_file(path)[0]
