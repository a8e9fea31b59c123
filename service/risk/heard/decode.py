"""Hear the synthesized sentences (:mod:`service.risk.heard.synthesize`) through the service's recognizer, as a
live final is heard, and write what it heard: ``python -m service.risk.heard.decode WAV_DIR OUT.jsonl``.

The audio goes down a telephone line first (8 kHz, 300–3400 Hz, G.711 μ-law with the service's own codec, back
to 16 kHz with the live path's resampler, as ``eval.bench.floor_channels`` does). The recognizer is the service's, built from the settings (``SCRIBE_ASR__MODEL``
picks another model): confusions are the model's own, so a deployment with another model decodes again and learns
its own table (``python -m service.risk.heard learn``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soxr

from service.audio.codecs import StreamResampler, decode_frame, encode_frame
from service.risk.heard.sentences import sentences

PHONE_RATE = 8000
BAND = (300.0, 3400.0)
BATCH = 8


def phone_line(audio: np.ndarray, rate: int) -> np.ndarray:
    """``audio`` as a telephone line delivers it to the service, at 16 kHz: 8 kHz, the 300–3400 Hz band, peak
    0.5, the G.711 μ-law frame round trip, then the live path's own resampler."""
    x = soxr.resample(np.asarray(audio, dtype=np.float32), rate, PHONE_RATE)
    spec = np.fft.rfft(x)
    freq = np.fft.rfftfreq(len(x), 1 / PHONE_RATE)
    spec[(freq < BAND[0]) | (freq > BAND[1])] = 0
    x = np.fft.irfft(spec, len(x))
    x = (x / (np.abs(x).max() + 1e-9) * 0.5).astype(np.float32)
    x = decode_frame(encode_frame(x, "mulaw"), "mulaw", 1)[:, 0]
    return StreamResampler(PHONE_RATE).process(x, last=True)


def main(wav_dir: Path, out: Path, settings=None) -> None:
    """Decode every ``<sentence id>.<voice>.wav`` in ``wav_dir`` with the recognizer of ``settings`` (default: the
    environment's) and write the pairs to ``out``."""
    import soundfile

    from service.asr.engine import Recognizer
    from service.asr.models import resolve_model
    from service.settings import Settings

    settings = settings or Settings()
    rec = Recognizer(settings.asr, resolve_model(settings.asr.model, settings.effective_models_dir))
    texts = {sid: (word, text) for sid, word, text in sentences()}
    paths = sorted(wav_dir.glob("*.wav"))
    try:
        with out.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"asr": rec.description, "line": {"rate": PHONE_RATE, "band_hz": BAND,
                                                                "codec": "mulaw"}}, ensure_ascii=False) + "\n")
            for i in range(0, len(paths), BATCH):
                chunk = paths[i:i + BATCH]
                futures = []
                for path in chunk:
                    audio, rate = soundfile.read(path, dtype="float32")
                    futures.append(rec.submit(phone_line(audio, rate), "final"))
                for path, fut in zip(chunk, futures):
                    sid, voice = path.stem.rsplit(".", 1)
                    word, text = texts[sid]
                    f.write(json.dumps({"id": sid, "voice": voice, "word": word, "ref": text,
                                        "hyp": fut.result().text}, ensure_ascii=False) + "\n")
    finally:
        rec.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
