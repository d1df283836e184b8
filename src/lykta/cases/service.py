"""Cases over alerts: grouping (inside each alert's own transaction), the queue, decisions
with their history and audit entries, context, and bank items that misfire."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import case as when
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from lykta.alerts import AlertInfo
from lykta.alerts.repository import alert_info
from lykta.audit import AuditLog
from lykta.banks.items import ContentItem
from lykta.banks.service import BankService
from lykta.cases.context import ContextInfo, NewContext, check_text
from lykta.cases.states import (
    CHILD_SAFETY_DECISIONS,
    OPEN_STATES,
    TRANSITIONS,
    CaseState,
    parse_state,
    priority,
)
from lykta.errors import Conflict, Forbidden, InvalidInput, NotFound
from lykta.store.models import Alert, Case, CaseEvent, ContextItem, Misfire

SYSTEM_ACTOR = "lykta"
MAX_NOTE = 10_000
MAX_ASSIGNEE = 128
MAX_SUBJECT = 512
MAX_CASE_ALERTS = 1000


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class CaseInfo:
    id: int
    subject: str | None
    group_key: str
    state: CaseState
    assignee: str | None
    priority: int
    top_source_kind: str
    min_distance: int
    alert_count: int
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class EventInfo:
    id: int
    at: datetime | None
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CaseDetail:
    case: CaseInfo
    alerts: list[AlertInfo]
    history: list[EventInfo]
    context: list[ContextInfo]


@dataclass(frozen=True)
class MisfireInfo:
    bank: str
    content_id: int
    external_id: str | None
    false_positives: int
    quarantined_at: datetime | None


def case_info(row: Case) -> CaseInfo:
    return CaseInfo(
        row.id, row.subject, row.group_key, CaseState(row.state), row.assignee, row.priority,
        row.top_source_kind, row.min_distance, row.alert_count, _utc(row.created_at),
        _utc(row.updated_at),
    )  # fmt: skip


def event_info(row: CaseEvent) -> EventInfo:
    return EventInfo(
        row.id, _utc(row.at), row.actor, row.action, row.from_state, row.to_state, row.note,
        json.loads(row.detail_json),
    )  # fmt: skip


def context_info(row: ContextItem) -> ContextInfo:
    return ContextInfo(
        kind=row.kind, value=row.value, event=row.event, at=_utc(row.at), id=row.id,
        subject=row.subject, alert_id=row.alert_id, added_by=row.added_by,
        created_at=_utc(row.created_at),
    )  # fmt: skip


# Alerts are recorded on the look-up's path, so putting one into its case takes one
# statement, two for the alert that opens it, each built once (building statements per
# alert cost more than running them). The first adds the alert to the subject's open case
# unless its bank item is quarantined, with the counters as SQL expressions, so concurrent
# recorders never lose each other's; it is a write, so on SQLite the transaction takes the
# write lock at once. When no case is open, an upsert opens one: should another recorder
# open the subject's case first, the unique `open_key` turns the insert into the join, in
# the database, with no retry. (The upsert alone would do both, but on PostgreSQL every
# join would then use up a case id.)
QUARANTINED = select(Misfire.bank).where(
    Misfire.bank == bindparam("bank"),
    Misfire.content_id == bindparam("content_id"),
    Misfire.quarantined_at.is_not(None),
)
_RANK = bindparam("rank", type_=BigInteger)
_DISTANCE = bindparam("distance", type_=Integer)
_KIND = bindparam("kind", type_=String)
_NOW = bindparam("now", type_=DateTime(timezone=True))
_JOINED = {
    "alert_count": Case.alert_count + 1,
    "priority": when((Case.priority < _RANK, _RANK), else_=Case.priority),
    "top_source_kind": when((Case.priority < _RANK, _KIND), else_=Case.top_source_kind),
    "min_distance": when((Case.min_distance > _DISTANCE, _DISTANCE), else_=Case.min_distance),
    "updated_at": _NOW,
}
JOIN_OPEN_CASE = (
    update(Case)
    .where(Case.open_key == bindparam("key"), ~QUARANTINED.exists())
    .values(_JOINED)
    .returning(Case.id, Case.alert_count)
)
_NEW_CASE = select(
    bindparam("case_subject", type_=String), bindparam("key", type_=String),
    bindparam("key", type_=String), literal(CaseState.NEW.value), _RANK, _KIND, _DISTANCE,
    literal(1), _NOW, _NOW,
).where(~QUARANTINED.exists())  # fmt: skip
_NEW_CASE_COLUMNS = [
    "subject", "group_key", "open_key", "state", "priority", "top_source_kind",
    "min_distance", "alert_count", "created_at", "updated_at",
]  # fmt: skip


def _open_or_join(insert_of: Callable[[Any], Any]) -> Any:
    opened = insert_of(Case).from_select(_NEW_CASE_COLUMNS, _NEW_CASE)
    joined = opened.on_conflict_do_update(index_elements=[Case.open_key], set_=_JOINED)
    return joined.returning(Case.id, Case.alert_count)


# The case's first history entry, for the alert that opened it (its count is 1).
OPENED_EVENT = insert(CaseEvent).values(
    case_id=bindparam("case_id"), at=_NOW, actor=SYSTEM_ACTOR, action="opened",
    to_state=CaseState.NEW.value, note="", detail_json=bindparam("opened_detail"),
)  # fmt: skip


def _open_or_join_with_event() -> Any:
    """PostgreSQL's opening statement writes the opened event too (a data-modifying common
    table expression), a round trip less on the look-up's path."""
    case_row = _open_or_join(postgresql_insert).cte("case_row")
    event = insert(CaseEvent).from_select(
        [
            CaseEvent.case_id, CaseEvent.at, CaseEvent.actor, CaseEvent.action,
            CaseEvent.to_state, CaseEvent.note, CaseEvent.detail_json,
        ],
        select(
            case_row.c.id, _NOW, literal(SYSTEM_ACTOR), literal("opened"),
            literal(CaseState.NEW.value), literal(""), bindparam("opened_detail", type_=String),
        ).where(case_row.c.alert_count == 1),
    )  # fmt: skip
    return select(case_row.c.id, case_row.c.alert_count).add_cte(event.cte("opened_event"))


# (case id, its alert count): a count of 1 says that this alert opened the case; and
# whether the statement wrote the opened event itself.
OPEN_OR_JOIN_CASE = {
    "postgresql": (_open_or_join_with_event(), True),
    "sqlite": (_open_or_join(sqlite_insert), False),
}


def group_key(alert: Alert) -> str:
    """Alerts about one subject share a case; without a subject, alerts of one source do."""
    if alert.subject:
        return f"subject:{alert.subject}"
    return f"{alert.source_kind}:{alert.source_id}"


def _check_note(note: str) -> str:
    return check_text("a note", note, MAX_NOTE, one_line=False)


class CaseService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        banks: BankService,
        *,
        bank_order: Sequence[str] = (),
        quarantine_after: int = 0,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._banks = banks
        self.bank_order = tuple(bank_order)
        self.quarantine_after = quarantine_after
        # Called inside each decision's transaction (evidence is preserved on confirmation):
        # (session, case id, new state, actor); raising refuses the decision.
        self.decision_listeners: list[Callable[[Session, int, CaseState, str], None]] = []

    # --- grouping: an alert listener ----------------------------------------------------

    def attach(self, session: Session, alert: Alert) -> None:
        """Put a new alert (not yet written) into its subject's open case, opening one if
        there is none; a quarantined bank item's match joins no case."""
        connection = session.connection()
        key = group_key(alert)
        rank = priority(alert.source_kind, alert.distance, alert.bank, self.bank_order)
        now = datetime.now(UTC)
        params = {
            # Not named after a column: an update's extra parameters join its SET clause.
            "key": key, "case_subject": alert.subject, "bank": alert.bank,
            "content_id": alert.content_id, "rank": rank, "kind": alert.source_kind,
            "distance": alert.distance, "now": now,
        }  # fmt: skip
        found = connection.execute(JOIN_OPEN_CASE, params).first()
        if found is None:
            opening, with_event = OPEN_OR_JOIN_CASE[connection.dialect.name]
            params["opened_detail"] = json.dumps(
                {"source_kind": alert.source_kind, "source_id": alert.source_id}
            )
            found = connection.execute(opening, params).first()
            if found is not None and found.alert_count == 1 and not with_event:
                event = {"case_id": found.id, "now": now, "opened_detail": params["opened_detail"]}
                connection.execute(OPENED_EVENT, event)
        if found is None:  # the bank item is quarantined
            return
        alert.case_id = found.id

    # --- the queue ------------------------------------------------------------------------

    def queue(
        self,
        *,
        state: str | None = None,
        bank: str | None = None,
        assignee: str | None = None,
        subject: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CaseInfo]:
        """Cases by priority (highest first), then oldest first."""
        for name, text in (("bank", bank), ("assignee", assignee), ("subject", subject)):
            if text is not None:
                check_text(f"the {name} filter", text, MAX_SUBJECT)
        query = select(Case).order_by(Case.priority.desc(), Case.id).limit(limit).offset(offset)
        if state is not None:
            query = query.where(Case.state == parse_state(state))
        if assignee is not None:
            query = query.where(Case.assignee == assignee)
        if subject is not None:
            query = query.where(Case.subject == subject)
        if bank is not None:
            query = query.where(exists().where(Alert.case_id == Case.id, Alert.bank == bank))
        with self._sessions() as session:
            return [case_info(row) for row in session.scalars(query)]

    def get(self, case_id: int, *, viewer: str) -> CaseDetail:
        """A case with its alerts, history and the subject's context; the view is audited."""
        with self._sessions() as session, session.begin():
            detail = self._detail(session, case_id)
            self._audit.append(session, viewer, "case.view", f"case:{case_id}")
            return detail

    def _detail(self, session: Session, case_id: int) -> CaseDetail:
        row = session.get(Case, case_id)
        if row is None:
            raise NotFound(f"no case with id {case_id}")
        alerts = session.scalars(
            select(Alert).where(Alert.case_id == case_id).order_by(Alert.id).limit(MAX_CASE_ALERTS)
        )
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
        context: Sequence[ContextItem] = (
            session.scalars(
                select(ContextItem)
                .where(ContextItem.subject == row.subject)
                .order_by(ContextItem.id)
            ).all()
            if row.subject
            else []
        )
        return CaseDetail(
            case_info(row),
            [alert_info(a) for a in alerts],
            [event_info(e) for e in events],
            [context_info(c) for c in context],
        )

    # --- decisions --------------------------------------------------------------------

    def decide(
        self,
        case_id: int,
        decision: str,
        *,
        actor: str,
        note: str = "",
        may_report: bool = False,
        negative_bank: str | None = None,
    ) -> CaseDetail:
        """Move a case to the state ``decision`` names, recording who, when and why in its
        history and in the audit log. A false positive counts against each bank item it
        matched (quarantining one after LYKTA_QUARANTINE_AFTER) and, with
        ``negative_bank``, puts the hashes that matched into that negative bank."""
        target = parse_state(decision)
        note = _check_note(note)
        if target in CHILD_SAFETY_DECISIONS and not may_report:
            raise Forbidden(f"only a child_safety user may mark a case {target}")
        if negative_bank is not None and target != CaseState.FALSE_POSITIVE:
            raise InvalidInput("negative_bank goes only with a false_positive decision")
        if negative_bank is not None:
            self._bank_false_positives(case_id, negative_bank, actor)
        with self._sessions() as session, session.begin():
            row = session.get(Case, case_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no case with id {case_id}")
            current = CaseState(row.state)
            if target not in TRANSITIONS[current]:
                allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is closed)"
                raise Conflict(
                    f"case {case_id} is {current} and cannot become {target}; "
                    f"it can become {allowed}"
                )
            now = datetime.now(UTC)
            row.state = target
            row.updated_at = now
            if target not in OPEN_STATES:
                row.open_key = None
            detail: dict[str, Any] = {}
            if negative_bank is not None:
                detail["negative_bank"] = negative_bank
            if target == CaseState.FALSE_POSITIVE:
                detail["quarantined"] = self._count_misfires(session, case_id, now)
            session.add(
                CaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    action="decision",
                    from_state=current,
                    to_state=target,
                    note=note,
                    detail_json=json.dumps(detail),
                )
            )
            self._audit.append(
                session, actor, "case.decision", f"case:{case_id}",
                {"from": current.value, "to": target.value, "note": note, **detail},
            )  # fmt: skip
            session.flush()
            for listener in self.decision_listeners:
                listener(session, case_id, target, actor)
            return self._detail(session, case_id)

    def detail_in(self, session: Session, case_id: int) -> CaseDetail:
        """A case with its alerts, history and context, read in the caller's transaction
        (not audited: the caller records what it does with it)."""
        return self._detail(session, case_id)

    def assign(self, case_id: int, assignee: str | None, *, actor: str, note: str = "") -> CaseInfo:
        """Give the case to a reviewer (None: to nobody)."""
        note = _check_note(note)
        if assignee is not None and not check_text("an assignee", assignee, MAX_ASSIGNEE).strip():
            raise InvalidInput("an assignee needs a name (null assigns the case to nobody)")
        with self._sessions() as session, session.begin():
            row = session.get(Case, case_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no case with id {case_id}")
            previous = row.assignee
            row.assignee = assignee
            row.updated_at = now = datetime.now(UTC)
            detail = {"from": previous, "to": assignee}
            session.add(
                CaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    action="assigned",
                    note=note,
                    detail_json=json.dumps(detail),
                )
            )
            self._audit.append(session, actor, "case.assign", f"case:{case_id}", detail)
            session.flush()
            return case_info(row)

    def _bank_false_positives(self, case_id: int, bank: str, actor: str) -> None:
        """Put the hashes that matched in the case into the negative bank ``bank``."""
        if not self._banks.get(bank).negative:
            raise InvalidInput(f"bank {bank!r} is not a negative bank")
        with self._sessions() as session:
            if session.get(Case, case_id) is None:
                raise NotFound(f"no case with id {case_id}")
            pairs = session.execute(
                select(Alert.kind, Alert.query_hash)
                .where(Alert.case_id == case_id, Alert.query_hash != "")
                .distinct()
            ).all()
        items = [
            ContentItem.of_hash(kind, value, f"case-{case_id}", ("false-positive",))
            for kind, value in sorted(pairs)
        ]
        if items:
            self._banks.add_content(bank, items, added_by=actor)

    def _count_misfires(self, session: Session, case_id: int, now: datetime) -> list[str]:
        """Count a false positive against each bank item of the case; the items this
        quarantines, as ``bank/content_id``."""
        items = session.execute(
            select(Alert.bank, Alert.content_id, func.max(Alert.external_id))
            .where(Alert.case_id == case_id)
            .group_by(Alert.bank, Alert.content_id)
        ).all()
        quarantined = []
        for bank, content_id, external_id in items:
            row = session.get(Misfire, (bank, content_id), with_for_update=True)
            if row is None:
                row = Misfire(
                    bank=bank, content_id=content_id, external_id=external_id,
                    false_positives=0, updated_at=now,
                )  # fmt: skip
                session.add(row)
            row.false_positives += 1
            row.updated_at = now
            if (
                self.quarantine_after > 0
                and row.quarantined_at is None
                and row.false_positives >= self.quarantine_after
            ):
                row.quarantined_at = now
                quarantined.append(f"{bank}/{content_id}")
        return quarantined

    def misfires(self, *, quarantined_only: bool = False, limit: int = 100) -> list[MisfireInfo]:
        """Bank items with false positives, the most first."""
        query = (
            select(Misfire)
            .order_by(Misfire.false_positives.desc(), Misfire.bank, Misfire.content_id)
            .limit(limit)
        )
        if quarantined_only:
            query = query.where(Misfire.quarantined_at.is_not(None))
        with self._sessions() as session:
            return [
                MisfireInfo(
                    r.bank,
                    r.content_id,
                    r.external_id,
                    r.false_positives,
                    _utc(r.quarantined_at),
                )
                for r in session.scalars(query)
            ]

    # --- context ------------------------------------------------------------------------

    def add_context(
        self,
        item: NewContext,
        *,
        actor: str,
        subject: str | None = None,
        alert_id: int | None = None,
    ) -> ContextInfo:
        """Attach context to a subject, or to an alert (and so to its subject)."""
        item = item.checked()
        with self._sessions() as session, session.begin():
            if alert_id is not None:
                alert = session.get(Alert, alert_id)
                if alert is None:
                    raise NotFound(f"no alert with id {alert_id}")
                if not alert.subject:
                    raise InvalidInput(f"alert {alert_id} has no subject to attach context to")
                subject = alert.subject
            if not subject or not check_text("a subject", subject, MAX_SUBJECT).strip():
                raise InvalidInput("context needs a subject (the platform's account id)")
            row = ContextItem(
                subject=subject, alert_id=alert_id, kind=item.kind, value=item.value,
                event=item.event, at=item.at, added_by=actor, created_at=datetime.now(UTC),
            )  # fmt: skip
            session.add(row)
            session.flush()
            self._audit.append(
                session, actor, "context.add", f"subject:{subject}",
                {"context_id": row.id, "kind": item.kind, "alert_id": alert_id},
            )  # fmt: skip
            return context_info(row)

    def context(self, subject: str, *, viewer: str) -> list[ContextInfo]:
        """Everything attached to a subject, oldest first; the view is audited."""
        with self._sessions() as session, session.begin():
            rows = session.scalars(
                select(ContextItem).where(ContextItem.subject == subject).order_by(ContextItem.id)
            ).all()
            self._audit.append(session, viewer, "context.view", f"subject:{subject}")
            return [context_info(row) for row in rows]
