"""Tipwatch evidence API: events, stills, authorisations, review, cases, audit and bundles."""

__version__ = "0.1.0"
