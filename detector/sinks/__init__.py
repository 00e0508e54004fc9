"""Where finished events go: the :class:`EventSink` protocol, the fan-out :class:`Dispatcher`, and the sinks.

- ``spool.py`` — the durable on-disk outbox (always the first sink);
- ``uploader.py`` — idempotent upload of the spool to the evidence API, woken by each event.

A new output (an MQTT publisher, a webhook, a health file) is one module here with a class that
has ``publish(event)`` and ``close()``, and one line in ``detector.worker.build_sinks``.
"""

from detector.sinks.base import Dispatcher, EventSink

__all__ = ["Dispatcher", "EventSink"]
