"""Turn a folder of speech clips (``transcripts.tsv`` + WAVs) into annotated-call JSONL, so that their CER is
measured by the same command as the calls': ``python -m eval calls SET.jsonl --audio --speed 0 --out …``.

    python -m eval.make_speech_set ../shared/data/speech --out var/eval/speech

writes two sets, each a JSONL with its audio beside it:

- ``speech-16k.jsonl`` (``16k/*.wav``): the clips as 16 kHz mono 16-bit WAV;
- ``speech-8k-mulaw.jsonl`` (``8k-mulaw/*.wav``): the same clips resampled to 8 kHz (soxr, high quality) and
  stored as G.711 μ-law WAV, encoded with the service's own ``service.audio.codecs.encode_mulaw``: what a
  telephone line's codec leaves of them (no 300–3400 Hz band filter, no line noise).

Each clip is one call with one segment (speaker ``caller``, 0 s to the clip's end, text = the reference, no risk
labels). The annotation format requires a complete worksheet, so each call carries a neutral one (``无``, ``未知``,
``其他``, empty sets, nulls): only the ``asr`` section of a report on these sets means anything.
``transcripts.tsv`` is tab-separated with a header naming at least ``file`` and ``text``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

SOURCE_RATE = 16000
PHONE_RATE = 8000
NEUTRAL_WORKSHEET = {
    "caller_gender": "未知", "caller_age_group": "未知", "call_type": "其他", "problem_categories": [],
    "emotions": [], "risk_level": "无", "suicidal_ideation": "无", "suicide_plan": False, "suicide_method": None,
    "prior_attempt": "无", "self_harm": False, "ideation_intensity": None, "hopelessness": None,
    "protective_factors": [], "location_disclosed": None, "police_linkage": False, "referral": [],
    "follow_up": False, "summary": "",
}
"""A valid worksheet that says nothing (the format requires one; speech clips are not calls)."""
SETS = {"16k": ("speech-16k.jsonl", SOURCE_RATE, "PCM_16"), "8k-mulaw": ("speech-8k-mulaw.jsonl", PHONE_RATE, "ULAW")}


def read_transcripts(folder: Path) -> list[tuple[str, str]]:
    """(WAV file name, reference text) per row of ``folder/transcripts.tsv``, in file order."""
    path = folder / "transcripts.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"file", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column {', '.join(sorted(missing))} in the header")
        rows = [(r["file"], r["text"]) for r in reader if r.get("file")]
    if not rows:
        raise ValueError(f"{path}: no clips listed")
    return rows


def mulaw_round_trip(x: np.ndarray) -> np.ndarray:
    """Float samples through the service's G.711 μ-law encoder and back (what a telephone codec leaves)."""
    from service.audio.codecs import MULAW_TO_FLOAT, encode_mulaw

    return MULAW_TO_FLOAT[np.frombuffer(encode_mulaw(x), dtype=np.uint8)]


def to_phone(x16k: np.ndarray) -> np.ndarray:
    """16 kHz mono → 8 kHz (soxr HQ) → μ-law and back."""
    import soxr

    return mulaw_round_trip(soxr.resample(x16k, SOURCE_RATE, PHONE_RATE, quality="HQ").astype(np.float32))


def annotated_call(call_id: str, audio: str, rate: int, seconds: float, text: str) -> dict:
    """One clip as an ``annotated-call/1`` object: one caller segment over the whole clip, a neutral worksheet."""
    return {"format": "annotated-call/1", "call_id": call_id, "audio": audio, "sample_rate": rate,
            "segments": [{"id": 0, "speaker": "caller", "start": 0.0, "end": round(seconds, 3), "text": text,
                          "risk": []}],
            "worksheet": dict(NEUTRAL_WORKSHEET)}


def make_sets(folder: Path, out: Path, limit: int | None = None) -> dict[str, Path]:
    """Write both sets under ``out``; returns set name → JSONL path."""
    import soundfile as sf

    from service.audio.files import read_audio

    clips = read_transcripts(folder)[:limit]
    lines: dict[str, list[str]] = {name: [] for name in SETS}
    for name in SETS:
        (out / name).mkdir(parents=True, exist_ok=True)
    for file, text in clips:
        x = read_audio(folder / file, SOURCE_RATE)
        if x.shape[1] != 1:
            raise ValueError(f"{folder / file}: {x.shape[1]} channels; speech clips must be mono")
        x = x[:, 0]
        stem = Path(file).stem
        for name, (_, rate, subtype) in SETS.items():
            y = x if rate == SOURCE_RATE else to_phone(x)
            rel = f"{name}/{stem}.wav"
            sf.write(out / rel, y, rate, subtype=subtype, format="WAV")
            lines[name].append(json.dumps(annotated_call(stem, rel, rate, len(y) / rate, text), ensure_ascii=False))
    paths = {}
    for name, (jsonl, _, _) in SETS.items():
        paths[name] = out / jsonl
        paths[name].write_text("\n".join(lines[name]) + "\n", encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.make_speech_set", description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="folder with transcripts.tsv and the WAV clips it names")
    p.add_argument("--out", type=Path, required=True, help="output folder (e.g. var/eval/speech)")
    p.add_argument("--limit", type=int, help="only the first N clips (CI runs on a tiny set)")
    args = p.parse_args(argv)
    try:
        paths = make_sets(args.folder, args.out, args.limit)
    except (OSError, ValueError) as e:
        print(f"python -m eval.make_speech_set: {e}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
