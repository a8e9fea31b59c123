"""After ASR, per call: risk on every final segment, the call's level (never lowered), the `risk` message and
the alerts it raises. The live path, uploads and `python -m eval calls` all run exactly this code."""

from __future__ import annotations

import asyncio
import bisect
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

from service.asr.engine import Transcript
from service.risk import CallRiskState, RiskEngine
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
        self.state = CallRiskState(call_id, counselor_id, engine.version, alert_threshold)
        self.store = store
        self.hub = hub
        self.drafting = drafting
        self.alert_messages: list[dict] = []
        self.context: list[FinalSegment] = []
        self.risks: list[SegmentRisk] = []
        self.alerts: list[AlertEvent] = []

    def analyze(self, seg: FinalSegment) -> tuple[SegmentRisk, list[AlertEvent]]:
        """Synchronous core (also used by the evaluation's transcript mode)."""
        # context is what was said before this segment in call time: the two channels' finals arrive in the order
        # they are decoded, and faster than real time (an uploaded recording) a counselor's later question can
        # arrive before the caller's earlier sentence
        before = bisect.bisect_left(self.context, seg.start, key=lambda s: s.start)
        risk = self.engine.analyze(seg, self.context[max(0, before - CONTEXT_SEGMENTS):before])
        alerts = self.state.update(seg, risk)
        bisect.insort(self.context, seg, key=lambda s: s.start)
        self.risks.append(risk)
        self.alerts.extend(alerts)
        return risk, alerts

    def risk_message(self, risk: SegmentRisk) -> dict:
        return {"type": "risk", "call_id": self.call_id, "segment_id": risk.segment_id, "labels": risk.labels,
                "risk_level": self.state.level,
                "keywords": [{"text": k.text, "label": k.label, "start": k.start, "end": k.end} for k in risk.keywords],
                "score": round(risk.score, 4), "engine_version": risk.engine_version}

    async def on_final(self, seg: FinalSegment, transcript: Transcript | None) -> list[dict]:
        before = self.state.level
        risk, alerts = self.analyze(seg)
        if self.store is not None and risk.labels:
            await asyncio.to_thread(self.store.set_segment_risk, self.call_id, seg.segment_id, risk.labels,
                                    {"keywords": [asdict(k) for k in risk.keywords], "score": risk.score,
                                     "engine_version": risk.engine_version})
        if self.store is not None and self.state.level != before:
            await asyncio.to_thread(self.store.set_risk_level, self.call_id, self.state.level)
        if alerts and self.hub is not None:  # the hub logs each alert it raises
            for event in alerts:
                msg = await self.hub.raise_alert(event)
                if msg is not None:
                    self.alert_messages.append(msg)
        return [self.risk_message(risk)] if risk.labels else []

    async def on_end(self) -> dict:
        if self.drafting is not None:
            try:
                await self.drafting.at_call_end(self.call_id, self.context, self.risks, self.state.level)
            except Exception:  # the transcript and risk are saved; the counselor can ask for a draft again
                logger.exception("call %s: the worksheet draft failed", self.call_id)
        return {"risk_level": self.state.level}
