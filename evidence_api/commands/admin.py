"""``tipwatch admin``: users, devices, tokens, sites, cameras, authorisations, audit (verify, checkpoint),
purge, openapi."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from evidence_api.commands import admin_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from evidence_api.bundle.checkpoint import Checkpoint
    from evidence_api.settings import Settings
    from evidence_api.storage import BlobStore

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="database URL (default: settings)")
    parser.add_argument("--data", type=Path, help="data directory (default: settings)")
    sub = parser.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    u = sub.add_parser("user", help="create a user").add_subparsers(dest="action", required=True)
    uc = u.add_parser("create", help="create a user with a role (password prompted or --password-stdin)")
    uc.add_argument("username")
    uc.add_argument("--role", required=True, choices=["officer", "legal", "admin"])
    uc.add_argument("--full-name", default="")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    d = sub.add_parser("device", help="devices bound to cameras").add_subparsers(dest="action", required=True)
    dc = d.add_parser("create", help="create a device, bind cameras, print its token once")
    dc.add_argument("name")
    dc.add_argument("--camera", action="append", default=[], help="camera key to bind (repeatable)")

    t = sub.add_parser("token", help="tokens").add_subparsers(dest="action", required=True)
    tr = t.add_parser("revoke", help="revoke a token by id")
    tr.add_argument("token_id", type=uuid.UUID)
    t.add_parser("list", help="list tokens (never their values)")

    s = sub.add_parser("site", help="sites").add_subparsers(dest="action", required=True)
    sc = s.add_parser("create", help="register a site")
    sc.add_argument("key")
    sc.add_argument("--name", required=True)
    sc.add_argument("--land-type", required=True)
    sc.add_argument("--lat", type=float)
    sc.add_argument("--lon", type=float)
    sc.add_argument("--location", default="")
    sc.add_argument("--parish-ward", default="")

    c = sub.add_parser("camera", help="cameras").add_subparsers(dest="action", required=True)
    cc = c.add_parser("create", help="register a camera at a site")
    cc.add_argument("key")
    cc.add_argument("--site", required=True)
    cc.add_argument("--covert", action="store_true")
    cc.add_argument("--device-identity", default="")

    a = sub.add_parser("authorisation", help="authorisations (minimum; full detail via the API)")
    aa = a.add_subparsers(dest="action", required=True)
    ac = aa.add_parser("create", help="record an authorisation covering cameras")
    ac.add_argument("urn")
    ac.add_argument("--kind", choices=["ripa_directed_surveillance", "overt"], required=True)
    ac.add_argument("--title", required=True)
    ac.add_argument("--camera", action="append", default=[])
    ac.add_argument("--magistrate-date", type=date.fromisoformat, help="approval date (YYYY-MM-DD)")
    ac.add_argument("--magistrate-court", default="")
    ac.add_argument("--dpia-reference", default="")
    aa.add_parser("list", help="list authorisations and their state")

    au = sub.add_parser("audit", help="audit log").add_subparsers(dest="action", required=True)
    au.add_parser(
        "verify",
        help="recompute the hash chain and hold it to every signed checkpoint; exit 1 if it is broken, "
        "cut short or disagrees with a checkpoint",
    )
    au.add_parser(
        "checkpoint",
        help="check the entries since the last signed checkpoint, then sign and append a checkpoint of the "
        "log to the checkpoint log (run from cron when the API's own checkpoints are off)",
    )

    sub.add_parser("purge", help="purge unconfirmed events past the retention period")
    sub.add_parser(
        "print-copies", help="make the reduced print copies that stills stored by an older version lack"
    )
    o = sub.add_parser("openapi", help="print or write evidence_api/openapi.json")
    o.add_argument("--write", action="store_true")

    admin_keys.add_arguments(sub.add_parser("keys", help="bundle signing keys"))


def _anchor_due_s(settings: Settings) -> float | None:
    """Within how long the API writes a checkpoint (twice its interval), or None when it writes none."""
    return 2 * settings.audit_checkpoint_interval_s or None


def _settings(args: argparse.Namespace) -> Settings:
    from evidence_api.settings import Settings

    overrides: dict[str, object] = {}
    if args.db:
        overrides["database_url"] = args.db
    if args.data:
        overrides["data_dir"] = args.data
    return Settings(**overrides)  # type: ignore[arg-type]


def _operator() -> str:
    """Who runs the command, for the audit log: the login name, else the numeric user id (a container
    may run as a user with no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def run(args: argparse.Namespace) -> int:
    cmd = args.admin_command
    if cmd == "keys":
        return admin_keys.run(args)
    if cmd == "openapi":
        from evidence_api.openapi_schema import render, write

        if args.write:
            print(f"wrote {write()}")
        else:
            print(render(), end="")
        return 0
    from evidence_api.main import create_app
    from evidence_api.services.errors import DomainError

    settings = _settings(args)
    app = create_app(settings)
    actor = f"cli:{_operator()}"
    try:
        with app.state.sessionmaker() as session:
            code = _dispatch(args, session, settings, app.state.store, actor)
            session.commit()
            return code
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        app.state.engine.dispose()


def _dispatch(
    args: argparse.Namespace, session: Session, settings: Settings, store: BlobStore, actor: str
) -> int:
    from evidence_api.models import Role
    from evidence_api.schemas import AuthorisationIn, CameraIn, SiteIn
    from evidence_api.services import authorisations, ingest, retention, sites, users

    cmd, action = args.admin_command, getattr(args, "action", None)
    if cmd == "user":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("password: ")
            if password != getpass.getpass("again: "):
                print("error: passwords differ", file=sys.stderr)
                return 1
        user = users.create_user(
            session=session,
            username=args.username,
            password=password,
            role=Role(args.role),
            full_name=args.full_name,
            actor=actor,
        )
        print(f"created {user.role} {user.username} ({user.id})")
    elif cmd == "device":
        device = users.create_device(session=session, name=args.name, actor=actor)
        for key in args.camera:
            users.bind_camera(session=session, device=device, camera_key=key, actor=actor)
        token, row = users.issue_device_token(
            session=session, device=device, pepper=settings.secret_key, actor=actor
        )
        print(f"device {device.name} token id {row.id}\n{token}\n(shown once: only its hash is stored)")
    elif cmd == "token" and action == "revoke":
        users.revoke_token(session=session, token_id=args.token_id, actor=actor)
        print(f"revoked {args.token_id}")
    elif cmd == "token":
        for t in users.list_tokens(session=session):
            owner = t.user.username if t.user else t.device.name if t.device else "?"
            state = "revoked" if t.revoked_at else "active"
            print(f"{t.id}  {t.kind:8} {owner:20} {state} created {t.created_at.isoformat()}")
    elif cmd == "site":
        site = sites.create_site(
            session=session,
            data=SiteIn(
                key=args.key,
                name=args.name,
                land_type=args.land_type,
                latitude=args.lat,
                longitude=args.lon,
                location_description=args.location,
                parish_ward=args.parish_ward,
            ),
            actor=actor,
        )
        print(f"created site {site.key} ({site.id})")
    elif cmd == "camera":
        cam = sites.create_camera(
            session=session,
            data=CameraIn(
                key=args.key, site_key=args.site, covert=args.covert, device_identity=args.device_identity
            ),
            actor=actor,
        )
        print(f"created camera {cam.key} ({'covert' if cam.covert else 'overt'})")
    elif cmd == "authorisation" and action == "create":
        auth = authorisations.create(
            session=session,
            data=AuthorisationIn(
                kind=args.kind,
                urn=args.urn,
                title=args.title,
                camera_keys=args.camera,
                magistrate_date=args.magistrate_date,
                magistrate_court=args.magistrate_court,
                magistrate_decision="approved" if args.magistrate_date else "pending",
                dpia_reference=args.dpia_reference,
                offence_min_months=12 if args.kind != "overt" else None,
            ),
            actor=actor,
        )
        print(f"created {auth.kind} {auth.urn}; expires {auth.expires_at or '-'}")
    elif cmd == "authorisation":
        for a in authorisations.list_all(session=session):
            print(f"{a.urn:20} {a.kind:28} {authorisations.state(a):18} expires {a.expires_at or '-'}")
    elif cmd == "audit":
        return _audit(str(action), session, settings)
    elif cmd == "purge":
        result = retention.purge(
            session=session, store=store, retention_days=settings.retention_days, actor=actor
        )
        print(json.dumps(result))
    elif cmd == "print-copies":
        print(json.dumps(ingest.backfill_print_copies(session=session, store=store, actor=actor)))
    return 0


def _audit(action: str, session: Session, settings: Settings) -> int:
    """``audit verify`` and ``audit checkpoint``: one JSON object on stdout, whose ``result`` says in
    words what was checked; a broken log is ``AUDIT CHAIN BROKEN: <why>`` and exit status 1."""
    from evidence_api.bundle.signing import KeyStore, SigningKeyError
    from evidence_api.services.audit import AuditChainError
    from evidence_api.services.audit_checkpoints import CheckpointLog, verify_audit_log, write_checkpoint

    keys, log = KeyStore(settings.data_dir), CheckpointLog(settings.resolved_audit_checkpoint_path)
    try:
        if action == "checkpoint":
            try:
                signer = keys.load_active()
            except SigningKeyError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            written = write_checkpoint(session=session, signer=signer, log=log)
            if written is None:
                print(json.dumps({"written": False, "result": "the audit log is empty: nothing to sign"}))
                return 0
            cp = written.checkpoint
            verb = "wrote" if written.new else "the log has not grown since"
            print(
                json.dumps(
                    {
                        "written": written.new,
                        **_checkpoint_json(cp),
                        "log": str(log.path),
                        "result": f"{verb} {cp.describe()} to {log.path}",
                    }
                )
            )
            return 0
        verified = verify_audit_log(session=session, keys=keys, log=log, anchor_due_s=_anchor_due_s(settings))
    except AuditChainError as exc:
        print(f"AUDIT CHAIN BROKEN: {exc}")
        return 1
    latest = verified.latest
    print(
        json.dumps(
            {
                "ok": True,
                "entries": verified.entries,
                "head_hash": verified.head_hash,
                "checkpoint": _checkpoint_json(latest) if latest else None,
                "checkpoints_checked": verified.checkpoints,
                "checkpoint_log": str(log.path),
                "result": verified.result(),
            }
        )
    )
    return 0


def _checkpoint_json(cp: Checkpoint) -> dict[str, object]:
    return {
        "index": cp.index,
        "entries": cp.tree_size,
        "head_hash": cp.head_hash,
        "at": cp.at.isoformat(),
        "key_fingerprint": cp.key_fingerprint,
    }
