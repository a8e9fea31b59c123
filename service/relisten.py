"""Hearing a live caller again, for risk.

A live final is decoded from one utterance, the moment it ends; on 8 kHz telephone audio the default model then
garbles exactly the words risk hangs on (拧开了液化气 → 您开了验话器, 一整板药…吞下去了 → 一种饭…坑下去了). The same
speech packed into windows of up to 30 s, as recordings are heard (``service.asr.windows``), comes out better
(40 annotated calls: CER 0.151 against 0.193). With ``risk.relisten`` on (off by default: on a 2-core CPU it cost
a third more CPU and caught no high-risk call the live path missed, eval/README.md), once a call shows any risk (a
label in the caller's words, or the counselor naming suicide or self-harm, ``RiskAnalysis.risk_context``), the
caller's finals since then and the ``RELISTEN_BACK_S`` of caller speech before are heard again in such windows, at
the recognizer's lowest priority; what that hearing finds goes through the same risk engine and call level
(``RiskAnalysis.on_relisten``). It only adds risk: the finals already sent and stored are not changed."""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.asr.engine import SAMPLE_RATE
from service.asr.windows import decode_packed, pack
from service.types import FinalSegment

if TYPE_CHECKING:
    from service.session import CallSession

logger = logging.getLogger(__name__)
RELISTEN_BACK_S = 60.0
"""Caller speech kept from before the call showed risk, heard again once it does (the sentence that mattered
may be the one the live final garbled, before the counselor's question that shows the risk)."""
MAX_WAITING_S = 300.0
"""Caller speech of one call waiting at the recognizer to be heard again (19 MB of audio); past that (a recognizer
that cannot keep up, or a recording fed faster than real time) a window is skipped and counted
(``scribe_relisten_seconds_total{outcome="skipped"}``): memory stays bounded."""


@dataclass(frozen=True, slots=True)
class _Heard:
    seg: FinalSegment
    audio: np.ndarray

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class Relistener:
    """One live call's caller channel: collects its finals with their audio, sends windows to be heard again."""

    def __init__(self, session: "CallSession") -> None:
        self.session = session
        settings = session.p.settings.risk
        self.window_s = settings.relisten_window_s
        self.min_s = settings.relisten_min_s
        self.active = False
        self._back: collections.deque[_Heard] = collections.deque()
        self._pending: list[_Heard] = []
        self._waiting = 0.0  # seconds of speech waiting at the recognizer
        self.windows = 0  # windows heard again (tests, logs)

    def caller_final(self, seg: FinalSegment, audio: np.ndarray) -> None:
        """A caller final with text, after its own risk analysis."""
        heard = _Heard(seg, audio)
        if self.active:
            if self._pending and self._speech() + heard.seconds > self.window_s:
                self._submit()  # the window is as full as it gets
            self._pending.append(heard)
        else:
            self._back.append(heard)
            while sum(h.seconds for h in self._back) > RELISTEN_BACK_S:
                self._back.popleft()
        self._check()
        if self.active and self._speech() >= self.window_s:
            self._submit()

    def counselor_final(self, seg: FinalSegment) -> None:
        """A counselor final: it may show the risk (a question about suicide), and it ends the caller's turn."""
        self._check()
        if self._pending and seg.start >= self._pending[-1].seg.end and self._speech() >= self.min_s:
            self._submit()

    def flush(self) -> None:
        """The call ends: hear what is left."""
        if self.active and self._pending:
            self._submit()

    def _check(self) -> None:
        if not self.active and self.session.analysis.risk_context():
            self.active = True
            self._pending = [*self._back, *self._pending]
            self._back.clear()

    def _speech(self) -> float:
        return sum(h.seconds for h in self._pending)

    def _submit(self) -> None:
        """Pack the pending finals into windows of up to ``window_s`` and hear each again."""
        windows = pack(self._pending, lambda h: h.seconds, self.window_s)
        self._pending = []
        metrics = self.session.p.metrics.relisten
        for w in windows:
            seconds = sum(h.seconds for h in w)
            if self._waiting + seconds > MAX_WAITING_S:
                metrics.labels("skipped").inc(seconds)
                logger.warning("call %s: recognizer behind, %.1f s of caller speech not heard again",
                               self.session.call_id, seconds)
                continue
            metrics.labels("heard").inc(seconds)
            self._waiting += seconds
            self.session._spawn(self._hear(w))

    async def _hear(self, window: list[_Heard]) -> None:
        try:
            audio = np.concatenate([h.audio for h in window])
            stretches = [(h.seg.start, h.seg.start + h.seconds) for h in window]
            pieces = await decode_packed(self.session.p.recognizer, audio, stretches)
        finally:
            self._waiting -= sum(h.seconds for h in window)
        self.windows += 1
        for start, end, tr in sorted(pieces, key=lambda p: p[0]):
            if not tr.text:
                continue
            seg = FinalSegment(self.session.call_id, _covering(window, start, end).segment_id, "caller",
                               round(start, 2), round(max(start, end), 2), tr.text)
            for msg in await self.session.analysis.on_relisten(seg):
                await self.session._send(msg)


def _covering(window: list[_Heard], start: float, end: float) -> FinalSegment:
    """The live final a piece heard again falls in: the most overlap, else the nearest."""
    def score(h: _Heard) -> tuple[float, float]:
        a, b = h.seg.start, h.seg.start + h.seconds
        overlap = min(b, end) - max(a, start)
        return (max(0.0, overlap), -min(abs(start - a), abs(end - b)))

    return max(window, key=score).seg
