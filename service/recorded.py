"""Recorded calls through the live pipeline: the same CallSession (store, risk, alerts, worksheet). An upload's
speech is decoded in windows of up to 30 s (``asr.recording_mode = "windows"``, the default): with no final to send
within a second, the model gets the long context it transcribes best in (40 annotated calls: CER 0.151 against
0.193 utterance by utterance, eval/README.md). ``"live"`` feeds it through the live segmenter instead, as fast as
the recognizer allows; the evaluation's ``--audio`` mode does that with ``source="live"``."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator

import numpy as np

from service.asr.engine import SAMPLE_RATE, Transcript
from service.asr.windows import (  # noqa: F401  (re-exported: the recording helpers' old home)
    BOUNDARY_SLACK_S, MIN_RESUME_S, WINDOW_S, decode_packed, original_time, remainder, speech_windows,
    split_across_stretches)
from service.audio.codecs import StreamResampler, encode_frame
from service.audio.files import FileAudio
from service.protocol import StartMessage
from service.session import CallLimitExceeded, CallSession, Pipeline, Sink

logger = logging.getLogger(__name__)
CHUNK_S = 1.0
BLOCK_S = 600.0
"""A recording is resampled and searched for speech this many seconds at a time (memory stays bounded)."""
WINDOWS_AHEAD = 4
"""Windows of one channel queued at the recognizer at once."""


_VAD_LOCK = threading.Lock()


def _speech_windows(x: np.ndarray) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    """:func:`speech_windows`, one block of one channel at a time in the process: Silero VAD over a 600 s block
    takes about 190 MB while it runs, and the windows are the same whoever else waits."""
    with _VAD_LOCK:
        return speech_windows(x)


async def _decode_windows(session: CallSession, x: np.ndarray, offset_s: float,
                          ) -> list[tuple[float, float, Transcript]]:
    """One block of one channel: its windows through the recognizer (kind ``window``, a few at a time, each
    decoded again from where the model stopped short), the timed pieces mapped back to call time."""
    windows = await asyncio.to_thread(_speech_windows, x)
    out: list[tuple[float, float, Transcript]] = []

    async def one(audio: np.ndarray, stretches: list[tuple[float, float]]) -> None:
        out.extend(await decode_packed(session.p.recognizer, audio, stretches, offset_s))

    pending: list[asyncio.Task] = []
    try:
        for audio, stretches in windows:
            if len(pending) >= WINDOWS_AHEAD:
                await pending.pop(0)
            pending.append(asyncio.create_task(one(audio, stretches)))
        while pending:
            await pending.pop(0)
    finally:
        for t in pending:
            t.cancel()
    return out


Audio = np.ndarray | FileAudio
"""A recording: float32 samples (n, channels) in memory, or an upload's file read block by block."""


def _duration_s(audio: Audio, sample_rate: int) -> float:
    return audio.duration_s if isinstance(audio, FileAudio) else len(audio) / sample_rate


async def _blocks(audio: Audio, frames: int) -> AsyncIterator[tuple[np.ndarray, bool]]:
    """The recording ``frames`` samples at a time: (block (n, channels), is it the last). An array's blocks are
    views of it (one empty block for an empty array); a file's are decoded as they are asked for (int16)."""
    if not isinstance(audio, FileAudio):
        for i in range(0, max(1, len(audio)), frames):
            yield audio[i : i + frames], i + frames >= len(audio)
        return
    it = audio.blocks(frames)
    try:
        while (item := await asyncio.to_thread(next, it, None)) is not None:
            yield item
            del item  # not held while the next block is decoded
    finally:
        it.close()


def _float(x: np.ndarray) -> np.ndarray:
    """float32 samples as the model takes them (a file's int16 block scaled as :func:`read_audio` scales it)."""
    return x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x


async def _complete_in_windows(session: CallSession, audio: Audio, sample_rate: int) -> None:
    limit = session.p.settings.stream.max_call_duration_s
    if _duration_s(audio, sample_rate) > limit:
        raise CallLimitExceeded(f"call longer than {limit:g} s")
    block = int(BLOCK_S * sample_rate)
    resamplers = {ch.index: StreamResampler(sample_rate) for ch in session.channels}
    done = {ch.index: 0 for ch in session.channels}  # 16 kHz samples of each channel before the block

    async def channel(ch, x: np.ndarray, last: bool) -> list[tuple[str, float, float, Transcript]]:
        x = await asyncio.to_thread(lambda: resamplers[ch.index].process(_float(x[:, ch.index]), last))
        found = await _decode_windows(session, x, done[ch.index] / SAMPLE_RATE)
        done[ch.index] += len(x)
        return [(ch.role, start, end, tr) for start, end, tr in found]

    # block by block, both channels at once: the call's finals (and any alert) go out as each block is heard
    heard = 0
    async for x, last in _blocks(audio, block):
        heard += len(x)
        if heard / sample_rate > limit:
            raise CallLimitExceeded(f"call longer than {limit:g} s")
        found = await asyncio.gather(*(channel(ch, x, last) for ch in session.channels))
        await session.add_recorded_finals([f for part in found for f in part], len(x))
        del x, found  # the block is not held while the next one is decoded


async def _discard(msg: dict) -> None:
    return None


async def open_recording(pipeline: Pipeline, sample_rate: int, channels: int, call_id: str,
                         channel_roles: list[str], counselor_id: str | None = None,
                         sink: Sink | None = None, source: str = "upload", resume: bool = False) -> CallSession:
    """A new session for a recording, recorded in the store (raises CallExists for a known id).

    ``source="live"`` makes the recording behave as a live call (partials, live priority): the evaluation's
    ``--audio`` mode uses it. ``resume``: an upload cut short by a restart, transcribed again from its start (its
    call is reopened: :meth:`Store.reopen_upload`)."""
    start = StartMessage(type="start", call_id=call_id, sample_rate=sample_rate, encoding="pcm_s16le",
                         channels=channels, channel_roles=channel_roles, counselor_id=counselor_id)
    session = CallSession(pipeline, start, sink or _discard, source=source, resume=resume)
    await session.open()
    return session


async def complete_recording(session: CallSession, audio: Audio, sample_rate: int, speed: float = 0.0,
                             chunk_s: float = CHUNK_S) -> None:
    """Run the whole recording (float32 (n, channels), or an upload's :class:`FileAudio` at ``sample_rate``) and
    finish; a failure is recorded on the call. An upload in the default ``windows`` mode is decoded in windows;
    otherwise it is fed at ``speed`` × real time (0: as fast as the recognizer allows) through the live segmenter.
    A file is decoded ``BLOCK_S`` at a time, the same blocks (and frames) as the array of the same samples."""
    if isinstance(audio, FileAudio) and audio.sample_rate != sample_rate:
        raise ValueError(f"the file is read at {audio.sample_rate} Hz, not {sample_rate}")
    step = int(chunk_s * sample_rate)
    t0 = time.monotonic()
    try:
        if session.source != "live" and session.p.settings.asr.recording_mode == "windows":
            await _complete_in_windows(session, audio, sample_rate)
        else:
            fed = 0  # samples before the block
            block = max(1, int(BLOCK_S * sample_rate) // step) * step  # whole frames: the same frames as an array
            async for x, _ in _blocks(audio, block):
                for i in range(0, len(x), step):
                    await session.feed(encode_frame(_float(x[i : i + step]), "pcm_s16le"))
                    if speed:
                        delay = t0 + (fed + i + step) / sample_rate / speed - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                fed += len(x)
        await session.finish()
    except Exception:
        logger.exception("recording %s failed", session.call_id)
        await session.fail("processing failed")
        raise


async def run_recording(pipeline: Pipeline, audio: Audio, sample_rate: int, call_id: str,
                        channel_roles: list[str], counselor_id: str | None = None,
                        sink: Sink | None = None) -> CallSession:
    channels = audio.channels if isinstance(audio, FileAudio) else audio.shape[1]
    session = await open_recording(pipeline, sample_rate, channels, call_id, channel_roles, counselor_id, sink)
    await complete_recording(session, audio, sample_rate)
    return session
