"""Offline verifier for Tipwatch evidence bundles.

Deliberately self-contained: it imports only the Python standard library, ``cryptography`` (Ed25519)
and the bundle format's own modules (:mod:`~evidence_api.bundle.format`, ``manifest``, ``checkpoint``,
``continuity``, ``zipread``: names, the audit hash scheme, signed checkpoints, the audit extract's check,
bounded zip reads); it needs no database and no network, and is short enough for a defence expert to read.

A bundle is valid only when, all at once:

* the zip is clean: no absolute or ``..`` names, no backslashes, no duplicate names, no links;
* nothing read into memory is larger than that kind of member may be (the manifest at most
  :data:`~evidence_api.bundle.format.MAX_MANIFEST_BYTES`), judged by the zip entry's declared size before
  a byte is inflated, and nothing unpacks to more than it declares;
* ``manifest.json`` is signed by ``manifest.sig`` (Ed25519) with the public key in the bundle, whose
  fingerprint the manifest names (and, when pinned, the one the caller expects);
* every file the manifest lists is present with its size and SHA-256, and no other file is there;
* every exhibit's master is one of those files, with the exhibit's hash;
* the audit extract's hash chain recomputes, link by link, up to the head hash the manifest names,
  and every custody step of every exhibit cites an entry of that extract with the right hash;
* the signed checkpoint of the audit log the manifest carries (:mod:`~evidence_api.bundle.checkpoint`)
  is signed by the bundle's key, and the extract reaches it and agrees with it.

Without a pinned key (``--fingerprint``/``--public-key``) a valid signature shows only that the bundle is
as *its own* key signed it: anyone can re-sign an altered bundle with a key of their own.  The report
says which of the two it checked, and prints the fingerprint to compare with the council's by hand.
"""

from __future__ import annotations

import hashlib
import logging
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence_api.bundle.continuity import check_continuity
from evidence_api.bundle.format import (
    AUDIT_EXTRACT_NAME,
    BUNDLE_FORMAT,
    GENESIS_HASH,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    SUMS_NAME,
    UNSIGNED_NAMES,
    audit_entry_hash,
    canonical_json,
)
from evidence_api.bundle.manifest import Manifest
from evidence_api.bundle.zipread import (
    CHUNK,
    MemberRefused,
    load_json,
    member_chunks,
    read_member,
    unsafe_member_name,
)

logger = logging.getLogger(__name__)

MAX_SIGNATURE_BYTES = 1024  # an Ed25519 signature is 64 bytes
MAX_PUBLIC_KEY_BYTES = 64 * 1024  # a PEM public key is about 113

# The names and the hash scheme are the format's (shared with the builder and the live audit log);
# canonical_json and GENESIS_HASH are offered here too, for tools that re-sign or rebuild a chain.
__all__ = [
    "AUDIT_EXTRACT_NAME",
    "BUNDLE_FORMAT",
    "CHUNK",
    "GENESIS_HASH",
    "MANIFEST_NAME",
    "PUBLIC_KEY_NAME",
    "SIGNATURE_NAME",
    "SUMS_NAME",
    "VerifyReport",
    "audit_entry_hash",
    "canonical_json",
    "format_fingerprint",
    "load_public_key_pem",
    "normalise_fingerprint",
    "public_key_fingerprint",
    "unsafe_member_name",
    "verify_bundle",
]


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte Ed25519 public key, as 64 hex digits."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def format_fingerprint(fingerprint: str) -> str:
    """Groups of four hex digits, the form printed on paper and read out over the phone."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def normalise_fingerprint(text: str) -> str:
    return "".join(c for c in text.lower() if c in "0123456789abcdef")


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


@dataclass(slots=True)
class VerifyReport:
    path: str
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    exhibits: int = 0
    audit_entries: int = 0
    case_reference: str = ""
    fingerprint: str = ""
    key_id: str = ""
    head_hash: str = ""
    signed_at: str = ""
    signer_pinned: bool = False  # checked against a key the caller gave, not only the bundle's own
    checkpoint: str = ""  # the signed audit checkpoint the extract was held to, in words; "" when none

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"Bundle: {self.path}"]
        if self.case_reference:
            lines.append(f"Case: {self.case_reference}   exported {self.signed_at}")
        if self.fingerprint:
            lines.append(f"Signing key: {self.key_id}  fingerprint {format_fingerprint(self.fingerprint)}")
            if self.signer_pinned:
                lines.append("Signer: PINNED - checked against the key given with --public-key/--fingerprint")
            else:
                lines.append(
                    "Signer: NOT PINNED - checked only against the public key inside the bundle, which shows "
                    "the bundle is as that key signed it, not who signed it (anyone can re-sign an altered "
                    "bundle with a key of their own). Compare the fingerprint above with the one the council "
                    "publishes, or verify again with --fingerprint or --public-key."
                )
        lines.append(
            f"Checked {self.files_checked} files ({self.bytes_checked:,} bytes), {self.exhibits} exhibits, "
            f"{self.audit_entries} audit entries"
        )
        if self.head_hash:
            lines.append(f"Audit chain head: {self.head_hash}")
        lines.append(f"Audit checkpoint: {self.checkpoint or 'none in this bundle'}")
        if not self.ok:
            lines.append(f"RESULT: FAILED - {len(self.problems)} problem(s):")
            lines.extend(f"  - {p}" for p in self.problems)
        elif self.signer_pinned:
            lines.append(
                "RESULT: OK - every hash matches, nothing missing or extra, signed by the pinned key, "
                "chain intact"
            )
        else:
            lines.append(
                "RESULT: OK, SIGNER NOT PINNED - every hash matches, nothing missing or extra, chain intact, "
                "and the signature matches the bundle's own key; that does not show the council signed it"
            )
        return "\n".join(lines)


def _sha256_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in member_chunks(zf, info):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_names(zf: zipfile.ZipFile, report: VerifyReport) -> dict[str, zipfile.ZipInfo] | None:
    members: dict[str, zipfile.ZipInfo] = {}
    clean = True
    for info in zf.infolist():
        name = info.filename
        why = unsafe_member_name(name)
        if why:
            report.problems.append(f"unsafe name in zip {name!r}: {why}")
            clean = False
        if stat.S_ISLNK(info.external_attr >> 16):
            report.problems.append(f"zip member {name!r} is a symbolic link")
            clean = False
        if info.flag_bits & 0x1:
            report.problems.append(f"zip member {name!r} is encrypted")
            clean = False
        if name in members:
            report.problems.append(f"duplicate name in zip: {name!r}")
            clean = False
        members[name] = info
    return members if clean else None


def _check_signature(
    zf: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    manifest_bytes: bytes,
    manifest: Manifest,
    report: VerifyReport,
    pinned_key: Ed25519PublicKey | None,
    pinned_fingerprint: str | None,
) -> Ed25519PublicKey | None:
    """Check ``manifest.sig``; return the key it was checked against (None when there was none)."""
    signing = manifest.get("signing") or {}
    report.key_id = str(signing.get("key_id", ""))
    declared = normalise_fingerprint(str(signing.get("fingerprint", "")))
    if SIGNATURE_NAME not in members:
        report.problems.append(f"missing file: {SIGNATURE_NAME} (the signature over the manifest)")
        return None
    if pinned_key is not None:
        key = pinned_key
    elif PUBLIC_KEY_NAME in members:
        try:
            pem = read_member(zf, members[PUBLIC_KEY_NAME], limit=MAX_PUBLIC_KEY_BYTES, what="a public key")
            key = load_public_key_pem(pem)
        except ValueError as exc:
            report.problems.append(f"{PUBLIC_KEY_NAME} is not a usable Ed25519 public key: {exc}")
            return None
    else:
        report.problems.append(f"missing file: {PUBLIC_KEY_NAME} (and no --public-key given)")
        return None
    fingerprint = public_key_fingerprint(key)
    report.fingerprint = fingerprint
    report.signer_pinned = pinned_key is not None or pinned_fingerprint is not None
    if declared != fingerprint:
        report.problems.append(
            f"the manifest names signing key fingerprint {format_fingerprint(declared) or '(none)'} "
            f"but the key used has {format_fingerprint(fingerprint)}"
        )
    if pinned_fingerprint is not None and normalise_fingerprint(pinned_fingerprint) != fingerprint:
        report.problems.append(
            f"signed by key {format_fingerprint(fingerprint)}, not the expected "
            f"{format_fingerprint(normalise_fingerprint(pinned_fingerprint))}"
        )
    try:
        signature = read_member(zf, members[SIGNATURE_NAME], limit=MAX_SIGNATURE_BYTES, what="a signature")
        key.verify(signature, manifest_bytes)
    except MemberRefused as exc:
        report.problems.append(str(exc))
    except InvalidSignature:
        report.problems.append(
            "the signature in manifest.sig does not match manifest.json (altered or wrong key)"
        )
    return key


def _check_files(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], manifest: Manifest, report: VerifyReport
) -> dict[str, str]:
    listed: dict[str, str] = {}
    for entry in manifest.get("files", []):
        path, want_hash, want_size = str(entry.get("path")), str(entry.get("sha256")), entry.get("size")
        if path in listed or path in UNSIGNED_NAMES:
            report.problems.append(f"manifest lists {path!r} twice or lists an unsigned file")
            continue
        listed[path] = want_hash
        info = members.get(path)
        if info is None:
            report.problems.append(f"missing file: {path} (listed in the manifest)")
            continue
        if info.file_size != want_size:  # not even unpacked: its entry already says it is not that file
            report.problems.append(
                f"size mismatch: {path} is {info.file_size} bytes, manifest says {want_size}"
            )
            continue
        try:
            got_hash, got_size = _sha256_member(zf, info)
        except (MemberRefused, OSError) as exc:
            report.problems.append(f"corrupt file: {path} cannot be read back from the zip ({exc})")
            continue
        report.files_checked += 1
        report.bytes_checked += got_size
        if got_size != want_size:
            report.problems.append(f"size mismatch: {path} is {got_size} bytes, manifest says {want_size}")
        if got_hash != want_hash:
            report.problems.append(f"hash mismatch: {path} has SHA-256 {got_hash}, manifest says {want_hash}")
    for name in members:
        if name not in listed and name not in UNSIGNED_NAMES:
            report.problems.append(f"extra file: {name} (not listed in the manifest)")
    if SUMS_NAME in listed and SUMS_NAME in members:
        expected = "".join(f"{h}  {p}\n" for p, h in listed.items() if p != SUMS_NAME).encode("utf-8")
        info = members[SUMS_NAME]
        try:
            agrees = (
                info.file_size == len(expected)
                and read_member(zf, info, limit=len(expected), what=SUMS_NAME) == expected
            )
        except MemberRefused:
            agrees = False
        if not agrees:
            report.problems.append(f"{SUMS_NAME} does not agree with the manifest's file list")
    return listed


def _check_exhibits(manifest: Manifest, listed: dict[str, str], report: VerifyReport) -> None:
    exhibits = manifest.get("exhibits", [])
    report.exhibits = len(exhibits)
    for ex in exhibits:
        ref, master = ex.get("reference"), ex.get("master")
        if listed.get(master) != ex.get("sha256"):
            report.problems.append(
                f"exhibit {ref}: master {master} is not in the bundle with the exhibit's hash"
            )
        if not ex.get("authorisation_id") and not ex.get("override_id"):
            report.problems.append(
                f"exhibit {ref}: no authorisation at capture and no legal override recorded"
            )


def verify_bundle(
    path: str | Path, *, public_key_pem: bytes | None = None, fingerprint: str | None = None
) -> VerifyReport:
    """Check everything a court relies on; the report lists every problem found, not only the first."""
    report = VerifyReport(path=str(path))
    pinned_key = load_public_key_pem(public_key_pem) if public_key_pem is not None else None
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"cannot open as a zip file: {exc}")
        return report
    with zf:
        try:
            _verify_open_zip(zf, report, pinned_key, fingerprint)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
            report.problems.append(f"corrupt zip: a member cannot be read back ({exc})")
    return report


def _verify_open_zip(
    zf: zipfile.ZipFile, report: VerifyReport, pinned_key: Ed25519PublicKey | None, fingerprint: str | None
) -> None:
    members = _check_names(zf, report)
    if members is None:
        report.problems.append("zip refused: unsafe member names, nothing else was checked")
        return
    if MANIFEST_NAME not in members:
        report.problems.append(f"missing file: {MANIFEST_NAME}")
        return
    try:
        manifest_bytes = read_member(zf, members[MANIFEST_NAME], limit=MAX_MANIFEST_BYTES, what="a manifest")
        parsed = load_json(manifest_bytes, MANIFEST_NAME)
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")
    except MemberRefused as exc:
        report.problems.append(f"{exc}; nothing else was checked")
        return
    except ValueError as exc:
        report.problems.append(f"{MANIFEST_NAME} is not valid JSON: {exc}")
        parsed = {}
    # the records the builder writes; but read from an untrusted file, any key may be missing or wrong
    manifest = cast(Manifest, parsed)
    if manifest and manifest.get("format") != BUNDLE_FORMAT:
        report.problems.append(f"unknown bundle format {manifest.get('format')!r}, expected {BUNDLE_FORMAT}")
    report.case_reference = str((manifest.get("case") or {}).get("reference", ""))
    report.signed_at = str(manifest.get("exported_at", ""))
    key = _check_signature(zf, members, manifest_bytes, manifest, report, pinned_key, fingerprint)
    listed = _check_files(zf, members, manifest, report)
    if manifest:
        _check_exhibits(manifest, listed, report)
        continuity = check_continuity(zf, members, manifest, key, report.fingerprint)
        report.problems.extend(continuity.problems)
        report.audit_entries, report.head_hash = continuity.audit_entries, continuity.head_hash
        report.checkpoint = continuity.checkpoint
