"""Health, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import AnyRole, RuntimeDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep, response: Response) -> dict:
    if not runtime.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "loading"}
    # no token is asked here (load balancers probe it), so nothing about the calls: how many people are on the
    # line now, and on which model, is for a token's eyes (GET /metrics: scribe_active_calls)
    return {"status": "ready"}


@router.get("/v1/me")
async def me(who: AnyRole) -> dict:
    """Who the bearer token is: its role and the name it was configured with (``role:<hash>`` when none); what
    the web console opens (counselor or supervisor view) follows from the role."""
    return {"role": who.role, "name": who.name}


@router.get("/metrics")
async def metrics(runtime: RuntimeDep, _: AnyRole) -> Response:
    return Response(runtime.pipeline.metrics.render(), media_type=CONTENT_TYPE_LATEST)
