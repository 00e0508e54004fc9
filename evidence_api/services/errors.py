"""Domain errors; the API maps each to a 4xx status with its message."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Invalid(DomainError):
    status_code = 422


class TooLarge(DomainError):
    status_code = 413
