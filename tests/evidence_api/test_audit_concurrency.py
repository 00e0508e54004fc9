"""Concurrent appends from many sessions (as from many replicas) keep the chain linear."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from evidence_api.db import make_engine, make_sessionmaker
from evidence_api.main import run_migrations
from evidence_api.services import audit


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
