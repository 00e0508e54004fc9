"""A corpus of hostile requests: each must be refused with a 4xx and leave nothing behind.

Built from a valid request of each kind with one thing broken: control characters and lone surrogates
in every text field, non-finite and huge numbers, impossible and implausible times, wrong types, deep
nesting, overlong text, bad UTF-8, oversized bodies, missing or wrong content types, and files that are
cut short, mislabelled, polyglots, or claim more pixels than they hold.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from evidence_testutil import event_body
from PIL import Image

# one of each kind: C0 (NUL, ESC), DEL, C1 (NEL), lone surrogates (high, low), a bidi override,
# a noncharacter
BAD_CHARACTERS = {
    "nul": "\x00",
    "esc": "\x1b",
    "del": "\x7f",
    "c1-nel": "\x85",
    "surrogate-high": "\ud800",
    "surrogate-low": "\udfff",
    "bidi-override": "\u202e",
    "noncharacter": "\uffff",
}
# where text goes in an event body; each gets every bad character
EVENT_TEXT_FIELDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "zone": lambda b, c: b.__setitem__("zone", f"verge{c}"),
    "rule_version": lambda b, c: b.__setitem__("rule_version", f"rules/{c}1"),
    "model.name": lambda b, c: b["model"].__setitem__("name", f"ssd{c}"),
    "plate.text": lambda b, c: b["plate"].__setitem__("text", f"AB{c}12"),
    "details.key": lambda b, c: b["details"].__setitem__(f"note{c}", 1),
    "details.value": lambda b, c: b["details"].__setitem__("note", f"left{c}bags"),
    "site_id": lambda b, c: b.__setitem__("site_id", f"lay-by{c}"),
    "files.name": lambda b, c: b["files"][0].__setitem__("name", f"act{c}.jpg"),
}


@dataclass(frozen=True)
class Hostile:
    """One request.  ``declare``: the bytes of a file whose event is posted first (then ``path`` may
    use ``{event}``/``{sha}``); ``{known}`` in ``path`` is a stored event's id."""

    name: str
    method: str
    path: str
    role: str | None = "device"
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    declare: bytes | None = None
    declare_as: str = "image/jpeg"
    expect: frozenset[int] | None = None  # default: any 4xx


def to_json(value: Any) -> bytes:
    """JSON as a hostile client writes it: NaN/Infinity allowed, lone surrogates as ``\\ud800``."""
    return json.dumps(value, allow_nan=True).encode()


def _json(name: str, path: str, body: Any, role: str | None = "device", **kw: Any) -> Hostile:
    raw = body if isinstance(body, bytes) else to_json(body)
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return Hostile(name, "POST", path, role, content=raw, headers=headers, **kw)


def _event(**changes: Any) -> dict[str, Any]:
    body = event_body({"act.jpg": ("act", b"\xff\xd8\xff placeholder")})
    body.update(changes)
    return body


def event_text_cases() -> Iterator[Hostile]:
    for field_name, put in EVENT_TEXT_FIELDS.items():
        for char_name, char in BAD_CHARACTERS.items():
            body = _event()
            put(body, char)
            yield _json(f"event {field_name} with {char_name}", "/api/v1/events", body)
    for field_name in ("zone", "rule_version", "model.name", "plate.text", "details.key"):
        for char_name, char in {"newline": "\n", "tab": "\t", "line-separator": "\u2028"}.items():
            body = _event()
            EVENT_TEXT_FIELDS[field_name](body, char)
            yield _json(f"event {field_name} (one line) with {char_name}", "/api/v1/events", body)


def event_number_cases() -> Iterator[Hostile]:
    tokens = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e400": "1e400"}
    for name, token in tokens.items():
        for where, marker in (("details value", "5120"), ("plate confidence", "0.91")):
            raw = to_json(_event()).replace(marker.encode(), token.encode(), 1)
            yield _json(f"{where} {name}", "/api/v1/events", raw)
    for value in (10**30, -(10**30), 2**63):
        body = _event()
        body["details"]["deposit_area_px"] = value
        yield _json(f"details integer {value:.3g}", "/api/v1/events", body)
    for confidence in (-0.5, 1.5):
        body = _event()
        body["plate"]["confidence"] = confidence
        yield _json(f"plate confidence {confidence}", "/api/v1/events", body)
    for name, token in {"NaN": "NaN", "1e400": "1e400", "2^80": str(2**80), "-1": "-1", "1.5": "1.5"}.items():
        body = _event()
        raw = to_json(body).replace(
            f'"size": {body["files"][0]["size"]}'.encode(), f'"size": {token}'.encode()
        )
        yield _json(f"file size {name}", "/api/v1/events", raw)
    yield _json("a 5,000-digit integer", "/api/v1/events", to_json(_event()).replace(b"5120", b"9" * 5000))


def event_time_cases() -> Iterator[Hostile]:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    starts = {
        "year 1 at +01:00 (no UTC equivalent)": "0001-01-01T00:00:00+01:00",
        "year 1": "0001-01-01T00:00:00+00:00",
        "year 9999 at -01:00 (no UTC equivalent)": "9999-12-31T23:59:59-01:00",
        "year 9999": "9999-12-31T23:00:00+00:00",
        "1969": "1969-12-31T23:59:59+00:00",
        "year 5138": "5138-11-16T09:46:40+00:00",
        "1999": "1999-12-31T23:59:59+00:00",
        "an hour ahead": future,
        "naive": "2026-01-01T00:00:00",
        "not a time": "yesterday",
        "a number": 1e20,
    }
    for name, value in starts.items():
        # ended_at the same, so only the time itself, not the order, can refuse it
        yield _json(f"started_at {name}", "/api/v1/events", _event(started_at=value, ended_at=value))
    for name, value in {"year 1": "0001-01-01T00:00:00+01:00", "an hour ahead": future}.items():
        body = _event()
        body["files"][0]["captured_at"] = value
        yield _json(f"captured_at {name}", "/api/v1/events", body)


def event_shape_cases() -> Iterator[Hostile]:
    deep = b'{"details": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    shallow_deep = to_json(_event()).replace(b'"people": 1', b'"people": ' + b"[" * 500 + b"]" * 500)
    many = _event()
    many["details"] = {f"k{i}": i for i in range(101)}
    cases: dict[str, Any] = {
        "details value of 1,001 characters": _event(details={"note": "x" * 1001}),
        "details key of 101 characters": _event(details={"k" * 101: 1}),
        "details with 101 entries": many,
        "details value an object": _event(details={"a": {"b": 1}}),
        "details value a list": _event(details={"a": [1, 2]}),
        "details value null": _event(details={"a": None}),
        "details a list": _event(details=[1, 2]),
        "zone of 201 characters": _event(zone="z" * 201),
        "rule_version of 10,000 characters": _event(rule_version="r" * 10_000),
        "101 linked events": _event(linked_event_ids=[str(i).zfill(32) for i in range(101)]),
        "id a number": _event(id=12345),
        "files an object": _event(files={"name": "act.jpg"}),
        "an unknown field": _event(extra_field=1),
        "body a list": [1, 2, 3],
        "body a string": "event",
        "body null": None,
        "deep nesting (100,000 levels)": deep,
        "deep nesting (500 levels) in details": shallow_deep,
        "bad UTF-8 bytes": b'{"zone": "\xff\xfe\xc3"}',
        "UTF-8 of a surrogate (CESU)": to_json(_event()).replace(b'"verge"', b'"\xed\xa0\x80"'),
        "truncated JSON": to_json(_event())[:-20],
        "empty body": b"",
    }
    for name, body in cases.items():
        yield _json(f"event {name}", "/api/v1/events", body)
    raw = to_json(_event())
    yield Hostile(
        "event as text/plain", "POST", "/api/v1/events", content=raw, headers={"Content-Type": "text/plain"}
    )
    yield Hostile("event with no Content-Type", "POST", "/api/v1/events", content=raw)
    yield Hostile("event as a form", "POST", "/api/v1/events", form={"id": "x"}, expect=frozenset({422}))


def body_size_cases(settings: Any) -> Iterator[Hostile]:
    cap = settings.max_request_body_bytes
    padded = to_json(_event()) + b" " * cap  # valid JSON, but over the cap
    yield _json("event body over the cap", "/api/v1/events", padded, expect=frozenset({413}))
    yield _json(
        "32 MB invalid body", "/api/v1/events", b'{"zone": "' + b"x" * 32_000_000, expect=frozenset({413})
    )
    yield _json(
        "30 MB details value",
        "/api/v1/events",
        to_json(_event(details={"n": "x" * 30_000_000})),
        expect=frozenset({413}),
    )
    yield _json(
        "anonymous event body over the cap", "/api/v1/events", padded, role=None, expect=frozenset({413})
    )
    yield _json("anonymous event", "/api/v1/events", _event(), role=None, expect=frozenset({401}))
    yield _json(
        "unknown token with a body", "/api/v1/events", _event(), role="nobody", expect=frozenset({401})
    )
    login_cap = settings.max_login_body_bytes
    yield _json(
        "sign-in body over its cap",
        "/api/v1/auth/login",
        {"username": "officer", "password": "p" * login_cap},
        role=None,
        expect=frozenset({413}),
    )
    yield Hostile(
        "sign-in page form over its cap",
        "POST",
        "/login",
        role=None,
        form={"username": "officer", "password": "p" * login_cap},
        expect=frozenset({413}),
    )


def sign_in_cases() -> Iterator[Hostile]:
    login = "/api/v1/auth/login"
    bodies: dict[str, Any] = {
        "username with NUL": {"username": "officer\x00", "password": "x"},
        "username with a surrogate": {"username": "officer\ud800", "password": "x"},
        "password with a surrogate": {"username": "officer", "password": "secret\ud800"},
        "password with NUL": {"username": "officer", "password": "secret\x00"},
        "password of 1,001 characters": {"username": "officer", "password": "p" * 1001},
        "username a number": {"username": 1, "password": "x"},
        "password null": {"username": "officer", "password": None},
    }
    for name, body in bodies.items():
        yield _json(f"sign-in {name}", login, body, role=None)
    for name, form in {
        "username with NUL": {"username": "officer\x00", "password": "x", "csrf_token": "t"},
        "password with ESC": {"username": "officer", "password": "x\x1b", "csrf_token": "t"},
    }.items():
        yield Hostile(f"sign-in page {name}", "POST", "/login", role=None, form=form)


def staff_cases() -> Iterator[Hostile]:
    """Bodies for the staff routes, against a stored event (``{known}``)."""
    review = "/api/v1/events/{known}/review"
    for char_name in ("nul", "surrogate-high", "esc"):
        c = BAD_CHARACTERS[char_name]
        yield _json(
            f"review reason with {char_name}", review, {"action": "dismiss", "reason": f"x{c}"}, "officer"
        )
        yield _json(
            f"legal override with {char_name}",
            "/api/v1/events/{known}/legal-override",
            {"reasons": f"reasons enough{c}"},
            "legal",
        )
        yield _json(f"case title with {char_name}", "/api/v1/cases", {"title": f"Lay-by{c}"}, "officer")
        yield _json(
            f"case notes with {char_name}", "/api/v1/cases", {"title": "Lay-by", "notes": f"n{c}"}, "officer"
        )
        yield _json(
            f"site name with {char_name}",
            "/api/v1/sites",
            {"key": "s-1", "name": f"Site{c}", "land_type": "highway"},
            "admin",
        )
        yield _json(
            f"camera identity with {char_name}",
            "/api/v1/cameras",
            {"key": "c-1", "site_key": "lay-by-a123", "device_identity": f"id{c}"},
            "admin",
        )
    yield _json(
        "site latitude NaN",
        "/api/v1/sites",
        b'{"key": "s-1", "name": "S", "land_type": "highway", "latitude": NaN}',
        "admin",
    )
    authorisation = {"kind": "overt", "urn": "U-1", "title": "Overt", "camera_keys": ["cam-1"]}
    extras: dict[str, dict[str, Any]] = {
        "title with NUL": {"title": "Overt\x00"},
        "granted on year 1": {"granted_on": "0001-01-01"},
        "magistrate date 9999-12-31": {
            "kind": "ripa_directed_surveillance",
            "magistrate_date": "9999-12-31",
            "magistrate_decision": "approved",
            "offence_min_months": 24,
        },
        "review date 1969": {"review_date": "1969-07-20"},
    }
    for name, extra in extras.items():
        yield _json(f"authorisation {name}", "/api/v1/authorisations", {**authorisation, **extra}, "admin")


def _jpeg(size: tuple[int, int], **options: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(out, "JPEG", **options)
    return out.getvalue()


def _with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at > 0:
            return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]
    raise AssertionError("no frame header")


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.txt", "not evidence " * 50)
    return out.getvalue()


def _progressive(jpeg: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, "JPEG", progressive=True, quality=85)
    return out.getvalue()


def file_cases(media: dict[str, bytes], settings: Any) -> Iterator[Hostile]:
    bus, clip = media["bus"], media["clip"]
    files: dict[str, tuple[bytes, str]] = {
        "still cut at 35 %": (bus[: len(bus) * 35 // 100], "image/jpeg"),
        "still cut at 99 %": (bus[: len(bus) * 99 // 100], "image/jpeg"),
        "still without its end marker": (bus[:-2], "image/jpeg"),
        # cut short, then given an end-of-image marker: libjpeg paints the missing part grey
        "still cut at 35 % then an end marker": (bus[: len(bus) * 35 // 100] + b"\xff\xd9", "image/jpeg"),
        "still cut at 80 % then an end marker": (bus[: len(bus) * 80 // 100] + b"\xff\xd9", "image/jpeg"),
        "progressive still cut at 50 % and given an end marker": (
            _progressive(bus)[: len(_progressive(bus)) // 2] + b"\xff\xd9",
            "image/jpeg",
        ),
        # a small picture whose frame header claims more pixels than its data holds
        "64x48 still claiming 600x600": (_with_frame_size(_jpeg((64, 48)), 600, 600), "image/jpeg"),
        "still of its first 600 bytes": (bus[:600], "image/jpeg"),
        "still with a zip appended": (bus + _zip(), "image/jpeg"),
        "still with junk appended": (bus + b"\0" * 64, "image/jpeg"),
        "zip behind FF D8 FF": (b"\xff\xd8\xff" + _zip(), "image/jpeg"),
        "start-of-image alone": (b"\xff\xd8\xff", "image/jpeg"),
        "progressive still claiming 32000x32000": (
            _with_frame_size(_jpeg((16, 16), progressive=True, quality=5), 32000, 32000),
            "image/jpeg",
        ),
        "baseline still claiming 65535x65535": (
            _with_frame_size(_jpeg((16, 16)), 65535, 65535),
            "image/jpeg",
        ),
        "still claiming width 0": (_with_frame_size(_jpeg((16, 16)), 0, 16), "image/jpeg"),
        "GIF labelled JPEG": (b"GIF89a" + bus[6:], "image/jpeg"),
        "PNG labelled JPEG": (b"\x89PNG\r\n\x1a\n" + bus[8:], "image/jpeg"),
        "clip labelled JPEG": (clip, "image/jpeg"),
        "still labelled MP4": (bus, "video/mp4"),
        "clip cut at 50 %": (clip[: len(clip) // 2], "video/mp4"),
        "clip with a zip appended": (clip + _zip(), "video/mp4"),
        "clip of its ftyp box alone": (clip[: struct.unpack(">I", clip[:4])[0]], "video/mp4"),
        "ftyp then junk": (b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\xde\xad" * 100, "video/mp4"),
    }
    for name, (data, media_type) in files.items():
        yield Hostile(
            f"file: {name}",
            "PUT",
            "/api/v1/events/{event}/files/{sha}",
            content=data,
            headers={"Content-Type": media_type},
            declare=data,
            declare_as=media_type,
        )
    for name, ct in {
        "no Content-Type": None,
        "Content-Type text/plain": "text/plain",
        "Content-Type video/mp4": "video/mp4",
        "Content-Type application/octet-stream": "application/octet-stream",
        "empty Content-Type": "",
    }.items():
        yield Hostile(
            f"file: valid still with {name}",
            "PUT",
            "/api/v1/events/{event}/files/{sha}",
            content=bus,
            headers={} if ct is None else {"Content-Type": ct},
            declare=bus,
        )
    yield Hostile(
        "file: other bytes than declared",
        "PUT",
        "/api/v1/events/{event}/files/{sha}",
        content=media["zidane"],
        headers={"Content-Type": "image/jpeg"},
        declare=bus,
    )
    # the known event stored zidane.jpg: the same bytes cannot be declared as something else
    yield _json(
        "a stored still declared as a clip",
        "/api/v1/events",
        event_body({"c.mp4": ("clip", media["zidane"])}),
    )
    resized = event_body({"a.jpg": ("act", media["zidane"])})
    resized["files"][0]["size"] += 1
    yield _json("a stored still declared with another size", "/api/v1/events", resized)
    over = max(settings.max_image_bytes, settings.max_clip_bytes) + 1
    yield Hostile(
        "file: over every file limit",
        "PUT",
        "/api/v1/events/{event}/files/{sha}",
        content=b"\xff\xd8\xff" + b"\0" * over,
        headers={"Content-Type": "image/jpeg"},
        declare=bus,
        expect=frozenset({413}),
    )
    yield Hostile(
        "file: anonymous upload",
        "PUT",
        "/api/v1/events/{event}/files/{sha}",
        role=None,
        content=bus,
        headers={"Content-Type": "image/jpeg"},
        declare=bus,
        expect=frozenset({401}),
    )


def controls(media: dict[str, bytes]) -> list[Hostile]:
    """The valid requests the corpus breaks, one per kind: each must succeed (sent after the corpus), so
    a refusal in the corpus is the broken part's doing."""
    ok = frozenset({200, 201})
    authorisation = {"kind": "overt", "urn": "U-1", "title": "Overt", "camera_keys": ["cam-1"]}
    return [
        _json("event", "/api/v1/events", _event(), expect=ok),
        _json(
            "sign-in",
            "/api/v1/auth/login",
            {"username": "officer", "password": "{password}"},
            None,
            expect=ok,
        ),
        _json(
            "review",
            "/api/v1/events/{known}/review",
            {"action": "dismiss", "reason": "x"},
            "officer",
            expect=ok,
        ),
        _json(
            "override",
            "/api/v1/events/{known}/legal-override",
            {"reasons": "reasons enough"},
            "legal",
            expect=ok,
        ),
        _json("case", "/api/v1/cases", {"title": "Lay-by", "notes": "n"}, "officer", expect=ok),
        _json(
            "site",
            "/api/v1/sites",
            {"key": "s-1", "name": "Site", "land_type": "highway"},
            "admin",
            expect=ok,
        ),
        _json(
            "camera",
            "/api/v1/cameras",
            {"key": "c-1", "site_key": "lay-by-a123", "device_identity": "id"},
            "admin",
            expect=ok,
        ),
        _json("authorisation", "/api/v1/authorisations", authorisation, "admin", expect=ok),
        Hostile(
            "still",
            "PUT",
            "/api/v1/events/{event}/files/{sha}",
            content=media["bus"],
            headers={"Content-Type": "image/jpeg"},
            declare=media["bus"],
            expect=ok,
        ),
        Hostile(
            "clip",
            "PUT",
            "/api/v1/events/{event}/files/{sha}",
            content=media["clip"],
            headers={"Content-Type": "video/mp4"},
            declare=media["clip"],
            declare_as="video/mp4",
            expect=ok,
        ),
    ]


def corpus(media: dict[str, bytes], settings: Any) -> list[Hostile]:
    return [
        *event_text_cases(),
        *event_number_cases(),
        *event_time_cases(),
        *event_shape_cases(),
        *body_size_cases(settings),
        *sign_in_cases(),
        *staff_cases(),
        *file_cases(media, settings),
    ]
