"""Context rules that real speech needs, applied to raw lexicon matches of one segment.

Each rule reads its cue words from the lexicon data file. In order, per match:

- hyperbole: the match lies in an everyday exaggeration (累死了, 笑死, 想死你了) → dropped;
- negation: a negator before it in the same clause (我不会自杀, 没想过死) → dropped;
- resolved past: a past cue in its clause and a resolution later in the segment (以前想过，现在不会了) → ideation dropped
  (an attempt stays: an earlier attempt is still history that counts);
- third party: the nearest subject before it is someone else (我同学说她想死) → ``suicide_exploration``;
- hypothetical: 如果/要是… in its clause or the one before (要是我说我不想活了呢) → ``suicide_exploration``,
  except wish-shaped passive ideation (要是睡过去再也不醒就好了), which is hypothetical by nature.

And per segment, question/answer: a caller's bare "嗯，想过" right after a counselor's question about suicide or
self-harm takes the question's label; "没有" does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Sequence

from service.risk.lexicon import Lexicon, Match, normalize
from service.types import SUICIDE_LABELS, FinalSegment

SELF_LABELS = frozenset(SUICIDE_LABELS) | {"self_harm_ideation", "self_harm_behavior"}
IDEATION_LABELS = frozenset({"passive_ideation", "active_ideation", "suicide_plan", "suicide_preparation", "self_harm_ideation"})
#: how many earlier segments a counselor question may be back (the caller may say "嗯" in between)
QA_LOOKBACK = 2


@dataclass(frozen=True, slots=True)
class Judged:
    """A lexicon match after the context rules: ``label`` is None when a rule dropped it."""

    match: Match
    label: str | None
    rule: str  # "kept", "hyperbole", "negation", "resolved_past", "third_party", "hypothetical", "qa_answer"


def clause_bounds(text: str, breaks: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in breaks:
            if i > start:
                out.append((start, i))
            start = i + 1
    if start < len(text):
        out.append((start, len(text)))
    return out


def _clause_of(bounds: list[tuple[int, int]], pos: int) -> int:
    for k, (a, b) in enumerate(bounds):
        if a <= pos < b:
            return k
    return max(len(bounds) - 1, 0)


def _negated(lex: Lexicon, text: str, m: Match, clause_start: int) -> bool:
    if m.char_start > clause_start and text[m.char_start - 1] in lex.cues["negation_immediate"]:
        return True
    ws = max(clause_start, m.char_start - int(lex.cues["negation_window"]))
    # a negator that starts before the match, even one that runs into it (不是想 + 想死)
    return any(0 <= text.find(p, ws, m.char_end) < m.char_start for p in lex.cues["negation_phrases"])


def _third_party_subject(lex: Lexicon, text: str, pos: int) -> bool:
    """True when the nearest subject mention before ``pos`` is someone other than the speaker."""
    before = text[:pos]
    last_third = -1
    for m in lex.cue_re("third_party").finditer(before):
        last_third = max(last_third, m.start())
    last_first = -1
    not_before = lex.cues["first_person_not_subject_before"]
    not_after = re.compile(lex.cues["first_person_not_subject_after"])
    for i, ch in enumerate(before):
        if ch != lex.cues["first_person"]:
            continue
        if i > 0 and before[i - 1] in not_before:
            continue  # 跟我说, 逼我 — object, not subject
        if not_after.match(text, i + 1):
            continue  # 我妈, 我同学 — a possessive, the third-party list has it
        last_first = i
    return last_third > last_first


def judge(lex: Lexicon, text: str, matches: Sequence[Match]) -> list[Judged]:
    """Apply the per-match rules to the raw matches of one segment's text."""
    norm = normalize(text)
    bounds = clause_bounds(norm, lex.cues["clause_breaks"])
    hyper = [(m.start(), m.end()) for m in lex.cue_re("hyperbole").finditer(norm)]
    resolved_at = min((m.start() for m in lex.cue_re("resolved").finditer(norm)), default=None)
    out = []
    for m in matches:
        k = _clause_of(bounds, m.char_start)
        c_start, c_end = bounds[k] if bounds else (0, len(norm))
        if any(a < m.char_end and m.char_start < b for a, b in hyper):
            out.append(Judged(m, None, "hyperbole"))
        elif _negated(lex, norm, m, c_start):
            out.append(Judged(m, None, "negation"))
        elif (
            resolved_at is not None
            and resolved_at >= m.char_end
            and m.label in IDEATION_LABELS
            and lex.cue_re("past").search(norm[c_start:c_end])
        ):
            out.append(Judged(m, None, "resolved_past"))
        elif m.label in SELF_LABELS and _third_party_subject(lex, norm, m.char_start):
            out.append(Judged(m, "suicide_exploration" if m.label in SUICIDE_LABELS else None, "third_party"))
        elif m.label in SELF_LABELS and not m.wish and _hypothetical(lex, norm, bounds, k, m.char_start):
            out.append(Judged(m, "suicide_exploration" if m.label in SUICIDE_LABELS else None, "hypothetical"))
        else:
            out.append(Judged(m, m.label, "kept"))
    return out


def _hypothetical(lex: Lexicon, text: str, bounds: list[tuple[int, int]], k: int, pos: int) -> bool:
    a = bounds[k - 1][0] if k > 0 else (bounds[k][0] if bounds else 0)
    return bool(lex.cue_re("hypothetical").search(text[a:pos]))


def answered_question(
    lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]
) -> tuple[str, tuple[int, int]] | None:
    """The label a caller's bare "yes" takes from the counselor's question just before it, and the answer's span.

    ``None`` when the segment is not a short affirmative answer, or no recent counselor question is about
    suicide or self-harm.
    """
    if seg.speaker == "counselor":
        return None
    question = None
    for prev in list(context)[-QA_LOOKBACK:][::-1]:
        if prev.speaker == "counselor":
            question = prev
            break
    if question is None or not any(q in question.text for q in lex.cues["question_markers"]):
        return None
    q_labels = [m.label for m in lex.find(question.text) if m.label in SELF_LABELS | {"suicide_exploration"}]
    if not q_labels:
        return None
    text = normalize(seg.text)
    bounds = clause_bounds(text, lex.cues["clause_breaks"])
    fillers = re.compile(lex.cues["answer_fillers"])
    affirm = re.compile(lex.cues["answer_affirmative"])
    negative = re.compile(lex.cues["answer_negative"])
    for a, b in bounds[:3]:
        clause = text[a:b]
        lead = fillers.match(clause)
        core = clause[lead.end():] if lead else clause
        if not core:
            continue
        if negative.match(core):
            return None
        if affirm.match(core):
            return _question_label(q_labels), (a + (lead.end() if lead else 0), b)
    return None


def _question_label(q_labels: list[str]) -> str:
    """What "yes" means: to a question about dying → active ideation unless the question was only passive."""
    suicide = [lb for lb in q_labels if lb in SUICIDE_LABELS or lb == "suicide_exploration"]
    if suicide:
        return "passive_ideation" if all(lb == "passive_ideation" for lb in suicide) else "active_ideation"
    return "self_harm_behavior" if "self_harm_behavior" in q_labels else "self_harm_ideation"
