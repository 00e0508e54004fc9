"""The edge's output seam: where finished events go.

An :class:`EventSink` takes each event the pipeline completes (``publish``) and releases what it
holds at shutdown (``close``).  The :class:`Dispatcher` fans one event out to every sink, in order,
and keeps going when one of them fails: a broken MQTT broker or webhook must not stop the spool
from keeping the evidence, nor the camera from running.  (The shape follows Frigate's
``Communicator``/``Dispatcher`` pair.)

Adding an output is one new module in ``detector/sinks/`` with a class that has ``publish`` and
``close``, and one line in :func:`detector.worker.build_sinks` that puts it in the list.

Example::

    dispatcher = Dispatcher([SpoolSink(spool, staging=writer), uploader])
    pipeline = CameraPipeline(site, camera, detector, evidence_writer=writer, sink=dispatcher)
    ...
    dispatcher.close()
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from detector.types import Event

logger = logging.getLogger(__name__)


@runtime_checkable
class EventSink(Protocol):
    """Somewhere a finished event goes (the spool, the uploader's wake-up; later MQTT, a webhook)."""

    def publish(self, event: Event) -> None:
        """Take one finished event (with its staged evidence files); called on the camera's thread.

        Should return quickly; raise only for a fault the sink cannot handle itself (the
        dispatcher logs it and carries on with the next sink).
        """
        ...

    def close(self) -> None:
        """Flush and release what the sink holds; called once when the worker stops."""
        ...


class Dispatcher:
    """Publishes each event to every sink in order; one failing sink never stops the others.

    Order matters: the spool comes first, so the evidence is durable (and its staged copy freed)
    before anything is told about the event.  The dispatcher is itself an :class:`EventSink`.
    """

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)

    def publish(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.publish(event)
            except Exception:
                # A sink's bug or outage costs that sink this event, never the camera or the others.
                logger.exception(
                    "sink %s failed on event %s (%s); continuing with the others",
                    type(sink).__name__,
                    event.event_id,
                    event.type,
                )

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                logger.exception("sink %s failed to close; closing the others", type(sink).__name__)
