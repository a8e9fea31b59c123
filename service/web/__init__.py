"""The web console: a static single-page app under /console/ and the public worksheet schema it renders.

The files hold no call data and need no token; the page asks for a token once and calls the /v1 API with it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
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
# The page talks to this origin only (HTTP and WebSocket) and runs no inline script.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


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
async def console_page() -> FileResponse:
    return _file("index.html")


@router.get("/console/schema.json")
async def console_schema() -> JSONResponse:
    """The worksheet part of the annotation format (public spec) and the ordered risk labels and levels."""
    return JSONResponse({"worksheet": worksheet_schema(), "risk_labels": list(RISK_LABELS),
                         "risk_levels": list(RISK_LEVELS)}, headers=HEADERS)


@router.get("/console/{asset}")
async def console_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such console file")
    return _file(asset)


def _file(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)
