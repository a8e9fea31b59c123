"""`python -m eval bench`: K calls streamed at once through a running service; latency and CPU against the
offline floor (one plain batch faster-whisper pass over the same audio with the same model)."""

from __future__ import annotations

import asyncio
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


def _process_cpu(http_url: str, token: str) -> float | None:
    try:
        text = httpx.get(f"{http_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
    except httpx.HTTPError:
        return None
    m = re.search(r"^process_cpu_seconds_total ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def offline_floor(calls, settings) -> tuple[float, dict]:
    """CPU seconds of one batch faster-whisper pass (VAD on, beam 5, one thread) over every channel."""
    from faster_whisper import WhisperModel

    from service.asr.models import resolve_model

    model = resolve_model(settings.asr.model, settings.effective_models_dir)
    whisper = WhisperModel(str(model.path), device="cpu", compute_type="int8", cpu_threads=1)
    t0 = resource.getrusage(resource.RUSAGE_SELF)
    for audio in calls:
        for ch in range(audio.shape[1]):
            x = audio[:, ch]
            segs, _ = whisper.transcribe(x if len(x) else np.zeros(1600, np.float32), language="zh", beam_size=5,
                                         vad_filter=True, condition_on_previous_text=False)
            list(segs)
    t1 = resource.getrusage(resource.RUSAGE_SELF)
    return (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime), {"model": model.name, "cpu_threads": 1,
                                                                        "beam_size": 5, "vad_filter": True}


async def run_bench(calls_data, concurrency: int, speed: float, url: str, token: str,
                    show_progress: bool = True) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The bench block and the audio that was streamed (for the offline floor over the same audio); the progress
    bar counts call streams finished."""
    audios = [read_audio(c.audio, 8000) for c in calls_data]
    picks = [(i, audios[i % len(audios)]) for i in range(concurrency)]
    http_url = url.replace("ws://", "http://").replace("wss://", "https://")
    cpu0 = _process_cpu(http_url, token)
    stamp = time.strftime("%H%M%S")
    bar = progress(total=len(picks), desc="bench streams", unit="call", enabled=show_progress)

    async def one(i: int, audio: np.ndarray):
        result = await stream_call(url, token, f"bench-{stamp}-{os.getpid()}-{i}", audio, 8000, encoding="mulaw",
                                   speed=speed)
        bar.update(1)
        return result

    try:
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
    audio_s = sum(len(a) / 8000 for _, a in picks)
    stream_cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    lat = latency_summary(latencies)
    return {
        "concurrency": concurrency, "speed": speed, "audio_s": round(audio_s, 2),
        "realtime_factor": round(stream_cpu / audio_s, 4) if stream_cpu is not None else None,
        "final_p50_s": lat.get("p50"), "final_p95_s": lat.get("p95"), "alert_p95_s": None,
        "stream_cpu_s": round(stream_cpu, 2) if stream_cpu is not None else None,
        "dropped_frames": errors, "incomplete_calls": incomplete, "finals": len(latencies),
    }, [a for _, a in picks]
