"""One spooled event on disk: the files of its directory, reading it back, checking its evidence.

An event directory (``pending/<id>/``, ``sent/<id>/`` ...) holds::

    event.json        the ingest-contract payload (``detector.contract``); its presence marks the
                      directory complete
    edge.json         what only the edge box needs: video times, when it was spooled
    <name> ...        the evidence files, under the names event.json gives them
    sent_at.txt       when the API accepted it (in sent/)
    dead_reason.txt   why it was refused for good (in dead/)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.contract import SAFE_FILE_NAME, payload_to_event
from detector.storage import StorageError, sha256_file
from detector.types import Event

logger = logging.getLogger(__name__)

EVENT_JSON = "event.json"
EDGE_JSON = "edge.json"
DEAD_REASON = "dead_reason.txt"
SENT_AT = "sent_at.txt"
#: names an event directory keeps for itself; no evidence file may take one
RESERVED_NAMES = frozenset({EVENT_JSON, EDGE_JSON, DEAD_REASON, SENT_AT})


class SpoolError(StorageError):
    """A spool operation that cannot be done as asked (unknown id, bad event)."""


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """One evidence file of a spooled event, as ``event.json`` declares it."""

    name: str
    path: Path
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class SpooledEvent:
    """A complete event on disk: its contract payload and its files."""

    event_id: str
    path: Path
    payload: dict[str, Any]
    files: list[SpooledFile]

    def file_by_sha256(self, sha256: str) -> SpooledFile | None:
        for f in self.files:
            if f.sha256 == sha256:
                return f
        return None

    def verify(self) -> list[str]:
        """Problems with the files on disk (missing, wrong size, wrong hash); empty when intact."""
        problems: list[str] = []
        for f in self.files:
            if not f.path.is_file():
                problems.append(f"{f.name} is missing")
                continue
            digest, size = sha256_file(f.path)
            if size != f.size:
                problems.append(f"{f.name} is {size} bytes on disk, {f.size} declared")
            elif digest != f.sha256:
                problems.append(f"{f.name} SHA-256 on disk is {digest}, {f.sha256} declared (file changed)")
        return problems

    def to_event(self) -> Event:
        """The :class:`Event` back, with its video times from ``edge.json`` and paths in this directory.

        Raises :class:`~detector.contract.ContractError` if ``event.json`` is not a valid payload.
        """
        edge = read_json(self.path / EDGE_JSON) if (self.path / EDGE_JSON).is_file() else {}
        return payload_to_event(
            self.payload,
            self.path,
            start_video_s=float(edge.get("start_video_s", 0.0)),
            end_video_s=float(edge.get("end_video_s", 0.0)),
        )


@dataclass(slots=True)
class RecoveryReport:
    """What :meth:`~detector.sinks.spool.Spool.recover` did at start-up."""

    promoted: list[str] = field(default_factory=list)  # complete tmp entries moved to pending
    removed: list[str] = field(default_factory=list)  # half-written tmp entries deleted
    stray_files: int = 0  # leftover temporary files removed from pending/sent/dead


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; :class:`SpoolError` if the file holds anything else."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise SpoolError(f"{path} does not hold a JSON object")
    return data


def load_entry(directory: Path) -> SpooledEvent:
    """Read an event directory back.

    Raises ``FileNotFoundError`` without ``event.json``, :class:`SpoolError` when it names an unsafe
    file, and ``OSError``/``ValueError``/``KeyError``/``TypeError`` when it cannot be read.
    """
    payload = read_json(directory / EVENT_JSON)
    files = []
    for f in payload.get("files", []):
        name = str(f["name"])
        if not SAFE_FILE_NAME.match(name):
            raise SpoolError(f"{directory / EVENT_JSON} names an unsafe file {name!r}")
        files.append(
            SpooledFile(
                name=name,
                path=directory / name,
                sha256=str(f["sha256"]),
                size=int(f["size"]),
                media_type=str(f["media_type"]),
            )
        )
    return SpooledEvent(event_id=str(payload["id"]), path=directory, payload=payload, files=files)
