"""The LLM worksheet engine: a versioned prompt, a model backend, and field-by-field fallback to the rules engine.

The model is asked for one JSON object with every worksheet field as ``{"value": …, "evidence": [segment ids]}``.
Each field is checked on its own (schema, evidence ids that exist in the transcript, ``risk_level`` not below the
risk engine's call level, no ``骚扰来电`` for a caller at risk); a field that fails keeps the rules engine's draft and
the reason is recorded in ``WorksheetDraft.fallbacks``. Backend trouble never raises: the whole draft is then the
rules draft, with the reason on every field. A call longer than the prompt budget is cut around what matters
(:meth:`Prompt.render`). Logs carry sizes, timings and status codes only, never the prompt or the transcript.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Protocol

import httpx

from service.types import FinalSegment, SegmentRisk, level_rank
from service.worksheet.model import FieldDraft, WorksheetDraft
from service.worksheet.rules import RulesDrafter
from service.worksheet.schema import WORKSHEET_FIELDS, validate_correction
from service.worksheet.topics import caller_at_risk
from service.worksheet.view import CallView

logger = logging.getLogger("service.worksheet.llm")

ENGINE = "llm"
PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
PROMPT_PLACEHOLDERS = frozenset({"call_level", "risk_hints", "transcript"})
PROMPT_HASH_CHARS = 12
SPEAKER_NAMES = {"caller": "来电者", "counselor": "咨询师", "mixed": "混合"}
LLM_CONFIDENCE = 0.7
"""Confidence of a field taken from the model: fixed and uncalibrated, like the rules engine's per-path values."""
DEFAULT_PROMPT_MAX_CHARS = 24000
"""Most characters of the two messages together (``SCRIBE_WORKSHEET__LLM_PROMPT_MAX_CHARS``): a Chinese character is
about one token at worst, so 24,000 leaves a 32k-token context room for the answer. A 90-minute call (2,000
segments) renders to some 75,000 without it, which the backend refuses and the whole draft falls back to the rules."""
KEEP_ENDS = 4
"""Segments kept at each end of a transcript over the budget: the greeting and why the caller called; the close."""
RISK_NEIGHBOURS = 2
"""Segments kept on each side of one with risk labels: the question it answers, what follows it."""
SEVERITY = ("suicide_attempt", "suicide_preparation", "suicide_plan", "active_ideation", "passive_ideation",
            "self_harm_behavior", "self_harm_ideation", "aggression_to_others", "victimization", "suicide_exploration")
"""Risk labels, gravest first: the order in which labelled segments are kept when they alone exceed the budget."""
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class BackendError(RuntimeError):
    """The backend gave no answer (connection, timeout, HTTP status, malformed response); the draft falls back."""


class AnswerError(ValueError):
    """The backend answered, but no worksheet JSON object could be read from the answer."""


class LLMBackend(Protocol):
    """Something that completes one system + user message pair with text."""

    name: str
    model_id: str

    def complete(self, system: str, user: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Prompt:
    """A loaded prompt: the system text, the user template and the version drafts record (``name@sha256-prefix``)."""

    name: str
    system: str
    user: Template
    version: str

    def render(self, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk], call_level: str,
               max_chars: int | None = None, keep: Iterable[int] = ()) -> tuple[str, str]:
        """The system and user messages for one call: numbered transcript lines and the risk engine's hints.

        With ``max_chars``, a call whose two messages would be longer keeps what the worksheet rests on, in this
        order while it fits: the opening and closing turns, the segments with risk labels (gravest first), the
        segments in ``keep`` (the rules draft's evidence), the neighbours of the labelled segments, then more
        context around what is kept. Each stretch left out is one line saying how many segments and which minutes
        (and how many of them had risk labels); hints name kept segments only.
        """
        ordered = sorted(segments, key=lambda s: (s.start, s.segment_id))
        lines = [f"[{s.segment_id}] {SPEAKER_NAMES.get(s.speaker, s.speaker)}: {' '.join(s.text.split())}"
                 for s in ordered]
        labels: dict[int, list[str]] = {}
        for r in risks:
            for label in r.labels:
                if label not in labels.setdefault(r.segment_id, []):
                    labels[r.segment_id].append(label)
        hints = [f"[{s.segment_id}] {', '.join(labels[s.segment_id])}" if labels.get(s.segment_id) else None
                 for s in ordered]
        kept = range(len(ordered))
        if max_chars is not None:
            base = len(self.system) + len(self.user.substitute(call_level=call_level, risk_hints="", transcript=""))
            full = base + (_joined_len([h for h in hints if h]) or len("无")) + _joined_len(lines)
            if full > max_chars:
                kept = _fit(ordered, lines, hints, labels, max_chars - base, keep)
                logger.info("llm worksheet: call over the prompt budget of %d chars: %d of %d segments kept",
                            max_chars, len(kept), len(ordered))
        transcript = _with_gaps(ordered, lines, labels, kept)
        kept_hints = [hints[i] for i in kept if hints[i]]
        user = self.user.substitute(call_level=call_level, risk_hints="\n".join(kept_hints) or "无",
                                    transcript="\n".join(transcript))
        return self.system, user


def _joined_len(items: Sequence[str]) -> int:
    return sum(len(x) for x in items) + max(0, len(items) - 1)


def _clock(t: float) -> str:
    """Call time as m:ss, or h:mm:ss from the first hour on."""
    t = max(0, int(t))
    h, m, s = t // 3600, t // 60 % 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _gap_line(segs: Sequence[FinalSegment], risky: int) -> str:
    """The line that stands for segments left out of an over-budget transcript."""
    note = f"，其中 {risky} 段有风险标签" if risky else ""
    return f"……（此处省略 {len(segs)} 段，{_clock(segs[0].start)}–{_clock(segs[-1].end)}{note}）……"


def _with_gaps(ordered: Sequence[FinalSegment], lines: list[str], labels: dict[int, list[str]],
               kept: Iterable[int]) -> list[str]:
    """The kept lines in time order, each stretch left out replaced by one :func:`_gap_line`."""
    keep = set(kept)
    out: list[str] = []
    gap: list[int] = []

    def close() -> None:
        if gap:
            segs = [ordered[j] for j in gap]
            out.append(_gap_line(segs, sum(1 for s in segs if labels.get(s.segment_id))))
            gap.clear()

    for i, line in enumerate(lines):
        if i in keep:
            close()
            out.append(line)
        else:
            gap.append(i)
    close()
    return out


def _fit(ordered: Sequence[FinalSegment], lines: list[str], hints: list[str | None],
         labels: dict[int, list[str]], budget: int, keep: Iterable[int]) -> list[int]:
    """Positions of the segments to keep so that transcript + hints + gap lines take at most ``budget`` chars."""
    n = len(ordered)
    if not n:
        return []
    pos = {s.segment_id: i for i, s in enumerate(ordered)}
    # a gap line is at most this long: every count and clock at its widest
    last = max(s.end for s in ordered)
    widest = _gap_line([FinalSegment("", 0, "caller", last, last, "")] * n, n)
    gap_cost = len(widest) + 1
    risky = [i for i, s in enumerate(ordered) if labels.get(s.segment_id)]

    def gravity(i: int) -> int:
        return min((SEVERITY.index(x) for x in labels[ordered[i].segment_id] if x in SEVERITY), default=len(SEVERITY))

    order: list[int] = [*range(min(KEEP_ENDS, n)), *range(max(0, n - KEEP_ENDS), n)]
    order += sorted(risky, key=lambda i: (gravity(i), -i))  # the gravest first; of equal ones, the latest
    order += [pos[sid] for sid in keep if sid in pos]
    order += [j for d in range(1, RISK_NEIGHBOURS + 1) for i in risky for j in (i - d, i + d) if 0 <= j < n]
    # then context around what is kept so far, nearest first
    anchors = sorted(set(order))
    near = (anchors[max(0, k - 1):k + 1] for k in (bisect.bisect_left(anchors, i) for i in range(n)))
    dist = [min(abs(i - a) for a in around) for i, around in enumerate(near)]
    order += sorted(range(n), key=lambda i: (dist[i], i))

    kept: set[int] = set()
    used = gap_cost  # everything left out: one gap line
    for i in order:
        if i in kept:
            continue
        left = i > 0 and i - 1 not in kept
        right = i < n - 1 and i + 1 not in kept
        gaps = (1 if left and right else 0 if left or right else -1)
        cost = len(lines[i]) + 1 + (len(hints[i]) + 1 if hints[i] else 0) + gaps * gap_cost
        if used + cost <= budget:
            kept.add(i)
            used += cost
    return sorted(kept)


def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    """Read ``NAME.system.md`` and ``NAME.user.md``; ``name`` may also be a path without the suffixes.

    The version hashes both files, so a prompt edited in place still gets a new version in every draft.
    """
    path = Path(name)
    if path.parent != Path("."):
        directory, name = path.parent, path.name
    files = [directory / f"{name}.system.md", directory / f"{name}.user.md"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"prompt {name!r} not found: missing {', '.join(missing)}")
    system_raw, user_raw = (f.read_bytes() for f in files)
    user = Template(user_raw.decode("utf-8").strip())
    placeholders = set(user.get_identifiers())
    if not user.is_valid() or placeholders != PROMPT_PLACEHOLDERS:
        raise ValueError(f"prompt {files[1]} must use exactly the placeholders "
                         f"{sorted('$' + p for p in PROMPT_PLACEHOLDERS)}, found {sorted(placeholders)}")
    digest = hashlib.sha256(system_raw + b"\0" + user_raw).hexdigest()[:PROMPT_HASH_CHARS]
    return Prompt(name=name, system=system_raw.decode("utf-8").strip(), user=user, version=f"{name}@{digest}")


def extract_answer(text: str) -> dict[str, Any]:
    """The worksheet object in a model's answer, tolerating code fences, reasoning blocks and text around it.

    Every top-level JSON object in the text is a candidate; the one naming the most worksheet fields wins.
    """
    text = _THINK.sub("", text)
    decoder = json.JSONDecoder()
    best: dict[str, Any] | None = None
    best_hits = 0
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        hits = sum(name in obj for name in WORKSHEET_FIELDS) if isinstance(obj, dict) else 0
        if hits > best_hits:
            best, best_hits = obj, hits
        pos = text.find("{", end)
    if best is None:
        raise AnswerError("no JSON object with worksheet fields in the model output")
    return best


def read_field(name: str, item: Any, known_ids: set[int]) -> FieldDraft:
    """One field of the answer as a draft; raises ``ValueError`` saying why it cannot be used."""
    if not isinstance(item, dict) or "value" not in item or "evidence" not in item:
        raise ValueError("not an object with value and evidence")
    try:
        validate_correction({name: item["value"]})
    except ValueError as e:
        raise ValueError(str(e).removeprefix("invalid correction: ")) from None
    evidence = item["evidence"]
    if not isinstance(evidence, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in evidence):
        raise ValueError("evidence is not a list of segment ids")
    unknown = sorted(set(evidence) - known_ids)
    if unknown:
        raise ValueError(f"evidence names segment ids not in the transcript: {unknown}")
    return FieldDraft(item["value"], LLM_CONFIDENCE, sorted(set(evidence)))


class LLMDrafter:
    """Drafts the worksheet with a language model; the rules engine fills in, field by field, whatever it gets wrong."""

    engine = ENGINE

    def __init__(self, backend: LLMBackend, prompt_name: str = "worksheet-v1",
                 fallback: RulesDrafter | None = None, max_prompt_chars: int | None = DEFAULT_PROMPT_MAX_CHARS) -> None:
        self.backend = backend
        self.prompt = load_prompt(prompt_name)
        self.fallback = fallback or RulesDrafter()
        self.max_prompt_chars = max_prompt_chars
        self.version = f"{self.prompt.version}+{backend.model_id}"

    def draft(self, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk], call_level: str) -> WorksheetDraft:
        """A complete draft whatever the model does; raises only for bad input (an unknown ``call_level``).

        The rules draft is made first: it is the fallback of every field and checks the input before a model call.
        """
        rules = self.fallback.draft(segments, risks, call_level)
        versions = {**rules.engine_versions, "prompt": self.prompt.version,
                    "llm_backend": self.backend.name, "llm_model": self.backend.model_id}
        fields, fallbacks = self._fields(segments, risks, call_level, rules)
        if fallbacks:
            logger.info("llm worksheet: %d of %d fields from rules (%s)", len(fallbacks), len(WORKSHEET_FIELDS),
                        ",".join(fallbacks))
        return WorksheetDraft(fields=fields, engine=ENGINE, version=self.version, engine_versions=versions,
                              fallbacks=fallbacks)

    def _fields(self, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk], call_level: str,
                rules: WorksheetDraft) -> tuple[dict[str, FieldDraft], dict[str, str]]:
        if not segments:
            return self._all_rules(rules, "empty transcript: nothing for the model to read")
        # a long call is cut to the budget around what the rules draft cites, so the model sees what it must check
        cited = [i for f in rules.fields.values() for i in f.evidence]
        system, user = self.prompt.render(segments, risks, call_level, self.max_prompt_chars, keep=cited)
        try:
            answer = extract_answer(self.backend.complete(system, user))
        except (BackendError, AnswerError) as e:
            logger.warning("llm worksheet: falling back to rules for every field: %s", e)
            return self._all_rules(rules, f"{type(e).__name__}: {e}")
        except Exception as e:  # a backend bug must not cost the counselor the draft
            logger.exception("llm worksheet: backend %s raised; falling back to rules", self.backend.name)
            return self._all_rules(rules, f"backend raised {type(e).__name__}")
        known = {s.segment_id for s in segments}
        fields: dict[str, FieldDraft] = {}
        fallbacks: dict[str, str] = {}
        for name in WORKSHEET_FIELDS:
            try:
                if name not in answer:
                    raise ValueError("missing from the model output")
                fields[name] = read_field(name, answer[name], known)
            except ValueError as e:
                fields[name], fallbacks[name] = rules.fields[name], str(e)
        llm_level = fields["risk_level"].value
        if "risk_level" not in fallbacks and level_rank(llm_level) < level_rank(call_level):
            # a missed high-risk caller costs far more than an over-rated one: never draft below the risk engine
            fields["risk_level"] = rules.fields["risk_level"]
            fallbacks["risk_level"] = f"the model's {llm_level} is below the risk engine's call level {call_level}"
        if ("call_type" not in fallbacks and fields["call_type"].value == "骚扰来电"
                and caller_at_risk(CallView.build(segments, risks), call_level)):
            # a caller with risk of their own is asking for help, whatever a long call's words sound like
            fields["call_type"] = rules.fields["call_type"]
            fallbacks["call_type"] = (f"the model's 骚扰来电 for a caller with risk labels of their own in a call "
                                      f"the risk engine rated {call_level}")
        return fields, fallbacks

    @staticmethod
    def _all_rules(rules: WorksheetDraft, reason: str) -> tuple[dict[str, FieldDraft], dict[str, str]]:
        return dict(rules.fields), {name: reason for name in WORKSHEET_FIELDS}


class OpenAIBackend:
    """An OpenAI-compatible chat completions server (vLLM, SGLang, Ollama), greedy and in JSON mode where supported.

    Servers that refuse ``response_format`` with HTTP 400 get the request again without it, and are not asked
    for it again by this backend (the prompt alone asks for JSON; the parser tolerates text around it).
    """

    name = "openai"

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = 120.0,
                 max_tokens: int | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model_id = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._json_mode = True

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.endpoint!r}, model={self.model_id!r})"

    def complete(self, system: str, user: str) -> str:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self._json_mode:
            body["response_format"] = {"type": "json_object"}
        with httpx.Client(timeout=self.timeout, headers=self._headers) as client:
            resp = self._post(client, body)
            if resp.status_code == httpx.codes.BAD_REQUEST and "response_format" in body:
                logger.info("llm %s: HTTP 400 with response_format; retrying without it", self.model_id)
                del body["response_format"]
                resp = self._post(client, body)
                if resp.is_success:
                    self._json_mode = False
        if not resp.is_success:
            raise BackendError(f"HTTP {resp.status_code} from {self.endpoint}")
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BackendError("response is not a chat completion") from None
        if not isinstance(content, str):
            raise BackendError("response has no message content")
        return content

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
        chars = sum(len(m["content"]) for m in body["messages"])
        t0 = time.perf_counter()
        try:
            resp = client.post(self.endpoint, json=body)
        except httpx.TimeoutException:
            raise BackendError(f"no answer within {self.timeout:g} s from {self.endpoint}") from None
        except httpx.HTTPError as e:
            raise BackendError(f"{type(e).__name__} calling {self.endpoint}") from None
        logger.info("llm %s: HTTP %d, %d prompt chars, %d response bytes, %.0f ms", self.model_id, resp.status_code,
                    chars, len(resp.content), 1000 * (time.perf_counter() - t0))
        return resp


class TransformersBackend:
    """A causal LM from a local directory (no hub access), greedy on CUDA when available, else CPU.

    One generation at a time: concurrent calls would only compete for the same device and multiply its memory.
    """

    name = "transformers"

    def __init__(self, model_dir: str | Path, max_new_tokens: int) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise RuntimeError("the transformers LLM backend needs transformers and torch: "
                               "pip install 'hotline-scribe[llm]'") from e
        path = Path(model_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"LLM model directory {path} does not exist")
        self._torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="auto")
        self.model.to(self.device).eval()
        self.model_id = path.name
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()

    def encode(self, system: str, user: str) -> Any:
        """Input ids (1 × n) for the two messages: the tokenizer's chat template, else the texts one after the other."""
        if self.tokenizer.chat_template:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(f"{system}\n\n{user}\n\n", return_tensors="pt")["input_ids"]
        return ids.to(self.device)

    def complete(self, system: str, user: str) -> str:
        ids = self.encode(system, user)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        t0 = time.perf_counter()
        with self._lock, self._torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=self._torch.ones_like(ids), do_sample=False,
                                      max_new_tokens=self.max_new_tokens, pad_token_id=pad)
        new = out[0, ids.shape[1]:]
        logger.info("llm %s: %d prompt tokens, %d new tokens, %.0f ms on %s", self.model_id, ids.shape[1], len(new),
                    1000 * (time.perf_counter() - t0), self.device)
        return self.tokenizer.decode(new, skip_special_tokens=True)

