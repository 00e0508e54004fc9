"""Concurrent appends from many sessions (as from many replicas) keep the chain linear, and signed
checkpoints written and checked meanwhile stay consistent with it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evidence_api.bundle.signing import KeyStore
from evidence_api.db import make_engine, make_sessionmaker
from evidence_api.main import run_migrations
from evidence_api.services import audit
from evidence_api.services.audit_checkpoints import CheckpointLog, verify_audit_log, write_checkpoint


def test_concurrent_appends_keep_one_linear_chain(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=8)
    run_migrations(db_url, engine=engine)
    sessions = make_sessionmaker(engine)

    def writer(n: int) -> None:
        for i in range(10):
            with sessions() as s:
                audit.append(s, actor=f"replica:{n}", action="test.append", target_type="t", target_id=str(i))
                s.commit()

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(writer, range(6)))
        with sessions() as s:
            report = audit.verify_chain_report(s)
        assert report.entries == 60
    finally:
        engine.dispose()


def test_checkpoints_and_verifies_while_replicas_append(db_url: str, tmp_path: Path) -> None:
    """Checkpoint writers (as in every replica) and verifiers running during appends: checkpoints are
    numbered without gaps and never go back, each matches the chain, and no verify cries wolf."""
    engine = make_engine(db_url, pool_size=12)
    run_migrations(db_url, engine=engine)
    sessions = make_sessionmaker(engine)
    keys = KeyStore(tmp_path / "data")
    keys.generate()
    log = CheckpointLog(tmp_path / "data" / "audit" / "checkpoints.jsonl")
    appending = threading.Event()
    appending.set()
    failures: list[str] = []

    def writer(n: int) -> None:
        for i in range(15):
            with sessions() as s:
                audit.append(s, actor=f"replica:{n}", action="test.append", target_type="t", target_id=str(i))
                s.commit()

    def checkpointer() -> None:
        signer = keys.load_active()
        while appending.is_set():
            with sessions() as s:
                write_checkpoint(session=s, signer=signer, log=log)

    def verifier() -> None:
        while appending.is_set():
            with sessions() as s:
                try:
                    audit.verify_chain_report(s, checkpoints=log.read())
                except audit.AuditChainError as exc:
                    failures.append(str(exc))

    try:
        with ThreadPoolExecutor(8) as pool:
            background = [pool.submit(checkpointer), pool.submit(checkpointer), pool.submit(verifier)]
            list(pool.map(writer, range(4)))
            appending.clear()
            for job in background:
                job.result()
        with sessions() as s:
            write_checkpoint(session=s, signer=keys.load_active(), log=log)
        with sessions() as s:
            report = verify_audit_log(session=s, keys=keys, log=log)
        checkpoints = log.read()
        assert not failures, failures[:3]
        assert report.entries == 60 and report.latest is not None and report.latest.tree_size == 60
        assert [c.index for c in checkpoints] == list(range(1, len(checkpoints) + 1))
        sizes = [c.tree_size for c in checkpoints]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)  # one checkpoint per state
    finally:
        engine.dispose()
