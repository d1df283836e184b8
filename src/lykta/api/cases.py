"""Review over HTTP: alerts, the case queue, a case with its history, decisions and
assignment, context attached by platforms, quarantined bank items.

Reading and deciding need a `reviewer` token (marking a case reported, `child_safety`);
attaching context is the platform's, with its `matcher` token. Viewing a case or a
subject's context, and every change, is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from lykta.api.deps import Core, Matcher, Reviewer, actor
from lykta.api.schemas import OneLine, errors
from lykta.auth.tokens import Scope, grants
from lykta.cases import CaseState, NewContext
from lykta.cases.context import CONTEXT_KINDS, MAX_EVENT, MAX_VALUE
from lykta.cases.service import MAX_ASSIGNEE, MAX_NOTE, MAX_SUBJECT
from lykta.outputs import AlertOut, CaseDetailOut, CaseOut, ContextOut, MisfireOut

router = APIRouter(prefix="/api/v1", tags=["review"], responses=errors(401, 403, 422))


Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many")]
NO_CASE = errors(404, meanings={404: "no such case"})
NO_ALERT = errors(404, meanings={404: "no such alert"})
CaseId = Annotated[int, Path(ge=1, le=2**62)]
AlertId = Annotated[int, Path(ge=1, le=2**62)]
Subject = Annotated[
    OneLine, Path(description="the platform's account id (URL-encoded)", max_length=MAX_SUBJECT)
]


class ContextIn(BaseModel):
    kind: str = Field(description=f"one of {', '.join(CONTEXT_KINDS)}")
    value: str = Field(
        description="the screen name, the email address, the IP address, or the chat excerpt",
        json_schema_extra={"maxLength": MAX_VALUE["chat"]},
    )
    event: str | None = Field(
        default=None,
        description="what happened (an IP capture's event: login, upload...)",
        json_schema_extra={"maxLength": MAX_EVENT},
    )
    at: AwareDatetime | None = Field(default=None, description="when (with its time zone)")

    def item(self) -> NewContext:
        return NewContext(self.kind, self.value, self.event, self.at)


class DecisionIn(BaseModel):
    decision: CaseState = Field(
        description="the state to move to: in_review, confirmed, false_positive, escalated "
        "(reviewer), reported (child_safety) or closed"
    )
    note: str = Field(default="", json_schema_extra={"maxLength": MAX_NOTE})
    negative_bank: str | None = Field(
        default=None,
        description="with false_positive: put the hashes that matched into this negative bank",
    )


class AssignIn(BaseModel):
    assignee: str | None = Field(
        description="the reviewer's name; null to unassign", json_schema_extra={"maxLength": 128}
    )
    note: str = Field(default="", json_schema_extra={"maxLength": MAX_NOTE})


# --- alerts ----------------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    core: Core,
    _: Reviewer,
    subject: Annotated[OneLine | None, Query(max_length=MAX_SUBJECT)] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    source_kind: Annotated[str | None, Query(pattern="^(stream|video|photo)$")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="alert ids below")] = None,
    limit: Limit = 100,
) -> list[AlertOut]:
    """The newest alerts first."""
    found = core.alerts.list(
        subject=subject, case_id=case_id, source_kind=source_kind, before=before, limit=limit
    )
    return [AlertOut.of(alert) for alert in found]


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=NO_ALERT)
def get_alert(core: Core, _: Reviewer, alert_id: AlertId) -> AlertOut:
    return AlertOut.of(core.alerts.get(alert_id))


@router.post(
    "/alerts/{alert_id}/context",
    response_model=ContextOut,
    status_code=201,
    responses=errors(400, 404, 413, meanings={404: "no such alert"}),
)
def add_alert_context(core: Core, token: Matcher, alert_id: AlertId, body: ContextIn) -> ContextOut:
    """Attach context to an alert (and so to its subject)."""
    return ContextOut.of(core.cases.add_context(body.item(), actor=actor(token), alert_id=alert_id))


# --- context -----------------------------------------------------------------------------


@router.post(
    "/subjects/{subject:path}/context",
    response_model=ContextOut,
    status_code=201,
    responses=errors(400, 413),
)
def add_subject_context(
    core: Core, token: Matcher, subject: Subject, body: ContextIn
) -> ContextOut:
    """Attach context to a subject: a screen name, an email, an IP capture, a chat excerpt."""
    return ContextOut.of(core.cases.add_context(body.item(), actor=actor(token), subject=subject))


@router.get("/subjects/{subject:path}/context", response_model=list[ContextOut])
def subject_context(core: Core, token: Reviewer, subject: Subject) -> list[ContextOut]:
    return [ContextOut.of(item) for item in core.cases.context(subject, viewer=actor(token))]


# --- cases -------------------------------------------------------------------------------


@router.get("/cases", response_model=list[CaseOut])
def list_cases(
    core: Core,
    _: Reviewer,
    state: CaseState | None = None,
    bank: Annotated[OneLine | None, Query(max_length=128, description="with alerts of")] = None,
    assignee: Annotated[OneLine | None, Query(max_length=MAX_ASSIGNEE)] = None,
    subject: Annotated[OneLine | None, Query(max_length=MAX_SUBJECT)] = None,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> list[CaseOut]:
    """The queue: highest priority first (stream > video > photo, then closer matches,
    then LYKTA_CASE_BANK_ORDER), oldest first among equals."""
    found = core.cases.queue(
        state=state, bank=bank, assignee=assignee, subject=subject, limit=limit, offset=offset
    )
    return [CaseOut.of(case) for case in found]


@router.get("/cases/{case_id}", response_model=CaseDetailOut, responses=NO_CASE)
def get_case(core: Core, token: Reviewer, case_id: CaseId) -> CaseDetailOut:
    """A case with its alerts, history and the subject's context (no media)."""
    return CaseDetailOut.of_detail(core.cases.get(case_id, viewer=actor(token)))


@router.post(
    "/cases/{case_id}/decision",
    response_model=CaseDetailOut,
    responses=errors(
        400, 404, 409, 413,
        meanings={404: "no such case or bank", 409: "the case's state does not allow it"},
    ),
)  # fmt: skip
def decide_case(core: Core, token: Reviewer, case_id: CaseId, body: DecisionIn) -> CaseDetailOut:
    """Decide a case, with a note; written to its history and the audit log."""
    decided = core.cases.decide(
        case_id, body.decision, actor=actor(token), note=body.note,
        may_report=grants(token.scope, Scope.CHILD_SAFETY), negative_bank=body.negative_bank,
    )  # fmt: skip
    return CaseDetailOut.of_detail(decided)


@router.post(
    "/cases/{case_id}/assignee",
    response_model=CaseOut,
    responses=errors(400, 404, 413, meanings={404: "no such case"}),
)
def assign_case(core: Core, token: Reviewer, case_id: CaseId, body: AssignIn) -> CaseOut:
    return CaseOut.of(core.cases.assign(case_id, body.assignee, actor=actor(token), note=body.note))


@router.get("/quarantine", response_model=list[MisfireOut])
def misfires(
    core: Core,
    _: Reviewer,
    all: Annotated[bool, Query(description="also bank items not (yet) quarantined")] = False,
    limit: Limit = 100,
) -> list[MisfireOut]:
    """Bank items whose matches were judged false positives, the most first; quarantined
    ones (LYKTA_QUARANTINE_AFTER reached) no longer open or join cases."""
    return [MisfireOut.of(m) for m in core.cases.misfires(quarantined_only=not all, limit=limit)]
