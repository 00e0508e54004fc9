"""``tipwatch admin keys generate|rotate|list|show``: the council's bundle-signing keys.

``evidence_api.commands.admin`` delegates its ``keys`` subcommand here.  Private keys never leave the
key store: these commands print only key ids, public keys and fingerprints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from evidence_api.bundle.signing import KeyRecord, KeyStore, SigningKeyError

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "var/tipwatch"


def data_dir(args: argparse.Namespace) -> Path:
    """--data, else $TIPWATCH_DATA_DIR, else the API's default data directory."""
    given = getattr(args, "data", None)
    if given:
        return Path(given)
    env = os.environ.get("TIPWATCH_DATA_DIR")
    if env:
        return Path(env)
    try:
        from evidence_api.settings import Settings  # the API's settings, when that package is installed

        return Path(Settings().data_dir)  # pydantic-settings fills it from the environment
    except (ImportError, AttributeError, ValueError) as exc:
        logger.debug("API settings unavailable (%s); using %s", exc, DEFAULT_DATA_DIR)
        return Path(DEFAULT_DATA_DIR)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: never overwrite a --data the parent ``admin`` parser already parsed
    parser.add_argument(
        "--data", default=argparse.SUPPRESS, help="data directory (default: $TIPWATCH_DATA_DIR or settings)"
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="create the first signing key (refuses if one is active)")
    gen.add_argument("--comment", default="", help="free text kept with the key, e.g. who made it and why")
    rot = sub.add_parser(
        "rotate", help="make a new active key; the old public key is kept, its private key destroyed"
    )
    rot.add_argument("--comment", default="")
    lst = sub.add_parser("list", help="every key ever made, with fingerprints and which one is active")
    lst.add_argument("--json", action="store_true", help="print JSON")
    show = sub.add_parser("show", help="print a public key (PEM) and its fingerprint, to publish or print")
    show.add_argument("key", nargs="?", help="key id or fingerprint (default: the active key)")
    show.add_argument("--json", action="store_true", help="print JSON")


def _describe(record: KeyRecord) -> str:
    state = "ACTIVE" if record.active else f"retired {record.retired_at}"
    return (
        f"{record.key_id}  {state}  created {record.created_at}\n  fingerprint {record.fingerprint_display}"
    )


def run(args: argparse.Namespace) -> int:
    store = KeyStore(data_dir(args))
    try:
        if args.keys_command == "generate":
            record = store.generate(comment=args.comment)
            print(f"generated signing key\n{_describe(record)}")
            print(f"publish this fingerprint so courts can pin it: {record.fingerprint_display}")
        elif args.keys_command == "rotate":
            new, old = store.rotate(comment=args.comment)
            print(f"new active signing key\n{_describe(new)}")
            if old is not None:
                print(f"retired (public key kept, private key destroyed)\n{_describe(old)}")
        elif args.keys_command == "list":
            records = store.records()
            if args.json:
                print(json.dumps([{**_as_dict(r)} for r in records], indent=2))
            elif not records:
                print(f"no signing keys under {store.directory}; run `tipwatch admin keys generate`")
            else:
                print("\n".join(_describe(r) for r in records))
        elif args.keys_command == "show":
            record = store.get(args.key) if args.key else store.active()
            pem = store.public_pem(record).decode("ascii")
            if args.json:
                print(json.dumps({**_as_dict(record), "public_key_pem": pem}, indent=2))
            else:
                print(_describe(record))
                print(pem, end="")
        else:  # argparse restricts the choices; this keeps the function total
            raise SigningKeyError(f"unknown keys action {args.keys_command!r}")
    except SigningKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _as_dict(record: KeyRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "fingerprint": record.fingerprint,
        "fingerprint_display": record.fingerprint_display,
        "created_at": record.created_at,
        "active": record.active,
        "retired_at": record.retired_at,
        "comment": record.comment,
    }
