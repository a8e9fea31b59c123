"""Recorded calls through the live pipeline: the same CallSession, fed as fast as the recognizer allows."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from service.audio.codecs import encode_frame

from service.protocol import StartMessage
from service.session import CallSession, Pipeline, Sink

logger = logging.getLogger(__name__)
CHUNK_S = 1.0


async def _discard(msg: dict) -> None:
    return None


async def open_recording(pipeline: Pipeline, sample_rate: int, channels: int, call_id: str,
                         channel_roles: list[str], counselor_id: str | None = None,
                         sink: Sink | None = None, source: str = "upload") -> CallSession:
    """A new session for a recording, recorded in the store (raises CallExists for a known id).

    ``source="live"`` makes the recording behave as a live call (partials, live priority): the evaluation's
    ``--audio`` mode uses it."""
    start = StartMessage(type="start", call_id=call_id, sample_rate=sample_rate, encoding="pcm_s16le",
                         channels=channels, channel_roles=channel_roles, counselor_id=counselor_id)
    session = CallSession(pipeline, start, sink or _discard, source=source)
    await session.open()
    return session


async def complete_recording(session: CallSession, audio: np.ndarray, sample_rate: int, speed: float = 0.0,
                             chunk_s: float = CHUNK_S) -> None:
    """Feed the whole recording (n, channels) at ``speed`` × real time (0: as fast as the recognizer allows) and
    finish; a failure is recorded on the call."""
    step = int(chunk_s * sample_rate)
    t0 = time.monotonic()
    try:
        for i in range(0, len(audio), step):
            await session.feed(encode_frame(audio[i : i + step], "pcm_s16le"))
            if speed:
                delay = t0 + (i + step) / sample_rate / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        await session.finish()
    except Exception:
        logger.exception("recording %s failed", session.call_id)
        await session.fail("processing failed")
        raise


async def run_recording(pipeline: Pipeline, audio: np.ndarray, sample_rate: int, call_id: str,
                        channel_roles: list[str], counselor_id: str | None = None,
                        sink: Sink | None = None) -> CallSession:
    session = await open_recording(pipeline, sample_rate, audio.shape[1], call_id, channel_roles, counselor_id, sink)
    await complete_recording(session, audio, sample_rate)
    return session
