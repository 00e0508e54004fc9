"""Signed checkpoints of the audit log, kept outside the database, and the check against them.

The hash chain alone catches an edited or removed entry in the middle of the log, but not a log cut
short: delete the newest entries (and fix up or delete the ``audit_head`` row) and what is left is still
a valid chain.  So, as Certificate Transparency does with its signed tree heads, the log's state is
signed from time to time and kept where the database cannot rewrite it:

* a **checkpoint** (:mod:`evidence_api.bundle.checkpoint`) is the entry count, the last entry's hash and
  the time, signed with the council's bundle-signing key (the same Ed25519 key, so one published
  fingerprint vouches for bundles and checkpoints alike; a retired key's public half is kept, so old
  checkpoints still verify after a rotation);
* checkpoints are appended, one JSON line each and numbered #1, #2 ..., to the **checkpoint log**, a
  file under the data directory (``TIPWATCH_AUDIT_CHECKPOINT_PATH``, default
  ``<data dir>/audit/checkpoints.jsonl``) that is only ever appended to: an operator can put it on
  append-only or write-once storage (``chattr +a``, a WORM mount) or ship its lines elsewhere;
* each bundle carries the checkpoint its audit extract ends at, so a court and the defence hold signed
  heads the council cannot take back.

Who writes them, and when: the API every ``TIPWATCH_AUDIT_CHECKPOINT_INTERVAL_S`` (default 5 minutes,
:class:`AuditCheckpointer`), every bundle export (its extract ends at the checkpoint it embeds), and
``tipwatch admin audit checkpoint`` (cron, or by hand).  A checkpoint is written only when the log grew
(or the signing key changed); the newest entries are exposed to an undetected cut only until the next
one.  Before signing, the writer checks every entry appended since the last checkpoint and that the last
checkpoint's entry still hashes to its head: it never signs a log that disagrees with what it signed
before.

Concurrency: writers take an exclusive ``flock`` on the checkpoint log, then read the last checkpoint
and the *committed* head (the caller's session must have no transaction open, so nothing uncommitted
is ever signed), so checkpoints are numbered without gaps and never go backwards, whichever replica
writes.  ``flock`` serialises the processes of one host; replicas on several hosts should leave
checkpointing to one of them (interval 0 elsewhere) unless the data directory's file system honours it.

What this cannot catch: a cut of entries newer than the last checkpoint, or a cut of both the database
and the checkpoint log's tail by someone who can write both; copies of checkpoints held elsewhere (the
bundles, a shipped log) catch the second.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence_api.bundle.checkpoint import Checkpoint, CheckpointSigner, parse_checkpoint, sign_checkpoint
from evidence_api.bundle.format import canonical_json
from evidence_api.bundle.signing import KeyStore, SigningKeyError
from evidence_api.bundle.verify import format_fingerprint, public_key_fingerprint
from evidence_api.models import AuditEntry
from evidence_api.services.audit import (
    SCHEME,
    AuditChainError,
    ChainReport,
    verify_chain_report,
    verify_since,
)

logger = logging.getLogger(__name__)


class CheckpointLog:
    """The append-only file of signed checkpoints, one canonical JSON record a line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first ([] when there is no log yet); AuditChainError when a line is
        damaged or the numbering has a gap (lines were removed or reordered)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)  # never read a line a writer is half-way through
            return self._parse(fh)

    def _parse(self, fh: IO[bytes]) -> list[Checkpoint]:
        fh.seek(0)
        data = fh.read()
        if data and not data.endswith(b"\n"):
            raise AuditChainError(
                f"the checkpoint log {self.path} ends in a partial line (a write cut short?): it must be "
                "inspected by hand, and nothing is appended to it until then"
            )
        checkpoints: list[Checkpoint] = []
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                checkpoint = parse_checkpoint(json.loads(line))
            except ValueError as exc:
                raise AuditChainError(
                    f"the checkpoint log {self.path} line {number} is damaged: {exc}"
                ) from exc
            if checkpoint.index != number:
                raise AuditChainError(
                    f"the checkpoint log {self.path} has checkpoint #{checkpoint.index} on line {number}: "
                    "checkpoints were removed or reordered"
                )
            if checkpoints and checkpoint.tree_size < checkpoints[-1].tree_size:
                raise AuditChainError(
                    f"checkpoint #{checkpoint.index} covers fewer entries ({checkpoint.tree_size}) than "
                    f"#{checkpoints[-1].index} ({checkpoints[-1].tree_size}): the checkpoint log was edited"
                )
            checkpoints.append(checkpoint)
        return checkpoints

    @contextmanager
    def _exclusive(self) -> Iterator[IO[bytes]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+b", buffering=0) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield fh  # the lock goes with the file's closing

    def _append(self, fh: IO[bytes], checkpoint: Checkpoint) -> None:
        line = canonical_json(checkpoint.record()) + b"\n"
        if fh.write(line) != len(line):  # O_APPEND: at the end, whatever the offset
            raise OSError(f"short write to {self.path}: the disk may be full")
        os.fsync(fh.fileno())
        if checkpoint.index == 1:  # the file is new: make its directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class CheckpointWritten:
    checkpoint: Checkpoint
    new: bool  # False: the log had not grown since this checkpoint, so none was written


def write_checkpoint(
    *, session: Session, signer: CheckpointSigner, log: CheckpointLog, now: datetime | None = None
) -> CheckpointWritten | None:
    """Check what was appended since the last checkpoint, then sign and append a checkpoint of the
    committed head; None when the audit log is still empty.  AuditChainError (and nothing written) when
    the log disagrees with the last checkpoint or does not verify since it.

    ``session`` must have no transaction open (commit first): only committed entries are signed.  The
    read transaction this opens is rolled back before the signing."""
    if session.in_transaction():
        raise RuntimeError("write_checkpoint signs committed entries only: commit or roll back first")
    with log._exclusive() as fh:
        checkpoints = log._parse(fh)
        last = checkpoints[-1] if checkpoints else None
        try:
            head: ChainReport = verify_since(session, last)
        finally:
            session.rollback()
        if head.entries == 0:
            return None
        if last is not None and head.entries == last.tree_size and last.key_fingerprint == signer.fingerprint:
            return CheckpointWritten(last, new=False)
        checkpoint = sign_checkpoint(
            index=last.index + 1 if last else 1,
            tree_size=head.entries,
            head_hash=head.head_hash,
            hash_scheme=SCHEME,
            signer=signer,
            at=now or datetime.now(UTC),
        )
        log._append(fh, checkpoint)
    logger.info("audit log: %s written to %s", checkpoint.describe(), log.path)
    return CheckpointWritten(checkpoint, new=True)


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """What ``verify_audit_log`` checked, in words a person can act on (:meth:`result`)."""

    entries: int
    head_hash: str
    checkpoints: int  # how many signed checkpoints the log was held to
    latest: Checkpoint | None
    log_path: Path

    def result(self) -> str:
        if self.latest is None:
            return (
                f"{self.entries} entries, chain intact; NOT anchored: no signed checkpoint in "
                f"{self.log_path}, so entries cut from the end of the log would go unnoticed (run "
                "`tipwatch admin audit checkpoint`)"
            )
        newer = self.entries - self.latest.tree_size
        tail = f"; {newer} newer entries not yet checkpointed" if newer else ""
        return (
            f"{self.entries} entries, chain intact, matches {self.latest.describe()}, signed by key "
            f"{format_fingerprint(self.latest.key_fingerprint)[:19]}...; {self.checkpoints} checkpoints "
            f"checked{tail}"
        )


def verify_audit_log(
    *, session: Session, keys: KeyStore, log: CheckpointLog, anchor_due_s: float | None = None
) -> AuditVerification:
    """Recompute the whole chain and hold it to every checkpoint in ``log``, each checked against the
    key it names in ``keys``.  AuditChainError names the first fault: a damaged or cut checkpoint log, a
    checkpoint not signed by a council key, a database log shorter than a checkpoint or disagreeing
    with one, a missing or wrong chain head, an altered or missing entry; and, with ``anchor_due_s``
    (seconds; twice the API's checkpoint interval), a log with no checkpoint at all although the council
    has had a signing key for longer than that: a removed checkpoint log, which would otherwise leave
    the tail free to cut (or the whole log to wipe)."""
    checkpoints = log.read()  # before the database: every checkpoint read was of entries already committed
    for cp in checkpoints:
        _check_signature(cp, keys, log)
    if not checkpoints and anchor_due_s is not None:
        _check_anchor_not_missing(session, keys, log, anchor_due_s)
    report = verify_chain_report(session, checkpoints=checkpoints)
    latest = checkpoints[-1] if checkpoints else None
    return AuditVerification(report.entries, report.head_hash, len(checkpoints), latest, log.path)


def _check_anchor_not_missing(session: Session, keys: KeyStore, log: CheckpointLog, due_s: float) -> None:
    """No checkpoint at all: a fault once the council has had a signing key for longer than ``due_s``
    (the API signs one within that of any entry, and a deployment records entries from its first user
    on).  Judged by the key's age, not the entries', which whoever removed the log could also
    rewrite or delete."""
    try:
        records = keys.records()
    except (SigningKeyError, OSError, ValueError):
        return  # no key registry: nothing could have been signed; result() says the log is not anchored
    created = [_parse_time(r.created_at) for r in records]
    ages = [datetime.now(UTC) - c for c in created if c is not None]
    if not ages or max(ages) <= timedelta(seconds=due_s):
        return
    entries = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    held = f"holds {entries} entries" if entries else "is empty"
    raise AuditChainError(
        f"no signed checkpoint in {log.path}, yet the council has had a signing key for longer than the "
        f"{due_s:.0f} s within which the API writes one, and the audit log {held}: the checkpoint log "
        "was removed or replaced (and the log perhaps cut or wiped). Restore it from a backup or a "
        "bundle's copy; only if checkpoints truly never ran, run `tipwatch admin audit checkpoint`"
    )


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _check_signature(cp: Checkpoint, keys: KeyStore, log: CheckpointLog) -> None:
    if cp.hash_scheme != SCHEME:
        raise AuditChainError(f"checkpoint #{cp.index} is of hash scheme {cp.hash_scheme!r}, not {SCHEME}")
    try:
        key = keys.public_key(keys.get(cp.key_fingerprint))
    except (SigningKeyError, OSError, ValueError) as exc:
        raise AuditChainError(
            f"checkpoint #{cp.index} in {log.path} names signing key "
            f"{format_fingerprint(cp.key_fingerprint)}, which is not one of the council's keys ({exc})"
        ) from exc
    if public_key_fingerprint(key) != cp.key_fingerprint or not cp.signed_by(key):
        raise AuditChainError(
            f"checkpoint #{cp.index} in {log.path} is not validly signed by the key it names: the checkpoint "
            "log was edited"
        )


class AuditCheckpointer:
    """Writes a checkpoint every ``interval_s`` seconds on a thread of its own, with the active signing
    key of the day.  A failure is logged and tried again next time: a broken chain as an error (it needs
    a person), no signing key yet as a warning, once."""

    def __init__(
        self, sessionmaker: Callable[[], Session], keys: KeyStore, log: CheckpointLog, interval_s: float
    ) -> None:
        self._sessionmaker, self._keys, self._log, self._interval = sessionmaker, keys, log, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned_no_key = False

    def start(self) -> None:
        if self._interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

    def run_once(self) -> CheckpointWritten | None:
        try:
            signer = self._keys.load_active()
            with self._sessionmaker() as session:
                return write_checkpoint(session=session, signer=signer, log=self._log)
        except SigningKeyError as exc:
            if not self._warned_no_key:
                logger.warning("audit checkpoints are not being written: %s", exc)
                self._warned_no_key = True
        except AuditChainError as exc:
            logger.error("audit checkpoint refused, the audit log does not verify: %s", exc)
        except Exception:  # a thread nobody waits on: say what happened, and try again next time
            logger.exception("audit checkpoint failed")
        return None
