"""Reports, exports, evidence and media over HTTP, all with a `child_safety` token: send (or
resume) a case's CyberTipline report, retract an unfinished one, list a case's reports,
export a case as a zip, read or hold its evidence, and view its kept media (each item
audited). The CyberTipline calls and media decoding run in the thread pool, never on the
event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from lykta.api.deps import ChildSafety, Core, actor
from lykta.api.schemas import errors
from lykta.evidence.service import MAX_HOLD_NOTE
from lykta.outputs import CaseMediaOut, EvidenceOut, ReportOut

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=errors(401, 403, 422))

CaseId = Annotated[int, Path(ge=1, le=2**62)]
NO_CASE = {404: "no such case"}
SENDING = errors(
    404, 409, 502, 503,
    meanings={
        **NO_CASE,
        409: "the case is not confirmed (nor auto-reportable), already reported, or its "
        "unfinished report is lost (send again for a new one)",
        502: "the CyberTipline refused a call or could not be reached (the message says which); "
        "send again to resume",
        503: "LYKTA_CYBERTIPLINE_USERNAME/PASSWORD, or LYKTA_EVIDENCE_KEY, is not set",
    },
)  # fmt: skip


class HoldIn(BaseModel):
    hold: bool = Field(description="true: keep past retention; false: release")
    note: str = Field(default="", json_schema_extra={"maxLength": MAX_HOLD_NOTE})


@router.post("/cases/{case_id}/reports/cybertipline", response_model=ReportOut, responses=SENDING)
def send_cybertipline(core: Core, token: ChildSafety, case_id: CaseId) -> ReportOut:
    """Send the case's report to the CyberTipline (LYKTA_CYBERTIPLINE_URL), or resume its
    unfinished one from the step it reached. The case must be confirmed (or rest only on
    exact matches to LYKTA_AUTO_REPORT_BANKS); on success it becomes reported."""
    core.reports.status(case_id)  # an unknown case is a 404 before anything else
    client = core.cybertipline()
    try:
        return ReportOut.of(core.reports.send(case_id, client, actor=actor(token), may_report=True))
    finally:
        client.close()


@router.post(
    "/cases/{case_id}/reports/cybertipline/retract",
    response_model=ReportOut,
    responses=errors(404, 502, 503, meanings={404: "no such case, or no unfinished report"}),
)
def retract_cybertipline(core: Core, token: ChildSafety, case_id: CaseId) -> ReportOut:
    """Withdraw the case's unfinished report."""
    core.reports.status(case_id)
    client = core.cybertipline()
    try:
        return ReportOut.of(core.reports.retract(case_id, client, actor=actor(token)))
    finally:
        client.close()


@router.get(
    "/cases/{case_id}/reports",
    response_model=list[ReportOut],
    responses=errors(404, meanings=NO_CASE),
)
def list_reports(core: Core, _: ChildSafety, case_id: CaseId) -> list[ReportOut]:
    """The case's reports, newest first; `lost` marks an unfinished one past 24 hours."""
    return [ReportOut.of(report) for report in core.reports.status(case_id)]


@router.get(
    "/cases/{case_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the case as a zip"},
        **errors(404, 503, meanings={**NO_CASE, 503: "LYKTA_EVIDENCE_KEY is not set"}),
    },
)
def export_case(
    core: Core,
    token: ChildSafety,
    case_id: CaseId,
    media: Annotated[bool, Query(description="add the decrypted media")] = False,
) -> Response:
    """The case for police or a hotline: case.json and alerts.csv (hashes, matches,
    timestamps, subject ids, classification), with media/<sha256> when asked. Audited."""
    data = core.reports.export(case_id, viewer=actor(token), media=media, may_view_media=True)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}.zip"'},
    )


@router.get(
    "/cases/{case_id}/evidence",
    response_model=EvidenceOut,
    responses=errors(404, meanings={404: "no such case, or it has no evidence"}),
)
def get_evidence(core: Core, _: ChildSafety, case_id: CaseId) -> EvidenceOut:
    """What is kept of a confirmed case, and until when."""
    return EvidenceOut.of(core.evidence.info(case_id))


@router.post(
    "/cases/{case_id}/evidence/hold",
    response_model=EvidenceOut,
    responses=errors(404, meanings={404: "no such case, or it has no evidence"}),
)
def hold_evidence(core: Core, token: ChildSafety, case_id: CaseId, body: HoldIn) -> EvidenceOut:
    """Put the case's evidence on legal hold (kept past retention), or release it."""
    return EvidenceOut.of(
        core.evidence.hold(case_id, body.hold, actor=actor(token), note=body.note)
    )


# Media is never cached, and is nothing but an image or a video.
MEDIA_HEADERS = {
    "Cache-Control": "no-store, private",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}
Sha256 = Annotated[str, Path(max_length=64)]
NO_MEDIA = {404: "no such case, or it kept no such media"}


@router.get(
    "/cases/{case_id}/media",
    response_model=CaseMediaOut,
    responses=errors(404, meanings=NO_CASE),
)
def list_media(core: Core, _: ChildSafety, case_id: CaseId) -> CaseMediaOut:
    """The case's kept media (uploads kept by LYKTA_EVIDENCE_KEEP_UPLOADS or preserved as
    evidence), without their bytes."""
    return CaseMediaOut.of(core.media.of_case(case_id))


@router.get(
    "/cases/{case_id}/media/{sha256}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "video/mp4": {}}, "description": "the media"},
        **errors(404, meanings=NO_MEDIA),
    },
)
def get_media(core: Core, token: ChildSafety, case_id: CaseId, sha256: Sha256) -> Response:
    """A kept photo (re-encoded as JPEG, metadata dropped) or video (as uploaded). Audited."""
    item = next((i for i in core.media.of_case(case_id).items if i.sha256 == sha256), None)
    if item is not None and item.kind == "video":
        data, media_type = core.media.video(
            case_id, sha256, viewer=actor(token), may_view_media=True
        )
        return Response(data, media_type=media_type, headers=MEDIA_HEADERS)
    jpeg = core.media.photo(case_id, sha256, viewer=actor(token), may_view_media=True)
    return Response(jpeg, media_type="image/jpeg", headers=MEDIA_HEADERS)


@router.get(
    "/cases/{case_id}/media/{sha256}/frames/{index}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "a storyboard frame"},
        **errors(404, meanings=NO_MEDIA),
    },
)
def get_frame(
    core: Core,
    token: ChildSafety,
    case_id: CaseId,
    sha256: Sha256,
    index: Annotated[int, Path(ge=0, le=1000)],
) -> Response:
    """Frame `index` of a kept video's storyboard (LYKTA_CONSOLE_STORYBOARD_FRAMES frames
    spread over it), as JPEG. Audited."""
    jpeg = core.media.frame(case_id, sha256, index, viewer=actor(token), may_view_media=True)
    return Response(jpeg, media_type="image/jpeg", headers=MEDIA_HEADERS)
