"""The recognizer: one shared Whisper model (faster-whisper / CTranslate2) served by worker threads from a
priority queue, decoding ready utterances of all calls in batches. Inference never runs on the event loop."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import heapq
import itertools
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from service.asr.models import ResolvedModel
from service.asr.text import clean_text, compression_ratio, strip_prompt_echo
from service.settings import ASRSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAMES_PER_S = 100  # Whisper mel frames per second
MAX_WINDOW_FRAMES = 3000  # 30 s: Whisper's longest input
TOKENS_PER_S = 12  # cap on decoded tokens per second of audio (Chinese speech is ~4–6 characters/s)
FINAL_WINDOW_STEP_FRAMES = 200
"""A final's encoder window: ``min_window_s``, or its audio plus 0.5 s rounded up to whole 2 s steps. It depends on
the utterance alone, and utterances are batched only with others of the same window: Whisper's text changes with
the padding (of 31 utterances of two 8 kHz calls, 24 read differently in an 8, 12 or 15 s window: 吞下去了 in one,
坑下去了 in another), so a window set by the longest utterance in the batch made a caller's words depend on what
other calls were saying at the time. Within one window the batch does not change the text (28 of 28 the same
alone and in batches of 4)."""
PARTIAL_WINDOW_S = 3.0  # shortest encoder window for partial hypotheses
PARTIAL_GATHER_S = 0.05  # a partial waits this long in the queue for others to batch with
LIVE_RECENT_S = 30.0
"""Windows (uploads, a live caller heard again) keep a worker free for finals while a live final was queued within
this long; with no live call they may use every worker."""
PARTIAL_SHARE_WINDOW_S = 10.0  # the window over which partials' decoding time is bounded by asr.partial_share
PRIORITY = {"final": 0, "partial": 1, "offline": 2, "window": 2}  # live finals first, recorded calls last
TIME_PRECISION = 0.02  # seconds per Whisper timestamp token

JobKind = Literal["final", "partial", "offline", "window"]
"""final / partial: a live utterance; offline: a recorded call's utterance; window: up to 30 s of a recorded call's
speech, decoded with timestamps into pieces."""


@dataclass(frozen=True)
class Piece:
    """A stretch of a window's text with its times (seconds from the window's start), as Whisper timed it."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What the recognizer made of one utterance, with the numbers the hallucination guard used."""

    text: str
    raw_text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    dropped: str | None = None  # why the text was discarded, if it was
    pieces: tuple[Piece, ...] = ()  # a window's timed pieces (kind "window"), each cleaned and guarded
    resume_at: float | None = None  # a window the model stopped short in: where its last complete piece ends


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    kind: JobKind = field(compare=False)
    audio: np.ndarray = field(compare=False, repr=False)
    future: concurrent.futures.Future = field(compare=False, repr=False)
    enqueued: float = field(compare=False, default=0.0)
    frames: int = field(compare=False, default=0)  # the encoder window of a final or offline utterance (0: set by batch)


class QueueFull(RuntimeError):
    """The inference queue is full; partial jobs are refused first."""


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class Recognizer:
    """Loads the model once; ``submit`` queues an utterance and returns a future of its :class:`Transcript`."""

    def __init__(self, settings: ASRSettings, model: ResolvedModel, metrics=None) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.settings = settings
        self.model_info = model
        self.device = pick_device(settings.device)
        self.compute_type = pick_compute_type(settings.compute_type, self.device)
        self.metrics = metrics
        self.cpu_threads = settings.cpu_threads or max(1, (os.cpu_count() or 1) // settings.workers)
        self._whisper = WhisperModel(
            str(model.path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
            num_workers=settings.workers,
            local_files_only=True,
        )
        self._tokenizer = Tokenizer(
            self._whisper.hf_tokenizer, self._whisper.model.is_multilingual, task="transcribe",
            language=settings.language,
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._prompt = self._build_prompt()
        self._prompt_timed = self._prompt[:-1]  # without <|notimestamps|>: windows are decoded with timestamps
        # echoes are looked for in the initial prompt only: a hotword said on its own ("安眠药。") is speech
        self._prompt_text = settings.initial_prompt or None
        self._heap: list[_Job] = []
        self._partial_slots = max(1, settings.workers - 1)  # workers that may decode partials at once
        self._partials_running: dict[int, float] = {}  # worker thread → start of the partial it decodes
        self._windows_running: set[int] = set()  # worker threads decoding windows
        self._last_final = -LIVE_RECENT_S  # monotonic time a live final was last queued
        self._partial_log: collections.deque[tuple[float, float]] = collections.deque()  # (start, end) done
        self._other_log: collections.deque[tuple[float, float]] = collections.deque()  # finals, recordings: done
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._worker, name=f"asr-worker-{i}", daemon=True)
            for i in range(settings.workers)
        ]
        for t in self._threads:
            t.start()

    # ----------------------------------------------------------------- public
    @property
    def description(self) -> dict:
        """What produced the transcripts, for reports and persisted records."""
        return {
            "model": self.model_info.name,
            "model_path": str(self.model_info.path),
            "model_sha256": self.model_info.sha256.get("model.bin"),
            "device": self.device,
            "compute_type": self.compute_type,
            "beam_size": self.settings.beam_size,
            "partial_beam_size": self.settings.partial_beam_size,
            "min_window_s": self.settings.min_window_s,
            "workers": self.settings.workers,
            "cpu_threads": self.cpu_threads,
            "language": self.settings.language,
        }

    @property
    def queue_depth(self) -> int:
        return len(self._heap)

    def submit(self, audio: np.ndarray, kind: JobKind) -> concurrent.futures.Future:
        """Queue an utterance (16 kHz float32). A partial is refused with QueueFull when the queue is full."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._cv:
            if self._stopping:
                raise RuntimeError("the recognizer is shut down")
            if kind == "partial":
                if len(self._heap) >= self.settings.queue_size:
                    raise QueueFull("inference queue full")
                if self._heap and self._heap[0].kind == "final":  # finals sort first: any waits at the top
                    raise QueueFull("a final is waiting")
                if self._partial_time(time.monotonic()) >= self._partial_budget(time.monotonic()):
                    raise QueueFull("partial time share spent")
            if kind == "final":
                self._last_final = time.monotonic()
            frames = self._final_frames(len(audio)) if kind in ("final", "offline") else 0
            heapq.heappush(self._heap, _Job(PRIORITY[kind], next(self._seq), kind, audio, fut, time.monotonic(),
                                            frames))
            self._cv.notify()
        self._gauge()
        return fut

    async def transcribe(self, audio: np.ndarray, kind: JobKind = "final") -> Transcript:
        return await asyncio.wrap_future(self.submit(audio, kind))

    def transcribe_sync(self, audio: np.ndarray, kind: JobKind = "final") -> Transcript:
        return self.submit(audio, kind).result()

    def close(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=30)
        for job in self._heap:
            job.future.cancel()
        self._heap.clear()

    # ----------------------------------------------------------------- worker
    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(len(self._heap))

    def _ready(self) -> bool:
        """Is there a job this worker may take? Partials, and windows while live calls run, only while another
        worker stays free for finals (a window takes a second or two: a final must not wait behind one)."""
        if not self._heap:
            return False
        kind = self._heap[0].kind
        background = len(self._partials_running) + len(self._windows_running)
        if kind == "partial" or (kind == "window" and time.monotonic() - self._last_final < LIVE_RECENT_S):
            return background < self._partial_slots
        return True

    def _take_batch(self) -> list[_Job] | None:
        with self._cv:
            while not self._stopping:
                if not self._ready():
                    self._cv.wait()
                    continue
                # Partials are asked for on a shared clock (CallSession): wait a moment for the other calls'
                # partials of this tick, and decode them as one batch (a greedy step costs about the same for one
                # utterance as for several, so batching makes each partial several times cheaper).
                head = self._heap[0]
                wait = head.enqueued + PARTIAL_GATHER_S - time.monotonic() if head.kind == "partial" else 0.0
                if wait <= 0:
                    break
                self._cv.wait(wait)
            if self._stopping and not self._heap:
                return None
            first = heapq.heappop(self._heap)
            batch = [first]
            if first.frames:  # a final goes with the oldest finals of its own window only
                mates = sorted(j for j in self._heap if j.kind == first.kind and j.frames == first.frames)
                batch += mates[: self.settings.batch_size - 1]
                if len(batch) > 1:
                    taken = {id(j) for j in batch}
                    self._heap = [j for j in self._heap if id(j) not in taken]
                    heapq.heapify(self._heap)
            else:
                while self._heap and len(batch) < self.settings.batch_size and self._heap[0].kind == first.kind:
                    batch.append(heapq.heappop(self._heap))
            if first.kind == "partial":
                self._partials_running[threading.get_ident()] = time.monotonic()
            elif first.kind == "window":
                self._windows_running.add(threading.get_ident())
        self._gauge()
        return batch

    def _partial_time(self, now: float) -> float:
        """Seconds of partial decoding within the last PARTIAL_SHARE_WINDOW_S, running ones included (lock held)."""
        since = now - PARTIAL_SHARE_WINDOW_S
        return _window_time(self._partial_log, since) + sum(
            now - max(start, since) for start in self._partials_running.values())

    def _partial_budget(self, now: float) -> float:
        """Seconds of decoding partials may have had within the last PARTIAL_SHARE_WINDOW_S (lock held):
        ``partial_share`` of one worker, or more while the rest of the work leaves the model idle — up to
        ``partial_fill`` less the share finals and recordings took (so a call or two get a partial every second,
        and four or more calls keep to ``partial_share``)."""
        s = self.settings
        others = _window_time(self._other_log, now - PARTIAL_SHARE_WINDOW_S) / PARTIAL_SHARE_WINDOW_S
        return max(s.partial_share, s.partial_fill - others) * PARTIAL_SHARE_WINDOW_S

    def _done(self, kind: JobKind, started: float) -> None:
        with self._cv:
            now = time.monotonic()
            if kind == "partial":
                self._partials_running.pop(threading.get_ident(), None)
                self._partial_log.append((started, now))
                self._cv.notify_all()
            else:
                self._other_log.append((started, now))
                # trimmed here too: only a partial's budget reads it, and a process with partials off (or only
                # recordings) would otherwise keep every batch it ever decoded
                _window_time(self._other_log, now - PARTIAL_SHARE_WINDOW_S)
                if kind == "window":
                    self._windows_running.discard(threading.get_ident())
                    self._cv.notify_all()

    def _worker(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            started = time.monotonic()
            try:
                self._run(batch)
            finally:
                self._done(batch[0].kind, started)

    def _run(self, batch: list[_Job]) -> None:
        live = [j for j in batch if j.future.set_running_or_notify_cancel()]
        if not live:
            return
        t0 = time.perf_counter()
        try:
            results = self._decode([j.audio for j in live], live[0].kind, live[0].frames)
        except Exception as e:  # noqa: BLE001 - every waiting job must hear about it
            logger.exception("inference failed for a batch of %d utterances", len(live))
            for j in live:
                j.future.set_exception(e)
            return
        spent = time.perf_counter() - t0
        if self.metrics is not None:
            self.metrics.compute_seconds.inc(spent)
            self.metrics.batch_size.labels(live[0].kind).observe(len(live))
        for j, r in zip(live, results):
            j.future.set_result(r)

    def _build_prompt(self) -> list[int]:
        tok = self._tokenizer
        prompt: list[int] = []
        extra = " ".join(filter(None, [self.settings.hotwords, self.settings.initial_prompt]))
        if extra:
            prompt.append(tok.sot_prev)
            prompt.extend(tok.encode(" " + extra.strip())[:223])
        prompt.extend(tok.sot_sequence)
        prompt.append(tok.no_timestamps)
        return prompt

    def _final_frames(self, samples: int) -> int:
        """The encoder window of a final or offline utterance of ``samples`` (FINAL_WINDOW_STEP_FRAMES)."""
        needed = max(self.settings.min_window_s * FRAMES_PER_S, samples / SAMPLE_RATE * FRAMES_PER_S + 50)
        if needed > self.settings.min_window_s * FRAMES_PER_S:
            needed = math.ceil(needed / FINAL_WINDOW_STEP_FRAMES) * FINAL_WINDOW_STEP_FRAMES
        return int(min(MAX_WINDOW_FRAMES, needed))

    def _features(self, audios: list[np.ndarray], min_window_s: float, frames: int = 0) -> np.ndarray:
        """Log-mel features of a batch in one window: ``frames``, or (0) the longest audio plus 0.5 s, at least
        ``min_window_s``."""
        fe = self._whisper.feature_extractor
        longest = max(len(a) for a in audios)
        if not frames:
            frames = int(min(MAX_WINDOW_FRAMES, max(min_window_s * FRAMES_PER_S,
                                                     longest / SAMPLE_RATE * FRAMES_PER_S + 50)))
        feats = []
        hop = SAMPLE_RATE // FRAMES_PER_S
        for a in audios:
            a = a[: MAX_WINDOW_FRAMES * hop]
            # Pad only to the window (the same mel values as padding to 30 s, without computing 30 s of STFT).
            mel = fe(a, padding=max(0, frames * hop - len(a)) + hop)[:, :frames]
            feats.append(mel)
        return np.ascontiguousarray(np.stack(feats), dtype=np.float32)

    def _decode(self, audios: list[np.ndarray], kind: JobKind, frames: int = 0) -> list[Transcript]:
        """One batch of one kind; ``frames``: the batch's window (a final's, shared by every job in the batch; 0 for
        partials, whose window the longest sets)."""
        import ctranslate2

        if kind == "window":
            return self._decode_windows(audios)
        s = self.settings
        # Partials are replaced by the final: they decode a window just longer than the audio, at a fraction
        # of the cost of the padded window finals use.
        window = PARTIAL_WINDOW_S if kind == "partial" else s.min_window_s
        features = self._features(audios, window, frames)
        encoded = self._whisper.model.encode(ctranslate2.StorageView.from_array(features))
        longest_s = max(len(a) for a in audios) / SAMPLE_RATE
        # the cap is the batch's: it only bites on runaway output (a loop the guard drops), so it does not make one
        # utterance's text depend on another's (two 40-call runs, 2 and 3 calls at once: the same 1,592 finals)
        max_length = int(min(448 - len(self._prompt), TOKENS_PER_S * longest_s + 16))
        beam = s.partial_beam_size if kind == "partial" else s.beam_size
        results = self._whisper.model.generate(
            encoded, [self._prompt] * len(audios), beam_size=beam, max_length=max_length,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=self._suppress, repetition_penalty=1.0, no_repeat_ngram_size=0,
        )
        out = []
        for r in results:
            tokens = [t for t in r.sequences_ids[0] if t < self._tokenizer.eot]
            raw = self._tokenizer.decode(tokens)
            seq_len = len(tokens)
            avg_logprob = r.scores[0] * seq_len / (seq_len + 1) if seq_len else r.scores[0]
            out.append(self._guard(raw, avg_logprob, r.no_speech_prob))
        return out

    def _decode_windows(self, audios: list[np.ndarray]) -> list[Transcript]:
        """Windows of a recording (up to 30 s of speech each) in Whisper's own 30 s input, decoded with timestamps
        (beam ``beam_size``); each timed piece is cleaned and guarded on its own."""
        import ctranslate2

        features = self._features(audios, MAX_WINDOW_FRAMES / FRAMES_PER_S)
        encoded = self._whisper.model.encode(ctranslate2.StorageView.from_array(features))
        results = self._whisper.model.generate(
            encoded, [self._prompt_timed] * len(audios), beam_size=self.settings.beam_size,
            max_length=448 - len(self._prompt_timed), return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self._suppress, max_initial_timestamp_index=50,
        )
        out = []
        for audio, r in zip(audios, results):
            tokens = [t for t in r.sequences_ids[0] if t != self._tokenizer.eot]
            seq_len = sum(1 for t in tokens if t < self._tokenizer.eot)
            avg_logprob = r.scores[0] * seq_len / (seq_len + 1) if seq_len else r.scores[0]
            raw = self._tokenizer.decode([t for t in tokens if t < self._tokenizer.eot])
            if self._silent(avg_logprob, r.no_speech_prob):  # no speech in it: the window is done
                out.append(Transcript("", raw, avg_logprob, r.no_speech_prob, compression_ratio(raw),
                                      dropped="no_speech"))
                continue
            timed, resume_at = split_timed(tokens, self._tokenizer.timestamp_begin, len(audio) / SAMPLE_RATE)
            pieces = []
            for start, end, ids in timed:
                guarded = self._guard(self._tokenizer.decode(ids), avg_logprob, r.no_speech_prob)
                if guarded.text:
                    pieces.append(Piece(start, end, guarded.text))
            text = "".join(p.text for p in pieces)
            out.append(Transcript(text, raw, avg_logprob, r.no_speech_prob, compression_ratio(raw),
                                  dropped=None if text else "no_speech", pieces=tuple(pieces), resume_at=resume_at))
        return out

    def _silent(self, avg_logprob: float, no_speech_prob: float) -> bool:
        """Whisper's no-speech test: likely no speech, and what it decoded is improbable."""
        return no_speech_prob > self.settings.no_speech_threshold and avg_logprob < self.settings.log_prob_threshold

    def _guard(self, raw: str, avg_logprob: float, no_speech_prob: float) -> Transcript:
        s = self.settings
        ratio = compression_ratio(raw)
        if self._silent(avg_logprob, no_speech_prob):
            return Transcript("", raw, avg_logprob, no_speech_prob, ratio, dropped="no_speech")
        text = strip_prompt_echo(clean_text(raw), self._prompt_text)
        if text and compression_ratio(text) > s.compression_ratio_threshold:
            return Transcript("", raw, avg_logprob, no_speech_prob, ratio, dropped="repetition")
        return Transcript(text, raw, avg_logprob, no_speech_prob, ratio, dropped=None if text else "hallucination")


def split_timed(tokens: list[int], timestamp_begin: int,
                duration: float) -> tuple[list[tuple[float, float, list[int]]], float | None]:
    """Whisper's timed output ``<|t0|> text <|t1|><|t1|> text <|t2|> …`` as (start, end, text tokens) pieces, and
    where to resume: None when the window is done (it ends on a single timestamp, or has no pair of them), else
    the time of the last complete piece's end, past which the model stopped before the window's end; the
    unfinished text after it is left out (faster-whisper's reading of the same output). Times are clamped to
    ``duration``."""
    def at(t: int) -> float:
        return min(duration, (t - timestamp_begin) * TIME_PRECISION)

    single_ending = len(tokens) >= 2 and tokens[-2] < timestamp_begin <= tokens[-1]
    pairs = [i for i in range(1, len(tokens)) if tokens[i] >= timestamp_begin and tokens[i - 1] >= timestamp_begin]
    if not pairs:
        times = [t for t in tokens if t >= timestamp_begin]
        text = [t for t in tokens if t < timestamp_begin]
        start = at(tokens[0]) if tokens and tokens[0] >= timestamp_begin else 0.0
        end = at(times[-1]) if len(times) >= 2 and tokens[-1] >= timestamp_begin else duration
        return ([(start, max(start, end), text)] if text else []), None
    pieces = []
    last = 0
    for cut in pairs + ([len(tokens)] if single_ending else []):
        part = tokens[last:cut]
        text = [t for t in part if t < timestamp_begin]
        if text:
            start = at(part[0]) if part[0] >= timestamp_begin else 0.0
            end = at(part[-1]) if part[-1] >= timestamp_begin else duration
            pieces.append((start, max(start, end), text))
        last = cut
    return pieces, None if single_ending else at(tokens[last - 1])


def _window_time(log: collections.deque[tuple[float, float]], since: float) -> float:
    """Seconds of the (start, end) spans in ``log`` after ``since``; spans that ended before it are dropped."""
    while log and log[0][1] <= since:
        log.popleft()
    return sum(end - max(start, since) for start, end in log)
