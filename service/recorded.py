"""Recorded calls through the live pipeline: the same CallSession, fed as fast as the recognizer allows."""

from __future__ import annotations

import logging

import numpy as np

from service.protocol import StartMessage
from service.session import CallSession, Pipeline, Sink

logger = logging.getLogger(__name__)
CHUNK_S = 1.0


async def _discard(msg: dict) -> None:
    return None


def to_pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


async def open_recording(pipeline: Pipeline, sample_rate: int, channels: int, call_id: str,
                         channel_roles: list[str], counselor_id: str | None = None,
                         sink: Sink | None = None) -> CallSession:
    """A new session for a recording, recorded in the store (raises CallExists for a known id)."""
    start = StartMessage(type="start", call_id=call_id, sample_rate=sample_rate, encoding="pcm_s16le",
                         channels=channels, channel_roles=channel_roles, counselor_id=counselor_id)
    session = CallSession(pipeline, start, sink or _discard, source="upload")
    await session.open()
    return session


async def complete_recording(session: CallSession, audio: np.ndarray, sample_rate: int) -> None:
    """Feed the whole recording (n, channels) and finish; a failure is recorded on the call."""
    step = int(CHUNK_S * sample_rate)
    try:
        for i in range(0, len(audio), step):
            await session.feed(to_pcm16(audio[i : i + step]))
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
