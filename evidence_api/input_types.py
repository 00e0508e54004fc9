"""What any text, number or time sent to the API must be, before a field's own rules apply.

One set of checks, attached to fields as pydantic metadata (``Annotated[str, ..., SingleLine]``) so
every request model, query parameter and page form applies the same rules:

- text holds no control characters (NUL, ESC, DEL, the C1 range ...), no lone surrogates (a JSON
  ``\\ud800`` escape: it cannot be encoded as UTF-8, so PostgreSQL, a log line or the JSON answer would
  fail on it), no noncharacters and no bidirectional overrides (which reorder how evidence text reads);
  a single line also holds no line breaks or tabs, while notes and reasons may;
- a time, whatever its offset, can be expressed in UTC (``0001-01-01T00:00:00+01:00`` cannot);
- a date lies between :data:`EARLIEST_DATE` and :data:`LATEST_DATE` (a record's expiry is computed
  from it: year 9999 plus three months overflows).

Numbers: ``allow_inf_nan=False`` on the request models (``schemas.InputModel``) refuses ``NaN`` and
``Infinity``, and an integer in free-form data must fit in 64 bits (:data:`Int64`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from pydantic import AfterValidator, BeforeValidator

# C0 controls but tab, LF and CR; DEL and C1; surrogates; bidi embeddings, overrides and isolates;
# the noncharacters U+FFFE and U+FFFF
_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_FORBIDDEN_IN_TEXT = re.compile(f"[{_NEVER}]")
_FORBIDDEN_IN_LINE = re.compile(f"[{_NEVER}\t\n\r\u2028\u2029]")

EARLIEST_DATE = date(2000, 1, 1)  # before any camera this service runs, or any record it keeps
LATEST_DATE = date(2100, 12, 31)  # far beyond any review or expiry date, well short of year 9999
EPOCH_DATE = date(1970, 1, 1)  # where a device clock that was never set starts


def forbidden_character(value: str, *, multiline: bool) -> str | None:
    """A description of the first character ``value`` may not hold (``"U+0000 at position 3"``), or
    None; ``multiline`` allows tabs and line breaks."""
    found = (_FORBIDDEN_IN_TEXT if multiline else _FORBIDDEN_IN_LINE).search(value)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()}"


def _check_line(value: str) -> str:
    bad = forbidden_character(value, multiline=False)
    if bad is not None:
        raise ValueError(f"control or invisible character {bad}: text must be one line of printable text")
    return value


def _check_text(value: str) -> str:
    bad = forbidden_character(value, multiline=True)
    if bad is not None:
        raise ValueError(f"control or invisible character {bad}: text must be printable")
    return value


def _check_utc(value: datetime) -> datetime:
    """The value unchanged (its offset is part of what was sent, and hashed), once it is known to have a
    UTC equivalent."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the time is out of range: it has no UTC equivalent") from exc
    return value


def _check_box_clock_time(value: datetime) -> datetime:
    utc = _check_utc(value).astimezone(UTC)
    if not EPOCH_DATE <= utc.date() <= LATEST_DATE:
        raise ValueError(f"the time must lie between {EPOCH_DATE} and {LATEST_DATE}")
    return value


def _check_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"the date must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


def _check_int64(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("the integer does not fit in 64 bits")
    return value


#: one line of printable text: names, keys, titles, plate text (``Annotated[str, ..., SingleLine]``)
SingleLine = AfterValidator(_check_line)
#: printable text that may hold line breaks and tabs: notes, reasons, descriptions, passwords
Text = AfterValidator(_check_text)
#: a timezone-aware time that can be converted to UTC (``Annotated[AwareDatetime, InUtcRange]``)
InUtcRange = AfterValidator(_check_utc)
#: a timezone-aware time an edge box reports about itself, by its own clock (``Annotated[AwareDatetime,
#: BoxClockTime]``): from 1970, where a box without a battery-backed clock starts, so a report can show
#: the clock is wrong; evidence times are bounded more tightly (``services.ingest.CaptureWindow``)
BoxClockTime = AfterValidator(_check_box_clock_time)
#: a date in the window this service's records can hold (``Annotated[date, PlausibleDate]``)
PlausibleDate = AfterValidator(_check_date)
#: a JSON integer that a 64-bit reader (PostgreSQL, a spreadsheet) can hold, checked before a union of
#: number types could read it as an approximate float
Int64 = BeforeValidator(_check_int64)
