"""Tipwatch: the product CLI and demo; the only package that imports both detector and evidence_api."""
