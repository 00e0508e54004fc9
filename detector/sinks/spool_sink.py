"""The spool as the worker's first :class:`~detector.sinks.base.EventSink`.

For each finished event, in this order: its manifest is written beside its staged evidence
(``detector.sinks.staging``: from here on a kill loses nothing, a restart spools it), the spool
takes it (``Spool.put``: hard links, no second copy), and only once the spool holds every file is
the staged copy freed.  A low disk never makes an event vanish into the log: the spool keeps what
fits, and ``health.json`` (``detector.sinks.health``) says what is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from detector.sinks.health import SpoolHealth
from detector.sinks.spool import Spool
from detector.sinks.staging import write_manifest
from detector.storage import StorageError
from detector.types import Event

logger = logging.getLogger(__name__)


class Staging(Protocol):
    """Where an event's evidence waits until the spool holds its own copy (the evidence writer)."""

    staging_dir: Path

    def discard(self, event_key: str) -> None:
        """Delete an event's staged files."""
        ...


class SpoolSink:
    """Keep the event in the spool, then free its staging.

    A storage failure (not even the metadata fits, a file that changed since it was written) is
    logged, signalled in ``health.json`` and the staged files and manifest are left where they are
    (the next start spools them); the camera keeps running.
    """

    def __init__(
        self, spool: Spool, *, staging: Staging | None = None, health: SpoolHealth | None = None
    ) -> None:
        self.spool = spool
        self.staging = staging
        self.health = health

    def publish(self, event: Event) -> None:
        staged = None if self.staging is None else self.staging.staging_dir / event.event_id
        if staged is not None:
            try:
                write_manifest(event, staged)
            except StorageError as exc:
                logger.error("event %s: manifest not staged (%s); spooling it anyway", event.event_id, exc)
        try:
            path = self.spool.put(event)
        except StorageError as exc:
            logger.error(
                "event %s (%s) NOT spooled: %s; its evidence and metadata are kept in %s and spooled "
                "at the next start",
                event.event_id,
                event.type,
                exc,
                staged,
            )
            if self.health is not None:
                self.health.not_spooled(event.event_id, str(exc))
            return
        if self.spool.left_out(event.event_id) and not self.spool.holds_all(event):
            logger.error(
                "event %s (%s) spooled at %s without some of its files; the staged originals stay in %s",
                event.event_id,
                event.type,
                path,
                staged,
            )
            if self.health is not None:
                self.health.reduced(event.event_id, "spooled without some files: disk low")
            return
        if not self.spool.holds_all(event):
            # The same event processed again, already spooled (and perhaps sent) from its first
            # rendering: that one is kept, and it is what the API has; the id is stored once.
            logger.warning(
                "event %s processed again gave other bytes for %s than its spooled copy at %s, which is kept",
                event.event_id,
                ", ".join(
                    f.path.name for f in event.files if not self.spool.holds(event.event_id, [f.sha256])
                ),
                path,
            )
        if self.staging is not None:
            self.staging.discard(event.event_id)
        if self.health is not None:
            self.health.spooled(event.event_id)
        logger.info("event %s (%s) spooled at %s", event.event_id, event.type, path)

    def close(self) -> None:
        """Nothing to release: every put is durable when it returns."""
        return None
