"""Prometheus metrics, in a registry of their own per app (tests build many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.active_calls = Gauge("scribe_active_calls", "Live calls streaming now", registry=r)
        self.queue_depth = Gauge("scribe_asr_queue_depth", "Utterances waiting for the recognizer", registry=r)
        self.final_latency = Histogram(
            "scribe_utterance_latency_seconds",
            "From the end of an utterance's audio arriving to its final being sent",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.audio_seconds = Counter(
            "scribe_audio_seconds_total", "Seconds of audio received, per channel", ["role"], registry=r
        )
        self.compute_seconds = Counter(
            "scribe_model_compute_seconds_total",
            "Seconds the model spent decoding (wall time per batch, summed over workers; CTranslate2 runs its own "
            "threads, so the calling thread's CPU time would miss them)", registry=r
        )
        self.batch_size = Histogram(
            "scribe_asr_batch_size", "Utterances decoded per batch, per kind (final, partial, offline, window)",
            ["kind"], buckets=(1, 2, 3, 4, 6, 8, 16, 32), registry=r
        )
        self.segments = Counter("scribe_final_segments_total", "Final segments produced", registry=r)
        self.partials_dropped = Counter(
            "scribe_partials_skipped_total", "Partial hypotheses skipped because the recognizer was busy", registry=r
        )
        self.relisten = Counter(
            "scribe_relisten_seconds_total", "Seconds of live caller speech heard again for risk, per outcome (heard, "
            "skipped: too many windows of the call already waiting)", ["outcome"], registry=r
        )
        self.finals_unordered = Counter(
            "scribe_finals_out_of_order_total", "Finals sent before the other channel's earlier ones (the recognizer "
            "was more than EARLIER_FINAL_WAIT_S behind on them)", registry=r
        )
        self.bad_frames = Counter("scribe_bad_frames_total", "Binary frames refused", registry=r)
        self.task_failures = Counter(
            "scribe_pipeline_task_failures_total",
            "A call's pipeline tasks (a final, its risk, its storage) that failed; each is logged with its traceback",
            registry=r)
        self.calls_refused = Counter("scribe_calls_refused_total", "Calls refused at admission", ["reason"], registry=r)
        self.alerts = Counter("scribe_alerts_raised_total", "Supervisor alerts raised", ["level"], registry=r)
        self.alert_failures = Counter(
            "scribe_alert_raise_failures_total", "Tries to raise an alert that the store refused (each is retried)",
            registry=r)
        self.alert_consoles = Gauge("scribe_alert_consoles", "Supervisor consoles connected to /v1/alerts", registry=r)
        self.webhooks = Counter("scribe_webhook_attempts_total", "Alert webhook delivery attempts", ["outcome"],
                                registry=r)
        self.drafts = Counter("scribe_worksheet_drafts_total", "Worksheet drafts made", ["engine"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
