"""The generic export for police and hotlines: a zip of the case as JSON (case.json) and
CSV (alerts.csv: each match with its hash, bank item, distance, time, subject and
classification), and the decrypted media of its evidence for an authorised user. Every
export is written to the audit log, saying whether media went with it."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import asdict

from sqlalchemy.orm import Session, sessionmaker

from lykta.audit import AuditLog
from lykta.cases import CaseService
from lykta.errors import Forbidden, NotFound
from lykta.evidence import EvidenceService
from lykta.evidence.service import MEDIA

ALERT_COLUMNS = (
    "alert_id", "created_at", "subject", "source_kind", "source_id", "offset_s", "bank",
    "content_id", "external_id", "classification", "kind", "query_hash", "distance",
    "transform",
)  # fmt: skip


def export_case(
    sessions: sessionmaker[Session],
    cases: CaseService,
    evidence: EvidenceService,
    audit: AuditLog,
    case_id: int,
    *,
    viewer: str,
    media: bool = False,
    may_view_media: bool = False,
) -> bytes:
    """The zip's bytes. ``media`` asks for the decrypted media, which only a user who may
    view media (child_safety) gets."""
    if media and not may_view_media:
        raise Forbidden("only a child_safety user may export a case's media")
    with sessions() as session, session.begin():
        detail = cases.detail_in(session, case_id)
        try:
            items = evidence.info_in(session, case_id).items
        except NotFound:
            items = []
        audit.append(
            session, viewer, "case.export", f"case:{case_id}",
            {"media": media, "media_files": sum(i.kind == MEDIA for i in items) if media else 0},
        )  # fmt: skip
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(ALERT_COLUMNS)
    for alert in detail.alerts:
        writer.writerow(
            [
                alert.id, alert.created_at.isoformat() if alert.created_at else "",
                alert.subject or "", alert.source_kind, alert.source_id,
                "" if alert.offset_s is None else alert.offset_s, alert.bank, alert.content_id,
                alert.external_id or "", " ".join(alert.labels), alert.kind, alert.query_hash,
                alert.distance, alert.transform,
            ]
        )  # fmt: skip
    record = {
        "case": asdict(detail.case),
        "classification": {
            "state": detail.case.state.value,
            "labels": sorted({label for alert in detail.alerts for label in alert.labels}),
        },
        "alerts": [asdict(alert) for alert in detail.alerts],
        "history": [asdict(event) for event in detail.history],
        "context": [asdict(item) for item in detail.context],
        "evidence": [asdict(item) for item in items],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("case.json", json.dumps(record, default=str, indent=1, sort_keys=True))
        archive.writestr("alerts.csv", table.getvalue())
        if media:
            for item in items:
                if item.kind == MEDIA:
                    with archive.open(f"media/{item.sha256}", "w") as entry:
                        for chunk in evidence.store.chunks(item.sha256):
                            entry.write(chunk)
    return buffer.getvalue()
