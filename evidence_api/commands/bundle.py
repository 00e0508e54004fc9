"""``tipwatch bundle verify FILE.zip`` (offline, no database) and ``tipwatch bundle export``.

``verify`` imports only :mod:`evidence_api.bundle.verify` (standard library + ``cryptography``); the
export path imports the API's database and storage layers only when it runs.  People blurring needs a
person finder, which the caller injects (``run(args, person_finder_factory=...)``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence_api.bundle.verify import verify_bundle

if TYPE_CHECKING:
    from evidence_api.bundle.redact import PersonFinderFactory

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    ver = sub.add_parser(
        "verify",
        help="check a bundle offline: hashes, missing/extra files, signature, audit chain",
        description="Exit 0 and print a short report only when the bundle is intact; otherwise exit 1 "
        "and name every problem found.  Exit 0 without --fingerprint/--public-key means intact and "
        "self-consistent (signed by the key inside the bundle), not that the council signed it: the report "
        "says 'SIGNER NOT PINNED' and prints the fingerprint to compare with the council's published one.",
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
                    "signer_pinned": report.signer_pinned,
                    "files_checked": report.files_checked,
                    "bytes_checked": report.bytes_checked,
                    "exhibits": report.exhibits,
                    "audit_entries": report.audit_entries,
                    "head_hash": report.head_hash,
                    "checkpoint": report.checkpoint or None,
                },
                indent=2,
            )
        )
    else:
        print(report.render())
    return 0 if report.ok else 1


def _export(args: argparse.Namespace, person_finder_factory: PersonFinderFactory | None) -> int:
    """Export a case with settings from the environment, overridden by --db / --data; the command owns
    its session and commits the export's record."""
    try:
        from evidence_api.db import make_engine, make_sessionmaker
        from evidence_api.services.bundle_export import ExportSetup, export_case
        from evidence_api.services.bundle_spec import ExportOptions
        from evidence_api.services.errors import BundleExportError
        from evidence_api.settings import Settings
        from evidence_api.storage import make_blob_store
    except ModuleNotFoundError as exc:
        print(
            f"error: bundle export needs the evidence API database layer, missing here ({exc}); "
            "`tipwatch bundle verify` works without it",
            file=sys.stderr,
        )
        return 2

    overrides: dict[str, Any] = {}
    if args.data:
        overrides["data_dir"] = Path(args.data)
    if args.db:
        overrides["database_url"] = args.db
    settings = Settings(**overrides)
    setup = ExportSetup.from_settings(
        settings, store=make_blob_store(settings), person_finder_factory=person_finder_factory
    )
    options = ExportOptions(
        crop_vehicle=not args.no_crop, blur_people=args.blur_people, print_stills=not args.no_print_stills
    )
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            result = export_case(
                session=session,
                case=args.case,
                setup=setup,
                out_path=args.out,
                exported_by=args.by,
                options=options,
            )
            session.commit()
    except BundleExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"wrote {result.path} ({result.size:,} bytes): {len(result.exhibit_references)} exhibits, "
        f"{len(result.excluded)} left out as not authorised at capture\n"
        f"bundle SHA-256 {result.sha256}\nsigned by {result.key_id}"
    )
    return 0


def run(args: argparse.Namespace, *, person_finder_factory: PersonFinderFactory | None = None) -> int:
    """``person_finder_factory`` finds people for ``export --blur-people`` (the tipwatch command passes the
    edge box's detector); without one, blurring is refused with a message saying so."""
    if args.bundle_command == "verify":
        return _verify(args)
    return _export(args, person_finder_factory)
