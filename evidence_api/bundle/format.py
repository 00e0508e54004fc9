"""The bundle format in one place: file names, canonical JSON, and the audit log's hash scheme.

Three parties must agree on these, byte for byte: the builder that writes a bundle, the offline verifier
that checks it, and the live audit log (:mod:`evidence_api.services.audit`) whose entries a bundle
carries.  If the log and the verifier ever hashed an entry differently, every valid bundle would fail
verification; so both import the scheme from here.

Standard library only, like :mod:`evidence_api.bundle.verify`, which imports it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

BUNDLE_FORMAT = "tipwatch-bundle/1"

# -- file names inside a bundle ---------------------------------------------------------------------
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PUBLIC_KEY_NAME = "signing/public_key.pem"
FINGERPRINT_NAME = "signing/fingerprint.txt"
SUMS_NAME = "SHA256SUMS"
AUDIT_EXTRACT_NAME = "continuity/audit_extract.jsonl"
AUTHORISATIONS_NAME = "authorisations/authorisations.json"
OVERRIDES_NAME = "authorisations/overrides.json"
EXHIBIT_LIST_HTML_NAME = "documents/exhibit_list.html"
EXHIBIT_LIST_PDF_NAME = "documents/exhibit_list.pdf"
STATEMENT_HTML_NAME = "documents/statement_s9.html"
STATEMENT_PDF_NAME = "documents/statement_s9.pdf"
UNSIGNED_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})  # every other file is listed in the manifest

# -- what a verifier reads into memory, at most (it refuses more; the builder never writes more) --------
MAX_MANIFEST_BYTES = 16 << 20  # about 5,000 exhibits at ~3 kB of manifest each: a larger case, split it
MAX_AUDIT_LINE_BYTES = 1 << 20  # one entry of the audit extract

EXTENSIONS = {"image/jpeg": "jpg", "video/mp4": "mp4"}  # a master's media type -> its file extension


def master_name(slug: str, role: str, media_type: str) -> str:
    """Where an exhibit's master goes, e.g. ``exhibits/masters/SG-1_act.jpg``."""
    return f"exhibits/masters/{slug}_{role}.{EXTENSIONS[media_type]}"


def working_copy_name(slug: str, kind: str) -> str:
    """Where a still's working copy goes; ``kind`` is ``annotated``, ``vehicle_crop`` or
    ``people_blurred``."""
    return f"exhibits/working/{slug}_{kind}.jpg"


def exhibit_list_pdf_name(volume: int, volumes: int) -> str:
    """The printed exhibit list: one file, or ``..._vol01_of_03.pdf`` when a large case needs volumes."""
    if volumes == 1:
        return EXHIBIT_LIST_PDF_NAME
    return f"documents/exhibit_list_vol{volume:02d}_of_{volumes:02d}.pdf"


# -- canonical JSON ---------------------------------------------------------------------------------
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that hashes and signatures are computed over: keys sorted,
    no spaces, UTF-8, no NaN."""
    return _CANONICAL.encode(value).encode("utf-8")


# -- the audit log's hash chain ---------------------------------------------------------------------
AUDIT_HASH_SCHEME = "tipwatch-audit/1"
GENESIS_HASH = "0" * 64  # what the first entry of the log links to


def compute_hash(seq: int, prev_hash: str, fields: dict[str, Any]) -> str:
    """An entry's hash under ``tipwatch-audit/1``: SHA-256 (64 hex digits) of the canonical JSON of the
    entry's content (``fields``) with its sequence number and the previous entry's hash added."""
    return hashlib.sha256(canonical_json({**fields, "seq": seq, "prev_hash": prev_hash})).hexdigest()


def audit_entry_hash(scheme: str, seq: int, prev_hash: str, fields: dict[str, Any]) -> str:
    """Recompute one audit entry's hash under the scheme a bundle declares; ValueError for a scheme this
    version does not know."""
    if scheme == AUDIT_HASH_SCHEME:
        return compute_hash(seq, prev_hash, fields)
    raise ValueError(f"unknown audit hash scheme {scheme!r}")
