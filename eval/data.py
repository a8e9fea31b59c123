"""Load and validate eval input: annotated calls (``annotation-format.md``) and labelled utterances (JSONL).

Every line is checked against a JSON Schema (``eval/schemas/``) and then against the rules a schema cannot say:
segments in time order, ``end >= start``, no overlap within one speaker, unique segment ids per call, unique call or
utterance ids per file, distinct ``channels``, and the audio file existing (resolved relative to the JSONL file).
Nothing is skipped silently: any problem raises :class:`DataError`, which lists every bad line of the file as
``FILE:LINE: $.json.path: what is wrong``. Only blank lines are skipped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).parent / "schemas"
CALL_SCHEMA = "annotation-format.schema.json"
UTTERANCE_SCHEMA = "utterance.schema.json"
MAX_PROBLEMS = 50
"""Stop collecting after this many problems in one file (the message says more were left out)."""


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the JSON Schemas shipped in ``eval/schemas/``, parsed."""
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


_call_schema = load_schema(CALL_SCHEMA)
RISK_LABELS: tuple[str, ...] = tuple(_call_schema["$defs"]["risk_label"]["enum"])
"""The ten segment risk labels, in the annotation spec's order."""
SUICIDE_LABELS: tuple[str, ...] = (
    "passive_ideation", "active_ideation", "suicide_plan", "suicide_preparation", "suicide_attempt",
)
"""The labels pooled into ``any_suicide``."""
RISK_LEVELS: tuple[str, ...] = tuple(_call_schema["$defs"]["worksheet"]["properties"]["risk_level"]["enum"])
"""Call risk levels, lowest first: 无 低 中 高 紧急."""
WORKSHEET_FIELDS: tuple[str, ...] = tuple(_call_schema["$defs"]["worksheet"]["required"])
"""Every worksheet field, in the spec's order (``summary`` included)."""
assert set(SUICIDE_LABELS) <= set(RISK_LABELS)
del _call_schema


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one line of an input file."""

    line: int
    path: str
    message: str


class DataError(ValueError):
    """Invalid or unreadable eval input. ``str()`` lists ``FILE:LINE: $.path: message`` for every problem found."""

    def __init__(self, file: Path | str, problems: list[Problem], truncated: bool = False):
        self.file = Path(file)
        self.problems = problems
        self.truncated = truncated
        lines = [f"{self.file}:{p.line}: {p.path}: {p.message}" if p.line else f"{self.file}: {p.message}"
                 for p in problems]
        if truncated:
            lines.append(f"{self.file}: (stopped after {len(problems)} problems)")
        super().__init__("invalid input\n" + "\n".join(lines))


@dataclass(frozen=True, slots=True)
class Segment:
    """One reference segment: who spoke when, what was said and its risk labels."""

    id: int
    speaker: str
    start: float
    end: float
    text: str
    risk: tuple[str, ...]

    @property
    def labels(self) -> frozenset[str]:
        """The risk labels as a set (what the scoring functions read)."""
        return frozenset(self.risk)


@dataclass(frozen=True, slots=True)
class AnnotatedCall:
    """One annotated call. ``audio`` is absolute (resolved against the JSONL file's folder) or None."""

    call_id: str
    segments: tuple[Segment, ...]
    worksheet: dict[str, Any]
    audio: Path | None = None
    sample_rate: int | None = None
    channels: dict[str, int] | None = None
    line: int = 0

    @property
    def risk_level(self) -> str:
        """The reference call risk level (``worksheet.risk_level``)."""
        return self.worksheet["risk_level"]

    @property
    def duration(self) -> float:
        """End of the last segment, seconds (0 for a call without segments)."""
        return max((s.end for s in self.segments), default=0.0)


@dataclass(frozen=True, slots=True)
class Utterance:
    """One labelled utterance, scored as one caller segment on its own."""

    id: str
    text: str
    risk: tuple[str, ...]
    source: str | None = None
    line: int = 0

    @property
    def labels(self) -> frozenset[str]:
        """The risk labels as a set."""
        return frozenset(self.risk)


@dataclass
class _Collector:
    file: Path
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    def add(self, line: int, path: str, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(Problem(line, path, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DataError(self.file, self.problems, self.truncated)


def json_path(parts) -> str:
    """``['segments', 3, 'risk']`` → ``$.segments[3].risk``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _read_objects(path: Path, bad: _Collector) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line; undecodable or unparsable lines go to ``bad``."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, [Problem(0, "$", f"cannot read file: {e.strerror or e}")]) from e
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            bad.add(number, "$", f"not UTF-8 ({e.reason} at byte {e.start})")
            continue
        if not text.strip():
            continue
        try:
            yield number, json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            bad.add(number, "$", f"not valid JSON: {e.msg} at column {e.colno}")
        except ValueError as e:  # NaN, Infinity: Python's reader takes them, JSON has no such numbers
            bad.add(number, "$", f"not valid JSON: {e}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
               type(None): "null"}
MAX_MESSAGE = 200


def _message(error) -> str:
    """jsonschema's message, without echoing a whole value (which could be call text) for type errors."""
    if error.validator == "type":
        return f"expected {error.validator_value}, got {_JSON_TYPES.get(type(error.instance), 'something else')}"
    message = error.message
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"


def _schema_problems(validator: Draft202012Validator, obj: Any, number: int, bad: _Collector) -> bool:
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    for error in errors:
        bad.add(number, json_path(error.absolute_path), _message(error))
    return bool(errors)


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _check_segments(segments: list[dict], number: int, bad: _Collector) -> None:
    seen_ids: dict[int, int] = {}
    last_end: dict[str, tuple[float, int]] = {}
    prev_start: float | None = None
    for i, seg in enumerate(segments):
        where = f"$.segments[{i}]"
        if seg["id"] in seen_ids:
            bad.add(number, f"{where}.id", f"segment id {seg['id']} repeats $.segments[{seen_ids[seg['id']]}]")
        seen_ids.setdefault(seg["id"], i)
        if seg["end"] < seg["start"]:
            bad.add(number, f"{where}.end", f"end {seg['end']} is before start {seg['start']}")
        if prev_start is not None and seg["start"] < prev_start:
            bad.add(number, f"{where}.start",
                    f"segments out of time order: start {seg['start']} is before the previous segment's {prev_start}")
        prev_start = seg["start"]
        speaker = seg["speaker"]
        if speaker in last_end and seg["start"] < last_end[speaker][0]:
            end, j = last_end[speaker]
            bad.add(number, f"{where}.start",
                    f"overlaps $.segments[{j}] of the same speaker ({speaker}): starts at {seg['start']}, "
                    f"that one ends at {end}")
        if speaker not in last_end or seg["end"] >= last_end[speaker][0]:
            last_end[speaker] = (seg["end"], i)


def load_calls(path: Path | str, *, check_audio_exists: bool = True, need_audio: bool = False) -> list[AnnotatedCall]:
    """Read and validate an annotated-calls JSONL file (``annotated-call/1``).

    ``check_audio_exists``: a referenced ``audio`` file must exist (relative paths resolve against the JSONL's folder).
    ``need_audio``: every call must reference audio (what ``--audio`` needs).
    Raises :class:`DataError` listing every problem; returns calls in file order.
    """
    path = Path(path)
    bad = _Collector(path)
    validator = _validator(CALL_SCHEMA)
    calls: list[AnnotatedCall] = []
    first_line: dict[str, int] = {}
    for number, obj in _read_objects(path, bad):
        if _schema_problems(validator, obj, number, bad):
            continue
        _check_segments(obj["segments"], number, bad)
        call_id = obj["call_id"]
        if call_id in first_line:
            bad.add(number, "$.call_id", f"call_id {call_id!r} repeats line {first_line[call_id]}")
        first_line.setdefault(call_id, number)
        channels = obj.get("channels")
        if channels and len(channels) == 2 and channels["caller"] == channels["counselor"]:
            bad.add(number, "$.channels", f"caller and counselor share channel {channels['caller']}")
        audio = None
        if "audio" in obj:
            audio = (path.parent / obj["audio"]).resolve()
            if check_audio_exists and not audio.is_file():
                bad.add(number, "$.audio", f"audio file not found: {audio}")
        elif need_audio:
            bad.add(number, "$", "no 'audio' for this call, and audio is needed")
        segments = tuple(
            Segment(s["id"], s["speaker"], float(s["start"]), float(s["end"]), s["text"], tuple(s["risk"]))
            for s in obj["segments"]
        )
        calls.append(AnnotatedCall(call_id, segments, obj["worksheet"], audio, obj.get("sample_rate"),
                                   channels, number))
    if not calls and not bad.problems:
        bad.add(0, "$", "no calls in file")
    bad.raise_if_any()
    return calls


def load_utterances(path: Path | str) -> list[Utterance]:
    """Read and validate a labelled-utterances JSONL file: ``{"id": "…", "text": "…", "risk": [labels]}`` per line
    (optional ``source``). Ids must be unique. Raises :class:`DataError` listing every problem."""
    path = Path(path)
    bad = _Collector(path)
    validator = _validator(UTTERANCE_SCHEMA)
    out: list[Utterance] = []
    first_line: dict[str, int] = {}
    for number, obj in _read_objects(path, bad):
        if _schema_problems(validator, obj, number, bad):
            continue
        if obj["id"] in first_line:
            bad.add(number, "$.id", f"id {obj['id']!r} repeats line {first_line[obj['id']]}")
        first_line.setdefault(obj["id"], number)
        out.append(Utterance(obj["id"], obj["text"], tuple(obj["risk"]), obj.get("source"), number))
    if not out and not bad.problems:
        bad.add(0, "$", "no utterances in file")
    bad.raise_if_any()
    return out


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of a file's bytes (recorded in every report's ``meta``)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
