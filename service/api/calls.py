"""Calls: read a call and its transcript; upload a recording to run through the live pipeline."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile, status
from pydantic import ValidationError

from service.audio.files import AudioFileError, read_audio
from service.deps import ReaderRole, RuntimeDep, UploaderRole
from service.protocol import CALL_ID_PATTERN
from service.recorded import complete_recording, open_recording
from service.store.db import CallExists

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/calls")
MAX_UPLOAD_BYTES = 1 << 30
_ID = re.compile(CALL_ID_PATTERN)
_background: set[asyncio.Task] = set()


def call_json(call, segments) -> dict:
    return {
        "call_id": call.call_id, "counselor_id": call.counselor_id, "source": call.source, "status": call.status,
        "sample_rate": call.sample_rate, "encoding": call.encoding, "channels": call.channels,
        "channel_roles": call.channel_roles, "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None, "audio_seconds": call.audio_seconds,
        "risk_level": call.risk_level, "asr": call.asr, "error": call.error,
        "segments": [
            {"segment_id": s.segment_id, "speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text,
             "risk": s.risk_labels or []}
            for s in segments
        ],
    }


@router.get("/{call_id}")
async def get_call(call_id: str, runtime: RuntimeDep, _: ReaderRole) -> dict:
    store = runtime.pipeline.store
    call = await asyncio.to_thread(store.get_call, call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
    return call_json(call, await asyncio.to_thread(store.segments, call_id))


@router.get("")
async def list_calls(runtime: RuntimeDep, _: ReaderRole, limit: int = Query(50, ge=1, le=500),
                     offset: int = Query(0, ge=0)) -> dict:
    rows = await asyncio.to_thread(runtime.pipeline.store.list_calls, limit, offset)
    return {"calls": [{k: v for k, v in call_json(r, []).items() if k != "segments"} for r in rows]}


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def upload_call(
    runtime: RuntimeDep,
    _: UploaderRole,
    file: Annotated[UploadFile, File(description="WAV, FLAC, MP3 or Ogg recording, mono or stereo")],
    channel_roles: Annotated[str | None, Form(description="comma-separated roles per channel, e.g. caller,counselor")] = None,
    call_id: Annotated[str | None, Form()] = None,
    counselor_id: Annotated[str | None, Form()] = None,
    wait: bool = Query(False, description="answer when the transcript is complete"),
) -> dict:
    call_id = call_id or f"upload-{uuid.uuid4().hex[:12]}"
    if not _ID.match(call_id):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "call_id may use letters, digits and ._:- only")
    with tempfile.NamedTemporaryFile(suffix=".upload") as tmp:
        size = 0
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "recording larger than 1 GiB")
            tmp.write(chunk)
        tmp.flush()
        if size == 0:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "the uploaded file is empty")
        try:
            audio = await asyncio.to_thread(read_audio, tmp.name)
        except AudioFileError as e:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cannot read the recording: {e}") from e
    channels = audio.shape[1]
    roles = [r.strip() for r in channel_roles.split(",")] if channel_roles else (
        ["mixed"] if channels == 1 else ["caller", "counselor"])
    if len(roles) != channels or any(r not in ("caller", "counselor", "mixed") for r in roles):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY,
                            f"channel_roles must name {channels} roles among caller, counselor, mixed")
    try:
        session = await open_recording(runtime.pipeline, 16000, channels, call_id, roles, counselor_id)
    except CallExists as e:
        raise HTTPException(status.HTTP_409_CONFLICT, f"call {call_id} already exists") from e
    except ValidationError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from e
    if wait:
        await complete_recording(session, audio, 16000)
        return {"call_id": call_id, "status": "ended", "url": f"/v1/calls/{call_id}"}
    task = asyncio.create_task(_guarded(complete_recording(session, audio, 16000), call_id))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"call_id": call_id, "status": "processing", "url": f"/v1/calls/{call_id}"}


async def _guarded(coro, call_id: str) -> None:
    try:
        await coro
    except Exception:
        logger.exception("upload %s failed", call_id)
