"""What a recognizer heard in one ``calls --audio`` run, kept (``--save-finals``) and read back (``--finals``).

A change behind the recognizer (the lexicon, the classifier, a level rule, the drafter) changes nothing the recognizer
hears: the live path's finals are the same word for word from run to run (a final's decoding window depends on the
utterance alone). So instead of streaming the 40 calls again (7 min on 2 cores), ``--finals`` feeds the finals of a
saved run to the risk analysis in the order that run's analysis read them, and scores risk, levels, worksheet and CER
as ``--audio`` would; no latency (nothing is timed). Replaying a run with the engine that made it gives that run's
risk figures exactly (``tests/test_eval_cli.py``).

One JSON object a line, one line a call::

    {"format": "scribe-finals/1", "call_id": "dev-0001", "asr": {...the run's recognizer...}, "asr_path": "live",
     "segments": [{"id": 0, "speaker": "caller", "start": 1.2, "end": 3.4, "text": "…"}, ...]}

The texts are callers' words: the file is as sensitive as the recordings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.data import DataError, Problem, file_sha256
from service.types import FinalSegment

FORMAT = "scribe-finals/1"
SPEAKERS = ("caller", "counselor", "mixed")


@dataclass(frozen=True)
class RecordedFinals:
    """A saved run: each call's finals in reading order, the run's recognizer and path, the file's sha256."""

    calls: dict[str, list[FinalSegment]]
    asr: dict | None
    settings: dict[str, Any]
    sha256: str


def reading_order(segments: Sequence, risks: Sequence) -> list:
    """The call's finals in the order its risk analysis read them (``analysis.risks``, first reading of each
    segment), then any it did not read, in call time."""
    by_id = {s.segment_id: s for s in segments}
    out, seen = [], set()
    for r in risks:
        if r.segment_id in by_id and r.segment_id not in seen:
            seen.add(r.segment_id)
            out.append(by_id[r.segment_id])
    out += sorted((s for s in segments if s.segment_id not in seen), key=lambda s: (s.start, s.segment_id))
    return out


def save_finals(path: Path | str, calls: Sequence, results: Sequence, asr: dict | None, asr_path: str) -> None:
    """Write each call's finals (``results[i]`` is ``calls[i]``'s :class:`eval.live.LiveResult`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for call, live in zip(calls, results, strict=True):
            segments = [{"id": s.segment_id, "speaker": s.speaker, "start": round(s.start, 3), "end": round(s.end, 3),
                         "text": s.text} for s in reading_order(live.segments, live.analysis.risks)]
            f.write(json.dumps({"format": FORMAT, "call_id": call.call_id, "asr": asr, "asr_path": asr_path,
                                "segments": segments}, ensure_ascii=False) + "\n")


def load_finals(path: Path | str, call_ids: Sequence[str]) -> RecordedFinals:
    """Read a saved run; every call in ``call_ids`` must be in it. Raises :class:`DataError` listing what is wrong."""
    path = Path(path)
    problems: list[Problem] = []
    calls: dict[str, list[FinalSegment]] = {}
    asr, asr_path = None, None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(n, "$", f"not JSON: {e.msg}"))
            continue
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            problems.append(Problem(n, "$.format", f"expected {FORMAT!r} (a file written by --save-finals)"))
            continue
        call_id = obj.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            problems.append(Problem(n, "$.call_id", "missing"))
            continue
        if call_id in calls:
            problems.append(Problem(n, "$.call_id", f"{call_id!r} appears twice"))
            continue
        segs = []
        for i, s in enumerate(obj.get("segments") if isinstance(obj.get("segments"), list) else [None]):
            try:
                seg = FinalSegment(call_id, int(s["id"]), s["speaker"], float(s["start"]), float(s["end"]), str(s["text"]))
            except (TypeError, KeyError, ValueError):
                problems.append(Problem(n, f"$.segments[{i}]", "needs id, speaker, start, end and text"))
                continue
            if seg.speaker not in SPEAKERS:
                problems.append(Problem(n, f"$.segments[{i}].speaker", f"{seg.speaker!r} is not one of {SPEAKERS}"))
                continue
            segs.append(seg)
        calls[call_id] = segs
        asr, asr_path = obj.get("asr", asr), obj.get("asr_path", asr_path)
    missing = [c for c in call_ids if c not in calls]
    if missing:
        problems.append(Problem(0, "$", f"no finals for {len(missing)} of the calls: {', '.join(missing[:5])}"
                                        + (" …" if len(missing) > 5 else "")))
    if problems:
        raise DataError(path, problems)
    return RecordedFinals(calls, asr, {"asr_path": asr_path}, file_sha256(path))
