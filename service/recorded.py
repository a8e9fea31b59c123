"""Recorded calls through the live pipeline: the same CallSession (store, risk, alerts, worksheet). An upload's
speech is decoded in windows of up to 30 s (``asr.recording_mode = "windows"``, the default): with no final to send
within a second, the model gets the long context it transcribes best in (40 annotated calls: CER 0.151 against
0.193 utterance by utterance, eval/README.md). ``"live"`` feeds it through the live segmenter instead, as fast as
the recognizer allows; the evaluation's ``--audio`` mode does that with ``source="live"``."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from service.asr.engine import SAMPLE_RATE, Transcript
from service.audio.codecs import StreamResampler, encode_frame
from service.protocol import StartMessage
from service.session import CallLimitExceeded, CallSession, Pipeline, Sink

logger = logging.getLogger(__name__)
CHUNK_S = 1.0
WINDOW_S = 30.0
"""Most speech per decoding window (Whisper's input)."""
BLOCK_S = 600.0
"""A recording is resampled and searched for speech this many seconds at a time (memory stays bounded)."""
WINDOWS_AHEAD = 4
"""Windows of one channel queued at the recognizer at once."""


def speech_windows(x: np.ndarray) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    """Speech of one 16 kHz channel packed into windows of up to ``WINDOW_S``, silences cut out (Silero VAD with
    faster-whisper's batch settings, no stretch longer than a window): (window audio, the speech stretches it
    holds as (start s, end s) of ``x``). (faster-whisper's own ``collect_chunks`` loses the first stretch of every
    window after the first from its metadata, hence the packing here.)"""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(x, VadOptions(max_speech_duration_s=WINDOW_S - 1))
    windows: list[list[dict]] = []
    size = 0
    for c in chunks:
        n = c["end"] - c["start"]
        if not windows or size + n > WINDOW_S * SAMPLE_RATE:
            windows.append([])
            size = 0
        windows[-1].append(c)
        size += n
    return [(np.concatenate([x[c["start"]:c["end"]] for c in w]),
             [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in w]) for w in windows]


BOUNDARY_SLACK_S = 0.6
"""Whisper's timestamps on a packed window are good to about half a second: a piece that starts this close
before a stretch's end starts in the next stretch, and one that ends this close after a stretch's start ends in the
stretch before (the silence cut out between them is where a speaker stopped)."""


def _packed(stretches: list[tuple[float, float]]):
    """Each stretch with where it starts on the window's packed timeline: (packed start, start, end)."""
    packed = 0.0
    for start, end in stretches:
        yield packed, start, end
        packed += end - start


def original_time(t: float, stretches: list[tuple[float, float]], is_end: bool = False) -> float:
    """A time on a window's packed timeline (seconds from the window's start) → seconds of the channel: the
    stretch it falls in, give or take ``BOUNDARY_SLACK_S`` at the stretch boundaries, plus the silence cut out
    before it."""
    for i, (packed, start, end) in enumerate(_packed(stretches)):
        length = end - start
        if i == len(stretches) - 1:
            return start + min(max(0.0, t - packed), length)
        if is_end and t <= packed + length + BOUNDARY_SLACK_S:
            return start + min(max(0.0, t - packed), length)
        if not is_end and t < packed + length - BOUNDARY_SLACK_S:
            return start + max(0.0, t - packed)
        if not is_end and t < packed + length:
            return stretches[i + 1][0]
    return 0.0


MIN_RESUME_S = 1.0
"""A window the model stopped short in is decoded again from where it stopped, if that is at least this far in and
this far from its end (faster-whisper's seek; without it, 1,436 characters of the 40 calls went unheard)."""


def remainder(audio: np.ndarray, stretches: list[tuple[float, float]],
              at: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """What is left of a packed window from ``at`` seconds on: its audio and its speech stretches."""
    out = [(start + max(0.0, at - packed), end) for packed, start, end in _packed(stretches)
           if packed + (end - start) > at]
    return audio[int(round(at * SAMPLE_RATE)):], out


_CLAUSE_END = "，。？！；,.?!;"
MIN_SPLIT_S = 0.5
"""A piece is split at a stretch boundary only where it covers at least this much speech on both sides."""


def split_across_stretches(start: float, end: float, text: str,
                           stretches: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """A piece Whisper heard across a silence that was cut out (two or more stretches of speech: the other side
    often spoke in between) as one piece per stretch, so that turns keep their order in call time. The text is
    cut in proportion to the speech on each side, at the nearest clause end (a character boundary when there is
    none); times stay on the packed timeline."""
    bounds = []
    for packed, a, b in _packed(stretches):
        lo, hi = max(start, packed), min(end, packed + (b - a))
        if hi - lo >= MIN_SPLIT_S:
            bounds.append((lo, hi))
    if len(bounds) < 2 or len(text) < 2 * len(bounds):
        return [(start, end, text)]
    total = sum(hi - lo for lo, hi in bounds)
    ends = [i + 1 for i, c in enumerate(text) if c in _CLAUSE_END and i + 1 < len(text)]
    cuts, spoken = [], 0.0
    for lo, hi in bounds[:-1]:
        spoken += hi - lo
        target = round(len(text) * spoken / total)
        near = min(ends, key=lambda i: abs(i - target), default=None)
        cut = near if near is not None and abs(near - target) <= max(4, len(text) // 4) else target
        cuts.append(min(max(cut, (cuts[-1] if cuts else 0) + 1), len(text) - 1))
    pieces, prev = [], 0
    for (lo, hi), cut in zip(bounds, cuts + [len(text)]):
        part = text[prev:cut].strip()
        if part:
            pieces.append((lo, hi, part))
        prev = cut
    pieces[0] = (start, pieces[0][1], pieces[0][2])
    pieces[-1] = (pieces[-1][0], end, pieces[-1][2])
    return pieces


async def _decode_windows(session: CallSession, x: np.ndarray, offset_s: float,
                          ) -> list[tuple[float, float, Transcript]]:
    """One block of one channel: its windows through the recognizer (kind ``window``, a few at a time, each
    decoded again from where the model stopped short), the timed pieces mapped back to call time."""
    windows = await asyncio.to_thread(speech_windows, x)
    out: list[tuple[float, float, Transcript]] = []

    async def one(audio: np.ndarray, stretches: list[tuple[float, float]]) -> None:
        while len(audio):
            tr: Transcript = await asyncio.wrap_future(session.p.recognizer.submit(audio, "window"))
            for p in tr.pieces:
                for a, b, text in split_across_stretches(p.start, p.end, p.text, stretches):
                    start = offset_s + original_time(a, stretches)
                    end = offset_s + original_time(b, stretches, is_end=True)
                    out.append((start, max(start, end), Transcript(text, text, tr.avg_logprob, tr.no_speech_prob,
                                                                   tr.compression_ratio)))
            at = tr.resume_at
            if at is None or at < MIN_RESUME_S or at > len(audio) / SAMPLE_RATE - MIN_RESUME_S:
                return
            audio, stretches = remainder(audio, stretches, at)

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


async def _complete_in_windows(session: CallSession, audio: np.ndarray, sample_rate: int) -> None:
    limit = session.p.settings.stream.max_call_duration_s
    if len(audio) / sample_rate > limit:
        raise CallLimitExceeded(f"call longer than {limit:g} s")
    block = int(BLOCK_S * sample_rate)
    resamplers = {ch.index: StreamResampler(sample_rate) for ch in session.channels}
    done = {ch.index: 0 for ch in session.channels}  # 16 kHz samples of each channel before the block

    async def channel(ch, i: int) -> list[tuple[str, float, float, Transcript]]:
        last = i + block >= len(audio)
        x = await asyncio.to_thread(resamplers[ch.index].process, audio[i : i + block, ch.index], last)
        found = await _decode_windows(session, x, done[ch.index] / SAMPLE_RATE)
        done[ch.index] += len(x)
        return [(ch.role, start, end, tr) for start, end, tr in found]

    # block by block, both channels at once: the call's finals (and any alert) go out as each block is heard
    for i in range(0, max(1, len(audio)), block):
        found = await asyncio.gather(*(channel(ch, i) for ch in session.channels))
        await session.add_recorded_finals([f for part in found for f in part], len(audio[i : i + block]))


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
    """Run the whole recording (n, channels) and finish; a failure is recorded on the call. An upload in the
    default ``windows`` mode is decoded in windows; otherwise it is fed at ``speed`` × real time (0: as fast as
    the recognizer allows) through the live segmenter."""
    step = int(chunk_s * sample_rate)
    t0 = time.monotonic()
    try:
        if session.source != "live" and session.p.settings.asr.recording_mode == "windows":
            await _complete_in_windows(session, audio, sample_rate)
        else:
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
