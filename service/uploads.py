"""Accepted uploads on disk and their queue: at most ``stream.max_concurrent_uploads`` transcribed at once, the rest
waiting in order of arrival, resumed after a restart (one cut short is transcribed again from its start, up to
MAX_TRIES times). The HTTP side (``POST /v1/calls``) is :mod:`service.api.calls`."""

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
from dataclasses import dataclass, field
from pathlib import Path

from service.audio.files import AudioInfo, FileAudio
from service.recorded import complete_recording, open_recording
from service.runtime import Runtime
from service.store.db import OPEN_STATES, CallExists
from service.store.tables import CallRow

logger = logging.getLogger(__name__)
UPLOADS_DIR = "uploads"
"""Under DATA_DIR: accepted uploads waiting or being transcribed, ``ID.audio`` and ``ID.json`` each."""
UNPROCESSED_DIR = "unprocessed"
"""Under the uploads: recordings whose transcription failed, or was cut short MAX_TRIES times, kept for an operator
(``ID.json`` says which call; upload the file again under a new call id)."""
MAX_TRIES = 2
"""Transcriptions an upload gets: one cut short by a restart is transcribed again from its start at the next one,
but not a recording whose transcription was cut short this often by the process dying (a file that brings the
process down would bring down every restart). A stop of the service (a deploy, an operator's restart) does not
count."""
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
    #: transcriptions started (``ID.tries``, written before each starts)
    tries: int = 0
    #: transcribed again after a restart cut it short: its call is reopened, not created
    resume: bool = False
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

    @property
    def tries_path(self) -> Path:
        """How many transcriptions were started: a file of its own, since the ``.json`` is the job's lock (a
        rewritten ``.json`` would be a new file, and a second service could lock it while this one holds the old)."""
        return self.dir / f"{self.id}.tries"

    def read_tries(self) -> int:
        try:
            return int(self.tries_path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            return MAX_TRIES  # unreadable: as if used up (set aside for an operator, never lost)

    def write_tries(self) -> None:
        tmp = self.tries_path.with_suffix(".tries.tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.write(str(self.tries))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.tries_path)
        _fsync_dir(self.dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_meta(job: UploadJob) -> None:
    """The job's metadata, written last and atomically: from then on the upload is accepted (and resumed)."""
    tmp = job.meta_path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(job.meta(), f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, job.meta_path)
    _fsync_dir(job.dir)


def remove_files(*paths: Path) -> None:
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

    def start_without_resume(self) -> None:
        """Take new jobs without looking at the files left on disk (an app run without its lifespan)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def stop(self) -> None:
        """Stop taking jobs; the ones being transcribed are cancelled (their calls are marked interrupted, and they
        are transcribed again at the next start), the waiting ones stay on disk and are resumed at the next start."""
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
        interrupted): it waits to be transcribed again from its start, unless it was cut short MAX_TRIES times or
        its call is not an interrupted upload, and then it is set aside in unprocessed/; one another service is
        transcribing is left alone; the rest wait again, oldest first."""
        stale = time.time() - STALE_PART_S  # another service on this data directory may be receiving one now
        for p in self.dir.iterdir():
            half = p.suffix in (".part", ".tmp") or (p.suffix in (".audio", ".tries")
                                                      and not p.with_suffix(".json").exists())
            if half and p.is_file() and p.stat().st_mtime < stale:
                remove_files(p)
        jobs = []
        for p in self.dir.glob("*.json"):
            try:
                job = UploadJob.from_meta(self.dir, json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                logger.exception("upload %s: unreadable metadata, set aside", p.name)
                self._set_aside_paths(p, p.with_suffix(".audio"), p.with_suffix(".tries"))
                continue
            if not job.audio_path.exists():
                remove_files(p, job.tries_path)
                continue
            with self._lock(job) as locked:
                if not locked:
                    continue  # another service on this data directory is transcribing it
                verdict, call = self._verdict(job)
                if verdict == "done":
                    remove_files(job.audio_path, job.tries_path, job.meta_path)  # the process stopped before
                elif verdict in ("new", "again"):
                    if verdict == "again":
                        logger.warning("upload %s (call %s) was cut short: it is transcribed again (try %d of %d)",
                                       job.id, job.call_id, job.tries + 1, MAX_TRIES)
                    job.resume = verdict == "again"
                    jobs.append(job)  # waiting (or stopped before its call was recorded)
                else:
                    logger.warning("upload %s (call %s) was cut short (%s, %d tries): its recording is kept in %s/%s",
                                   job.id, job.call_id, call.status if call else "not recorded", job.tries,
                                   UPLOADS_DIR, UNPROCESSED_DIR)
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
        set aside in unprocessed/; cancelled (the service stops): left, and transcribed again at the next start
        (:meth:`_recover`)."""
        with self._lock(job) as locked:
            if not locked or not job.audio_path.exists():
                return "taken"
            # decided again under the lock: another service on this data directory may have tried it meanwhile
            verdict, call = await asyncio.to_thread(self._verdict, job)
            if verdict == "done":
                await asyncio.to_thread(remove_files, job.audio_path, job.tries_path, job.meta_path)
                return "taken"
            if job.tries >= MAX_TRIES:
                logger.warning("upload %s (call %s) was cut short %d times: its recording is kept in %s/%s",
                               job.id, job.call_id, job.tries, UPLOADS_DIR, UNPROCESSED_DIR)
                await asyncio.to_thread(self._set_aside, job)
                return "failed"
            # (a call of another kind under this id: opening it says so, CallExists, and the job is a conflict)
            job.resume = call is not None
            try:
                job.tries += 1
                await asyncio.to_thread(job.write_tries)  # counted before it starts: a crash counts too
                session = await open_recording(self.runtime.pipeline, SAMPLE_RATE, job.info.channels, job.call_id,
                                               job.channel_roles, job.counselor_id, resume=job.resume)
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
                except asyncio.CancelledError:
                    if self._stopping:  # a deploy or an operator's restart, not the file: it is not counted
                        job.tries -= 1
                        with contextlib.suppress(OSError):
                            job.write_tries()
                    raise
            try:
                if outcome == "ended":
                    await asyncio.to_thread(remove_files, job.audio_path, job.tries_path, job.meta_path)
                else:
                    await asyncio.to_thread(self._set_aside, job)
            except OSError:
                logger.exception("upload %s: its files could not be removed or set aside", job.id)
            return outcome

    def _verdict(self, job: UploadJob) -> tuple[str, CallRow | None]:
        """What to do with a job, called with its lock held, and its call as it stands: ``done`` (the call ended:
        only the files are left), ``new`` (no call yet), ``again`` (its call was cut short: transcribe it again) or
        ``aside`` (tried MAX_TRIES times, or the call under its id is no interrupted upload). Reads ``job.tries``.
        A call still ``processing`` is one no process is transcribing (a process holds the lock while it
        transcribes, and a process that dies lets go of it), so it is marked interrupted here rather than waiting
        for its owner's heartbeat to go stale."""
        store = self.runtime.pipeline.store
        call = store.get_call(job.call_id)
        if call is not None and call.source == "upload" and call.status in OPEN_STATES:
            if store.release_upload(job.call_id):
                logger.warning("upload %s (call %s) was left open by a process that is gone", job.id, job.call_id)
            call = store.get_call(job.call_id)
        if call is not None and call.status == "ended" and call.source == "upload":
            return "done", call
        job.tries = job.read_tries()
        if job.tries >= MAX_TRIES:
            return "aside", call
        if call is None:
            return "new", call
        return ("again" if call.status == "interrupted" and call.source == "upload" else "aside"), call

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
        self._set_aside_paths(job.meta_path, job.audio_path, job.tries_path)

    def _set_aside_paths(self, *paths: Path) -> None:
        target = self.dir / UNPROCESSED_DIR
        target.mkdir(exist_ok=True)
        for p in paths:
            with contextlib.suppress(FileNotFoundError):
                os.replace(p, target / p.name)
