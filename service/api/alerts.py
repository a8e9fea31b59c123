"""Supervisor alerts: WS /v1/alerts (replay of open alerts, then live), GET /v1/alerts, POST /v1/alerts/{id}/ack."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, WebSocket, status
from starlette.websockets import WebSocketDisconnect

from service.alerts import alert_json
from service.api.stream import authorize_ws, relay
from service.deps import RuntimeDep, SupervisorRole
from service.runtime import Runtime

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/alerts")


@router.get("")
async def list_alerts(runtime: RuntimeDep, _: SupervisorRole,
                      state: Literal["open", "acked", "all"] = "open",
                      call_id: str | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict:
    rows = await asyncio.to_thread(runtime.pipeline.store.list_alerts, None if state == "all" else state, limit,
                                   call_id)
    return {"alerts": [alert_json(r) for r in rows]}


@router.post("/{alert_id}/ack")
async def ack_alert(alert_id: str, runtime: RuntimeDep, who: SupervisorRole) -> dict:
    alert = await runtime.alerts.ack(alert_id, who.name)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return alert


@router.websocket("")
async def alerts_socket(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    if not await authorize_ws(ws, runtime, "supervisor"):
        return
    hub = runtime.alerts
    sub = hub.subscribe()  # before the replay, so nothing raised in between is missed
    try:
        replayed = set()
        for row in reversed(await asyncio.to_thread(runtime.pipeline.store.list_alerts, "open", 1000)):
            await ws.send_json(alert_json(row))
            replayed.add(row.alert_id)
        # a subscription that ends means the service is stopping: the console reconnects and gets the replay
        await relay(ws, sub, lambda m: m["type"] == "alert" and m["alert_id"] in replayed, (1013, "reconnect"))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(sub)
