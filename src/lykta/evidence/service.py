"""Evidence of confirmed cases: preserved inside the confirming transaction, read back
(audited), held, and purged after retention.

A case's evidence is what Lykta has of it: the case record (alerts with their hashes and
matches, history, the subject's context) as JSON, the uploads kept by configuration
(LYKTA_EVIDENCE_KEEP_UPLOADS), and what was reported (the CyberTipline XML). Each is an
encrypted blob in the ``BlobStore``; the tables say which blobs a case holds and until when.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lykta.alerts import AlertInfo
from lykta.audit import AuditLog
from lykta.cases import CaseService, CaseState
from lykta.cases.context import check_text
from lykta.errors import InvalidInput, NotFound
from lykta.evidence.store import BlobStore
from lykta.store.models import Evidence, EvidenceItem, KeptUpload

CASE_RECORD = "case_record"
MEDIA = "media"
REPORT_XML = "report_xml"
PHOTO_SOURCE_PREFIX = "sha256:"
MAX_HOLD_NOTE = 2000

log = logging.getLogger(__name__)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def content_sha256(alert: AlertInfo) -> str:
    """The SHA-256 of the bytes an alert's look-up saw, or ""; alerts recorded before it
    was stored carry it in their default source id, `sha256:<hex>`."""
    if alert.content_sha256:
        return alert.content_sha256
    if alert.source_id.startswith(PHOTO_SOURCE_PREFIX):
        return alert.source_id.removeprefix(PHOTO_SOURCE_PREFIX)
    return ""


@dataclass(frozen=True)
class EvidenceItemInfo:
    kind: str
    name: str
    sha256: str
    size: int
    created_at: datetime | None


@dataclass(frozen=True)
class EvidenceInfo:
    id: int
    case_id: int
    created_at: datetime | None
    retain_until: datetime | None
    legal_hold: bool
    hold_note: str
    purged_at: datetime | None
    items: list[EvidenceItemInfo]


@dataclass(frozen=True)
class PurgeResult:
    cases: list[int]
    files_deleted: int
    uploads_expired: int


class EvidenceService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        cases: CaseService,
        store: BlobStore,
        *,
        retention_days: int = 365,
        keep_uploads: bool = False,
    ) -> None:
        if retention_days < 1:
            raise InvalidInput("LYKTA_EVIDENCE_RETENTION_DAYS must be at least 1")
        self._sessions = sessions
        self._audit = audit
        self._cases = cases
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.keep_uploads = keep_uploads

    # --- preserving ------------------------------------------------------------------------

    def on_decision(self, session: Session, case_id: int, target: CaseState, actor: str) -> None:
        """A case listener: a confirmed case's evidence is preserved in the decision's own
        transaction, so no case is confirmed without it (a missing key refuses the decision)."""
        if target == CaseState.CONFIRMED:
            self.preserve(session, case_id, actor)

    def preserve(self, session: Session, case_id: int, actor: str) -> int:
        """Write the case's evidence (once per case; a later call adds a fresh case record)
        and return its id."""
        detail = self._cases.detail_in(session, case_id)
        record = json.dumps(asdict(detail), default=str, sort_keys=True, indent=1).encode()
        now = datetime.now(UTC)
        evidence = session.scalars(
            select(Evidence).where(Evidence.case_id == case_id).with_for_update()
        ).first()
        if evidence is None:
            evidence = Evidence(
                case_id=case_id, created_at=now, retain_until=now + self.retention,
                legal_hold=False, hold_note="",
            )  # fmt: skip
            session.add(evidence)
            session.flush()
        held = set(
            session.scalars(
                select(EvidenceItem.sha256).where(EvidenceItem.evidence_id == evidence.id)
            )
        )
        added = [self._add(session, evidence.id, CASE_RECORD, f"case-{case_id}.json", record, now)]
        uploads = {sha for sha in map(content_sha256, detail.alerts) if sha}
        if uploads:
            kept = session.scalars(select(KeptUpload).where(KeptUpload.sha256.in_(uploads))).all()
            for upload in kept:
                if upload.sha256 not in held:
                    session.add(
                        EvidenceItem(
                            evidence_id=evidence.id, kind=MEDIA, name=upload.sha256,
                            sha256=upload.sha256, size=upload.size, created_at=now,
                        )
                    )  # fmt: skip
                    added.append(upload.sha256)
        session.flush()
        self._audit.append(
            session, actor, "evidence.preserve", f"case:{case_id}",
            {"evidence_id": evidence.id, "sha256": added},
        )  # fmt: skip
        return evidence.id

    def _add(
        self, session: Session, evidence_id: int, kind: str, name: str, data: bytes, now: datetime
    ) -> str:
        sha256 = self.store.put(data)
        session.add(
            EvidenceItem(
                evidence_id=evidence_id, kind=kind, name=name, sha256=sha256, size=len(data),
                created_at=now,
            )
        )  # fmt: skip
        return sha256

    def attach(
        self, session: Session, case_id: int, kind: str, name: str, data: bytes, actor: str
    ) -> str:
        """Add a blob (a report's XML) to the case's evidence, preserving it first if the
        case has none yet (an automatic report); its SHA-256."""
        evidence_id = session.scalar(select(Evidence.id).where(Evidence.case_id == case_id))
        if evidence_id is None:
            evidence_id = self.preserve(session, case_id, actor)
        sha256 = self._add(session, evidence_id, kind, name, data, datetime.now(UTC))
        session.flush()
        return sha256

    def keep_upload(self, data: bytes | BinaryIO, max_bytes: int | None = None) -> str | None:
        """Keep an upload whose matches raised alerts, when the deployment asked for it. A
        seekable file (a spooled video) is sealed from its start a chunk at a time, never
        whole in memory, and not kept past ``max_bytes``."""
        if not self.keep_uploads:
            return None
        if isinstance(data, bytes):
            sha256, size = self.store.put(data), len(data)
        else:
            size = data.seek(0, io.SEEK_END)
            if max_bytes is not None and size > max_bytes:
                log.warning("an upload over %d bytes that raised alerts is not kept", max_bytes)
                return None
            sha256, size = self.store.put_file(data)
        try:
            with self._sessions() as session, session.begin():
                if session.get(KeptUpload, sha256) is None:
                    session.add(KeptUpload(sha256=sha256, size=size, created_at=datetime.now(UTC)))
        except IntegrityError:  # kept by a concurrent look-up of the same bytes
            pass
        return sha256

    # --- reading ---------------------------------------------------------------------------

    def info(self, case_id: int) -> EvidenceInfo:
        with self._sessions() as session:
            return self._info(session, case_id)

    def info_in(self, session: Session, case_id: int) -> EvidenceInfo:
        """``info`` in the caller's transaction."""
        return self._info(session, case_id)

    def _info(self, session: Session, case_id: int) -> EvidenceInfo:
        row = session.scalars(select(Evidence).where(Evidence.case_id == case_id)).first()
        if row is None:
            raise NotFound(f"case {case_id} has no evidence (it is preserved when confirmed)")
        items = session.scalars(
            select(EvidenceItem).where(EvidenceItem.evidence_id == row.id).order_by(EvidenceItem.id)
        )
        return EvidenceInfo(
            row.id, row.case_id, _utc(row.created_at), _utc(row.retain_until), row.legal_hold,
            row.hold_note, _utc(row.purged_at),
            [EvidenceItemInfo(i.kind, i.name, i.sha256, i.size, _utc(i.created_at)) for i in items],
        )  # fmt: skip

    def read(self, case_id: int, sha256: str, *, viewer: str) -> bytes:
        """One blob of the case's evidence, decrypted; the read is audited first."""
        info = self.info(case_id)
        item = next((i for i in info.items if i.sha256 == sha256), None)
        if item is None:
            raise NotFound(f"case {case_id}'s evidence holds no {sha256}")
        self._audit.record(
            viewer, "evidence.read", f"case:{case_id}", {"sha256": sha256, "kind": item.kind}
        )
        return self.store.get(sha256)

    # --- hold and purge --------------------------------------------------------------------

    def hold(self, case_id: int, on: bool, *, actor: str, note: str = "") -> EvidenceInfo:
        """Put the case's evidence on legal hold (kept past retention) or release it."""
        check_text("a hold note", note, MAX_HOLD_NOTE)
        with self._sessions() as session, session.begin():
            row = session.scalars(
                select(Evidence).where(Evidence.case_id == case_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"case {case_id} has no evidence (it is preserved when confirmed)")
            if row.purged_at is not None:
                raise InvalidInput(
                    f"case {case_id}'s evidence was purged on {row.purged_at:%Y-%m-%d}"
                )
            row.legal_hold = on
            row.hold_note = note
            self._audit.append(
                session, actor, "evidence.hold" if on else "evidence.release", f"case:{case_id}",
                {"note": note},
            )  # fmt: skip
            session.flush()
            return self._info(session, case_id)

    def purge(self, *, actor: str = "lykta", now: datetime | None = None) -> PurgeResult:
        """Delete the evidence past retention and not on hold, and kept uploads past
        retention that no evidence holds; each purged case is written to the audit log.
        Files go after the rows commit, so a crash leaves at most unreferenced files, which
        the next run deletes."""
        now = now or datetime.now(UTC)
        purged: list[int] = []
        with self._sessions() as session, session.begin():
            due = session.scalars(
                select(Evidence)
                .where(
                    Evidence.retain_until < now,
                    Evidence.legal_hold.is_(False),
                    Evidence.purged_at.is_(None),
                )
                .with_for_update()
            ).all()
            for row in due:
                shas = sorted(
                    set(
                        session.scalars(
                            select(EvidenceItem.sha256).where(EvidenceItem.evidence_id == row.id)
                        )
                    )
                )
                session.execute(delete(EvidenceItem).where(EvidenceItem.evidence_id == row.id))
                row.purged_at = now
                purged.append(row.case_id)
                self._audit.append(
                    session, actor, "evidence.purge", f"case:{row.case_id}",
                    {"evidence_id": row.id, "sha256": shas, "retain_until": _utc(row.retain_until)},
                )  # fmt: skip
            expired = len(
                session.scalars(
                    delete(KeptUpload)
                    .where(KeptUpload.created_at < now - self.retention)
                    .returning(KeptUpload.sha256)
                ).all()
            )
            if expired:
                self._audit.append(session, actor, "evidence.purge_uploads", "", {"count": expired})
        with self._sessions() as session:
            live = set(session.scalars(select(EvidenceItem.sha256)))
            live |= set(session.scalars(select(KeptUpload.sha256)))
        deleted = 0
        if self.store.root.exists():
            for path in self.store.root.glob("??/*"):
                if path.is_file() and path.name not in live and len(path.name) == 64:
                    path.unlink(missing_ok=True)
                    deleted += 1
        return PurgeResult(purged, deleted, expired)
