"""The audit log, for admins: who decided, viewed, exported or administered what, when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lykta.api.deps import Admin, Core, actor
from lykta.api.schemas import OneLine, errors
from lykta.outputs import AuditEntryOut

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=errors(401, 403, 422))


@router.get("/audit", response_model=list[AuditEntryOut])
def audit_log(
    core: Core,
    token: Admin,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    actor_is: Annotated[OneLine | None, Query(alias="actor", max_length=256)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="entry ids below")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """The newest entries first. Reading the log is itself logged."""
    found = core.audit.list(action=action, actor=actor_is, before=before, limit=limit)
    core.audit.record(actor(token), "audit.view", "", {"action": action, "actor": actor_is})
    return [AuditEntryOut.of(entry) for entry in found]
