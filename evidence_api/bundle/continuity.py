"""The continuity part of bundle verification: the audit extract and the signed checkpoint it ends at.

The extract (``continuity/audit_extract.jsonl``) is recomputed line by line, each entry hashing to its
recorded hash and linking to the one before, up to the head the manifest names; every custody step must
cite an entry of it with the right hash; and the signed checkpoint of the audit log the manifest carries
(:mod:`~evidence_api.bundle.checkpoint`) must be signed by the bundle's key and agree with the extract:
the extract reaches the checkpoint's entry count and that entry has the checkpoint's head hash.

Standard library and ``cryptography`` only, a part of :mod:`evidence_api.bundle.verify`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence_api.bundle.checkpoint import Checkpoint, parse_checkpoint
from evidence_api.bundle.format import (
    AUDIT_EXTRACT_NAME,
    GENESIS_HASH,
    MAX_AUDIT_LINE_BYTES,
    audit_entry_hash,
)
from evidence_api.bundle.manifest import ContinuityEntry, Manifest
from evidence_api.bundle.zipread import MemberRefused, member_lines


@dataclass(slots=True)
class ContinuityReport:
    problems: list[str] = field(default_factory=list)
    audit_entries: int = 0
    head_hash: str = ""
    checkpoint: str = ""  # the signed checkpoint the extract agrees with, in words; "" when none


def check_continuity(
    zf: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    manifest: Manifest,
    key: Ed25519PublicKey | None,
    key_fingerprint: str,
) -> ContinuityReport:
    """Recompute the audit extract line by line (memory flat in its length: only the hashes the custody
    steps and the checkpoint cite are kept) and hold it to the manifest and the signed checkpoint;
    ``key`` is the one the manifest's signature was checked with, ``key_fingerprint`` its fingerprint."""
    report = ContinuityReport()
    continuity = manifest.get("continuity") or cast(ContinuityEntry, {})
    scheme = str(continuity.get("hash_scheme", ""))
    head = str(continuity.get("head_hash", ""))
    report.head_hash = head
    name = str(continuity.get("audit_extract", AUDIT_EXTRACT_NAME))
    if name not in members:
        report.problems.append(f"missing audit extract {name}: continuity cannot be checked")
        return report
    checkpoint = _embedded_checkpoint(continuity, scheme, key, key_fingerprint, report)
    cited = {step.get("audit_seq") for ex in manifest.get("exhibits", []) for step in ex.get("custody", [])}
    if checkpoint is not None:
        cited.add(checkpoint.tree_size)
    hashes: dict[int, str] = {}
    first: int | None = None
    previous: tuple[int, str] | None = None
    lines = member_lines(zf, members[name], max_line=MAX_AUDIT_LINE_BYTES, what="an audit entry")
    try:
        for lineno, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                seq, prev_hash = int(entry["seq"]), str(entry["prev_hash"])
                entry_hash, fields = str(entry["entry_hash"]), dict(entry["fields"])
                recomputed = audit_entry_hash(scheme, seq, prev_hash, fields)
            except (ValueError, KeyError, TypeError) as exc:
                report.problems.append(f"audit extract line {lineno} is not a valid entry: {exc}")
                return report
            if recomputed != entry_hash:
                report.problems.append(f"audit entry {seq} does not hash to its recorded hash (altered)")
            if previous is None:
                first = seq
                if seq == 1 and prev_hash != GENESIS_HASH:
                    report.problems.append("audit entry 1 does not link to the genesis hash (chain broken)")
            elif seq != previous[0] + 1:
                report.problems.append(
                    f"audit extract jumps from entry {previous[0]} to {seq} (entries missing)"
                )
            elif prev_hash != previous[1]:
                report.problems.append(
                    f"audit entry {seq} does not link to entry {previous[0]} (chain broken)"
                )
            previous = (seq, entry_hash)
            if seq in cited:
                hashes[seq] = entry_hash
            report.audit_entries += 1
    except MemberRefused as exc:
        report.problems.append(str(exc))
        return report
    if previous is None or first is None:
        report.problems.append("the audit extract is empty")
        return report
    if previous[1] != head:
        report.problems.append(
            f"the audit extract ends at {previous[1]}, not the head hash {head} in the manifest"
        )
    if continuity.get("head_seq") != previous[0]:
        report.problems.append(
            f"the audit extract ends at entry {previous[0]}, manifest says {continuity.get('head_seq')}"
        )
    if continuity.get("first_seq") != first:
        report.problems.append(
            f"the audit extract starts at entry {first}, manifest says {continuity.get('first_seq')}"
        )
    if checkpoint is not None:
        _hold_to_checkpoint(checkpoint, first, previous[0], hashes, report)
    for ex in manifest.get("exhibits", []):
        for step in ex.get("custody", []):
            seq_cited = step.get("audit_seq")
            if seq_cited is None:
                continue
            if hashes.get(seq_cited) != step.get("audit_hash"):
                report.problems.append(
                    f"exhibit {ex.get('reference')}: custody step {step.get('stage')} cites audit entry "
                    f"{seq_cited}, which is not in the extract with that hash"
                )
    return report


def _embedded_checkpoint(
    continuity: ContinuityEntry,
    scheme: str,
    key: Ed25519PublicKey | None,
    key_fingerprint: str,
    report: ContinuityReport,
) -> Checkpoint | None:
    """The manifest's signed checkpoint, once its signature checks out with the bundle's key."""
    record = continuity.get("checkpoint")
    if record is None:
        return None
    try:
        checkpoint = parse_checkpoint(record)
    except ValueError as exc:
        report.problems.append(f"the manifest's audit checkpoint is malformed: {exc}")
        return None
    if key is None:
        report.problems.append("the audit checkpoint cannot be checked: there is no usable signing key")
        return None
    if checkpoint.key_fingerprint != key_fingerprint:
        report.problems.append(
            f"the audit checkpoint is signed by key {checkpoint.key_fingerprint}, "
            f"not by the key that signed the bundle"
        )
        return None
    if not checkpoint.signed_by(key):
        report.problems.append("the audit checkpoint's signature does not verify (altered)")
        return None
    if checkpoint.hash_scheme != scheme:
        report.problems.append(
            f"the audit checkpoint is of hash scheme {checkpoint.hash_scheme!r}, the extract of {scheme!r}"
        )
        return None
    return checkpoint


def _hold_to_checkpoint(
    checkpoint: Checkpoint, first: int, last: int, hashes: dict[int, str], report: ContinuityReport
) -> None:
    size = checkpoint.tree_size
    if size > last:
        report.problems.append(
            f"the audit extract ends at entry {last}, but the {checkpoint.describe()} it carries covers "
            f"entry {size}: the extract is shorter than the signed checkpoint"
        )
    elif size < first:
        report.problems.append(
            f"the {checkpoint.describe()} covers entry {size}, before the audit extract begins (entry "
            f"{first}): the extract cannot be held to it"
        )
    elif hashes.get(size) != checkpoint.head_hash:
        report.problems.append(
            f"audit entry {size} of the extract is not the head hash of the {checkpoint.describe()}: the "
            "extract disagrees with the signed checkpoint"
        )
    else:
        report.checkpoint = f"{checkpoint.describe()}, signed by the bundle's key; the extract agrees with it"
