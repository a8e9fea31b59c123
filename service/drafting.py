"""Worksheet drafts for calls: at the end of every call, and on request during one.

At a call's end the default rules engine drafts at once (milliseconds), so the counselor has a worksheet the
moment the call ends. With ``SCRIBE_WORKSHEET__ENGINE=llm`` the language model's draft follows in the
background and replaces the rules draft, except for the fields a counselor has already corrected. A draft on
request re-runs risk analysis over the stored transcript, exactly as the live path did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Sequence

from service.metrics import Metrics
from service.settings import WorksheetSettings
from service.store.db import Store, WorksheetLocked
from service.store.tables import SegmentRow, WorksheetRow
from service.types import FinalSegment, SegmentRisk, level_rank
from service.worksheet import RulesDrafter, WorksheetDraft

logger = logging.getLogger(__name__)
ENGINE_PRINCIPAL = "engine"


def segments_from_rows(rows: Sequence[SegmentRow]) -> list[FinalSegment]:
    return [FinalSegment(r.call_id, r.segment_id, r.speaker, r.start, r.end, r.text)
            for r in sorted(rows, key=lambda r: r.segment_id)]


class Drafting:
    def __init__(self, store: Store, risk_engine, settings: WorksheetSettings, metrics: Metrics) -> None:
        self.store = store
        self.risk_engine = risk_engine
        self.settings = settings
        self.metrics = metrics
        self.rules = RulesDrafter()
        self.model = None if settings.engine == "rules" else _make_model_drafter(settings)
        self._background: set[asyncio.Task] = set()

    def _draft(self, drafter, segments, risks, level: str) -> WorksheetDraft:
        draft = drafter.draft(segments, risks, level)
        self.metrics.drafts.labels(draft.engine).inc()
        return draft

    async def at_call_end(self, call_id: str, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk],
                          level: str) -> None:
        """Store the rules draft now; then, with an LLM engine configured, its draft in the background."""
        segments, risks = list(segments), list(risks)
        try:
            draft = await asyncio.to_thread(self._draft, self.rules, segments, risks, level)
            await asyncio.to_thread(self.store.save_draft, call_id, draft.to_json(), ENGINE_PRINCIPAL)
        except WorksheetLocked:
            return
        if self.model is not None:
            task = asyncio.create_task(self._model_draft(call_id, segments, risks, level))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _model_draft(self, call_id: str, segments, risks, level: str) -> None:
        try:
            draft = await asyncio.to_thread(self._draft, self.model, segments, risks, level)
            await asyncio.to_thread(self.store.save_draft, call_id, draft.to_json(), ENGINE_PRINCIPAL)
        except WorksheetLocked:
            logger.info("call %s: worksheet finalized before the model's draft was ready; draft not applied", call_id)
        except Exception:
            logger.exception("call %s: the model's worksheet draft failed; the rules draft stands", call_id)

    async def on_request(self, call_id: str, by: str) -> WorksheetRow:
        """Draft (or redraft) now from the stored transcript; corrected fields are kept. Raises WorksheetLocked."""
        from service.analysis import RiskAnalysis

        call = await asyncio.to_thread(self.store.get_call, call_id)
        rows = await asyncio.to_thread(self.store.segments, call_id)
        segments = segments_from_rows(rows)
        analysis = RiskAnalysis(self.risk_engine, call_id, call.counselor_id if call else None)

        def analyse_all() -> None:  # some 10 ms a segment: off the event loop, which serves the live calls
            for seg in segments:
                analysis.analyze(seg)

        await asyncio.to_thread(analyse_all)
        # what the call found live and nothing in the stored text shows any more (a caller heard again,
        # service.relisten) is kept: the stored labels of each segment, and the call's level, never lowered
        risks = [*analysis.risks, *(SegmentRisk(r.segment_id, list(r.risk_labels), engine_version=str(
            (r.risk or {}).get("engine_version", ""))) for r in rows if r.risk_labels)]
        level = max(analysis.state.level, call.risk_level if call else "无", key=level_rank)
        drafter = self.model or self.rules
        draft = await asyncio.to_thread(self._draft, drafter, segments, risks, level)
        return await asyncio.to_thread(self.store.save_draft, call_id, draft.to_json(), by)

    async def close(self) -> None:
        for t in list(self._background):
            t.cancel()


def _make_model_drafter(settings: WorksheetSettings):
    from service.worksheet import make_drafter  # the LLM engine and its backends

    return make_drafter(settings)
