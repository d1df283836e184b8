"""The review console at /ui: sign in, the queue, a case with its decision form.

Server-rendered from Jinja2 templates with one stylesheet and one small script (keyboard
shortcuts) from `static/console/`; nothing inline runs. People sign in with a name and
password (`lykta user create`); the session cookie is HttpOnly and SameSite=Strict and
every form carries the session's CSRF token. The pages call the same core services as the
API, so decisions and views land in the same history and audit log. A case page shows
metadata and match details only: this server keeps no media.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core
from lykta.auth.users import LoginRefused, SessionInfo
from lykta.cases import CaseState
from lykta.cases.states import CHILD_SAFETY_DECISIONS, TRANSITIONS
from lykta.errors import LyktaError

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)

SESSION_COOKIE = "lykta_session"
LOGIN_COOKIE = "lykta_login"  # the login form's CSRF token, before there is a session
SHORTCUTS = {"in_review": "r", "confirmed": "c", "false_positive": "f", "escalated": "e"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NoteField = Annotated[str, Form(max_length=10_000)]
CaseId = Annotated[int, PathParam(ge=1, le=2**62)]


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
) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    filters = {"state": state or None, "bank": bank or None, "assignee": assignee or None}
    context: dict[str, Any] = {
        "user": signed_in.user, "csrf": signed_in.csrf_token, "filters": filters,
        "states": [s.value for s in CaseState],
    }  # fmt: skip
    try:
        context["cases"] = await run_in_threadpool(
            lambda: core.cases.queue(
                state=state or None, bank=bank or None, assignee=assignee or None
            )
        )
    except LyktaError as error:
        return _page(request, "queue.html", {**context, "cases": [], "message": error.message}, 422)
    return _page(request, "queue.html", context)


def _case_context(core: Core, case_id: int, signed_in: SessionInfo) -> dict[str, Any]:
    detail = core.cases.get(case_id, viewer=signed_in.user.actor)
    allowed = sorted(TRANSITIONS[detail.case.state])
    if not signed_in.user.may_report:
        allowed = [d for d in allowed if d not in CHILD_SAFETY_DECISIONS]
    return {
        "user": signed_in.user, "csrf": signed_in.csrf_token, "case": detail.case,
        "alerts": detail.alerts, "history": detail.history, "context": detail.context,
        "decisions": [d.value for d in allowed], "shortcuts": SHORTCUTS,
    }  # fmt: skip


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, core: Core, case_id: CaseId) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    try:
        context = await run_in_threadpool(_case_context, core, case_id, signed_in)
    except LyktaError as error:
        return _page(
            request, "queue.html",
            {"user": signed_in.user, "csrf": signed_in.csrf_token, "cases": [],
             "filters": {}, "states": [], "message": error.message},
            error.status_code,
        )  # fmt: skip
    return _page(request, "case.html", context)


@router.post("/cases/{case_id}/decision", response_class=HTMLResponse)
async def decide(
    request: Request,
    core: Core,
    case_id: CaseId,
    decision: Annotated[str, Form(max_length=32)],
    note: NoteField = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    signed_in = await _signed_in(request, core)
    if signed_in is None:
        return _redirect(request, "/ui/login")
    if not signed_in.csrf_ok(csrf):
        return Response("the form's CSRF token is missing or wrong", 403, SECURITY_HEADERS)
    user = signed_in.user
    try:
        await run_in_threadpool(
            lambda: core.cases.decide(
                case_id, decision, actor=user.actor, note=note, may_report=user.may_report
            )
        )
    except LyktaError as error:
        try:
            context = await run_in_threadpool(_case_context, core, case_id, signed_in)
        except LyktaError:
            return Response(error.message, error.status_code, SECURITY_HEADERS)
        return _page(request, "case.html", {**context, "message": error.message}, error.status_code)
    return _redirect(request, f"/ui/cases/{case_id}")
