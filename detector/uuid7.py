"""UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, version 7, variant 10, random bits.

Minted at the edge as the event's idempotency key; ids sort by creation time.  Within one process
ids minted in the same millisecond stay increasing (the 12-bit ``rand_a`` field is used as a
counter seeded at random, RFC 9562 §6.2 method 1).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime

_lock = threading.Lock()
_last_ms = -1
_counter = 0

UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def uuid7(now_ns: int | None = None) -> uuid.UUID:
    """A new UUIDv7; ``now_ns`` (Unix nanoseconds) is for tests and replays."""
    global _last_ms, _counter
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _lock:
        if ms <= _last_ms:
            # Same millisecond (or the clock stepped back): keep ids increasing.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = secrets.randbits(11)
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = secrets.randbits(11)  # leave headroom for the counter
        rand_a = _counter
    rand_b = secrets.randbits(62)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_str(now_ns: int | None = None) -> str:
    return str(uuid7(now_ns))


def is_uuid7(value: str) -> bool:
    """True for a canonical lower-case UUIDv7 string."""
    return bool(UUID7_RE.match(value))


def uuid7_time(value: str | uuid.UUID) -> datetime:
    """The creation time encoded in a UUIDv7 (millisecond precision, UTC)."""
    u = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    return datetime.fromtimestamp((u.int >> 80) / 1000.0, tz=UTC)
