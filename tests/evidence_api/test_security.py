"""Settings refuse the development secret in production; login, session and device tokens revoke."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from evidence_testutil import PASSWORD, Api
from pydantic import ValidationError
from sqlalchemy import select

from evidence_api import models
from evidence_api.security import COST_VARIABLE, hash_password, needs_rehash, scrypt_n, verify_password
from evidence_api.settings import DEVELOPMENT_SECRET, Settings


def test_default_secret_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIPWATCH_ENV", "production")
    monkeypatch.delenv("TIPWATCH_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="TIPWATCH_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("TIPWATCH_SECRET_KEY", "a-private-random-value-0123456789")
    assert Settings().env == "production"


def test_password_hash_is_salted_scrypt() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("correct horse", a) and not verify_password("wrong horse", a)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_login_logout_and_device_token_revocation(api: Api) -> None:
    assert (
        api.client.post("/api/v1/auth/login", json={"username": "legal", "password": "nope"}).status_code
        == 401
    )
    r = api.client.post("/api/v1/auth/login", json={"username": "legal", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "legal"
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=h).json() == {
        "name": "legal",
        "role": "legal",
        "kind": "user",
    }
    assert api.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401

    from evidence_api.models import ApiToken
    from evidence_api.services import users

    assert api.client.get("/api/v1/auth/me", headers=api.h("device")).json()["kind"] == "device"
    with api.sessionmaker() as s:
        device_tokens = [t for t in users.list_tokens(session=s) if t.kind == "device"]
        assert all(
            len(t.token_hash) == 64 and api.tokens["device"] not in t.token_hash for t in device_tokens
        )
        for t in device_tokens:
            users.revoke_token(session=s, token_id=t.id, actor="test")
        s.commit()
        assert all(s.get(ApiToken, t.id).revoked_at is not None for t in device_tokens)  # type: ignore[union-attr]
    assert api.client.get("/api/v1/auth/me", headers=api.h("device")).status_code == 401


def test_passwords_are_hashed_at_owasp_cost_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COST_VARIABLE, raising=False)
    stored = hash_password("correct horse")
    assert stored.split("$")[1:4] == [str(2**17), "8", "1"]  # OWASP: scrypt N=2^17, r=8, p=1
    assert verify_password("correct horse", stored) and not needs_rehash(stored)
    # a lower cost asked for in production is ignored
    monkeypatch.setenv(COST_VARIABLE, "12")
    monkeypatch.setenv("TIPWATCH_ENV", "production")
    assert scrypt_n() == 2**17
    monkeypatch.setenv(COST_VARIABLE, "seventeen")
    with pytest.raises(ValueError, match="whole number"):
        scrypt_n()


def test_hashes_that_are_not_ours_never_verify() -> None:
    good = hash_password("correct horse")
    _scheme, _n, r, p, salt, key = good.split("$")
    for stored in ("", "plain", "bcrypt$x", "scrypt$1024$8$1$not base64$"):
        assert not verify_password("correct horse", stored) and needs_rehash(stored)
    # costs this system never makes are refused before any memory is spent on them
    for stored in (f"scrypt$1000${r}${p}${salt}${key}", f"scrypt${2**30}${r}${p}${salt}${key}"):
        assert not verify_password("correct horse", stored)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_password_hashed_at_an_old_cost_is_upgraded_at_login(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(COST_VARIABLE, "10")
    with api.sessionmaker() as session:
        user = session.execute(select(models.User).where(models.User.username == "legal")).scalar_one()
        user.password_hash = hash_password(PASSWORD)  # as stored before the cost went up
        session.commit()
    monkeypatch.setenv(COST_VARIABLE, "12")
    r = api.client.post("/api/v1/auth/login", json={"username": "legal", "password": PASSWORD})
    assert r.status_code == 200
    with api.sessionmaker() as session:
        user = session.execute(select(models.User).where(models.User.username == "legal")).scalar_one()
        assert user.password_hash.split("$")[1] == str(2**12)
        actions = session.execute(select(models.AuditEntry.action)).scalars().all()
    assert "user.password_rehash" in actions
    # and the upgraded hash still logs in, without being upgraded again
    r = api.client.post("/api/v1/auth/login", json={"username": "legal", "password": PASSWORD})
    assert r.status_code == 200


def test_development_secret_is_refused_with_a_production_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIPWATCH_ENV", raising=False)
    monkeypatch.delenv("TIPWATCH_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="only for a local SQLite deployment"):
        Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert Settings(database_url="sqlite+pysqlite:///:memory:").uses_development_secret


def test_serve_refuses_to_listen_beyond_loopback_on_the_development_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TIPWATCH_SECRET_KEY", "TIPWATCH_ENV")}
    cmd = [sys.executable, "-m", "tipwatch", "serve", "--host", "0.0.0.0", "--port", "1"]
    cmd += ["--data", str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 with the published development secret" in done.stderr


def test_serve_refuses_a_production_database_on_the_development_secret_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TIPWATCH_SECRET_KEY", "TIPWATCH_ENV")}
    cmd = [sys.executable, "-m", "tipwatch", "serve", "--port", "1", "--data", str(tmp_path)]
    cmd += ["--db", "postgresql+psycopg://postgres@127.0.0.1:5432/test"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "cannot start: TIPWATCH_SECRET_KEY must be set" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_development_secret_padded_with_spaces_is_still_the_development_secret() -> None:
    padded = Settings(secret_key=f" {DEVELOPMENT_SECRET}  ", database_url="sqlite+pysqlite:///:memory:")
    assert padded.uses_development_secret
    with pytest.raises(ValidationError, match="TIPWATCH_SECRET_KEY"):
        Settings(env="production", secret_key=f"{DEVELOPMENT_SECRET} ")
