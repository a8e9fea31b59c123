"""Calls: read a call and its transcript; upload a recording to run through the live pipeline.

An upload is checked whole when it arrives (a file that is not decodable mono or stereo audio, is truncated or is
empty is a 4xx, and nothing of it is kept), written to ``DATA_DIR/uploads`` and answered 202. At most
``stream.max_concurrent_uploads`` are transcribed at once; the rest wait their turn in order of arrival
(``status: queued``), and an upload beyond ``stream.max_queued_uploads`` waiting is refused with 503 and
``Retry-After``. A queued upload is still there after a restart and is transcribed then."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from pydantic import ValidationError

from service.audio.files import AudioFileError, AudioTooLong, probe_audio
from service.auth import bearer_token
from service.deps import UPLOADER_ROLES, ReaderRole, RuntimeDep, UploaderRole, denial
from service.protocol import StartMessage, valid_call_id
from service.store.db import CallExists
from service.uploads import SAMPLE_RATE, QueueFull, UploadJob, UploadQueue, remove_files, write_meta

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 1 << 30
RETRY_AFTER_S = 60
"""Retry-After of an upload refused because the queue is full: a queued upload takes minutes, not seconds."""
MULTIPART_SLACK_BYTES = 1 << 20
"""What a multipart request may carry besides the file (boundaries, the form's fields) before its Content-Length alone
says the file is too large."""


class EarlyUploadRefusal:
    """ASGI middleware: answers an upload that announces its body (``Expect: 100-continue``, as curl does for any
    large file) at once, before the body is sent, where the answer cannot depend on the body: a missing or unknown
    token (401), a role that may not upload (403), a ``Content-Length`` past the size limit (413), or a full queue
    (503 with ``Retry-After``). A client that waits for "100 Continue" then sends nothing of a 1 GiB recording that
    would be refused; the connection is closed after the answer. Every other request, and every upload sent without
    the expectation, goes to the endpoint, which checks the same things after the body is read."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == router.prefix:
            headers = Headers(scope=scope)
            if headers.get("expect", "").lower() == "100-continue" and (e := self._refusal(scope, headers)) is not None:
                response = JSONResponse({"detail": e.detail}, e.status_code,
                                        headers={**(e.headers or {}), "Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope, headers: Headers) -> HTTPException | None:
        """What the endpoint would answer, where the body cannot change it; None when it may be sent."""
        state = scope["app"].state
        runtime = getattr(state, "runtime", None)
        if runtime is None:
            return None
        who = runtime.auth.principal_of(bearer_token(headers.get("authorization")))
        if (refused := denial(who, UPLOADER_ROLES)) is not None:
            return refused
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES:
            return _too_large()
        q = getattr(state, "uploads", None)
        return _queue_full() if q is not None and q.full() else None


def _queue(request: Request) -> UploadQueue:
    q = getattr(request.app.state, "uploads", None)
    if q is None:  # an app run without its lifespan (no resume of earlier uploads)
        q = request.app.state.uploads = UploadQueue(request.app.state.runtime)
        q.start_without_resume()
    return q


@contextlib.asynccontextmanager
async def _uploads_lifespan(app: FastAPI):
    """Inside the app's own lifespan (the runtime is built): resume the uploads left on disk; stop on the way out."""
    runtime = getattr(app.state, "runtime", None)
    if runtime is None:
        yield
        return
    app.state.uploads = q = UploadQueue(runtime)
    await q.start()
    try:
        yield
    finally:
        await q.stop()


router = APIRouter(prefix="/v1/calls", lifespan=_uploads_lifespan)


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


def _upload_json(job: UploadJob, position: int) -> dict:
    """An upload not recorded as a call yet: waiting (``queue_position`` 1…) or about to start."""
    return {
        "call_id": job.call_id, "counselor_id": job.counselor_id, "source": "upload",
        "status": "queued" if position else "processing", "queue_position": position or None,
        "sample_rate": SAMPLE_RATE, "encoding": "pcm_s16le", "channels": job.info.channels,
        "channel_roles": job.channel_roles, "started_at": None, "ended_at": None,
        "audio_seconds": round(job.info.duration_s, 3), "risk_level": None, "asr": None, "error": None,
        "accepted_at": job.accepted_at, "segments": [],
    }


@router.get("/{call_id}")
async def get_call(call_id: str, runtime: RuntimeDep, request: Request, who: ReaderRole) -> dict:
    """The call and its segments. A counselor token that names its holder reads that counselor's calls only;
    another's is 404, as if it did not exist."""
    store = runtime.pipeline.store
    call = await asyncio.to_thread(store.get_call, call_id)
    if call is None:
        q = _queue(request)
        job, position = q.job(call_id), q.position(call_id)
        if job is not None and position is not None and who.may_read(job.counselor_id):
            return _upload_json(job, position)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
    if not who.may_read(call.counselor_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
    return _waiting_again(call_json(call, await asyncio.to_thread(store.segments, call_id)), _queue(request))


def _waiting_again(out: dict, q: UploadQueue) -> dict:
    """A recorded upload that a restart cut short and that waits to be transcribed again: ``queued``, with its
    ``queue_position``, rather than ``interrupted``."""
    position = q.position(out["call_id"])
    if position is not None and out["status"] == "interrupted":
        if position:
            out.update(status="queued", queue_position=position)
        else:  # taken from the queue, its call about to be reopened
            out["status"] = "processing"
    return out


@router.get("")
async def list_calls(runtime: RuntimeDep, request: Request, who: ReaderRole, limit: int = Query(50, ge=1, le=500),
                     offset: int = Query(0, ge=0)) -> dict:
    """``calls``: the recorded calls, most recent first, without their segments (``limit``/``offset`` page through
    them). ``queued``: the uploads accepted and waiting their turn, not recorded yet, in the order they will be
    transcribed (each with its ``queue_position``). A counselor token that names its holder gets that counselor's
    calls and uploads only."""
    rows = await asyncio.to_thread(runtime.pipeline.store.list_calls, limit, offset, who.reads_as)
    q = _queue(request)
    waiting = [_upload_json(job, i) for i, job in enumerate(list(q.waiting), 1)
               if who.may_read(job.counselor_id) and not job.resume]
    return {"calls": [{k: v for k, v in _waiting_again(call_json(r, []), q).items() if k != "segments"} for r in rows],
            "queued": [{k: v for k, v in w.items() if k != "segments"} for w in waiting]}


def _too_large() -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "recording larger than 1 GiB")


def _queue_full() -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                         "too many uploads are waiting to be transcribed; send it again later",
                         headers={"Retry-After": str(RETRY_AFTER_S)})


async def _receive(file: UploadFile, path: Path) -> int:
    """The upload into ``path`` (written and flushed to disk in a thread); its size in bytes."""
    size = 0
    f = await asyncio.to_thread(open, path, "wb")
    try:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise _too_large()
            await asyncio.to_thread(f.write, chunk)
        await asyncio.to_thread(lambda: (f.flush(), os.fsync(f.fileno())))
    finally:
        await asyncio.to_thread(f.close)
    return size


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses={
    400: {"description": "the file is empty, not decodable audio, truncated, or has more than two channels"},
    409: {"description": "the call id is already recorded or waiting"},
    413: {"description": "larger than 1 GiB, or longer than stream.max_call_duration_s"},
    422: {"description": "a bad call_id, counselor_id or channel_roles"},
    503: {"description": "too many uploads waiting (stream.max_queued_uploads): send it again after Retry-After"},
    507: {"description": "no room on the server's disk for the recording"},
})
async def upload_call(
    runtime: RuntimeDep,
    request: Request,
    _: UploaderRole,
    file: Annotated[UploadFile, File(description="WAV, FLAC, MP3 or Ogg recording, mono or stereo")],
    channel_roles: Annotated[str | None, Form(description="comma-separated roles per channel, e.g. caller,counselor")] = None,
    call_id: Annotated[str | None, Form()] = None,
    counselor_id: Annotated[str | None, Form()] = None,
    wait: bool = Query(False, description="answer when the transcript is complete"),
) -> dict:
    """Accept a recorded call (202): ``processing`` when it starts at once, ``queued`` (with ``queue_position``)
    when it waits for an upload being transcribed to finish. What the file is is judged from its content, not its
    declared content type."""
    call_id = call_id or f"upload-{uuid.uuid4().hex[:12]}"
    if not valid_call_id(call_id):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "call_id may use letters, digits and ._:- only, and not dots alone")
    q = _queue(request)
    if q.job(call_id) is not None or await asyncio.to_thread(runtime.pipeline.store.get_call, call_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"call {call_id} already exists")
    if q.full():
        raise _queue_full()
    job_id = uuid.uuid4().hex
    part = q.dir / f"{job_id}.part"
    keep = False
    try:
        try:
            size = await _receive(file, part)
        except OSError as e:
            logger.error("upload %s: cannot store the recording (%s)", call_id, type(e).__name__)
            raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE, "no room to store the recording") from e
        if size == 0:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "the uploaded file is empty")
        limit = runtime.settings.stream.max_call_duration_s
        try:
            info = await asyncio.to_thread(probe_audio, part, limit)
        except AudioTooLong as e:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{e} (stream.max_call_duration_s)") from e
        except AudioFileError as e:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cannot read the recording: {e}") from e
        roles = [r.strip() for r in channel_roles.split(",")] if channel_roles else (
            ["mixed"] if info.channels == 1 else ["caller", "counselor"])
        if len(roles) != info.channels or any(r not in ("caller", "counselor", "mixed") for r in roles):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"channel_roles must name {info.channels} roles among caller, counselor, mixed")
        try:
            StartMessage(type="start", call_id=call_id, sample_rate=SAMPLE_RATE, encoding="pcm_s16le",
                         channels=info.channels, channel_roles=roles, counselor_id=counselor_id)
        except ValidationError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
        job = UploadJob(job_id, call_id, roles, counselor_id, info,
                        datetime.now(timezone.utc).isoformat(timespec="microseconds"), q.dir, file.filename)
        if q.job(call_id) is not None:  # the same id sent twice at once
            raise HTTPException(status.HTTP_409_CONFLICT, f"call {call_id} already exists")
        if q.full():
            raise _queue_full()
        try:
            await asyncio.to_thread(lambda: (os.replace(part, job.audio_path), write_meta(job)))
        except OSError as e:
            remove_files(job.audio_path, job.meta_path)
            raise HTTPException(status.HTTP_507_INSUFFICIENT_STORAGE, "no room to store the recording") from e
        try:
            state = q.submit(job)
        except CallExists as e:
            raise HTTPException(status.HTTP_409_CONFLICT, f"call {call_id} already exists") from e
        except QueueFull as e:
            raise _queue_full() from e
        keep = True
    finally:
        if not keep:
            await asyncio.to_thread(remove_files, part, q.dir / f"{job_id}.audio", q.dir / f"{job_id}.json")
    logger.info("upload %s accepted (%.0f s, %s)%s", call_id, info.duration_s, state,
                f", {q.position(call_id)} waiting" if state == "queued" else "")
    url = f"/v1/calls/{call_id}"
    if wait:
        result = await asyncio.shield(job.done)
        if result == "ended":
            return {"call_id": call_id, "status": "ended", "url": url}
        if result == "taken":  # another service on this data directory transcribes it
            return {"call_id": call_id, "status": "processing", "url": url}
        if result == "conflict":
            raise HTTPException(status.HTTP_409_CONFLICT, f"call {call_id} was recorded meanwhile")
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"transcribing the recording failed; see {url}")
    out = {"call_id": call_id, "status": state, "url": url}
    if state == "queued":
        out["queue_position"] = q.position(call_id)
    return out
