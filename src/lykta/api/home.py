"""The home page at `/`: what this server is (version, banks, index), where the API docs
are, and a form to check a photo for whoever holds a matcher token.

Rendered on the server from one Jinja2 template, with one small script and stylesheet from
`static/home/`: no CDN, no build step. The token typed into the form goes from the browser
straight into the look-up's Authorization header; the server never sees it on this page
and stores nothing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lykta import __version__
from lykta.api.deps import Core

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# The page's script and styles come from this server only; nothing inline runs.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, core: Core) -> HTMLResponse:
    readiness = core.readiness()
    banks = core.banks.list_banks() if core.settings.home_banks else None
    sizes = core.matcher.size()
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "version": __version__,
            "banks": banks,
            "readiness": readiness,
            "sizes": sizes,
            "total": sum(sizes.values()),
            "revision": core.matcher.revision,
            "base": str(request.scope.get("root_path", "")).rstrip("/"),
        },
        headers=SECURITY_HEADERS,
    )
