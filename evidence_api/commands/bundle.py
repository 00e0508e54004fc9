"""``tipwatch bundle verify FILE.zip`` (offline, no database) and ``tipwatch bundle export``.

``verify`` imports only :mod:`evidence_api.bundle.verify` (standard library + ``cryptography``); the
export path imports the API's database and storage layers only when it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from evidence_api.bundle.verify import verify_bundle

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    ver = sub.add_parser(
        "verify",
        help="check a bundle offline: hashes, missing/extra files, signature, audit chain",
        description="Exit 0 and print a short report only when the bundle is intact; otherwise exit 1 "
        "and name every problem found.",
    )
    ver.add_argument("file", type=Path, help="the bundle .zip")
    ver.add_argument(
        "--public-key",
        type=Path,
        help="PEM file of the council's public key to check against (pins the signer)",
    )
    ver.add_argument("--fingerprint", help="expected signing-key fingerprint (64 hex digits; spaces allowed)")
    ver.add_argument("--json", action="store_true", help="print the report as JSON")

    exp = sub.add_parser(
        "export", help="export a case to a signed bundle (needs the database and blob store)"
    )
    exp.add_argument("--case", required=True, help="case id or reference")
    exp.add_argument("--out", required=True, type=Path, help="where to write the .zip")
    exp.add_argument("--db", help="database URL (default: settings / $TIPWATCH_DATABASE_URL)")
    exp.add_argument("--data", help="data directory: blobs and signing keys (default: settings)")
    exp.add_argument("--by", default="tipwatch-cli", help="who is exporting (recorded in the audit log)")
    exp.add_argument("--blur-people", action="store_true", help="add working copies with people blurred")
    exp.add_argument(
        "--no-crop", action="store_true", help="do not add working copies cropped to the vehicle"
    )
    exp.add_argument(
        "--no-print-stills",
        action="store_true",
        help="PDF exhibit list without the stills (the HTML list has them)",
    )


def _verify(args: argparse.Namespace) -> int:
    pem = args.public_key.read_bytes() if args.public_key else None
    try:
        report = verify_bundle(args.file, public_key_pem=pem, fingerprint=args.fingerprint)
    except ValueError as exc:  # an unusable --public-key
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "problems": report.problems,
                    "case_reference": report.case_reference,
                    "key_id": report.key_id,
                    "fingerprint": report.fingerprint,
                    "files_checked": report.files_checked,
                    "bytes_checked": report.bytes_checked,
                    "exhibits": report.exhibits,
                    "audit_entries": report.audit_entries,
                    "head_hash": report.head_hash,
                },
                indent=2,
            )
        )
    else:
        print(report.render())
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    try:
        from evidence_api.services import bundles
    except ModuleNotFoundError as exc:
        print(
            f"error: bundle export needs the evidence API database layer, missing here ({exc}); "
            "`tipwatch bundle verify` works without it",
            file=sys.stderr,
        )
        return 2

    try:
        result = bundles.export_case_cli(
            case=args.case,
            out=args.out,
            db_url=args.db,
            data_dir=args.data,
            exported_by=args.by,
            blur_people=args.blur_people,
            crop_vehicle=not args.no_crop,
            print_stills=not args.no_print_stills,
        )
    except bundles.BundleExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {result.path} ({result.size:,} bytes): {len(result.exhibit_references)} exhibits, "
        f"{len(result.excluded)} left out as not authorised at capture\n"
        f"bundle SHA-256 {result.sha256}\nsigned by {result.key_id}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.bundle_command == "verify":
        return _verify(args)
    return _export(args)
