"""What the counselor did or arranged: police/120 linkage, referral and follow-up, from counselor speech."""

from __future__ import annotations

import re

from service.worksheet.evidence import by_rank, by_value
from service.worksheet.lexicon import load_lexicon, rx
from service.worksheet.model import FieldDraft
from service.worksheet.view import CallView

_SENTENCES = re.compile(r"[^。！？!?]+[。！？!?]?")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCES.findall(text) if s.strip()]


def _is_conditional(sentence: str) -> bool:
    """Advice for some later moment ('如果…打120', '紧急的时候…') rather than something done now."""
    return bool(rx(load_lexicon().data["police"]["conditional"]).search(sentence))


def dispatch_segments(view: CallView) -> list[tuple[int, str]]:
    """(segment id, sentence) where the counselor says police or an ambulance is being called or is on the way."""
    lex = load_lexicon().data["police"]
    hits = []
    for seg in view.counselor():
        for sentence in _sentences(seg.text):
            if _is_conditional(sentence):
                continue
            if any(rx(p).search(sentence) for p in lex["dispatch"]):
                hits.append((seg.segment_id, sentence))
    return hits


def draft_police(view: CallView) -> FieldDraft:
    hits = dispatch_segments(view)
    if hits:
        return FieldDraft(True, min(0.95, 0.75 + 0.05 * len(hits)), by_rank([[sid for sid, _ in hits]], 6))
    return FieldDraft(False, 0.85, [])


def draft_referral(view: CallView) -> FieldDraft:
    lex = load_lexicon().data
    found: dict[str, list[int]] = {}
    for seg in view.counselor():
        for name, pattern in lex["referral"].items():
            if name == "急诊":
                continue
            if rx(pattern).search(seg.text):
                found.setdefault(name, []).append(seg.segment_id)
        for sentence in _sentences(seg.text):
            if rx(lex["referral"]["急诊"]).search(sentence) and not _is_conditional(sentence):
                found.setdefault("急诊", []).append(seg.segment_id)
    medical = [sid for sid, sentence in dispatch_segments(view) if rx(lex["police"]["medical"]).search(sentence)]
    if medical:
        found.setdefault("急诊", []).extend(medical)
    order = list(lex["referral"])
    values = [name for name in order if name in found]
    if not values:
        return FieldDraft(["无"], 0.6, [])
    # every listed value cites a segment that says it before any value cites a second
    return FieldDraft(values, 0.7, by_value([sorted(set(found[name]), key=view.order) for name in values], 8))


def draft_follow_up(view: CallView, police: FieldDraft) -> FieldDraft:
    pattern = rx(load_lexicon().data["follow_up"])
    hits = [s.segment_id for s in view.counselor() if pattern.search(s.text)]
    if hits:
        return FieldDraft(True, 0.85, by_rank([hits], 4))
    if police.value:
        return FieldDraft(True, 0.7, by_rank([police.evidence], 4))
    return FieldDraft(False, 0.7, [])
