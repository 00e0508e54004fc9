"""Reading members of an untrusted zip with memory bounded before a byte is inflated.

A zip entry says how large it is unpacked; a hostile one lies, or tells the truth about a megabyte that
inflates to half a gigabyte.  So what the verifier reads into memory (the manifest, the signature, the
public key, SHA256SUMS, each line of the audit extract) is refused unread when its entry declares more
than that member may hold, read with a hard cap, and refused when it unpacks to more than it declared.
Everything else is streamed in 1 MiB chunks (:data:`CHUNK`) and never held whole.

Standard library only, like :mod:`evidence_api.bundle.verify`, which imports it.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath

CHUNK = 1 << 20
# A JSON document's values cost ~70 bytes of memory each whatever their size in the file, so a document
# of tiny values ("[{},{},...]") would cost twenty times its length: at least this many bytes a value.
# (Manifests the builder writes run at about 30.)
MIN_JSON_BYTES_PER_VALUE = 16


class MemberRefused(ValueError):
    """A zip member was not read (or not read to the end): the message says which and why."""


def unsafe_member_name(name: str) -> str | None:
    """Why a zip member name is unsafe to extract, or None when it is fine."""
    if not name:
        return "empty name"
    if "\\" in name:
        return "backslash in name"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "control character in name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in name.split("/")) or ".." in parts:
        return "path traversal ('..' or '.')"
    if name.endswith("/"):
        return "directory entry"
    return None


def _refuse_declared(info: zipfile.ZipInfo, limit: int, what: str) -> None:
    if info.file_size > limit:
        raise MemberRefused(
            f"{info.filename} declares {info.file_size:,} bytes unpacked, more than {limit:,}, the most "
            f"{what} may hold: refused unread (a zip bomb?)"
        )


def member_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes in chunks, never more in all than its entry declares."""
    size = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise MemberRefused(
                        f"{info.filename} unpacks to more than the {info.file_size:,} bytes its zip entry "
                        "declares: refused"
                    )
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        # zipfile stops at the declared size, and the CRC of what it read then fails
        raise MemberRefused(
            f"{info.filename} is corrupt, or unpacks to more than the {info.file_size:,} bytes its zip entry "
            f"declares ({exc}): refused"
        ) from exc
    if size != info.file_size:
        raise MemberRefused(
            f"{info.filename} unpacks to {size:,} bytes, not the {info.file_size:,} it declares"
        )


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int, what: str) -> bytes:
    """The whole member, at most ``limit`` bytes (``what`` names it in the refusal: "a manifest")."""
    _refuse_declared(info, limit, what)
    return b"".join(member_chunks(zf, info))


def member_lines(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_line: int, what: str) -> Iterator[bytes]:
    """The member's lines (without their line ends), one at a time; a line over ``max_line`` bytes is
    refused, so memory is bounded by ``max_line`` however long the member."""
    pending = b""
    for chunk in member_chunks(zf, info):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in (*lines, pending):
            if len(line) > max_line:
                raise MemberRefused(
                    f"{info.filename} has a line longer than {max_line:,} bytes, the most {what} may hold"
                )
        yield from lines
    if pending:
        yield pending


def load_json(data: bytes, what: str) -> object:
    """Parse JSON that was read with a cap, refusing first a document built of so many tiny values that
    parsing it would cost many times its size in memory."""
    values = (
        data.count(b",") + data.count(b"[") + data.count(b"{") + 1
    )  # at least one per value, quoted or not
    if values * MIN_JSON_BYTES_PER_VALUE > len(data) and len(data) > CHUNK:
        raise MemberRefused(
            f"{what} holds {values:,} JSON values in {len(data):,} bytes, too dense to be one a verifier "
            "parses (it would take many times its size in memory): refused"
        )
    return json.loads(data)
