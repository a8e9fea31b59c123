"""``calls --audio --asr batch``: each recording's channels through one plain batch faster-whisper pass (the offline
floor's procedure: Silero VAD, speech packed into 30 s windows, beam 5) instead of the live path, with the same
model, the same text clean-up and the same risk engine and worksheet drafter. It says how much the live path's
one-utterance-at-a-time decoding costs against the accuracy the model has with long windows."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.data import AnnotatedCall
from eval.live import TELEPHONE_RATE, _roles
from eval.report import progress

BATCH_OPTIONS = {"beam_size": 5, "vad_filter": True, "condition_on_previous_text": False, "temperature": 0.0}
"""Decoding options of the batch pass: the bench's offline floor, without temperature fallback (the live path
has none either)."""


@dataclass(frozen=True, slots=True)
class BatchSegment:
    """One segment of the batch pass, in the shape ``eval calls`` reads from the live path's store rows."""

    segment_id: int
    speaker: str
    start: float
    end: float
    text: str


def batch_transcribe(calls: Sequence[AnnotatedCall], settings, concurrency: int = 1,
                     show_progress: bool = True) -> tuple[list[list[BatchSegment]], dict[str, Any]]:
    """Transcribe every call, ``concurrency`` at once (one model, one CPU thread each); segments in start order,
    numbered from 0, empty texts (after the service's clean-up) dropped. Returns them and what produced them."""
    from faster_whisper import WhisperModel

    from service.asr.engine import pick_compute_type, pick_device
    from service.asr.models import resolve_model
    from service.asr.text import clean_text
    from service.audio.codecs import StreamResampler
    from service.audio.files import read_audio

    model = resolve_model(settings.asr.model, settings.effective_models_dir)
    device = pick_device(settings.asr.device)
    compute_type = pick_compute_type(settings.asr.compute_type, device)
    whisper = WhisperModel(str(model.path), device=device, compute_type=compute_type, cpu_threads=1,
                           num_workers=max(1, concurrency), local_files_only=True)

    def one(call: AnnotatedCall) -> list[BatchSegment]:
        rate = call.sample_rate or TELEPHONE_RATE
        audio = read_audio(call.audio, rate)  # at the call's rate, resampled below as the live path does
        found = []
        for ch, who in enumerate(_roles(call, audio.shape[1])):
            x = StreamResampler(rate).process(audio[:, ch], last=True)
            segments, _ = whisper.transcribe(x, language=settings.asr.language, **BATCH_OPTIONS)
            found += [(who, s.start, s.end, clean_text(s.text)) for s in segments]
        found = sorted((f for f in found if f[3]), key=lambda f: (f[1], f[2]))
        return [BatchSegment(i, who, start, end, text) for i, (who, start, end, text) in enumerate(found)]

    bar = progress(total=len(calls), desc="calls (batch ASR)", unit="call", enabled=show_progress)
    with concurrent.futures.ThreadPoolExecutor(max(1, concurrency)) as pool:
        futures = [pool.submit(one, c) for c in calls]
        for f in concurrent.futures.as_completed(futures):
            bar.update(1)
        results = [f.result() for f in futures]
    bar.close()
    description = {"path": "batch", "model": model.name, "model_path": str(model.path),
                   "model_sha256": model.sha256.get("model.bin"), "device": device, "compute_type": compute_type,
                   "language": settings.asr.language, "cpu_threads": 1, **BATCH_OPTIONS}
    return results, description
