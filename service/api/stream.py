"""WS /v1/calls/stream: the telephony edge. Translates frames into CallSession calls and results back."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from service.audio.codecs import FrameError
from service.auth import Principal, allowed, bearer_token
from service.fanout import Subscription
from service.protocol import StartMessage, StopMessage, client_message, error
from service.runtime import AdmissionRefused, Runtime
from service.session import CallLimitExceeded, CallSession
from service.store.db import CallExists

logger = logging.getLogger(__name__)
router = APIRouter()

POLICY = 1008
SERVER_FAULT = 1011
OUTBOX_SIZE = 10000


def ws_token(ws: WebSocket) -> str | None:
    return bearer_token(ws.headers.get("authorization")) or ws.query_params.get("token")


async def authorize_ws(ws: WebSocket, runtime: Runtime, *roles: str) -> Principal | None:
    """Accept the socket; who holds its token, or None after closing it with 1008 before any data if the token or
    its role is wrong."""
    who = runtime.auth.principal_of(ws_token(ws))
    await ws.accept()
    if who is None or not allowed(who.role, roles):
        await ws.close(POLICY, "unauthorized" if who is None else "forbidden")
        return None
    return who


async def drain(ws: WebSocket) -> None:
    """Read (and ignore) what a console sends, so that a closed socket is noticed at once."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return


async def relay(ws: WebSocket, sub: Subscription, skip: Callable[[dict], bool],
                end: tuple[int, str] = (1000, "ended")) -> None:
    """Send a console what ``sub`` delivers, less what ``skip`` says it already has, until the console goes away
    or the subscription ends: closed with ``end``, or with 1013 (reconnect for a fresh snapshot) when the console
    fell behind."""
    receiver = asyncio.create_task(drain(ws))
    try:
        while True:
            getter = asyncio.create_task(sub.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                return
            msg = getter.result()
            if msg is None:
                await ws.close(*((1013, "reconnect") if sub.overflowed else end))
                return
            if not skip(msg):
                await ws.send_json(msg)
    finally:
        receiver.cancel()


async def _fatal(ws: WebSocket, code: str, message: str, close_code: int = POLICY) -> None:
    try:
        await ws.send_json(error(code, message, True))
        await ws.close(close_code, code)
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _first_start(ws: WebSocket) -> StartMessage | None:
    msg = await ws.receive()
    if msg["type"] == "websocket.disconnect":
        return None
    if msg.get("text") is None:
        await _fatal(ws, "expected_start", "the first frame must be the text start message")
        return None
    try:
        parsed = client_message.validate_json(msg["text"])
    except ValidationError as e:
        await _fatal(ws, "bad_start", f"invalid start message: {_brief(e)}")
        return None
    if not isinstance(parsed, StartMessage):
        await _fatal(ws, "expected_start", "the first frame must be the text start message")
        return None
    return parsed


def _brief(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'message'}: {err['msg']}" for err in e.errors()[:5])


@router.websocket("/v1/calls/stream")
async def stream_call(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    if not await authorize_ws(ws, runtime, "telephony"):
        return
    if not runtime.ready:
        await _fatal(ws, "not_ready", "the service is still loading its models", SERVER_FAULT)
        return
    start = await _first_start(ws)
    if start is None:
        return

    outbox: asyncio.Queue[dict | None] = asyncio.Queue(OUTBOX_SIZE)

    async def sink(msg: dict) -> None:
        await outbox.put(msg)

    session = CallSession(runtime.pipeline, start, sink)
    try:
        runtime.admit(session)
    except AdmissionRefused as e:
        await _fatal(ws, e.code, str(e))
        return
    try:
        try:
            await session.open()
        except CallExists:
            await _fatal(ws, "call_exists", f"call {start.call_id} was already recorded; use a new call_id")
            return
        logger.info("call %s started: %s %d Hz %d ch", start.call_id, start.encoding, start.sample_rate,
                    start.channels)
        await ws.send_json({"type": "started", "call_id": start.call_id})
        sender = asyncio.create_task(_send_loop(ws, outbox, session))
        close_code, close_reason = 1000, "ended"
        try:
            close_code, close_reason = await _receive_loop(ws, session)
        except Exception:
            logger.exception("call %s: the stream handler failed", start.call_id)
            await outbox.put(error("server_error", "internal error; the call was finished", True))
            close_code, close_reason = SERVER_FAULT, "server_error"
        try:
            n = await session.finish()
            logger.info("call %s ended: %d segments, %.1f s audio", start.call_id, n, session.audio_seconds)
        except Exception:
            logger.exception("call %s: finishing failed", start.call_id)
            await session.fail("finishing failed")
            close_code = SERVER_FAULT
        await outbox.put(None)
        await sender
        if ws.client_state == WebSocketState.CONNECTED and session.connected:
            try:
                await ws.close(close_code, close_reason)
            except (WebSocketDisconnect, RuntimeError):
                pass
    finally:
        runtime.release(session)


async def _receive_loop(ws: WebSocket, session: CallSession) -> tuple[int, str]:
    """Feed frames until stop (1000), a fatal condition (1008) or a dropped connection."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            session.connected = False
            logger.info("call %s: connection dropped without stop; finishing", session.call_id)
            return 1000, "dropped"
        data = msg.get("bytes")
        if data is not None:
            try:
                await session.feed(data)
            except FrameError as e:
                session.p.metrics.bad_frames.inc()
                await session.sink(error("bad_audio_frame", str(e), False))
            except CallLimitExceeded as e:
                await session.sink(error("call_too_long", str(e), True))
                return POLICY, "call_too_long"
            continue
        text = msg.get("text")
        try:
            parsed = client_message.validate_json(text or "")
        except ValidationError as e:
            kind = "bad_json" if _not_json(text) else "bad_message"
            await session.sink(error(kind, f"ignored a text frame: {_brief(e)}", False))
            continue
        if isinstance(parsed, StopMessage):
            return 1000, "ended"
        await session.sink(error("unexpected_start", "the call has already started; start was ignored", False))


def _not_json(text: str | None) -> bool:
    try:
        json.loads(text or "")
        return False
    except ValueError:
        return True


async def _send_loop(ws: WebSocket, outbox: asyncio.Queue, session: CallSession) -> None:
    """The single writer of the socket: messages leave in the order they were produced."""
    while True:
        msg = await outbox.get()
        if msg is None:
            return
        if not session.connected:
            continue
        try:
            await ws.send_json(msg)
        except Exception:
            session.connected = False
