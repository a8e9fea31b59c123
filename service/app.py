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

    app = FastAPI(title="hotline-scribe", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(stream.router)
    app.include_router(calls.router)
    app.include_router(web.router)
    app.include_router(worksheet.router)
    app.include_router(watch.router)
    app.include_router(alerts.router)
    return app
