"""``calls --audio``: each recording through the live session code (the path behind ``WS /v1/calls/stream``), up to
``concurrency`` calls at once, each at ``speed`` × real time, noting when every final and every alert went out."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eval.alerts import RaisedAlert
from eval.data import AnnotatedCall
from eval.report import progress

TELEPHONE_RATE = 8000
"""Rate a recording is decoded at when its annotation gives no ``sample_rate``."""
CHUNK_S = 0.1
"""Audio per frame fed to the session (a telephony gateway's frame is 20–100 ms)."""


@dataclass
class LiveResult:
    """What one streamed call produced: its final segments (store rows), the session's risk analysis, final
    latencies and the alerts with their arrival, seconds after the stream started."""

    segments: list
    analysis: Any
    final_latencies: list[float]
    alerts: list[RaisedAlert] = field(default_factory=list)


class AlertClock:
    """Notes the moment the alert hub has persisted and published each alert (when a console connected to this
    process has it), keyed by call and level: the service raises at most one alert per call and level."""

    def __init__(self, hub) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        inner = hub.raise_alert

        async def raise_alert(event):
            msg = await inner(event)
            if msg is not None:
                self.arrived[(event.call_id, event.risk_level)] = time.monotonic()
            return msg

        hub.raise_alert = raise_alert


def _roles(call: AnnotatedCall, channels: int) -> list[str]:
    if channels != 2:
        return ["mixed"]
    if not call.channels:
        return ["caller", "counselor"]
    roles = ["caller", "counselor"]
    for who, idx in call.channels.items():
        roles[idx] = who
    return roles


async def stream_calls(calls: Sequence[AnnotatedCall], speed: float, concurrency: int = 1,
                       show_progress: bool = True, mode: str = "live") -> tuple[list[LiveResult], dict]:
    """Stream every call through one runtime (models loaded once); returns results in call order and the
    recognizer's description (model, device, compute type, beam…). ``mode="windows"`` runs each recording as an
    upload decoded in windows (``asr.recording_mode``), as POST /v1/calls does: no speed, no latencies."""
    from service.audio.files import read_audio
    from service.recorded import complete_recording, open_recording
    from service.runtime import Runtime
    from service.settings import Settings

    settings = Settings()
    if not os.environ.get("SCRIBE_DATABASE_URL"):
        settings = settings.model_copy(update={"database_url": f"sqlite:///{tempfile.mkdtemp()}/eval.db"})
    if mode == "windows":
        settings = settings.model_copy(update={"asr": settings.asr.model_copy(update={"recording_mode": "windows"})})
    runtime = Runtime.build(settings)
    clock = AlertClock(runtime.alerts)
    gate = asyncio.Semaphore(max(1, concurrency))
    bar = progress(total=len(calls), desc="calls (audio)", unit="call", enabled=show_progress)

    async def one(call: AnnotatedCall) -> LiveResult:
        async with gate:
            rate = call.sample_rate or TELEPHONE_RATE
            audio = await asyncio.to_thread(read_audio, call.audio, rate)
            session = await open_recording(runtime.pipeline, rate, audio.shape[1],
                                           f"eval-{call.call_id}-{time.time_ns()}", _roles(call, audio.shape[1]),
                                           source="upload" if mode == "windows" else "live")
            t0 = time.monotonic()
            await complete_recording(session, audio, rate, speed=speed, chunk_s=CHUNK_S)
            segments = await asyncio.to_thread(runtime.pipeline.store.segments, session.call_id)
            analysis = session.analysis
            alerts = []
            for event in analysis.alerts:
                at = clock.arrived.get((session.call_id, event.risk_level))
                trigger = max((seg.end for seg in event.evidence), default=None)
                alerts.append(RaisedAlert(event.risk_level, None if at is None else at - t0, trigger))
            bar.update(1)
            return LiveResult(segments, analysis, list(session.final_latencies), alerts)

    try:
        results = await asyncio.gather(*(one(c) for c in calls))
    finally:
        bar.close()
        await runtime.stop()
        runtime.close()
    return list(results), runtime.pipeline.recognizer.description
