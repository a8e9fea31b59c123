"""create_app(settings): the FastAPI application. Models load once in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import web
from service.api import alerts, calls, health, stream, watch, worksheet
from service.logredact import redact_uvicorn_logs
from service.runtime import Runtime
from service.settings import Settings

logger = logging.getLogger(__name__)

# Every HTTP response: no MIME sniffing (a JSON body carrying a caller's words is never read as HTML or script),
# never framed, no Referer (the console's WebSocket URLs carry ?token=), not readable by other origins' pages.
COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
# Everything but the console's own files (the API, metrics, health, errors): never stored by a browser or a proxy
# (transcripts, worksheets, alerts), and nothing in it runs as a page.
API_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
)
CONSOLE_PREFIX = "/console"


class SecurityHeaders:
    """ASGI middleware: adds the headers above to each HTTP response that does not set them itself (the console
    sets its own Content-Security-Policy and Cache-Control). WebSockets pass through untouched."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = COMMON_HEADERS if scope["path"].startswith(CONSOLE_PREFIX) else COMMON_HEADERS + API_HEADERS

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. A prebuilt ``runtime`` (tests, tools) skips loading the models again."""
    settings = settings or Settings()
    redact_uvicorn_logs()  # whichever server runs the app: the console's WebSockets carry ?token=

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = runtime is None
        app.state.runtime = runtime or await asyncio.to_thread(Runtime.build, settings)
        await app.state.runtime.start()
        try:
            yield
        finally:
            await app.state.runtime.stop()
            if own:
                app.state.runtime.close()

    # No Swagger UI or ReDoc pages: they load their script from a public CDN, and would run it on the console's
    # origin, where a counselor's token lives in sessionStorage. /openapi.json (no data) stays for tools.
    app = FastAPI(title="hotline-scribe", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(calls.EarlyUploadRefusal)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: the early refusals carry its headers too
    app.include_router(health.router)
    app.include_router(stream.router)
    app.include_router(calls.router)
    app.include_router(web.router)
    app.include_router(worksheet.router)
    app.include_router(watch.router)
    app.include_router(alerts.router)
    return app
