"""The API documentation pages, /docs (Swagger UI) and /redoc, served from files installed
with Lykta.

FastAPI's own pages load their scripts from a public CDN, which leaves a blank page on the
air-gapped servers Lykta is meant for; these load the same scripts from `static/`
(see `static/README.md` for their versions and licences).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from lykta import __version__

STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/static"

# Everything from this server: the browser makes no request elsewhere, not even for
# Redoc's attribution logo (its one hard-coded outside address, hidden when refused).
# The pages' own set-up script is inline, as FastAPI writes it, and both renderers inject
# styles.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def _prefix(request: Request) -> str:
    """The path the app is mounted under (behind a proxy with a prefix), for links."""
    return str(request.scope.get("root_path", "")).rstrip("/")


# Lykta's own spec, and HMA's (its routes under HMA's title, where HMA serves its docs).
SPECS = {
    "": ("/openapi.json", f"Lykta {__version__} API"),
    "/openapi": ("/openapi/openapi.json", "Open Media Match API (HMA-compatible routes)"),
}


def _swagger_ui(request: Request, spec: str) -> HTMLResponse:
    base = _prefix(request)
    openapi_url, title = SPECS[spec]
    return _confined(
        get_swagger_ui_html(
            openapi_url=f"{base}{openapi_url}",
            title=title,
            swagger_js_url=f"{base}{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{STATIC_PATH}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{base}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
            # No call to the public validator service, which an air-gapped server cannot reach.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )
    )


def _redoc(request: Request, spec: str) -> HTMLResponse:
    base = _prefix(request)
    openapi_url, title = SPECS[spec]
    return _confined(
        get_redoc_html(
            openapi_url=f"{base}{openapi_url}",
            title=title,
            redoc_js_url=f"{base}{STATIC_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{base}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
    )


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _swagger_ui(request, "")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _redoc(request, "")


@router.get("/openapi/swagger")
async def hma_swagger_ui(request: Request) -> HTMLResponse:
    """Where HMA (flask-openapi3) serves its Swagger UI."""
    return _swagger_ui(request, "/openapi")


@router.get("/openapi/redoc")
async def hma_redoc(request: Request) -> HTMLResponse:
    return _redoc(request, "/openapi")
