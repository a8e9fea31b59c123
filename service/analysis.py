"""After ASR, per call: risk on every final segment, the call's level (never lowered), the `risk` message and
the alerts it raises. The live path, uploads and `python -m eval calls` all run exactly this code."""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

from service.asr.engine import Transcript
from service.risk import CallRiskState, RiskEngine
from service.risk.context import RISK_TOPIC_LABELS
from service.session import CallAnalysis
from service.store.db import Store
from service.types import AlertEvent, FinalSegment, SegmentRisk

if TYPE_CHECKING:
    from service.alerts import AlertHub
    from service.drafting import Drafting

logger = logging.getLogger(__name__)
CONTEXT_SEGMENTS = 6


class RiskAnalysis(CallAnalysis):
    """``store``, ``hub`` and ``drafting`` are the service's; without them (evaluation) nothing is persisted."""

    def __init__(self, engine: RiskEngine, call_id: str, counselor_id: str | None, alert_threshold: str = "高",
                 store: Store | None = None, hub: "AlertHub | None" = None,
                 drafting: "Drafting | None" = None) -> None:
        self.engine = engine
        self.call_id = call_id
        self.state = CallRiskState(call_id, counselor_id, engine.version, alert_threshold, lexicon=engine.lexicon)
        self.store = store
        self.hub = hub
        self.drafting = drafting
        self.alert_messages: list[dict] = []
        self.context: list[FinalSegment] = []
        self.risks: list[SegmentRisk] = []
        self.alerts: list[AlertEvent] = []
        self._saved: dict[int, tuple[list[str], dict]] = {}  # segment id → the labels and risk stored for it
        self._counselor_named = False  # the counselor has named suicide or self-harm (then no need to look again)
        #: call time from which the call is about risk (a caller label or the counselor naming suicide or
        #: self-harm; inf while it is not): segments after it are analysed with the recognizer's guesses at key
        #: words too (``RiskEngine.analyze(risk_context=…)``). In call time, since an upload's finals arrive out of
        #: order.
        self._risk_since = math.inf
        #: one analysis at a time per call, in the order the finals reach it (asyncio.Lock is first come, first
        #: served): the analysis runs in a worker thread, off the event loop, since the classifier's encoder takes
        #: some 15–40 ms a segment on one CPU thread, and the loop serves every other call meanwhile
        self._lock = asyncio.Lock()

    def analyze(self, seg: FinalSegment) -> tuple[SegmentRisk, list[AlertEvent]]:
        """Synchronous core (also used by the evaluation's transcript mode)."""
        # context is what was said before this segment in call time: the two channels' finals arrive in the order
        # they are decoded, and faster than real time (an uploaded recording) a counselor's later question can
        # arrive before the caller's earlier sentence
        before = bisect.bisect_left(self.context, seg.start, key=lambda s: s.start)
        about_risk = self._risk_since < seg.start
        risk = self.engine.analyze(seg, self.context[max(0, before - CONTEXT_SEGMENTS):before],
                                   risk_context=about_risk)
        if seg.speaker == "counselor" and not self._counselor_named:
            self._counselor_named = any(m.label in RISK_TOPIC_LABELS for m in self.engine.lexicon.find(seg.text))
            if self._counselor_named:
                self._risk_since = min(self._risk_since, seg.start)
        alerts = self.state.update(seg, risk, about_risk)
        bisect.insort(self.context, seg, key=lambda s: s.start)
        self.risks.append(risk)
        if risk.labels:
            self._risk_since = min(self._risk_since, seg.start)
            self._saved[seg.segment_id] = (list(risk.labels), {
                "keywords": [asdict(k) for k in risk.keywords], "score": risk.score,
                "engine_version": risk.engine_version})
        self.alerts.extend(alerts)
        return risk, alerts

    def risk_message(self, risk: SegmentRisk) -> dict:
        return {"type": "risk", "call_id": self.call_id, "segment_id": risk.segment_id, "labels": risk.labels,
                "risk_level": self.state.level,
                "keywords": [{"text": k.text, "label": k.label, "start": k.start, "end": k.end} for k in risk.keywords],
                "score": round(risk.score, 4), "engine_version": risk.engine_version}

    async def on_final(self, seg: FinalSegment, transcript: Transcript | None) -> list[dict]:
        async with self._lock:
            before = self.state.level
            risk, alerts = await asyncio.to_thread(self.analyze, seg)
        if risk.labels:
            await self._save(seg.segment_id)
        await self._level_and_alerts(before, alerts)
        return [self.risk_message(risk)] if risk.labels else []

    def risk_context(self) -> bool:
        return self._risk_since < math.inf

    def analyze_relistened(self, seg: FinalSegment) -> tuple[SegmentRisk, list[AlertEvent]] | None:
        """A caller's speech heard again (``service.relisten``): its risk where its words add a label the live final
        did not have (then it counts for the call level and alerts as any segment does), else None. Its context is
        the live finals before it, less the live final it covers."""
        before = bisect.bisect_left(self.context, seg.start, key=lambda s: s.start)
        context = [s for s in self.context[max(0, before - CONTEXT_SEGMENTS - 1):before]
                   if not (s.speaker == seg.speaker and s.segment_id == seg.segment_id)][-CONTEXT_SEGMENTS:]
        about_risk = self._risk_since < seg.start
        risk = self.engine.analyze(seg, context, risk_context=about_risk)
        # only what the words carry: hearing again is for words the live final lost, and the classifier alone,
        # asked twice about one utterance, would flag twice as many (40 calls: 36 of 42 such labels were wrong)
        worded = {k.label for k in risk.keywords}
        risk.labels = [lb for lb in risk.labels if lb in worded]
        labels, detail = self._saved.get(seg.segment_id, ([], {}))
        if not set(risk.labels) - set(labels):
            return None
        alerts = self.state.update(seg, risk, about_risk)
        self._risk_since = min(self._risk_since, seg.start)
        self.risks.append(risk)
        self.alerts.extend(alerts)
        heard = {"text": seg.text, "start": seg.start, "end": seg.end, "labels": risk.labels,
                 "keywords": [asdict(k) for k in risk.keywords], "score": risk.score}
        self._saved[seg.segment_id] = ([*labels, *(lb for lb in risk.labels if lb not in labels)], {
            "keywords": detail.get("keywords", []), "score": max(detail.get("score", 0.0), risk.score),
            "engine_version": risk.engine_version, "relistened": [*detail.get("relistened", []), heard]})
        return risk, alerts

    async def on_relisten(self, seg: FinalSegment) -> list[dict]:
        async with self._lock:
            level = self.state.level
            found = await asyncio.to_thread(self.analyze_relistened, seg)
        if found is None:
            return []
        risk, alerts = found
        await self._save(seg.segment_id)
        await self._level_and_alerts(level, alerts)
        return [{**self.risk_message(risk), "relistened": True, "text": seg.text}]

    async def _save(self, segment_id: int) -> None:
        """Store a segment's labels and risk as they stand (the live final's, and what hearing it again added)."""
        labels, detail = self._saved[segment_id]
        if self.store is not None:
            await asyncio.to_thread(self.store.set_segment_risk, self.call_id, segment_id, labels, detail)

    async def _level_and_alerts(self, before: str, alerts: list[AlertEvent]) -> None:
        if self.store is not None and self.state.level != before:
            await asyncio.to_thread(self.store.set_risk_level, self.call_id, self.state.level)
        if alerts and self.hub is not None:  # the hub logs each alert it raises
            for event in alerts:
                msg = await self.hub.raise_alert(event)
                if msg is not None:
                    self.alert_messages.append(msg)

    async def on_end(self) -> dict:
        if self.drafting is not None:
            try:
                await self.drafting.at_call_end(self.call_id, self.context, self.risks, self.state.level)
            except Exception:  # the transcript and risk are saved; the counselor can ask for a draft again
                logger.exception("call %s: the worksheet draft failed", self.call_id)
        return {"risk_level": self.state.level}
