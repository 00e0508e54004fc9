"""A cut or rewritten audit log fails ``tipwatch admin audit verify`` once a signed checkpoint covers it.

Each test builds a real chain in a real database (SQLite and PostgreSQL), signs checkpoints with a real
council key into a real checkpoint log, tampers with the database or the log the way someone with write
access would, and runs the admin command as an administrator does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from evidence_api.bundle.checkpoint import sign_checkpoint
from evidence_api.bundle.format import canonical_json, compute_hash
from evidence_api.bundle.signing import KeyStore
from evidence_api.db import make_engine, make_sessionmaker
from evidence_api.main import create_app, run_migrations
from evidence_api.models import AuditEntry, AuditHead
from evidence_api.services import audit, bootstrap, users
from evidence_api.settings import Settings
from tipwatch.cli import main as tipwatch

ENTRIES = 5


@dataclass
class World:
    url: str
    data: Path
    sessions: sessionmaker[Session]

    @property
    def log(self) -> Path:
        return self.data / "audit" / "checkpoints.jsonl"

    def append(self, n: int) -> None:
        with self.sessions() as s:
            for i in range(n):
                audit.append(
                    s, actor="officer:sgreen", action="event.confirm", target_type="event", target_id=str(i)
                )
            s.commit()

    def sql(self, *statements: str) -> None:
        with self.sessions() as s:
            for statement in statements:
                s.execute(text(statement))
            s.commit()


@pytest.fixture(autouse=True)
def deployment_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin command's settings come from the environment: a deployment's own secret (one on
    PostgreSQL refuses the published development secret)."""
    monkeypatch.setenv("TIPWATCH_SECRET_KEY", "audit-test-secret-0123456789")


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    engine = make_engine(db_url)
    run_migrations(db_url, engine=engine)
    w = World(db_url, tmp_path / "data", make_sessionmaker(engine))
    w.append(ENTRIES)
    KeyStore(w.data).generate(comment="council")
    yield w
    engine.dispose()


def admin(world: World, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = tipwatch(["admin", "--db", world.url, "--data", str(world.data), "audit", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_verify_says_what_it_checked_against_the_signed_checkpoint(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = admin(world, capsys, "verify")
    assert code == 0 and "NOT anchored: no signed checkpoint" in json.loads(out)["result"]
    code, out = admin(world, capsys, "checkpoint")
    assert code == 0, out
    written = json.loads(out)
    assert written["written"] and written["index"] == 1 and written["entries"] == ENTRIES
    code, out = admin(world, capsys, "checkpoint")  # nothing new: nothing written
    assert code == 0 and not json.loads(out)["written"]
    assert len(world.log.read_text().splitlines()) == 1

    world.append(2)
    code, out = admin(world, capsys, "verify")
    body = json.loads(out)
    assert code == 0 and body["ok"] and body["entries"] == ENTRIES + 2
    assert body["checkpoint"]["index"] == 1 and body["checkpoint"]["entries"] == ENTRIES
    assert body["result"].startswith(f"{ENTRIES + 2} entries, chain intact, matches signed checkpoint #1 of ")
    assert "2 newer entries not yet checkpointed" in body["result"]


CUTS = {
    "newest-entries-and-head": ["DELETE FROM audit_entries WHERE seq >= 4", "DELETE FROM audit_head"],
    "all-entries-and-head": ["DELETE FROM audit_entries", "DELETE FROM audit_head"],
    "last-entry-head-set-to-previous": [
        "DELETE FROM audit_entries WHERE seq = 5",
        "UPDATE audit_head SET seq = 4, head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 4)",
    ],
    "two-newest-head-set-back": [
        "DELETE FROM audit_entries WHERE seq >= 4",
        "UPDATE audit_head SET seq = 3, head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 3)",
    ],
    "newest-entry-head-left-alone": ["DELETE FROM audit_entries WHERE seq = 5"],
}


@pytest.mark.parametrize("cut", CUTS.values(), ids=CUTS.keys())
def test_a_log_cut_short_of_a_signed_checkpoint_fails(
    world: World, capsys: pytest.CaptureFixture[str], cut: list[str]
) -> None:
    assert admin(world, capsys, "checkpoint")[0] == 0
    signed = world.log.read_bytes()
    world.sql(*cut)
    code, out = admin(world, capsys, "verify")
    assert code == 1, out
    assert out.startswith("AUDIT CHAIN BROKEN: ")
    assert "signed checkpoint #1 of" in out and "covers entry 5: entries were removed" in out, out
    code, out = admin(world, capsys, "checkpoint")  # never signs a log that disagrees with what it signed
    assert code == 1 and "entries were removed" in out, out
    assert world.log.read_bytes() == signed


def _rewrite_from(world: World, seq: int) -> None:
    """Change entry ``seq`` and re-hash it and every entry after it, head included: a chain that links."""
    with world.sessions() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)).scalars()
        prev = s.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq - 1)).scalar_one()
        for row in rows:
            if row.seq == seq:
                row.actor = "officer:someone-else"
            row.prev_hash = prev
            row.entry_hash = prev = compute_hash(row.seq, row.prev_hash, audit.entry_fields(row))
            s.flush()
        head = s.get(AuditHead, 1)
        assert head is not None
        head.head_hash = prev
        s.commit()


def test_a_rewritten_and_rehashed_log_disagrees_with_the_checkpoint(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(world, capsys, "checkpoint")[0] == 0
    _rewrite_from(world, 3)
    with world.sessions() as s:
        audit.verify_chain(s)  # the chain alone still verifies: only the checkpoint catches it
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "audit entry 5 hashes to" in out and "the log was rewritten" in out, out
    code, out = admin(world, capsys, "checkpoint")
    assert code == 1 and "no longer hashes to the head hash of signed checkpoint #1" in out, out


@pytest.mark.parametrize(
    "cut",
    [["DELETE FROM audit_head"], ["DELETE FROM audit_entries WHERE seq >= 4", "DELETE FROM audit_head"]],
    ids=["head-only", "newest-entries-and-head"],
)
def test_entries_without_a_chain_head_fail_even_before_any_checkpoint(
    world: World, capsys: pytest.CaptureFixture[str], cut: list[str]
) -> None:
    world.sql(*cut)
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "the chain head (audit_head) is missing but the log has" in out, out


def test_the_head_moved_back_over_entries_still_there_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.sql(
        "UPDATE audit_head SET seq = 3, head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 3)"
    )
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "entries 4 to 5 lie beyond the chain head" in out, out


@pytest.mark.parametrize("seq", [0, -1, -1000])
@pytest.mark.parametrize("checkpointed", [False, True], ids=["no-checkpoint", "checkpointed"])
def test_an_entry_inserted_below_the_start_of_the_chain_fails(
    world: World, capsys: pytest.CaptureFixture[str], seq: int, checkpointed: bool
) -> None:
    """A forged "evidence.read" numbered below 1 sits outside the chain's walk, but readers that select
    entries by their target (a bundle's extract, the export history) would find it."""
    if checkpointed:
        assert admin(world, capsys, "checkpoint")[0] == 0
    columns = "at, actor, action, target_type, target_id, before_hash, after_hash, details, prev_hash"
    world.sql(
        f"INSERT INTO audit_entries (seq, {columns}, entry_hash) SELECT {seq}, at, 'officer:evil', "
        f"'evidence.read', target_type, target_id, before_hash, after_hash, details, prev_hash, "
        f"'{'ab' * 32}' FROM audit_entries WHERE seq = 3"
    )
    code, out = admin(world, capsys, "verify")
    assert code == 1, out
    assert "numbered below 1, outside the chain: entries were inserted by hand" in out, out


def _lines(world: World) -> list[dict]:
    return [json.loads(line) for line in world.log.read_text().splitlines()]


def _write_lines(world: World, records: list[dict]) -> None:
    world.log.write_bytes(b"".join(canonical_json(r) + b"\n" for r in records))


def test_edits_to_the_checkpoint_log_are_caught(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert admin(world, capsys, "checkpoint")[0] == 0
    world.append(1)
    assert admin(world, capsys, "checkpoint")[0] == 0
    original = _lines(world)
    assert [r["checkpoint"]["index"] for r in original] == [1, 2]

    _write_lines(world, original[1:])  # the first checkpoint removed
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "checkpoint #2 on line 1: checkpoints were removed or reordered" in out, out

    edited = json.loads(json.dumps(original))
    edited[1]["checkpoint"]["tree_size"] = ENTRIES  # to match a log cut back to 5 entries
    _write_lines(world, edited)
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "checkpoint #2" in out and "is not validly signed by the key it names" in out, out

    stranger = KeyStore(tmp_path / "stranger")
    stranger.generate()
    forged = sign_checkpoint(
        index=3,
        tree_size=ENTRIES + 1,
        head_hash=original[1]["checkpoint"]["head_hash"],
        hash_scheme=audit.SCHEME,
        signer=stranger.load_active(),
        at=datetime.now(UTC),
    )
    _write_lines(world, [*original, forged.record()])
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "checkpoint #3" in out and "which is not one of the council's keys" in out, out

    world.log.write_bytes(canonical_json(original[0]) + b"\n" + canonical_json(original[1])[:40])
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "ends in a partial line" in out, out


def test_checkpoints_after_a_key_rotation_verify_with_the_retired_key(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(world, capsys, "checkpoint")[0] == 0
    KeyStore(world.data).rotate()
    world.append(1)
    assert admin(world, capsys, "checkpoint")[0] == 0
    prints = {r["checkpoint"]["key_fingerprint"] for r in _lines(world)}
    assert len(prints) == 2
    code, out = admin(world, capsys, "verify")
    assert code == 0 and json.loads(out)["checkpoints_checked"] == 2, out


def test_checkpoint_without_a_signing_key_says_what_to_run(db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = tipwatch(["admin", "--db", db_url, "--data", str(tmp_path), "audit", "checkpoint"])
    assert code == 1 and "tipwatch admin keys generate" in capsys.readouterr().err


def test_the_api_writes_checkpoints_by_itself_and_verify_reports_them(db_url: str, tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        secret_key="test-secret-0123456789abcdef",
        data_dir=tmp_path / "data",
        database_url=db_url,
        audit_checkpoint_interval_s=0.1,
    )
    KeyStore(settings.data_dir).generate()
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        staff = bootstrap.ensure_staff(session=session, password="correct horse battery")
        token, _ = users.issue_user_token(
            session=session, user=staff["legal"], pepper=settings.secret_key, hours=1
        )
        session.commit()
    log = settings.resolved_audit_checkpoint_path
    try:
        with TestClient(app) as client:
            deadline = time.monotonic() + 20
            while not log.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert log.exists(), "the API wrote no checkpoint"
            r = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {token}"})
        body = r.json()
        assert r.status_code == 200 and body["ok"] and body["checkpoint"] >= 1, body
        assert "chain intact, matches signed checkpoint #" in body["result"]
    finally:
        app.state.engine.dispose()


def test_a_removed_checkpoint_log_fails_once_a_checkpoint_was_due(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: moving the checkpoint log away and cutting the tail passed (exit 0, "NOT anchored"); so
    did wiping every entry and the head too.  With a council key older than the API's checkpoint
    period, a log with no checkpoint is a fault; a key younger than that is only "not anchored"."""
    monkeypatch.setenv("TIPWATCH_AUDIT_CHECKPOINT_INTERVAL_S", "0.5")  # a checkpoint is due within 1 s
    code, out = admin(world, capsys, "verify")
    assert code == 0 and "NOT anchored" in out, "a key younger than the period: not yet due"
    assert admin(world, capsys, "checkpoint")[0] == 0
    world.log.rename(world.log.with_suffix(".moved"))
    world.sql(
        "DELETE FROM audit_entries WHERE seq = 5",
        "UPDATE audit_head SET seq = 4, head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 4) "
        "WHERE id = 1",
    )
    time.sleep(1.2)
    code, out = admin(world, capsys, "verify")
    assert code == 1, out
    assert "no signed checkpoint" in out and "the checkpoint log was removed" in out, out
    world.sql("DELETE FROM audit_entries", "DELETE FROM audit_head")  # wiped altogether
    code, out = admin(world, capsys, "verify")
    assert code == 1 and "the audit log is empty" in out, out
