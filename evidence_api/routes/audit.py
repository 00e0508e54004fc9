"""Audit chain check: the whole hash chain, held to every signed checkpoint of the log."""

from __future__ import annotations

from fastapi import APIRouter

from evidence_api.bundle.signing import KeyStore
from evidence_api.deps import AuditReader, SessionDep, SettingsDep
from evidence_api.schemas import AuditVerifyOut
from evidence_api.services import audit
from evidence_api.services.audit_checkpoints import CheckpointLog, verify_audit_log

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify", response_model=AuditVerifyOut)
def verify(principal: AuditReader, session: SessionDep, settings: SettingsDep) -> AuditVerifyOut:
    """Recompute the whole hash chain and hold it to the signed checkpoints kept outside the database;
    ok=false names the first fault (an altered or missing entry, a log cut short of a checkpoint)."""
    log = CheckpointLog(settings.resolved_audit_checkpoint_path)
    try:
        report = verify_audit_log(
            session=session,
            keys=KeyStore(settings.data_dir),
            log=log,
            anchor_due_s=2 * settings.audit_checkpoint_interval_s or None,
        )
    except audit.AuditChainError as exc:
        return AuditVerifyOut(ok=False, entries=0, head_hash=None, error=str(exc), result=f"BROKEN: {exc}")
    return AuditVerifyOut(
        ok=True,
        entries=report.entries,
        head_hash=report.head_hash,
        error=None,
        checkpoint=report.latest.index if report.latest else None,
        result=report.result(),
    )
