"""Settings refuse the development secret in production; login, session and device tokens revoke."""

from __future__ import annotations

import pytest
from evidence_testutil import PASSWORD, Api
from pydantic import ValidationError

from evidence_api.security import hash_password, verify_password
from evidence_api.settings import Settings


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
