"""`python -m eval bench`: K calls streamed at once through a running service; latency and CPU against the
offline floor (one plain batch faster-whisper pass over the same audio with the same model)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import time
from typing import Any

import httpx
import numpy as np

from eval.report import progress
from eval.scoring import latency_summary
from service.audio.files import read_audio
from service.client import stream_call


def _http_url(ws_url: str) -> str:
    """The service's HTTP address for its WebSocket address."""
    return ws_url.replace("ws://", "http://").replace("wss://", "https://")


def _process_cpu(http_url: str, token: str) -> float | None:
    try:
        text = httpx.get(f"{http_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
    except httpx.HTTPError:
        return None
    m = re.search(r"^process_cpu_seconds_total ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def floor_channels(calls, rate: int = 8000, encoding: str = "mulaw") -> list[np.ndarray]:
    """Every channel of ``calls`` ((n, channels) arrays at ``rate``) as the live path's model hears it: the
    ``encoding`` round trip, then the live path's resampling to 16 kHz."""
    from service.audio.codecs import StreamResampler, decode_frame, encode_frame

    out = []
    for audio in calls:
        for ch in range(audio.shape[1]):
            x = decode_frame(encode_frame(audio[:, ch], encoding), encoding, 1)[:, 0]
            out.append(StreamResampler(rate).process(x, last=True))
    return out


def offline_floor(calls, settings, rate: int = 8000, encoding: str = "mulaw") -> tuple[float, dict]:
    """CPU seconds of one batch faster-whisper pass (VAD on, beam 5, one thread) over every channel of ``calls``
    ((n, channels) arrays at ``rate``) as :func:`floor_channels` gives them (faster-whisper reads a bare array
    as 16 kHz audio: 8 kHz given as is would be half as long and an octave high, and understate the floor)."""
    from faster_whisper import WhisperModel

    from service.asr.models import resolve_model

    model = resolve_model(settings.asr.model, settings.effective_models_dir)
    whisper = WhisperModel(str(model.path), device="cpu", compute_type="int8", cpu_threads=1)
    channels = floor_channels(calls, rate, encoding)
    t0 = resource.getrusage(resource.RUSAGE_SELF)
    for x in channels:
        segs, _ = whisper.transcribe(x if len(x) else np.zeros(1600, np.float32), language="zh", beam_size=5,
                                     vad_filter=True, condition_on_previous_text=False)
        list(segs)
    t1 = resource.getrusage(resource.RUSAGE_SELF)
    return (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime), {
        "model": model.name, "cpu_threads": 1, "beam_size": 5, "vad_filter": True,
        "input": f"{encoding} {rate} Hz round trip, resampled to 16 kHz as the live path does"}


class AlertWatch:
    """A supervisor console on ``WS /v1/alerts`` for the bench's own calls: when each of their alerts arrived
    (monotonic), keyed by call id and level. Alerts of other calls (the replay of open ones included) are ignored."""

    def __init__(self, url: str, token: str, prefix: str) -> None:
        self.url, self.token, self.prefix = url, token, prefix
        self.arrived: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "AlertWatch":
        import websockets

        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.get(f"{_http_url(self.url)}/v1/alerts", params={"state": "open"},
                                 headers={"Authorization": f"Bearer {self.token}"})
        if r.status_code in (401, 403):
            raise PermissionError(f"the alerts token was refused ({r.status_code}): it needs the supervisor role")
        ws = await websockets.connect(f"{self.url}/v1/alerts?token={self.token}")

        async def read() -> None:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "alert" and str(msg.get("call_id", "")).startswith(self.prefix):
                        self.arrived.setdefault((msg["call_id"], msg["risk_level"]), time.monotonic())
            except websockets.ConnectionClosed:
                pass

        self._ws = ws
        self._task = asyncio.create_task(read())
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.sleep(ALERT_GRACE_S)  # an alert raised on a stream's last final is still on its way
        await self._ws.close()
        assert self._task is not None
        await self._task


ALERT_GRACE_S = 2.0
"""How long the bench's console listens after the last stream ended."""


def alert_latencies(results, calls_data, watch: AlertWatch, speed: float) -> tuple[list[float], dict[str, int]]:
    """Per alert of a bench call, :func:`eval.alerts.alert_rows` as in ``calls --audio``: arrival at the console
    − the end of the reference segment that justifies its level, both on the stream's wall clock (none at speed
    0); the latencies and :func:`eval.alerts.alert_summary`'s counts."""
    from eval.alerts import RaisedAlert, alert_rows, alert_summary

    rows = []
    for i, r in enumerate(results):
        raised = [RaisedAlert(level, at - r.t0) for (call_id, level), at in watch.arrived.items()
                  if call_id == r.call_id]
        rows.extend(alert_rows(calls_data[i % len(calls_data)], raised, speed))
    return [row["latency_s"] for row in rows if row["latency_s"] is not None], alert_summary(rows)


async def run_bench(calls_data, concurrency: int, speed: float, url: str, token: str,
                    show_progress: bool = True, alerts_token: str | None = None,
                    ) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The bench block and the audio that was streamed (for the offline floor over the same audio); the progress
    bar counts call streams finished. With ``alerts_token`` (a supervisor's) a console on ``WS /v1/alerts``
    times the alerts of the streamed calls against each call's annotation (``alert_p95_s``)."""
    audios = [read_audio(c.audio, 8000) for c in calls_data]
    picks = [(i, audios[i % len(audios)]) for i in range(concurrency)]
    http_url = _http_url(url)
    cpu0 = _process_cpu(http_url, token)
    prefix = f"bench-{time.strftime('%H%M%S')}-{os.getpid()}-"
    bar = progress(total=len(picks), desc="bench streams", unit="call", enabled=show_progress)

    async def one(i: int, audio: np.ndarray):
        result = await stream_call(url, token, f"{prefix}{i}", audio, 8000, encoding="mulaw", speed=speed)
        bar.update(1)
        return result

    watch = AlertWatch(url, alerts_token, prefix) if alerts_token else None
    try:
        if watch is None:
            results = await asyncio.gather(*[one(i, a) for i, a in picks])
        else:
            async with watch:
                results = await asyncio.gather(*[one(i, a) for i, a in picks])
    finally:
        bar.close()
    cpu1 = _process_cpu(http_url, token)
    latencies, errors, incomplete = [], 0, 0
    for r in results:
        errors += sum(1 for m in r.messages if m["type"] == "error")
        incomplete += int(not r.messages or r.messages[-1]["type"] != "ended")
        for m, t in r.finals():
            latencies.append(max(0.0, t - r.sent_at(m["end"])))
    gaps, partials = update_gaps(results)
    audio_s = sum(len(a) / 8000 for _, a in picks)
    stream_cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    lat = latency_summary(latencies)
    alert_block: dict[str, Any] = {"alert_p95_s": None}
    if watch is not None:
        values, counts = alert_latencies(results, calls_data, watch, speed)
        alert_block = {"alert_p95_s": latency_summary(values).get("p95"), **counts, "alert_values_s": values}
    return {
        "concurrency": concurrency, "speed": speed, "audio_s": round(audio_s, 2),
        "realtime_factor": round(stream_cpu / audio_s, 4) if stream_cpu is not None else None,
        "final_p50_s": lat.get("p50"), "final_p95_s": lat.get("p95"), **alert_block,
        "stream_cpu_s": round(stream_cpu, 2) if stream_cpu is not None else None,
        "dropped_frames": errors, "incomplete_calls": incomplete, "finals": len(latencies),
        "final_values_s": [round(v, 3) for v in latencies], "partials": partials,
        "update_gap_p50_s": latency_summary(gaps).get("p50"), "update_gap_p95_s": latency_summary(gaps).get("p95"),
    }, [a for _, a in picks]


UPDATE_GAP_MIN_S = 2.0
"""Utterances at least this long count for ``update_gap_*``: a shorter one is fine with its final alone."""


def update_gaps(results) -> tuple[list[float], int]:
    """How long the screen shows nothing new while someone speaks, and the number of partials: for every final
    of an utterance of at least UPDATE_GAP_MIN_S, the seconds between the moment its first audio was sent, each
    partial of its segment and the final's arrival (partials are what keeps these gaps near
    ``stream.partial_interval_s``; without them the one gap is the utterance's length plus the final's latency)."""
    gaps: list[float] = []
    partials = 0
    for r in results:
        seen: dict[int, list[float]] = {}
        for m, t in zip(r.messages, r.received_at):
            if m["type"] == "partial":
                partials += 1
                seen.setdefault(m["segment_id"], []).append(t)
            elif m["type"] == "final" and m["end"] - m["start"] >= UPDATE_GAP_MIN_S:
                times = [r.sent_at(m["start"]), *seen.get(m["segment_id"], []), t]
                gaps.extend(max(0.0, b - a) for a, b in zip(times, times[1:]))
    return gaps, partials
