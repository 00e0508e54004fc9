"""A request that fails validation, answered safely whatever it held.

FastAPI's own 422 answer echoes each offending value as it came: a lone surrogate (``"\\ud800"`` in the
JSON) cannot be encoded as UTF-8, so the answer itself failed (a 500), and the traceback logged the
whole body, a sign-in's password included; a 30 MB value was sent back as 30 MB.  Here each error keeps
FastAPI's shape (``loc``, ``msg``, ``type``, and ``input``/``ctx`` where safe), but:

- an echoed value is a short scalar only (text cut to :data:`ECHO_CHARS`; objects, arrays and long
  numbers are left out), and never the value of a secret field (:data:`SECRET_FIELDS`);
- every text in the answer (locations too: a ``details`` key is the client's) is made encodable, with
  any character UTF-8 cannot carry written as an escape (``\\ud800``), and cut to length.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ECHO_CHARS = 64  # an echoed value is cut to this many characters
TEXT_CHARS = 300  # a message, or a part of a location, is cut to this many characters
SECRET_FIELDS = frozenset({"password"})  # never echoed, even cut short


def safe_text(value: object, limit: int = TEXT_CHARS) -> str:
    """``value`` as text that UTF-8 can encode, at most ``limit`` characters (``…`` marks a cut)."""
    original = value if isinstance(value, str) else str(value)
    text = original[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    if len(original) > limit or len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _safe_scalar(value: object) -> tuple[bool, Any]:
    """(True, a JSON-safe short copy of ``value``) or (False, None) where it is not to be echoed."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, str):
        return True, safe_text(value, ECHO_CHARS)
    if isinstance(value, int | float):
        text = json.dumps(value)  # NaN and Infinity come out as JSON cannot carry them: sent as text
        if len(text) > ECHO_CHARS:
            return False, None
        return True, value if text not in ("NaN", "Infinity", "-Infinity") else text
    return False, None


def _ctx_value(value: object) -> Any:
    """A limit (a number) as it is; anything else (a pattern, an exception) as short text."""
    echo, safe = _safe_scalar(value)
    return safe if echo and not isinstance(safe, str) else safe_text(value)


def _safe_loc(loc: Iterable[object]) -> list[str | int]:
    return [part if isinstance(part, int) else safe_text(part, 100) for part in loc]


MAX_ERRORS = 20  # errors listed in one 422


def safe_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors (pydantic's or FastAPI's dicts) that can be sent and logged as they are: the
    first :data:`MAX_ERRORS`, then one entry saying how many more there were (a body of 90,000 unknown
    keys must not get a 9 MB answer)."""
    out: list[dict[str, Any]] = []
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        return [
            *safe_errors(errors[:MAX_ERRORS]),
            {"loc": ["body"], "msg": f"and {more} more error(s) not listed", "type": "too_many_errors"},
        ]
    for error in errors:
        loc = _safe_loc(error.get("loc", ()))
        entry: dict[str, Any] = {
            "loc": loc,
            "msg": safe_text(error.get("msg", "")),
            "type": safe_text(error.get("type", ""), 100),
        }
        secret = any(isinstance(p, str) and p.lower() in SECRET_FIELDS for p in loc)
        if "input" in error and not secret:
            echo, value = _safe_scalar(error["input"])
            if echo:
                entry["input"] = value
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping) and not secret:
            entry["ctx"] = {safe_text(k, 100): _ctx_value(v) for k, v in ctx.items()}
        out.append(entry)
    return out
