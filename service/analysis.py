"""After ASR, per call: risk on every final segment, the call's level (never lowered), the `risk` message and
the alerts it raises. The live path, uploads and `python -m eval calls` all run exactly this code."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

from service.asr.engine import Transcript
from service.risk import CallRiskState, RiskEngine, joined_reading
from service.risk.context import INTENT_LABELS, RISK_TOPIC_LABELS
from service.session import CallAnalysis
from service.store.db import Store
from service.types import AlertEvent, FinalSegment, SegmentRisk

if TYPE_CHECKING:
    from service.alerts import AlertHub
    from service.drafting import Drafting

logger = logging.getLogger(__name__)
CONTEXT_SEGMENTS = 6
#: waits between tries to raise an alert the store refused (a database restarting, a lock timeout), then the last
#: one again and again: an alert is never given up while the process runs
ALERT_RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: retries that outlive their call (the store still down at its end): kept referenced until they succeed
_RETRIES: set[asyncio.Task] = set()


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
        #: call time from which the call is about risk (the caller's words carrying a risk label, or the counselor
        #: naming suicide or self-harm; inf while it is not): segments after it are analysed with the recognizer's
        #: guesses at key words and the lexicon's everyday words for acts too (``RiskEngine.analyze(risk_context=…)``).
        #: A classifier-only label does not count: "我一直在吃抗抑郁的药" makes no later "刚才吃的" an ingestion. In call time, since an upload's finals arrive out of
        #: order.
        self._risk_since = math.inf
        #: call time from which the caller has voiced suicidal intent in words (active ideation, a plan,
        #: preparation, an attempt; not passive ideation alone, nor the counselor asking): from then on the lexicon's
        #: everyday words for acts count ("炭我买好了" is no barbecue then)
        self._intent_since = math.inf
        #: one analysis at a time per call, in the order the finals reach it (asyncio.Lock is first come, first
        #: served): the analysis runs in a worker thread, off the event loop, since the classifier's encoder takes
        #: some 15–40 ms a segment on one CPU thread, and the loop serves every other call meanwhile
        self._lock = asyncio.Lock()
        #: alerts the call's level raised that the hub has not yet taken (the store failed), oldest first
        self._unraised: list[AlertEvent] = []
        #: what an analysis stores and raises, one final at a time in analysis order
        self._publishing = asyncio.Lock()
        self._stored_level = "无"  # the level the store last took for this call
        self._alert_lock = asyncio.Lock()
        self._retry: asyncio.Task | None = None

    def analyze(self, seg: FinalSegment) -> tuple[SegmentRisk, list[AlertEvent]]:
        """Synchronous core (also used by the evaluation's transcript mode)."""
        # context is what was said before this segment in call time: the two channels' finals arrive in the order
        # they are decoded, and faster than real time (an uploaded recording) a counselor's later question can
        # arrive before the caller's earlier sentence
        before = bisect.bisect_left(self.context, seg.start, key=lambda s: s.start)
        about_risk = self._risk_since < seg.start
        context = self.context[max(0, before - CONTEXT_SEGMENTS):before]
        reading = joined_reading(seg, context)
        risk = self.engine.analyze(seg, context, risk_context=about_risk, acts_context=self._intent_since < seg.start,
                                   reading=reading)
        if seg.speaker == "counselor" and not self._counselor_named:
            self._counselor_named = any(m.label in RISK_TOPIC_LABELS for m in self.engine.lexicon.find(seg.text))
            if self._counselor_named:
                self._risk_since = min(self._risk_since, seg.start)
        alerts = self.state.update(seg, risk, about_risk, reading)
        bisect.insort(self.context, seg, key=lambda s: s.start)
        self.risks.append(risk)
        if any(k.label in RISK_TOPIC_LABELS for k in risk.keywords):
            # the caller's words (not the classifier alone: "我一直在吃抗抑郁的药") put the call about risk
            self._risk_since = min(self._risk_since, seg.start)
        if seg.speaker != "counselor" and any(k.label in INTENT_LABELS for k in risk.keywords):
            self._intent_since = min(self._intent_since, seg.start)
        if risk.labels:
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
            risk, alerts = await asyncio.to_thread(self.analyze, seg)
            await self._publishing.acquire()  # first come, first served: taken in analysis order
        await self._store_and_raise(seg.segment_id if risk.labels else None, alerts)
        return [self.risk_message(risk)] if risk.labels else []

    def risk_context(self) -> bool:
        return self._risk_since < math.inf

    def resumed(self, alerted: list[str]) -> None:
        # the levels are counted as alerted, so the same sentences heard again raise nothing new; a higher level
        # the first run never reached is alerted as usual
        self.state.alerted.update(alerted)

    def analyze_relistened(self, seg: FinalSegment) -> tuple[SegmentRisk, list[AlertEvent]] | None:
        """A caller's speech heard again (``service.relisten``): its risk where its words add a label the live final
        did not have (then it counts for the call level and alerts as any segment does), else None. Its context is
        the live finals before it, less the live final it covers."""
        before = bisect.bisect_left(self.context, seg.start, key=lambda s: s.start)
        context = [s for s in self.context[max(0, before - CONTEXT_SEGMENTS - 1):before]
                   if not (s.speaker == seg.speaker and s.segment_id == seg.segment_id)][-CONTEXT_SEGMENTS:]
        about_risk = self._risk_since < seg.start
        risk = self.engine.analyze(seg, context, risk_context=about_risk, acts_context=self._intent_since < seg.start)
        # only what the words carry: hearing again is for words the live final lost, and the classifier alone,
        # asked twice about one utterance, would flag twice as many (40 calls: 36 of 42 such labels were wrong)
        worded = {k.label for k in risk.keywords}
        risk.labels = [lb for lb in risk.labels if lb in worded]
        labels, detail = self._saved.get(seg.segment_id, ([], {}))
        if not set(risk.labels) - set(labels):
            return None
        alerts = self.state.update(seg, risk, about_risk)
        self._risk_since = min(self._risk_since, seg.start)
        if any(lb in INTENT_LABELS for lb in risk.labels):
            self._intent_since = min(self._intent_since, seg.start)
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
            found = await asyncio.to_thread(self.analyze_relistened, seg)
            if found is None:
                return []
            await self._publishing.acquire()
        risk, alerts = found
        await self._store_and_raise(seg.segment_id, alerts)
        # the segment's labels as they now stand (the live final's and what this hearing added), so a client that
        # keeps labels by segment_id loses none; the keywords are this hearing's, their times within ``text``
        return [{**self.risk_message(risk), "labels": list(self._saved[seg.segment_id][0]), "relistened": True,
                 "text": seg.text}]

    async def _store_and_raise(self, segment_id: int | None, alerts: list[AlertEvent]) -> None:
        """Store the segment's risk (``segment_id``; None: it has none), the level, and raise the alerts; entered with
        ``_publishing`` taken under ``_lock``, so a later final's level and alerts never overtake these, and its
        analysis does not wait for the store. Releases ``_publishing``."""
        try:
            if segment_id is not None:
                await self._save(segment_id)
            await self._level_and_alerts(alerts)
        finally:
            self._publishing.release()

    async def _save(self, segment_id: int) -> None:
        """Store a segment's labels and risk as they stand (the live final's, and what hearing it again added). A
        store that fails is logged; the segment's risk message and the call's alerts go out all the same."""
        labels, detail = self._saved[segment_id]
        if self.store is not None:
            try:
                await asyncio.to_thread(self.store.set_segment_risk, self.call_id, segment_id, labels, detail)
            except Exception as e:
                logger.error("call %s: storing segment %d's risk failed (%s)", self.call_id, segment_id,
                             type(e).__name__)

    async def _level_and_alerts(self, alerts: list[AlertEvent]) -> None:
        if self.store is not None and self.state.level != self._stored_level:
            level = self.state.level
            try:
                await asyncio.to_thread(self.store.set_risk_level, self.call_id, level)
                self._stored_level = level
            except Exception as e:  # the level is kept in memory and written with the next final
                logger.error("call %s: storing the risk level failed (%s)", self.call_id, type(e).__name__)
        if alerts and self.hub is not None:
            self._unraised.extend(alerts)
            if not await self._raise_unraised():
                self._retry_later()

    async def _raise_unraised(self) -> bool:
        """Hand the hub the alerts it has not taken, in order (the hub logs each it raises); False when the store
        failed again. The level that raised them is already counted as alerted, so an alert is retried, never
        dropped: a failed raise once lost it for good (no row, no console, no webhook)."""
        async with self._alert_lock:
            while self._unraised:
                event = self._unraised[0]
                try:
                    msg = await self.hub.raise_alert(event)
                except Exception as e:
                    self.hub.metrics.alert_failures.inc()
                    logger.error("call %s: raising its %s alert failed (%s); retrying", self.call_id,
                                 event.risk_level, type(e).__name__)
                    return False
                self._unraised.pop(0)
                if msg is not None:
                    self.alert_messages.append(msg)
        return True

    def _retry_later(self) -> None:
        if self._retry is not None and not self._retry.done():
            return

        async def retry() -> None:
            for i in itertools.count():
                await asyncio.sleep(ALERT_RETRY_S[min(i, len(ALERT_RETRY_S) - 1)])
                if await self._raise_unraised():
                    logger.warning("call %s: its alerts were raised after %d retries", self.call_id, i + 1)
                    return

        self._retry = asyncio.get_running_loop().create_task(retry(), name=f"alert-retry-{self.call_id}")
        _RETRIES.add(self._retry)
        self._retry.add_done_callback(_RETRIES.discard)

    async def on_end(self) -> dict:
        async with self._publishing:  # a level or an alert the store refused during the call: once more now
            await self._level_and_alerts([])
            if self._unraised and self.hub is not None and not await self._raise_unraised():
                self._retry_later()  # and on after the call, until the store takes them
        if self.drafting is not None:
            try:
                await self.drafting.at_call_end(self.call_id, self.context, self.risks, self.state.level)
            except Exception:  # the transcript and risk are saved; the counselor can ask for a draft again
                logger.exception("call %s: the worksheet draft failed", self.call_id)
        return {"risk_level": self.state.level}
