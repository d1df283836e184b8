"""Reports of cases to NCMEC's CyberTipline, resumable.

A report is a row written before the first call and after each: the step it reached, the
NCMEC report id, each file's NCMEC file id and whether its details went. A crash (or a
refusal) anywhere leaves the row open, and the next `send` for the case carries on from
there with the same report id: it never opens a second report for a case while one is
unfinished. NCMEC deletes unfinished reports 24 hours after they were opened; an unfinished
report older than that is marked lost, said so, and the next `send` starts afresh.

One case of doubt remains: a crash during the submit call itself, after NCMEC opened the
report and before its id was written. The row then says `submitting`, and the next send
submits again; the first report, never finished, is deleted by NCMEC after 24 hours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lykta.audit import AuditLog
from lykta.cases import CaseDetail, CaseService, CaseState
from lykta.errors import Conflict, Forbidden, NotFound
from lykta.evidence import EvidenceService
from lykta.evidence.service import MEDIA, REPORT_XML
from lykta.reports.client import CyberTiplineClient, CyberTiplineError
from lykta.reports.export import export_case
from lykta.reports.xml import FileFacts, IpCapture, ReportFacts, file_details_xml, report_xml
from lykta.store.models import Alert, Case, CyberTipReport

UNFINISHED_LIFETIME = timedelta(hours=24)
MAX_ERROR = 2000
NEW, SUBMITTING, SUBMITTED, FINISHED, RETRACTED, LOST = (
    "new", "submitting", "submitted", "finished", "retracted", "lost",
)  # fmt: skip
OPEN_STEPS = frozenset({NEW, SUBMITTING, SUBMITTED})
# NCMEC's industry classification, when a bank item's labels carry one.
CLASSES = frozenset({"A1", "A2", "B1", "B2"})
# The parts of a `media.view` entry that show a file whole: fileViewedByEsp.
WHOLE_FILE_PARTS = frozenset({"photo", "video"})


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class ReportInfo:
    id: int
    case_id: int
    step: str
    ncmec_report_id: str | None
    endpoint: str
    actor: str
    xml_sha256: str
    files: list[dict[str, Any]]
    error: str
    created_at: datetime | None
    submitted_at: datetime | None
    updated_at: datetime | None
    lost: bool


def report_info(row: CyberTipReport, now: datetime | None = None) -> ReportInfo:
    now = now or datetime.now(UTC)
    submitted = _utc(row.submitted_at)
    lost = row.step == LOST or (
        row.step in OPEN_STEPS and submitted is not None and now - submitted > UNFINISHED_LIFETIME
    )
    return ReportInfo(
        row.id, row.case_id, row.step, row.ncmec_report_id, row.endpoint, row.actor,
        row.xml_sha256, json.loads(row.files_json), row.error, _utc(row.created_at), submitted,
        _utc(row.updated_at), lost,
    )  # fmt: skip


class ReportService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        cases: CaseService,
        evidence: EvidenceService,
        *,
        reporter_name: str = "",
        reporter_email: str = "",
        auto_report_banks: tuple[str, ...] = (),
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._cases = cases
        self._evidence = evidence
        self.reporter_name = reporter_name
        self.reporter_email = reporter_email
        self.auto_report_banks = auto_report_banks

    # --- who may report what ---------------------------------------------------------------

    def _check_allowed(self, session: Session, case_id: int, may_report: bool) -> CaseState:
        row = session.get(Case, case_id)
        if row is None:
            raise NotFound(f"no case with id {case_id}")
        state = CaseState(row.state)
        if state == CaseState.CONFIRMED:
            if not may_report:
                raise Forbidden("only a child_safety user may report a case")
            return state
        if state == CaseState.REPORTED:
            raise Conflict(f"case {case_id} is already reported")
        if self._auto_reportable(session, case_id):
            return state
        raise Conflict(
            f"case {case_id} is {state}: only a case a child_safety user confirmed is reported"
            + (
                ""
                if not self.auto_report_banks
                else " (or one resting only on exact matches to LYKTA_AUTO_REPORT_BANKS)"
            )
        )

    def _auto_reportable(self, session: Session, case_id: int) -> bool:
        """Every alert of the open case an exact match on a bank the deployment named."""
        if not self.auto_report_banks:
            return False
        rows = session.execute(
            select(Alert.bank, Alert.distance).where(Alert.case_id == case_id)
        ).all()
        return bool(rows) and all(
            bank in self.auto_report_banks and distance == 0 for bank, distance in rows
        )

    # --- sending ---------------------------------------------------------------------------

    def send(
        self,
        case_id: int,
        client: CyberTiplineClient,
        *,
        actor: str,
        may_report: bool = False,
        checkpoint: Callable[[str], None] | None = None,
    ) -> ReportInfo:
        """Send the case's report, or carry on with its unfinished one. ``checkpoint`` is
        called with each step once it is written (tests stop there to crash).

        A call the CyberTipline refused, or that failed past its retries, leaves the report
        open at the step it reached, with the message in its ``error`` (and the audit log),
        and is raised: sending again resumes there."""
        report_id = self._open(case_id, client.url, actor, may_report)
        try:
            return self._send(case_id, report_id, client, actor, checkpoint)
        except CyberTiplineError as error:
            self._save(report_id, error=error.message)
            self._audit.record(actor, "report.error", f"case:{case_id}",
                               {"report": report_id, "error": error.message})  # fmt: skip
            raise

    def _send(
        self,
        case_id: int,
        report_id: int,
        client: CyberTiplineClient,
        actor: str,
        checkpoint: Callable[[str], None] | None,
    ) -> ReportInfo:
        step_done = checkpoint or (lambda _: None)
        row = self._load(report_id)
        if row.step in (NEW, SUBMITTING):
            self._save(report_id, step=SUBMITTING)
            step_done(SUBMITTING)
            xml = self._evidence.store.get(row.xml_sha256)
            ncmec_id = client.submit(xml)
            self._save(report_id, step=SUBMITTED, ncmec_report_id=ncmec_id, submitted=True)
            self._audit.record(actor, "report.submit", f"case:{case_id}",
                               {"report": report_id, "ncmec_report_id": ncmec_id})  # fmt: skip
            step_done(SUBMITTED)
            row = self._load(report_id)
        ncmec_id = row.ncmec_report_id or ""
        files = json.loads(row.files_json)
        for index, file in enumerate(files):
            if file["file_id"] is None:
                # Streamed from the store a chunk at a time: a long video never sits in
                # memory whole.
                digest = hashlib.md5(usedforsecurity=False)
                for chunk in self._evidence.store.chunks(file["sha256"]):
                    digest.update(chunk)
                file["md5"] = digest.hexdigest()
                with self._evidence.store.open(file["sha256"]) as blob:
                    file["file_id"] = client.upload(ncmec_id, file["name"], blob)
                self._save(report_id, files=files)
                step_done(f"upload:{index}")
            if not file["details_sent"]:
                if file.get("details_sha256") is None:
                    # Views up to now: the details say what the service had seen when it
                    # sent them. Kept with the evidence before they are sent, and a resumed
                    # send sends the kept XML, so the evidence holds exactly what NCMEC got.
                    parts = self._audit.media_views([file["sha256"]]).get(file["sha256"], set())
                    details = file_details_xml(ncmec_id, file["file_id"], _file_facts(file, parts))
                    with self._sessions() as session, session.begin():
                        file["details_sha256"] = self._evidence.attach(
                            session, case_id, REPORT_XML,
                            f"cybertipline-case-{case_id}-file-{index + 1}-details.xml",
                            details, actor,
                        )  # fmt: skip
                    self._save(report_id, files=files)
                client.fileinfo(self._evidence.store.get(file["details_sha256"]))
                file["details_sent"] = True
                self._save(report_id, files=files)
                step_done(f"fileinfo:{index}")
        client.finish(ncmec_id)
        self._save(report_id, step=FINISHED, close=True, error="")
        self._audit.record(actor, "report.finish", f"case:{case_id}",
                           {"report": report_id, "ncmec_report_id": ncmec_id})  # fmt: skip
        with self._sessions() as session:
            state = CaseState(session.get(Case, case_id).state)  # type: ignore[union-attr]
        if state == CaseState.CONFIRMED:
            self._cases.decide(
                case_id, "reported", actor=actor, may_report=True,
                note=f"CyberTipline report {ncmec_id}",
            )  # fmt: skip
        step_done(FINISHED)
        return report_info(self._load(report_id))

    def _open(self, case_id: int, endpoint: str, actor: str, may_report: bool) -> int:
        """The case's unfinished report, or a new one with its XML in the evidence."""
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            open_row = session.scalars(
                select(CyberTipReport).where(CyberTipReport.open_key == case_id)
            ).first()
            if open_row is not None:
                info = report_info(open_row, now)
                if info.lost:
                    open_row.step, open_row.open_key, open_row.updated_at = LOST, None, now
                    self._audit.append(
                        session, actor, "report.lost", f"case:{case_id}",
                        {"report": open_row.id, "ncmec_report_id": open_row.ncmec_report_id},
                    )  # fmt: skip
                    lost = (open_row.id, open_row.ncmec_report_id)
                else:
                    if open_row.endpoint != endpoint:
                        raise Conflict(
                            f"case {case_id}'s unfinished report went to {open_row.endpoint}; "
                            "resume it there (LYKTA_CYBERTIPLINE_URL) or retract it"
                        )
                    return open_row.id
            else:
                lost = None
        if lost is not None:
            raise Conflict(
                f"case {case_id}'s report {lost[0]} (NCMEC id {lost[1]}) was opened more than "
                "24 hours ago and never finished: NCMEC has deleted it, so it is lost. Send "
                "again to make a new report"
            )
        with self._sessions() as session, session.begin():
            self._check_allowed(session, case_id, may_report)
            detail = self._cases.detail_in(session, case_id)
            xml = report_xml(self._facts(detail))
            sha256 = self._evidence.attach(
                session, case_id, REPORT_XML, f"cybertipline-case-{case_id}.xml", xml, actor
            )
            media = [
                item
                for item in self._evidence.info_in(session, case_id).items
                if item.kind == MEDIA
            ]
            live = any(alert.source_kind == "stream" for alert in detail.alerts)
            labels = [label for alert in detail.alerts for label in alert.labels]
            files = [
                {
                    "name": item.name, "sha256": item.sha256, "md5": "",
                    "uploaded_at": item.created_at.isoformat() if item.created_at else None,
                    "live_streaming": live,
                    "classification": next((x for x in labels if x in CLASSES), None),
                    "file_id": None, "details_sent": False,
                }
                for item in media
            ]  # fmt: skip
            row = CyberTipReport(
                case_id=case_id, open_key=case_id, step=NEW, endpoint=endpoint, actor=actor,
                xml_sha256=sha256, files_json=json.dumps(files), error="", created_at=now,
                updated_at=now,
            )  # fmt: skip
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"case {case_id} is being reported by someone else now") from None
            self._audit.append(
                session, actor, "report.create", f"case:{case_id}",
                {"report": row.id, "xml_sha256": sha256, "files": len(files)},
            )  # fmt: skip
            return row.id

    def _facts(self, detail: CaseDetail) -> ReportFacts:
        first, _, last = (self.reporter_name or "Trust and Safety").partition(" ")
        context = detail.context
        return ReportFacts(
            case_id=detail.case.id,
            incident_at=min(
                (a.created_at for a in detail.alerts if a.created_at),
                default=detail.case.created_at or datetime.now(UTC),
            ),
            subject=detail.case.subject,
            reporter_first=first,
            reporter_last=last or "Team",
            reporter_email=self.reporter_email,
            live_streams=sorted({a.source_id for a in detail.alerts if a.source_kind == "stream"}),
            screen_names=[c.value for c in context if c.kind == "screen_name"],
            emails=[c.value for c in context if c.kind == "email"],
            ip_captures=[
                IpCapture(c.value, c.event, c.at) for c in context if c.kind == "ip_capture"
            ],
            matched=[
                f"{a.kind} {a.query_hash or a.source_id} ~ {a.bank}/"
                f"{a.external_id or a.content_id} (distance {a.distance}, {a.source_kind})"
                for a in detail.alerts
            ],
        )

    def _load(self, report_id: int) -> CyberTipReport:
        with self._sessions() as session:
            row = session.get(CyberTipReport, report_id)
            assert row is not None
            session.expunge(row)
            return row

    def _save(
        self,
        report_id: int,
        *,
        step: str | None = None,
        ncmec_report_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        submitted: bool = False,
        close: bool = False,
        error: str | None = None,
    ) -> None:
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            row = session.get(CyberTipReport, report_id, with_for_update=True)
            assert row is not None
            if step is not None:
                row.step = step
            if ncmec_report_id is not None:
                row.ncmec_report_id = ncmec_report_id
            if files is not None:
                row.files_json = json.dumps(files)
            if submitted:
                row.submitted_at = now
            if close:
                row.open_key = None
            if error is not None:
                row.error = error[:MAX_ERROR]
            row.updated_at = now

    # --- retracting and reading ----------------------------------------------------------

    def retract(self, case_id: int, client: CyberTiplineClient, *, actor: str) -> ReportInfo:
        """Withdraw the case's unfinished report (a finished one only NCMEC can withdraw)."""
        with self._sessions() as session:
            row = session.scalars(
                select(CyberTipReport).where(CyberTipReport.open_key == case_id)
            ).first()
            if row is None:
                raise NotFound(f"case {case_id} has no unfinished report to retract")
            report_id, ncmec_id = row.id, row.ncmec_report_id
        if ncmec_id:
            client.retract(ncmec_id)
        self._save(report_id, step=RETRACTED, close=True)
        self._audit.record(actor, "report.retract", f"case:{case_id}",
                           {"report": report_id, "ncmec_report_id": ncmec_id})  # fmt: skip
        return report_info(self._load(report_id))

    def export(
        self, case_id: int, *, viewer: str, media: bool = False, may_view_media: bool = False
    ) -> bytes:
        """The case as a zip for police and hotlines (see ``reports.export``)."""
        return export_case(
            self._sessions, self._cases, self._evidence, self._audit, case_id, viewer=viewer,
            media=media, may_view_media=may_view_media,
        )  # fmt: skip

    def status(self, case_id: int) -> list[ReportInfo]:
        """The case's reports, newest first; an unfinished one past 24 h says it is lost."""
        with self._sessions() as session:
            if session.get(Case, case_id) is None:
                raise NotFound(f"no case with id {case_id}")
            rows = session.scalars(
                select(CyberTipReport)
                .where(CyberTipReport.case_id == case_id)
                .order_by(CyberTipReport.id.desc())
            ).all()
            return [report_info(row) for row in rows]


def _file_facts(file: dict[str, Any], viewed_parts: set[str]) -> FileFacts:
    """``viewed_parts``: the parts of the file served to anyone (`media.view` entries)."""
    uploaded = file.get("uploaded_at")
    return FileFacts(
        name=file["name"], sha256=file["sha256"], md5=file.get("md5") or "",
        uploaded_at=datetime.fromisoformat(uploaded) if uploaded else None,
        live_streaming=bool(file.get("live_streaming")),
        industry_classification=file.get("classification"),
        viewed_by_esp=bool(viewed_parts & WHOLE_FILE_PARTS),
        frames_viewed=sum(1 for part in viewed_parts if part.startswith("frame:")),
    )  # fmt: skip
