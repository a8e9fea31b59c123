"""The process-wide runtime: models, store, metrics and the registry of live calls."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from service.alerts import AlertHub
from service.analysis import RiskAnalysis
from service.asr.engine import Recognizer
from service.asr.models import resolve_model
from service.asr.vad import VadModel
from service.auth import Authenticator
from service.drafting import Drafting
from service.metrics import Metrics
from service.risk import RiskEngine
from service.session import CallSession, Pipeline
from service.settings import Settings
from service.store.db import Store

logger = logging.getLogger(__name__)

SWEEP_S = 30.0
"""How often a running service looks for calls left open by a replica that is gone (Store.mark_interrupted)."""


def _analysis_factory(pipeline: Pipeline, hub: AlertHub, drafting: Drafting):
    threshold = pipeline.settings.risk.alert_threshold

    def make(call_id: str, counselor_id: str | None) -> RiskAnalysis:
        return RiskAnalysis(pipeline.risk, call_id, counselor_id, threshold, store=pipeline.store, hub=hub,
                            drafting=drafting)

    return make


class AdmissionRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Runtime:
    settings: Settings
    pipeline: Pipeline
    auth: Authenticator
    alerts: AlertHub
    drafting: Drafting
    live: dict[str, CallSession] = field(default_factory=dict)
    ready: bool = False
    owns_models: bool = True
    _sweeper: asyncio.Task | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(cls, settings: Settings, share: "Runtime | None" = None) -> "Runtime":
        """Load everything; ``share`` reuses another runtime's loaded models (tests, tools)."""
        metrics = share.pipeline.metrics if share else Metrics()
        store = Store(settings.effective_database_url)
        # only the calls of processes that are gone: other replicas share the database and their calls are live
        n = store.mark_interrupted()
        if n:
            logger.warning("%d calls were left unfinished by a process that is gone and are marked interrupted", n)
        if share is not None:
            pipeline = Pipeline(settings, share.pipeline.recognizer, share.pipeline.vad, store, metrics,
                                share.pipeline.risk)
            owns = False
        else:
            model = resolve_model(settings.asr.model, settings.effective_models_dir)
            recognizer = Recognizer(settings.asr, model, metrics)
            pipeline = Pipeline(settings, recognizer, VadModel(), store, metrics,
                                RiskEngine.load(model_path=settings.risk.classifier_dir,
                                                heard_forms=settings.risk.heard_forms_table()))
            logger.info("model %s loaded on %s (%s)", model.name, recognizer.device, recognizer.compute_type)
            lexicon = pipeline.risk.lexicon
            if lexicon.heard_forms and lexicon.heard_forms_model != model.name:  # another model hears otherwise
                logger.warning("the risk lexicon's heard forms were learnt with model %s, and %s is in use: learn its "
                               "own table (service/risk/heard/README.md) and set SCRIBE_RISK__HEARD_FORMS",
                               lexicon.heard_forms_model, model.name)
            owns = True
        hub = AlertHub(store, settings.risk, metrics)
        drafting = Drafting(store, pipeline.risk, settings.worksheet, metrics)
        pipeline.analysis_factory = _analysis_factory(pipeline, hub, drafting)
        return cls(settings, pipeline, Authenticator(settings), hub, drafting, ready=True, owns_models=owns)

    async def start(self) -> None:
        """Start the background work that needs the event loop (alert notifications, webhooks, the sweep for the
        calls of replicas that are gone)."""
        await self.alerts.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="calls-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except (asyncio.CancelledError, Exception):
                pass
            self._sweeper = None
        await self.alerts.stop()
        await self.drafting.close()

    async def _sweep(self) -> None:
        """Every SWEEP_S: a replica killed while this one runs leaves its calls 'streaming'; they are marked
        interrupted within OWNER_STALE_S + SWEEP_S (its heartbeat goes stale; by the next sweep for a dead process
        of this host) instead of whenever some process next starts."""
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                n = await asyncio.to_thread(self.pipeline.store.mark_interrupted)
            except Exception:
                logger.exception("could not look for calls left open by a process that is gone")
                continue
            if n:
                logger.warning("%d calls of a process that is gone are marked interrupted", n)

    def admit(self, session: CallSession) -> None:
        if session.call_id in self.live:
            raise AdmissionRefused("duplicate_call", f"call {session.call_id} is already streaming")
        if len(self.live) >= self.settings.stream.max_concurrent_calls:
            self.pipeline.metrics.calls_refused.labels("capacity").inc()
            raise AdmissionRefused(
                "capacity_exceeded",
                f"the service is at its limit of {self.settings.stream.max_concurrent_calls} concurrent calls",
            )
        self.live[session.call_id] = session
        self.pipeline.metrics.active_calls.set(len(self.live))

    def release(self, session: CallSession) -> None:
        if self.live.get(session.call_id) is session:
            del self.live[session.call_id]
        self.pipeline.metrics.active_calls.set(len(self.live))

    def close(self) -> None:
        self.ready = False
        if self.owns_models:
            self.pipeline.recognizer.close()
        self.pipeline.store.close()
