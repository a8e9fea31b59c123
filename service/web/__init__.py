"""The web console: a static single-page app under /console/ and the public worksheet schema it renders.

The files hold no call data and need no token; the page asks for a token once and calls the /v1 API with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from service.types import RISK_LABELS, RISK_LEVELS
from service.worksheet.schema import worksheet_schema

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
}
# The page talks to this origin only (HTTP and WebSocket) and runs no inline script. No script may write HTML
# into the page either (Trusted Types with no policy: innerHTML and the like throw in browsers that enforce it).
# connect-src names this host's ws:/wss: besides 'self' (which covers them in CSP 3 browsers): never any host.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {connect}; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
       "require-trusted-types-for 'script'; trusted-types 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def headers_for(request: Request) -> dict[str, str]:
    """The console's headers; the WebSocket sources are this request's host when it is a plain host[:port]
    (anything else in a Host header, e.g. a ``;`` that would add a directive, leaves just 'self')."""
    host = request.headers.get("host", "")
    connect = f"'self' ws://{host} wss://{host}" if _HOST.fullmatch(host) else "'self'"
    return {"Content-Security-Policy": CSP.format(connect=connect), **HEADERS}


def _assets() -> dict[str, str]:
    """File name → media type of every servable file (a fixed list: no path from the URL reaches the disk)."""
    out = {}
    for entry in STATIC.iterdir():
        if entry.is_file() and entry.suffix in MEDIA_TYPES:
            out[entry.name] = MEDIA_TYPES[entry.suffix]
    return out


ASSETS = _assets()


@router.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status.HTTP_308_PERMANENT_REDIRECT)


@router.get("/console/")
async def console_page(request: Request) -> FileResponse:
    return _file("index.html", request)


@router.get("/console/schema.json")
async def console_schema(request: Request) -> JSONResponse:
    """The worksheet part of the annotation format (public spec) and the ordered risk labels and levels."""
    return JSONResponse({"worksheet": worksheet_schema(), "risk_labels": list(RISK_LABELS),
                         "risk_levels": list(RISK_LEVELS)}, headers=headers_for(request))


@router.get("/console/{asset}")
async def console_asset(asset: str, request: Request) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such console file")
    return _file(asset, request)


def _file(name: str, request: Request) -> FileResponse:
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=headers_for(request))
