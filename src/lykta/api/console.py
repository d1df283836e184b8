"""The review console at /ui: sign in, the queue, a case with its decision form, its
media on request, its report and export, and each reviewer's wellness preferences.

Server-rendered from Jinja2 templates with one stylesheet and one small script (keyboard
shortcuts, click to reveal) from `static/console/`; nothing inline runs. People sign in
with a name and password (`lykta user create`); the session cookie is HttpOnly and
SameSite=Strict and every form carries the session's CSRF token. The pages call the same
core services as the API, so decisions, views, reports and exports land in the same
history and audit log.

A case page shows metadata and match details first; its kept media only when asked
(`?media=1`), and only to those who may view media (child_safety, admin): for anyone else
every media URL answers 403. Media is blurred and grey until revealed, as the person's
preferences say (over the organisation's defaults, `LYKTA_CONSOLE_*`); the styles are
classes of the page, so without the script media stays hidden. Each item served counts
towards the session's break reminder and is written to the audit log.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core
from lykta.auth.preferences import MAX_BLUR, MAX_BREAK_AFTER
from lykta.auth.users import LoginRefused, SessionInfo
from lykta.cases import CaseState
from lykta.cases.states import CHILD_SAFETY_DECISIONS, TRANSITIONS
from lykta.errors import Forbidden, LyktaError

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)

SESSION_COOKIE = "lykta_session"
LOGIN_COOKIE = "lykta_login"  # the login form's CSRF token, before there is a session
SHORTCUTS = {"in_review": "r", "confirmed": "c", "false_positive": "f", "escalated": "e"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; media-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Media is never cached (nor stored by a proxy), and is nothing but an image or a video.
MEDIA_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store, private",
    "Content-Disposition": "inline",
}
QUEUE_PAGE = 50
NoteField = Annotated[str, Form(max_length=10_000)]
CaseId = Annotated[int, PathParam(ge=1, le=2**62)]
Sha256 = Annotated[str, PathParam(max_length=64)]
Csrf = Annotated[str, Form(max_length=128)]


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        f"console/{name}",
        {"base": _base(request), "user": None, "csrf": "", "message": None, **context},
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


def _redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}{path}", status_code=303, headers=SECURITY_HEADERS)


async def _signed_in(request: Request, core: Core) -> SessionInfo | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    return await run_in_threadpool(core.users.session, secret)


async def _form_session(request: Request, core: Core, csrf: str) -> SessionInfo | Response:
    """The session a form was posted in, or what to answer instead: the sign-in page
    without one, 403 when the form's CSRF token is not the session's."""
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    if not signed_in.csrf_ok(csrf):
        return PlainTextResponse("the form's CSRF token is missing or wrong", 403, SECURITY_HEADERS)
    return signed_in


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    token = secrets.token_urlsafe(32)
    page = _page(request, "login.html", {"csrf": token})
    page.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/ui")
    return page


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    core: Core,
    name: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not _same(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        return _refuse_login(request, "the sign-in form expired; please try again", 403)
    try:
        _, secret = core.users.login(name, password)
    except LoginRefused as refused:
        return _refuse_login(request, refused.message, 401)
    response = _redirect(request, "/ui")
    response.set_cookie(
        SESSION_COOKIE, secret, httponly=True, samesite="strict", path="/ui",
        secure=request.url.scheme == "https", max_age=round(core.settings.session_seconds),
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


def _refuse_login(request: Request, message: str, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    page = _page(request, "login.html", {"csrf": token, "message": message}, status)
    page.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/ui")
    return page


@router.post("/logout")
async def logout(
    request: Request, core: Core, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is not None and signed_in.csrf_ok(csrf):
        await run_in_threadpool(core.users.logout, request.cookies.get(SESSION_COOKIE, ""))
    response = _redirect(request, "/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request,
    core: Core,
    state: Annotated[str, Query(max_length=32)] = "",
    bank: Annotated[str, Query(max_length=128)] = "",
    assignee: Annotated[str, Query(max_length=128)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    filters = {"state": state or None, "bank": bank or None, "assignee": assignee or None}
    context: dict[str, Any] = {
        **_session_context(signed_in), "filters": filters, "page": page,
        "states": [s.value for s in CaseState],
        "query": urlencode({k: v for k, v in filters.items() if v}),
    }  # fmt: skip
    try:
        context["cases"] = await run_in_threadpool(
            lambda: core.cases.queue(
                state=state or None,
                bank=bank or None,
                assignee=assignee or None,
                limit=QUEUE_PAGE,
                offset=(page - 1) * QUEUE_PAGE,
            )
        )
        context["more"] = len(context["cases"]) == QUEUE_PAGE
    except LyktaError as error:
        return _page(request, "queue.html", {**context, "cases": [], "message": error.message}, 422)
    return _page(request, "queue.html", context)


def _session_context(signed_in: SessionInfo) -> dict[str, Any]:
    """What every signed-in page needs: the person, the CSRF token, the wellness classes
    and whether a break is due."""
    prefs = signed_in.preferences
    return {
        "user": signed_in.user, "csrf": signed_in.csrf_token, "prefs": prefs,
        "media_views": signed_in.media_views,
        "break_due": bool(prefs.break_after) and signed_in.media_views >= prefs.break_after,
    }  # fmt: skip


def _case_context(
    core: Core, case_id: int, signed_in: SessionInfo, show_media: bool = False
) -> dict[str, Any]:
    user = signed_in.user
    detail = core.cases.get(case_id, viewer=user.actor)
    allowed = sorted(TRANSITIONS[detail.case.state])
    if not user.may_report:
        allowed = [d for d in allowed if d not in CHILD_SAFETY_DECISIONS]
    media = core.media.of_case(case_id, detail.alerts)
    storyboards: dict[str, list[float] | str] = {}
    if show_media and user.may_view_media:
        for item in media.items:
            if item.kind == "video":
                try:
                    storyboards[item.sha256] = core.media.storyboard(
                        case_id, item.sha256, may_view_media=True
                    )
                except LyktaError as error:
                    storyboards[item.sha256] = error.message
    reports = core.reports.status(case_id) if user.may_report else []
    return {
        **_session_context(signed_in), "case": detail.case, "alerts": detail.alerts,
        "history": detail.history, "context": detail.context,
        "decisions": [d.value for d in allowed], "shortcuts": SHORTCUTS, "media": media,
        "show_media": show_media and user.may_view_media, "storyboards": storyboards,
        "reports": reports, "reportable": detail.case.state == CaseState.CONFIRMED,
    }  # fmt: skip


def _error_page(request: Request, signed_in: SessionInfo, error: LyktaError) -> Response:
    context = {**_session_context(signed_in), "cases": [], "filters": {}, "states": []}
    return _page(request, "queue.html", {**context, "message": error.message}, error.status_code)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    core: Core,
    case_id: CaseId,
    media: Annotated[bool, Query(description="show the case's kept media")] = False,
) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    try:
        context = await run_in_threadpool(_case_context, core, case_id, signed_in, media)
    except LyktaError as error:
        return _error_page(request, signed_in, error)
    return _page(request, "case.html", context)


async def _media_response(
    request: Request, core: Core, read: Callable[[SessionInfo], tuple[bytes, str]]
) -> Response:
    """Serve one media item to a signed-in person who may view media; the item is
    counted towards the session's break reminder (the service audits it)."""
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return PlainTextResponse("sign in first", 401, SECURITY_HEADERS)
    if not signed_in.user.may_view_media:
        return PlainTextResponse("only a child_safety user may view media", 403, SECURITY_HEADERS)
    try:
        data, media_type = await run_in_threadpool(read, signed_in)
    except LyktaError as error:
        return PlainTextResponse(error.message, error.status_code, SECURITY_HEADERS)
    await run_in_threadpool(core.users.count_media_view, request.cookies[SESSION_COOKIE])
    return Response(data, media_type=media_type, headers=MEDIA_HEADERS)


@router.get("/cases/{case_id}/media/{sha256}")
async def media_photo(request: Request, core: Core, case_id: CaseId, sha256: Sha256) -> Response:
    def read(signed_in: SessionInfo) -> tuple[bytes, str]:
        user = signed_in.user
        jpeg = core.media.photo(
            case_id, sha256, viewer=user.actor, may_view_media=user.may_view_media
        )
        return jpeg, "image/jpeg"

    return await _media_response(request, core, read)


@router.get("/cases/{case_id}/media/{sha256}/video")
async def media_video(request: Request, core: Core, case_id: CaseId, sha256: Sha256) -> Response:
    def read(signed_in: SessionInfo) -> tuple[bytes, str]:
        user = signed_in.user
        return core.media.video(
            case_id, sha256, viewer=user.actor, may_view_media=user.may_view_media
        )

    return await _media_response(request, core, read)


@router.get("/cases/{case_id}/media/{sha256}/frames/{index}")
async def media_frame(
    request: Request,
    core: Core,
    case_id: CaseId,
    sha256: Sha256,
    index: Annotated[int, PathParam(ge=0, le=1000)],
) -> Response:
    def read(signed_in: SessionInfo) -> tuple[bytes, str]:
        user = signed_in.user
        jpeg = core.media.frame(
            case_id, sha256, index, viewer=user.actor, may_view_media=user.may_view_media
        )
        return jpeg, "image/jpeg"

    return await _media_response(request, core, read)


@router.post("/break")
async def take_break(request: Request, core: Core, csrf: Csrf = "") -> Response:
    """The reviewer took the suggested break: the session's count of media starts again."""
    signed_in = await _form_session(request, core, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    await run_in_threadpool(core.users.take_break, request.cookies[SESSION_COOKIE])
    return _redirect(request, "/ui")


@router.get("/preferences", response_class=HTMLResponse)
async def preferences_page(request: Request, core: Core) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    context = {**_session_context(signed_in), "defaults": core.users.preference_defaults}
    return _page(request, "preferences.html", context)


@router.post("/preferences", response_class=HTMLResponse)
async def save_preferences(
    request: Request,
    core: Core,
    blur: Annotated[int, Form(ge=0, le=MAX_BLUR)],
    reveal: Annotated[str, Form(max_length=16)],
    break_after: Annotated[int, Form(ge=0, le=MAX_BREAK_AFTER)],
    greyscale: Annotated[bool, Form()] = False,
    reset: Annotated[bool, Form()] = False,
    csrf: Csrf = "",
) -> Response:
    signed_in = await _form_session(request, core, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    chosen: dict[str, Any] = {} if reset else {
        "blur": blur, "greyscale": greyscale, "reveal": reveal, "break_after": break_after
    }  # fmt: skip
    try:
        await run_in_threadpool(core.users.set_preferences, signed_in.user.name, chosen)
    except LyktaError as error:
        context = {**_session_context(signed_in), "defaults": core.users.preference_defaults}
        return _page(
            request, "preferences.html", {**context, "message": error.message}, error.status_code
        )
    return _redirect(request, "/ui/preferences")


@router.post("/cases/{case_id}/report", response_class=HTMLResponse)
async def send_report(request: Request, core: Core, case_id: CaseId, csrf: Csrf = "") -> Response:
    """Send the case's CyberTipline report (or resume its unfinished one), as the API and
    `lykta report cybertipline` do."""
    signed_in = await _form_session(request, core, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    user = signed_in.user

    def send() -> None:
        if not user.may_report:
            raise Forbidden("only a child_safety user may report a case")
        core.reports.status(case_id)  # an unknown case before the CyberTipline's settings
        client = core.cybertipline()
        try:
            core.reports.send(case_id, client, actor=user.actor, may_report=True)
        finally:
            client.close()

    try:
        await run_in_threadpool(send)
    except LyktaError as error:
        return await _case_with_message(request, core, case_id, signed_in, error)
    return _redirect(request, f"/ui/cases/{case_id}")


@router.post("/cases/{case_id}/export")
async def export_case(
    request: Request,
    core: Core,
    case_id: CaseId,
    media: Annotated[bool, Form()] = False,
    csrf: Csrf = "",
) -> Response:
    """The case as a zip (case.json, alerts.csv, with media when asked), as `lykta export`
    and the API make it; audited."""
    signed_in = await _form_session(request, core, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    user = signed_in.user

    def export() -> bytes:
        if not user.may_report:
            raise Forbidden("only a child_safety user may export a case")
        return core.reports.export(
            case_id, viewer=user.actor, media=media, may_view_media=user.may_view_media
        )

    try:
        data = await run_in_threadpool(export)
    except LyktaError as error:
        return await _case_with_message(request, core, case_id, signed_in, error)
    return Response(
        data,
        media_type="application/zip",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="case-{case_id}.zip"',
        },
    )


async def _case_with_message(
    request: Request, core: Core, case_id: int, signed_in: SessionInfo, error: LyktaError
) -> Response:
    """The case page again with the error said on it (or the error alone, no such case)."""
    try:
        context = await run_in_threadpool(_case_context, core, case_id, signed_in)
    except LyktaError:
        return PlainTextResponse(error.message, error.status_code, SECURITY_HEADERS)
    return _page(request, "case.html", {**context, "message": error.message}, error.status_code)


@router.post("/cases/{case_id}/decision", response_class=HTMLResponse)
async def decide(
    request: Request,
    core: Core,
    case_id: CaseId,
    decision: Annotated[str, Form(max_length=32)],
    note: NoteField = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    signed_in = await _form_session(request, core, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    user = signed_in.user
    try:
        await run_in_threadpool(
            lambda: core.cases.decide(
                case_id, decision, actor=user.actor, note=note, may_report=user.may_report
            )
        )
    except LyktaError as error:
        return await _case_with_message(request, core, case_id, signed_in, error)
    return _redirect(request, f"/ui/cases/{case_id}")
