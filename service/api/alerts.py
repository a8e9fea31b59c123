"""Supervisor alerts: WS /v1/alerts (replay of open alerts, then live), GET /v1/alerts, POST /v1/alerts/{id}/ack."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, WebSocket, status
from starlette.websockets import WebSocketDisconnect

from service.alerts import alert_json
from service.api.stream import authorize_ws, relay
from service.deps import RuntimeDep, SupervisorRole
from service.runtime import Runtime
from service.store.tables import AlertRow

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/alerts")
REPLAY_PAGE = 500  # open alerts read at a time for a console's replay (all of them are sent, page after page)


def _cursor(row: AlertRow) -> str:
    """Where a listing goes on after ``row``: opaque to clients (the alert's raised_at and id)."""
    at = row.raised_at if row.raised_at.tzinfo else row.raised_at.replace(tzinfo=timezone.utc)  # SQLite: naive UTC
    raw = json.dumps([at.isoformat(), row.alert_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        at, alert_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(alert_id)
    except (binascii.Error, ValueError, TypeError) as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor is not one this service gave") from e


@router.get("")
async def list_alerts(runtime: RuntimeDep, _: SupervisorRole,
                      state: Literal["open", "acked", "all"] = "open",
                      call_id: str | None = None, limit: int = Query(200, ge=1, le=1000),
                      cursor: str | None = None) -> dict:
    """Newest first, at most ``limit``. ``next`` says whether that was all: null when it was, else the cursor to
    pass as ``cursor`` for the next page (a client that reads only ``alerts`` sees what it always saw)."""
    after = _after(cursor) if cursor else None
    rows = await asyncio.to_thread(runtime.pipeline.store.list_alerts, None if state == "all" else state, limit + 1,
                                   call_id, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"alerts": [alert_json(r) for r in rows], "next": _cursor(rows[-1]) if more else None}


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
        # every open alert, oldest first, a page at a time: a console that missed one would never know
        replayed: set[str] = set()
        after = None
        while True:
            rows = await asyncio.to_thread(runtime.pipeline.store.list_alerts, "open", REPLAY_PAGE,
                                           after=after, oldest_first=True)
            for row in rows:
                await ws.send_json(alert_json(row))
                replayed.add(row.alert_id)
            if len(rows) < REPLAY_PAGE:
                break
            after = (rows[-1].raised_at, rows[-1].alert_id)
        # a subscription that ends means the service is stopping: the console reconnects and gets the replay
        await relay(ws, sub, lambda m: m["type"] == "alert" and m["alert_id"] in replayed, (1013, "reconnect"))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(sub)
