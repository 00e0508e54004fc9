"""Audit chain check."""

from __future__ import annotations

from fastapi import APIRouter

from evidence_api.deps import AuditReader, SessionDep
from evidence_api.schemas import AuditVerifyOut
from evidence_api.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify", response_model=AuditVerifyOut)
def verify(principal: AuditReader, session: SessionDep) -> AuditVerifyOut:
    """Recompute the whole hash chain; ok=false names the first broken entry."""
    try:
        report = audit.verify_chain_report(session)
    except audit.AuditChainError as exc:
        return AuditVerifyOut(ok=False, entries=0, head_hash=None, error=str(exc))
    return AuditVerifyOut(ok=True, entries=report.entries, head_hash=report.head_hash, error=None)
