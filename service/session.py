"""CallSession: one per call, all of its state. Audio in (bytes), messages out (a sink), finals persisted
before they are sent. Used by the live socket, uploads, the command line and the evaluation harness alike."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

from service.asr.engine import QueueFull, Recognizer, Transcript
from service.asr.text import StablePrefix
from service.asr.vad import SAMPLE_RATE, Segmenter, Utterance, VadModel
from service.audio.codecs import BYTES_PER_SAMPLE, FrameError, StreamResampler, decode_frame
from service.fanout import Subscription
from service.metrics import Metrics
from service.protocol import StartMessage
from service.relisten import Relistener
from service.settings import Settings
from service.store.db import CallStart, Store
from service.types import FinalSegment

logger = logging.getLogger(__name__)

Sink = Callable[[dict], Awaitable[None]]
MIN_PARTIAL_AUDIO_S = 0.8
PARTIAL_PAUSE_S = 0.25  # no partial while the speaker has paused this long: the final may be a moment away
PARTIAL_NEW_SPEECH_S = 0.4  # a partial needs this much speech since the previous one, or it has nothing new
INLINE_FRAME_S = 0.1  # frames up to this long are resampled and VAD-ed on the event loop; longer in a thread
MAX_PENDING_FINALS = 64  # a session feeding faster than the recognizer waits beyond this
WATCH_QUEUE = 2000
ARRIVALS_KEPT = 4096
EARLIER_FINAL_WAIT_S = 5.0
"""Longest a final waits for the other channel's earlier finals still being decoded, so that the two channels' finals
are analysed in call time: a caller's "嗯，想过" is read after the counselor's "你有没有想过自杀？" even when the
question, longer, took longer to decode. Past it (a recognizer far behind), the final goes on without them."""


class CallLimitExceeded(Exception):
    """The call ran past the configured maximum duration."""


class CallAnalysis:
    """What runs after ASR for each final segment (risk, alerts, worksheet); the base does nothing."""

    async def on_final(self, seg: FinalSegment, transcript: Transcript | None) -> list[dict]:
        return []

    async def on_end(self) -> dict:
        return {}

    def risk_context(self) -> bool:
        """Has the call shown any risk so far (worth hearing the caller again, ``service.relisten``)?"""
        return False

    def resumed(self, alerted: list[str]) -> None:
        """The call is transcribed again from its start (an upload cut short by a restart): the alert levels it
        already raised, not to be raised twice."""

    async def on_relisten(self, seg: FinalSegment) -> list[dict]:
        """A caller's speech heard again (``segment_id`` of the live final it covers, the text heard now)."""
        return []


@dataclass
class Pipeline:
    """Everything shared by all calls: loaded once, used by every session."""

    settings: Settings
    recognizer: Recognizer
    vad: VadModel
    store: Store
    metrics: Metrics
    risk: object | None = None  # service.risk.RiskEngine, loaded once
    analysis_factory: Callable[[str, str | None], CallAnalysis] = lambda call_id, counselor_id: CallAnalysis()


@dataclass
class _Channel:
    index: int
    role: str
    resampler: StreamResampler
    segmenter: Segmenter
    segment_id: int | None = None  # id of the utterance in progress once something was sent for it
    agreement: StablePrefix = field(default_factory=StablePrefix)
    last_sent: tuple[str, str] = ("", "")
    partial_tick: int = 0  # the partial clock's tick of the last partial request
    partial_speech: int = 0  # the segmenter's speech count of the utterance at the last partial request
    partial_busy: bool = False
    partial_job: "concurrent.futures.Future | None" = None
    #: finals submitted and not yet sent: (start sample, task), oldest first (each final drops the sent ones)
    pending: collections.deque = field(default_factory=collections.deque)
    arrivals: collections.deque = field(default_factory=lambda: collections.deque(maxlen=ARRIVALS_KEPT))


class CallSession:
    def __init__(self, pipeline: Pipeline, start: StartMessage, sink: Sink, source: str = "live",
                 resume: bool = False) -> None:
        self.p = pipeline
        #: an upload cut short by a restart, transcribed again: its call is reopened, not created
        self.resume = resume
        self.start = start
        self.call_id = start.call_id
        self.sink = sink
        self.source = source
        s = pipeline.settings
        self.channels = [
            _Channel(i, role, StreamResampler(start.sample_rate), Segmenter(pipeline.vad, s.vad))
            for i, role in enumerate(start.channel_roles or ["mixed"])
        ]
        self._next_id = 0
        self._finals = 0
        self._tasks: set[asyncio.Task] = set()
        self._samples_in = 0  # per channel, at the input rate
        self._carry = b""
        self._lock = asyncio.Lock()
        self._ended = False
        self.connected = True
        self.analysis = pipeline.analysis_factory(self.call_id, start.counselor_id)
        self.watchers: set[Subscription] = set()
        self.final_latencies: list[float] = []
        self._final_kind = "final" if source == "live" else "offline"
        roles = [ch.role for ch in self.channels]
        self.relisten = (Relistener(self) if source == "live" and s.risk.relisten and "caller" in roles
                         and "counselor" in roles else None)

    # ------------------------------------------------------------------ life
    @property
    def audio_seconds(self) -> float:
        return self._samples_in / self.start.sample_rate

    async def open(self) -> None:
        """Record the call (raises CallExists for a known call id; reopen an interrupted upload's when resuming)."""
        st = self.start
        if self.resume:
            alerted = await asyncio.to_thread(self.p.store.reopen_upload, st.call_id, self.p.recognizer.description)
            self.analysis.resumed(alerted)
            return
        await asyncio.to_thread(
            self.p.store.create_call,
            CallStart(st.call_id, st.counselor_id, self.source, st.sample_rate, st.encoding, st.channels,
                      list(st.channel_roles or []), self.p.recognizer.description),
        )

    async def feed(self, data: bytes) -> None:
        """Decode one binary frame and run it through VAD; raises FrameError (non-fatal) or CallLimitExceeded."""
        if not data:
            return
        st = self.start
        width = BYTES_PER_SAMPLE[st.encoding] * st.channels
        max_bytes = int(self.p.settings.stream.max_frame_s * st.sample_rate) * width
        if len(data) > max_bytes:
            raise FrameError(f"frame of {len(data)} bytes is longer than {self.p.settings.stream.max_frame_s:g} s")
        samples = decode_frame(data, st.encoding, st.channels)
        if self.audio_seconds + len(samples) / st.sample_rate > self.p.settings.stream.max_call_duration_s:
            raise CallLimitExceeded(f"call longer than {self.p.settings.stream.max_call_duration_s:g} s")
        self._count_audio(len(samples))
        now = time.monotonic()
        if len(samples) <= INLINE_FRAME_S * st.sample_rate:
            ended = self._process(samples, False)  # a telephony frame: well under a millisecond of work
        else:
            ended = await asyncio.to_thread(self._process, samples, False)
        for ch in self.channels:
            ch.arrivals.append((ch.segmenter.position, now))
        self._dispatch(ended)
        if self.source == "live":
            self._maybe_partials()
        while len(self._tasks) > MAX_PENDING_FINALS:
            await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    def _process(self, samples: np.ndarray, last: bool) -> list[tuple[_Channel, Utterance]]:
        out = []
        for ch in self.channels:
            x = ch.resampler.process(samples[:, ch.index], last=last)
            if len(x):
                out.extend((ch, u) for u in ch.segmenter.feed(x))
            if last:
                out.extend((ch, u) for u in ch.segmenter.flush())
        # in call time across the channels (each channel's own are in order already): when utterances of both end in
        # one frame (a long frame, the flush at the end), a caller's answer is dispatched after the counselor's
        # question before it, so it waits for that question's final (_dispatch's ``earlier``)
        out.sort(key=lambda e: e[1].start)
        return out

    async def finish(self) -> int:
        """Flush every channel, wait for every final, record the end; returns the number of segments."""
        if self._ended:
            return self._finals
        self._ended = True
        empty = np.zeros((0, len(self.channels)), dtype=np.float32)
        ended = await asyncio.to_thread(self._process, empty, True)
        self._dispatch(ended)
        await self._drain_tasks()
        if self.relisten is not None:  # the caller's last words heard again before the level is final
            self.relisten.flush()
            await self._drain_tasks()
        summary = await self.analysis.on_end()
        await asyncio.to_thread(self.p.store.finish_call, self.call_id, "ended", self.audio_seconds)
        await self._send({"type": "ended", "call_id": self.call_id, "segments": self._finals,
                          "worksheet": f"/v1/calls/{self.call_id}/worksheet", **summary})
        self._close_watchers()
        return self._finals

    async def fail(self, reason: str) -> None:
        """Record a call that could not be finished (after a server fault)."""
        self._ended = True
        for t in list(self._tasks):
            t.cancel()
        await asyncio.to_thread(self.p.store.finish_call, self.call_id, "failed", self.audio_seconds, reason)
        self._close_watchers()

    def _close_watchers(self) -> None:
        for sub in list(self.watchers):
            sub.close()
        self.watchers.clear()

    # -------------------------------------------------------------- messages
    def watch(self) -> Subscription:
        """Every message this call sends from now on (a counselor's console follows the call)."""
        sub = Subscription(WATCH_QUEUE)
        self.watchers.add(sub)
        return sub

    def unwatch(self, sub: Subscription) -> None:
        self.watchers.discard(sub)

    async def _send(self, msg: dict) -> None:
        for sub in list(self.watchers):
            sub.put(msg)
        if not self.connected:
            return
        try:
            await self.sink(msg)
        except Exception:  # the peer went away: keep working, persist everything
            self.connected = False
            logger.info("call %s: peer gone, continuing without sending", self.call_id)

    def _spawn(self, coro) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._task_done)
        return t

    def _task_done(self, t: asyncio.Task) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            self.p.metrics.task_failures.inc()  # a silent fault (risk stopping mid-call) shows on the dashboard
            logger.error("call %s: a pipeline task failed", self.call_id, exc_info=t.exception())

    # ---------------------------------------------------------------- finals
    def _dispatch(self, ended: list[tuple[_Channel, Utterance]]) -> None:
        for ch, utt in ended:
            seg_id = ch.segment_id
            ch.segment_id = None
            ch.agreement = StablePrefix()
            ch.last_sent = ("", "")
            ch.partial_speech = 0
            if ch.partial_job is not None:  # still queued: its utterance is over, the final replaces it
                ch.partial_job.cancel()
                ch.partial_job = None
            arrived = self._arrival(ch, utt.end)
            fut = self.p.recognizer.submit(utt.audio, self._final_kind)
            previous = ch.pending[-1][1] if ch.pending else None
            earlier = [t for other in self.channels if other is not ch
                       for start, t in other.pending if start < utt.start and not t.done()]
            ch.pending.append((utt.start, self._spawn(self._final(ch, utt, seg_id, fut, arrived, previous, earlier))))

    def _arrival(self, ch: _Channel, pos: int) -> float:
        for end, t in ch.arrivals:
            if end >= pos:
                return t
        return time.monotonic()

    async def _final(self, ch: _Channel, utt: Utterance, seg_id: int | None, fut, arrived: float,
                     previous: asyncio.Task | None, earlier: list[asyncio.Task] = ()) -> None:
        tr: Transcript = await asyncio.wrap_future(fut)
        if previous is not None:  # finals of one channel go out in order
            await asyncio.gather(previous, return_exceptions=True)
        if earlier:  # and after the other channel's finals that started before (EARLIER_FINAL_WAIT_S)
            _, waiting = await asyncio.wait(earlier, timeout=EARLIER_FINAL_WAIT_S)
            if waiting:
                self.p.metrics.finals_unordered.inc()
        while ch.pending and ch.pending[0][1].done():  # this channel's finals before this one are all sent
            ch.pending.popleft()
        if not tr.text and seg_id is None:
            return
        seg = await self._emit_final(ch.role, seg_id, utt.start / SAMPLE_RATE, utt.end / SAMPLE_RATE, tr, arrived)
        if self.relisten is not None and seg.text:
            if ch.role == "caller":
                self.relisten.caller_final(seg, utt.audio)
            else:
                self.relisten.counselor_final(seg)

    async def _drain_tasks(self) -> None:
        """Wait for the call's pending tasks, and for any they start, to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _emit_final(self, role: str, seg_id: int | None, start: float, end: float, tr: Transcript,
                          arrived: float | None = None) -> FinalSegment:
        """Persist a final (when it has text), send it, then its risk: the one way every final goes out."""
        if seg_id is None:
            seg_id = self._new_id()
        seg = FinalSegment(self.call_id, seg_id, role, round(start, 2), round(end, 2), tr.text)
        if tr.text:
            await asyncio.to_thread(self.p.store.add_segment, seg, tr.avg_logprob, tr.no_speech_prob)
            self._finals += 1
            self.p.metrics.segments.inc()
        await self._send({"type": "final", "call_id": self.call_id, "segment_id": seg_id, "speaker": role,
                          "start": seg.start, "end": seg.end, "text": tr.text})
        if arrived is not None:
            latency = time.monotonic() - arrived
            self.final_latencies.append(latency)
            self.p.metrics.final_latency.observe(latency)
        if tr.text:
            for msg in await self.analysis.on_final(seg, tr):
                await self._send(msg)
        return seg

    async def add_recorded_finals(self, finals: list[tuple[str, float, float, Transcript]], samples: int) -> None:
        """A recording decoded in windows (``service.recorded``): its finals (role, start s, end s, transcript),
        sent, stored and analysed in call time; ``samples`` per channel at the input rate, for the call record."""
        if self._ended:
            raise RuntimeError("the call has ended")
        self._count_audio(samples)
        for role, start, end, tr in sorted(finals, key=lambda f: (f[1], f[2])):
            await self._emit_final(role, None, start, end, tr)

    def _count_audio(self, samples: int) -> None:
        """``samples`` more per channel (input rate) heard: the call's length and the audio-seconds metric."""
        self._samples_in += samples
        for ch in self.channels:
            self.p.metrics.audio_seconds.labels(ch.role).inc(samples / self.start.sample_rate)

    def _new_id(self) -> int:
        i = self._next_id
        self._next_id += 1
        return i

    # -------------------------------------------------------------- partials
    def _maybe_partials(self) -> None:
        s = self.p.settings.stream
        if not s.partials:
            return
        # One clock for every call: the partials of all calls are asked for in the same moment of each interval,
        # and the recognizer decodes them as one batch.
        tick = int(time.monotonic() / s.partial_interval_s)
        for ch in self.channels:
            seg = ch.segmenter
            if not seg.in_speech or ch.partial_busy or tick <= ch.partial_tick:
                continue
            start = seg.utt_start
            assert start is not None
            pos = seg.position
            if pos - start < MIN_PARTIAL_AUDIO_S * SAMPLE_RATE:
                continue
            # Partials follow speech: none during a pause (the utterance may be ending and its final replaces
            # any partial), none when too little was said since the last one to change it.
            if (seg.trailing_silence >= PARTIAL_PAUSE_S * SAMPLE_RATE
                    or seg.speech - ch.partial_speech < PARTIAL_NEW_SPEECH_S * SAMPLE_RATE):
                continue
            utt = seg.current()
            if utt is None:
                continue
            ch.partial_tick = tick  # the next try is on the next tick, whether this one is taken or skipped
            ch.partial_speech = seg.speech
            try:
                fut = self.p.recognizer.submit(utt.audio, "partial")
            except QueueFull:  # the queue is full, a final waits, or partials had their share
                self.p.metrics.partials_dropped.inc()
                continue
            ch.partial_busy = True
            ch.partial_job = fut
            self._spawn(self._partial(ch, start, fut))

    async def _partial(self, ch: _Channel, utt_start: int, fut) -> None:
        try:
            tr: Transcript = await asyncio.wrap_future(fut)
        finally:
            ch.partial_busy = False
            if ch.partial_job is fut:
                ch.partial_job = None
        if ch.segmenter.utt_start != utt_start or not tr.text:
            return  # the utterance ended (its final replaces this) or nothing was heard
        stable, tail = ch.agreement.update(tr.text)
        if (stable, tail) == ch.last_sent or not (stable or tail):
            return
        ch.last_sent = (stable, tail)
        if ch.segment_id is None:
            ch.segment_id = self._new_id()
        await self._send({"type": "partial", "call_id": self.call_id, "segment_id": ch.segment_id,
                          "speaker": ch.role, "start": round(utt_start / SAMPLE_RATE, 2), "text": stable,
                          "unstable": tail})
