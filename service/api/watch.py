"""WS /v1/calls/{call_id}/watch: a counselor's or supervisor's console follows a call.

First a ``snapshot`` (the call and every final so far, with risk labels), then the call's own messages
(``partial``, ``final``, ``risk``, ``ended``) as the telephony side gets them. A call that is not live gets the
snapshot, ``ended``, and the socket closes. A counselor token that names its holder follows that counselor's calls
only: another's closes 1008 "unknown call", as a call that does not exist."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from service.api.calls import call_json
from service.api.stream import POLICY, authorize_ws, relay
from service.runtime import Runtime

router = APIRouter()


@router.websocket("/v1/calls/{call_id}/watch")
async def watch_call(ws: WebSocket, call_id: str) -> None:
    runtime: Runtime = ws.app.state.runtime
    who = await authorize_ws(ws, runtime, "counselor", "supervisor")
    if who is None:
        return
    store = runtime.pipeline.store
    session = runtime.live.get(call_id)
    sub = session.watch() if session is not None else None  # before the snapshot: nothing falls in between
    try:
        call = await asyncio.to_thread(store.get_call, call_id)
        if call is None or not who.may_read(call.counselor_id):  # another counselor's call reads as unknown
            await ws.close(POLICY, "unknown call")
            return
        snap = call_json(call, await asyncio.to_thread(store.segments, call_id))
        segments = snap.pop("segments")
        await ws.send_json({"type": "snapshot", "call": snap, "segments": segments})
        if sub is None:
            await ws.send_json({"type": "ended", "call_id": call_id, "segments": len(segments),
                                "worksheet": f"/v1/calls/{call_id}/worksheet"})
            await ws.close(1000, "ended")
            return
        seen = {s["segment_id"] for s in segments}
        await relay(ws, sub, lambda m: m["type"] == "final" and m["segment_id"] in seen)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if sub is not None and session is not None:
            session.unwatch(sub)
