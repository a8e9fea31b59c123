"""Calls: read a call and its transcript; upload a recording to run through the live pipeline.

An upload is checked whole when it arrives (a file that is not decodable mono or stereo audio, is truncated or is
empty is a 4xx, and nothing of it is kept), written to ``DATA_DIR/uploads`` and answered 202. At most
``stream.max_concurrent_uploads`` are transcribed at once; the rest wait their turn in order of arrival
(``status: queued``), and an upload beyond ``stream.max_queued_uploads`` waiting is refused with 503 and
``Retry-After``. A queued upload is still there after a restart and is transcribed then."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Query, Request, UploadFile, status
from pydantic import ValidationError

from service.audio.files import AudioFileError, AudioInfo, AudioTooLong, FileAudio, probe_audio
from service.deps import ReaderRole, RuntimeDep, UploaderRole
from service.protocol import StartMessage, valid_call_id
from service.recorded import complete_recording, open_recording
from service.runtime import Runtime
from service.store.db import CallExists

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 1 << 30
RETRY_AFTER_S = 60
"""Retry-After of an upload refused because the queue is full: a queued upload takes minutes, not seconds."""
UPLOADS_DIR = "uploads"
"""Under DATA_DIR: accepted uploads waiting or being transcribed, ``ID.audio`` and ``ID.json`` each."""
UNPROCESSED_DIR = "unprocessed"
"""Under the uploads: recordings whose transcription failed or was cut short by a restart, kept for an operator
(``ID.json`` says which call; upload the file again under a new call id)."""
SAMPLE_RATE = 16000
STALE_PART_S = 600
"""A half-received upload file untouched this long when a service starts is left from a process that died."""


class QueueFull(Exception):
    """More uploads are waiting than ``stream.max_queued_uploads``."""


@dataclass
class UploadJob:
    """An accepted upload: its file and what the call is to be recorded with."""

    id: str
    call_id: str
    channel_roles: list[str]
    counselor_id: str | None
    info: AudioInfo
    accepted_at: str
    dir: Path
    filename: str | None = None
    done: asyncio.Future | None = field(default=None, repr=False)

    @property
    def audio_path(self) -> Path:
        return self.dir / f"{self.id}.audio"

    @property
    def meta_path(self) -> Path:
        return self.dir / f"{self.id}.json"

    def meta(self) -> dict:
        return {"id": self.id, "call_id": self.call_id, "channel_roles": self.channel_roles,
                "counselor_id": self.counselor_id, "accepted_at": self.accepted_at, "filename": self.filename,
                "info": dataclasses.asdict(self.info)}

    @classmethod
    def from_meta(cls, directory: Path, m: dict) -> "UploadJob":
        return cls(m["id"], m["call_id"], list(m["channel_roles"]), m.get("counselor_id"), AudioInfo(**m["info"]),
                   m["accepted_at"], directory, m.get("filename"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_meta(job: UploadJob) -> None:
    """The job's metadata, written last and atomically: from then on the upload is accepted (and resumed)."""
    tmp = job.meta_path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(job.meta(), f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, job.meta_path)
    _fsync_dir(job.dir)


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


class UploadQueue:
    """The uploads of one service: at most ``max_concurrent_uploads`` transcribed at once, the rest waiting in
    order of arrival, their files on disk until they are transcribed. A job is locked (flock on its ``.json``)
    while it is transcribed, so that two services on one data directory never both take it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.dir = runtime.settings.data_dir / UPLOADS_DIR
        self.waiting: collections.deque[UploadJob] = collections.deque()
        self.running: dict[str, UploadJob] = {}
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None
        self._stopping = False

    @property
    def limits(self):
        return self.runtime.settings.stream

    # ------------------------------------------------------------------ state
    def position(self, call_id: str) -> int | None:
        """0 while being transcribed, 1… while waiting, None when not here."""
        if call_id in self.running:
            return 0
        for i, job in enumerate(self.waiting, 1):
            if job.call_id == call_id:
                return i
        return None

    def job(self, call_id: str) -> UploadJob | None:
        return self.running.get(call_id) or next((j for j in self.waiting if j.call_id == call_id), None)

    def full(self) -> bool:
        return not self._can_start() and len(self.waiting) >= self.limits.max_queued_uploads

    def _can_start(self) -> bool:
        """A free upload slot, and the live calls below their limit (live calls come first)."""
        return (len(self.running) < self.limits.max_concurrent_uploads
                and len(self.runtime.live) < self.limits.max_concurrent_calls)

    # ------------------------------------------------------------ life cycle
    async def start(self) -> None:
        await asyncio.to_thread(self.dir.mkdir, parents=True, exist_ok=True)
        for job in await asyncio.to_thread(self._recover):
            job.done = asyncio.get_running_loop().create_future()
            self.waiting.append(job)
        if self.waiting:
            logger.warning("%d uploads accepted before a restart wait to be transcribed", len(self.waiting))
        self._dispatcher = asyncio.create_task(self._dispatch())
        self._start_ready()

    async def stop(self) -> None:
        """Stop taking jobs; the ones being transcribed are cancelled (their calls are marked interrupted at the next
        start, their files kept in unprocessed/), the waiting ones stay on disk and are resumed at the next start."""
        self._stopping = True
        tasks = [t for t in (self._dispatcher, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in self.waiting:
            if job.done is not None and not job.done.done():
                job.done.cancel()

    def _recover(self) -> list[UploadJob]:
        """At start-up: the uploads on disk. Half-written ones (no ``.json``: never answered 202) are removed; one
        whose call is already recorded was being transcribed when the process stopped (its call is marked
        interrupted) and is set aside in unprocessed/; one another service is transcribing is left alone; the
        rest wait again, oldest first."""
        stale = time.time() - STALE_PART_S  # another service on this data directory may be receiving one now
        for p in self.dir.iterdir():
            half = p.suffix in (".part", ".tmp") or (p.suffix == ".audio" and not p.with_suffix(".json").exists())
            if half and p.is_file() and p.stat().st_mtime < stale:
                _remove(p)
        jobs = []
        for p in self.dir.glob("*.json"):
            try:
                job = UploadJob.from_meta(self.dir, json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                logger.exception("upload %s: unreadable metadata, set aside", p.name)
                self._set_aside_paths(p, p.with_suffix(".audio"))
                continue
            if not job.audio_path.exists():
                _remove(p)
                continue
            with self._lock(job) as locked:
                if not locked:
                    continue  # another service on this data directory is transcribing it
                call = self.runtime.pipeline.store.get_call(job.call_id)
                if call is None:
                    jobs.append(job)
                elif call.status == "ended" and call.source == "upload":
                    _remove(job.audio_path, job.meta_path)  # done; the process stopped before removing it
                else:
                    logger.warning("upload %s (call %s) was cut short (%s): its recording is kept in %s/%s",
                                   job.id, job.call_id, call.status, UPLOADS_DIR, UNPROCESSED_DIR)
                    self._set_aside(job)
        return sorted(jobs, key=lambda j: (j.accepted_at, j.id))

    # ------------------------------------------------------------------- jobs
    def submit(self, job: UploadJob) -> str:
        """Queue an accepted upload: ``processing`` (started now) or ``queued``. Raises CallExists for a call id
        that is already waiting or being transcribed, QueueFull past the bound."""
        if self.job(job.call_id) is not None:
            raise CallExists(job.call_id)
        if self.full():
            raise QueueFull()
        job.done = asyncio.get_running_loop().create_future()
        self.waiting.append(job)
        self._start_ready()
        if job.call_id in self.running:
            return "processing"
        self._wake.set()  # the dispatcher looks again every second while some wait
        return "queued"

    def _start_ready(self) -> None:
        while self.waiting and self._can_start() and not self._stopping:
            job = self.waiting.popleft()
            self.running[job.call_id] = job
            task = asyncio.create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self) -> None:
        """Start waiting jobs as slots free up; every second while some wait (the live calls may have dropped
        below their limit)."""
        while True:
            self._start_ready()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0 if self.waiting else None)

    async def _run(self, job: UploadJob) -> None:
        result = "failed"
        try:
            result = await self._transcribe(job)
        finally:
            self.running.pop(job.call_id, None)
            if job.done is not None and not job.done.done():
                if self._stopping:
                    job.done.cancel()
                else:
                    job.done.set_result(result)
            self._wake.set()

    async def _transcribe(self, job: UploadJob) -> str:
        """``ended``, ``failed``, ``conflict`` (the call id was recorded meanwhile, by a live call) or ``taken``
        (another service on this data directory transcribes it). Ended: the files are removed; failed or conflict:
        set aside in unprocessed/; cancelled (the service stops): left, and set aside at the next start, when the
        call is marked interrupted."""
        with self._lock(job) as locked:
            if not locked or not job.audio_path.exists():
                return "taken"
            try:
                session = await open_recording(self.runtime.pipeline, SAMPLE_RATE, job.info.channels, job.call_id,
                                               job.channel_roles, job.counselor_id)
            except CallExists:
                logger.error("upload %s: call %s was recorded meanwhile (a live call with the same id?); its "
                             "recording is kept in %s/%s", job.id, job.call_id, UPLOADS_DIR, UNPROCESSED_DIR)
                outcome = "conflict"
            except Exception:
                logger.exception("upload %s (call %s) could not start", job.id, job.call_id)
                outcome = "failed"
            else:
                try:
                    await complete_recording(session, FileAudio(job.audio_path, job.info), SAMPLE_RATE)
                    outcome = "ended"
                except Exception:  # recorded on the call (failed) and logged by complete_recording
                    outcome = "failed"
            try:
                if outcome == "ended":
                    await asyncio.to_thread(_remove, job.audio_path, job.meta_path)
                else:
                    await asyncio.to_thread(self._set_aside, job)
            except OSError:
                logger.exception("upload %s: its files could not be removed or set aside", job.id)
            return outcome

    # ------------------------------------------------------------------ files
    @contextlib.contextmanager
    def _lock(self, job: UploadJob):
        """Yields whether this service holds the job's lock (non-blocking)."""
        try:
            fd = os.open(job.meta_path, os.O_RDONLY)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _set_aside(self, job: UploadJob) -> None:
        self._set_aside_paths(job.meta_path, job.audio_path)

    def _set_aside_paths(self, *paths: Path) -> None:
        target = self.dir / UNPROCESSED_DIR
        target.mkdir(exist_ok=True)
        for p in paths:
            with contextlib.suppress(FileNotFoundError):
                os.replace(p, target / p.name)


def _queue(request: Request) -> UploadQueue:
    q = getattr(request.app.state, "uploads", None)
    if q is None:  # an app run without its lifespan (no resume of earlier uploads)
        q = request.app.state.uploads = UploadQueue(request.app.state.runtime)
        q.dir.mkdir(parents=True, exist_ok=True)
        q._dispatcher = asyncio.create_task(q._dispatch())
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
    return call_json(call, await asyncio.to_thread(store.segments, call_id))


@router.get("")
async def list_calls(runtime: RuntimeDep, request: Request, who: ReaderRole, limit: int = Query(50, ge=1, le=500),
                     offset: int = Query(0, ge=0)) -> dict:
    """``calls``: the recorded calls, most recent first, without their segments (``limit``/``offset`` page through
    them). ``queued``: the uploads accepted and waiting their turn, not recorded yet, in the order they will be
    transcribed (each with its ``queue_position``). A counselor token that names its holder gets that counselor's
    calls and uploads only."""
    rows = await asyncio.to_thread(runtime.pipeline.store.list_calls, limit, offset, who.reads_as)
    q = _queue(request)
    waiting = [_upload_json(job, i) for i, job in enumerate(list(q.waiting), 1) if who.may_read(job.counselor_id)]
    return {"calls": [{k: v for k, v in call_json(r, []).items() if k != "segments"} for r in rows],
            "queued": [{k: v for k, v in w.items() if k != "segments"} for w in waiting]}


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
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "recording larger than 1 GiB")
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
            await asyncio.to_thread(lambda: (os.replace(part, job.audio_path), _write_meta(job)))
        except OSError as e:
            _remove(job.audio_path, job.meta_path)
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
            await asyncio.to_thread(_remove, part, q.dir / f"{job_id}.audio", q.dir / f"{job_id}.json")
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
