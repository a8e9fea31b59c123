"""Speech packed into windows of up to 30 s, silences cut out, decoded with Whisper's timestamps and mapped back to
call time. Recorded calls are heard this way (``service.recorded``), and so is a live caller's speech heard again
for risk (``service.relisten``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from service.asr.engine import SAMPLE_RATE, Recognizer, Transcript

T = TypeVar("T")

WINDOW_S = 30.0
"""Most speech per decoding window (Whisper's input)."""


def speech_windows(x: np.ndarray) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    """Speech of one 16 kHz channel packed into windows of up to ``WINDOW_S``, silences cut out (Silero VAD with
    faster-whisper's batch settings, no stretch longer than a window): (window audio, the speech stretches it
    holds as (start s, end s) of ``x``). (faster-whisper's own ``collect_chunks`` loses the first stretch of every
    window after the first from its metadata, hence the packing here.)"""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(x, VadOptions(max_speech_duration_s=WINDOW_S - 1))
    windows = pack(chunks, lambda c: c["end"] - c["start"], WINDOW_S * SAMPLE_RATE)
    return [(np.concatenate([x[c["start"]:c["end"]] for c in w]),
             [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in w]) for w in windows]


def pack(items: list[T], size: Callable[[T], float], limit: float) -> list[list[T]]:
    """``items`` in order, in consecutive groups whose ``size`` adds up to at most ``limit`` (an item larger than
    ``limit`` alone in its group)."""
    groups: list[list[T]] = []
    total = 0.0
    for item in items:
        n = size(item)
        if not groups or total + n > limit:
            groups.append([])
            total = 0.0
        groups[-1].append(item)
        total += n
    return groups


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



async def decode_packed(recognizer: Recognizer, audio: np.ndarray, stretches: list[tuple[float, float]],
                        offset_s: float = 0.0) -> list[tuple[float, float, Transcript]]:
    """One packed window (its speech ``stretches`` in seconds of the channel, ``offset_s`` added) through the
    recognizer as a ``window`` job, decoded again from where the model stopped short; its timed pieces, split where
    they cross a cut silence, as (start s, end s, transcript) in call time."""
    out: list[tuple[float, float, Transcript]] = []
    while len(audio):
        tr: Transcript = await asyncio.wrap_future(recognizer.submit(audio, "window"))
        for p in tr.pieces:
            for a, b, text in split_across_stretches(p.start, p.end, p.text, stretches):
                start = offset_s + original_time(a, stretches)
                end = offset_s + original_time(b, stretches, is_end=True)
                out.append((start, max(start, end), Transcript(text, text, tr.avg_logprob, tr.no_speech_prob,
                                                               tr.compression_ratio)))
        at = tr.resume_at
        if at is None or at < MIN_RESUME_S or at > len(audio) / SAMPLE_RATE - MIN_RESUME_S:
            return out
        audio, stretches = remainder(audio, stretches, at)
    return out
