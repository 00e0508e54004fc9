"""Domain errors: one family, each with the HTTP status it means.

Services raise them with a message a person can act on; the JSON routes answer ``{"detail": message}``
with the status (422 in FastAPI's own validation shape), and the review pages show the message on a
page with the same status (see :func:`evidence_api.main.add_error_handlers`).
"""

from __future__ import annotations


class DomainError(Exception):
    """Something asked of the service cannot be done; the message says why and what to do."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The request clashes with the state of the records (e.g. a confirmed event reviewed again)."""

    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Invalid(DomainError):
    status_code = 422


class ClockAhead(Invalid):
    """An event's time lies in this server's future: the edge box's clock runs fast.  A 422 of type
    ``clock_ahead`` with ``Retry-After`` (seconds until real time reaches it): the edge keeps the
    event and retries rather than giving it up."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ClockNotSet(Invalid):
    """An event's time lies before the earliest this service accepts: the edge box's clock was never
    set (a box without a battery-backed clock boots in 1970).  A 422 of type ``clock_not_set``: the
    edge holds the event rather than giving it up."""


class TooLarge(DomainError):
    status_code = 413


class BundleExportError(Conflict):
    """A case cannot be exported as asked (nothing confirmed, no signing key, a master that no longer
    matches its hash, ...); the message says what to fix."""


class CaseNotFound(NotFound, BundleExportError):
    """No case with the id or reference given (404; an export error too, for the export's callers)."""
