"""Every endpoint × every role → the expected status (401 without a token)."""

from __future__ import annotations

import uuid

import pytest
from evidence_testutil import Api

ZERO = str(uuid.UUID(int=0))
SHA = "0" * 64
ANY_ROLE = {"device", "officer", "legal", "admin"}
STAFF = {"officer", "legal", "admin"}

# (method, path, json body, roles allowed) — allowed roles get past authorisation (any status but 401/403)
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, set[str]]] = [
    ("GET", "/api/v1/auth/me", None, ANY_ROLE),
    ("POST", "/api/v1/auth/logout", None, ANY_ROLE),
    ("POST", "/api/v1/events", {}, {"device"}),
    ("PUT", f"/api/v1/events/{ZERO}/files/{SHA}", None, {"device"}),
    ("GET", "/api/v1/events", None, STAFF),
    ("GET", f"/api/v1/events/{ZERO}", None, STAFF),
    ("GET", f"/api/v1/events/{ZERO}/files", None, STAFF),
    ("POST", f"/api/v1/events/{ZERO}/review", {"action": "start"}, {"officer", "admin"}),
    ("POST", f"/api/v1/events/{ZERO}/legal-override", {"reasons": "x" * 20}, {"legal", "admin"}),
    ("GET", f"/api/v1/blobs/{SHA}", None, STAFF),
    ("POST", "/api/v1/sites", {}, {"admin"}),
    ("GET", "/api/v1/sites", None, STAFF),
    ("POST", "/api/v1/cameras", {}, {"admin"}),
    ("GET", "/api/v1/cameras", None, STAFF),
    ("POST", "/api/v1/cameras/x/health", {}, {"device"}),
    ("GET", "/api/v1/cameras/x/health", None, STAFF),
    ("POST", "/api/v1/authorisations", {}, {"legal", "admin"}),
    ("GET", "/api/v1/authorisations", None, STAFF),
    ("GET", "/api/v1/authorisations/expiring", None, STAFF),
    ("GET", f"/api/v1/authorisations/{ZERO}", None, STAFF),
    ("POST", f"/api/v1/authorisations/{ZERO}/reviews", {}, {"legal", "admin"}),
    (
        "POST",
        f"/api/v1/authorisations/{ZERO}/renewals",
        {"magistrate_date": "2026-01-01"},
        {"legal", "admin"},
    ),
    ("POST", f"/api/v1/authorisations/{ZERO}/cancel", {"reason": "done"}, {"legal", "admin"}),
    ("POST", "/api/v1/cases", {"title": "t"}, {"officer", "admin"}),
    ("GET", "/api/v1/cases", None, STAFF),
    ("GET", f"/api/v1/cases/{ZERO}", None, STAFF),
    ("PATCH", f"/api/v1/cases/{ZERO}", {}, {"officer", "admin"}),
    ("POST", f"/api/v1/cases/{ZERO}/events", {"event_ids": [ZERO]}, {"officer", "admin"}),
    ("GET", "/api/v1/audit/verify", None, {"legal", "admin"}),
    ("GET", "/api/v1/returns/wastedataflow?year=2026&quarter=4", None, STAFF),
    ("GET", "/api/v1/dashboard/hotspots", None, STAFF),
]

# authorisation is the same on every database: run the table on SQLite only (the data layer runs on both)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

CASES = [
    pytest.param(method, path, body, role, role in allowed, id=f"{method} {path} as {role}")
    for method, path, body, allowed in ENDPOINTS
    for role in ("anonymous", "device", "officer", "legal", "admin")
]


def test_the_table_covers_every_api_route(api: Api) -> None:
    # From the served OpenAPI schema: FastAPI includes routers lazily, so ``app.routes`` does not list
    # them, and a walk over it finds nothing to check.
    paths = api.client.get("/openapi.json").json()["paths"]
    app_routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1") and "/bundles" not in path
        for method in operations
    }
    assert len(app_routes) >= len(ENDPOINTS), "the schema lists fewer API routes than the table"
    table = {(m, p.split("?")[0].replace(ZERO, "{x}").replace(SHA, "{x}")) for m, p, _, _ in ENDPOINTS}
    normalised = {
        (
            m,
            p.replace("{event_id}", "{x}")
            .replace("{sha256}", "{x}")
            .replace("{case_id}", "{x}")
            .replace("{authorisation_id}", "{x}")
            .replace("{key}", "x"),
        )
        for m, p in app_routes
    }
    missing = normalised - table - {("POST", "/api/v1/auth/login")}
    assert not missing, f"routes without a role test: {sorted(missing)}"


@pytest.mark.parametrize(("method", "path", "body", "role", "allowed"), CASES)
def test_role_table(
    api: Api, method: str, path: str, body: dict[str, object] | None, role: str, allowed: bool
) -> None:
    headers = {} if role == "anonymous" else api.h(role)
    r = api.client.request(method, path, json=body, headers=headers)
    if role == "anonymous":
        assert r.status_code == 401, r.text
    elif allowed:
        assert r.status_code not in (401, 403, 500), r.text
    else:
        assert r.status_code == 403, r.text
