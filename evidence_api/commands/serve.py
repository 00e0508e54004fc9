"""``tipwatch serve``: run the evidence API (and review pages) with uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evidence_api.bundle.redact import PersonFinderFactory

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--db", help="database URL (default: $TIPWATCH_DATABASE_URL or SQLite in the data dir)"
    )
    parser.add_argument(
        "--data", type=Path, help="data directory (default: $TIPWATCH_DATA_DIR or var/tipwatch)"
    )


def _loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) listens only on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost, or 0.0.0.0-style wildcards spelt otherwise


def run(args: argparse.Namespace, *, person_finder_factory: PersonFinderFactory | None = None) -> int:
    """Serve until stopped.  ``person_finder_factory`` lets bundle exports blur people (the tipwatch
    command passes the edge box's detector); without one, such exports are refused, saying why."""
    import uvicorn
    from pydantic import ValidationError

    from evidence_api.main import create_app
    from evidence_api.settings import Settings

    overrides: dict[str, object] = {}
    if args.db:
        overrides["database_url"] = args.db
    if args.data:
        overrides["data_dir"] = args.data
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(x) for x in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            logger.error("cannot start: %s%s", f"{where}: " if where else "", message)
        return 2
    if settings.uses_development_secret and not _loopback(args.host):
        logger.error(
            "refusing to listen on %s with the published development secret: set TIPWATCH_SECRET_KEY "
            "to a private random value (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))') "
            "or listen on 127.0.0.1",
            args.host,
        )
        return 2
    app = create_app(settings, person_finder_factory=person_finder_factory)
    logger.info("serving on http://%s:%d/api/v1 (database %s)", args.host, args.port, app.state.engine.url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
