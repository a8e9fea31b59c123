"""An extractive summary: 2–4 sentences lifted from the call, each citing its segment."""

from __future__ import annotations

from service.types import SUICIDE_LABELS
from service.worksheet.model import FieldDraft
from service.worksheet.topics import caller_chars
from service.worksheet.view import CallView

MIN_PROBLEM_CHARS = 12
SEVERITY = ("suicide_attempt", "suicide_preparation", "suicide_plan", "active_ideation", "passive_ideation",
            "self_harm_behavior", "self_harm_ideation", "aggression_to_others", "victimization")


def _clip(text: str, limit: int = 60) -> str:
    text = text.strip().rstrip("。！？…")
    return text if len(text) <= limit else text[:limit] + "…"


def draft_summary(view: CallView, call_type: str, risk_level: str, referral: FieldDraft,
                  police: FieldDraft, follow_up: FieldDraft) -> FieldDraft:
    """Who called and why (the caller's first substantive words), the gravest risk words, and what was done."""
    parts: list[tuple[str, int]] = []
    if call_type == "沉默来电":
        parts.append(("来电者几乎全程沉默", view.caller()[0].segment_id if view.caller() else -1))
    else:
        first = next((s for s in view.caller() if caller_chars(CallView([s])) >= MIN_PROBLEM_CHARS), None)
        if first:
            parts.append((f"来电者（{call_type}）：“{_clip(first.text)}”", first.segment_id))
    risky = sorted(view.with_label(*SEVERITY),
                   key=lambda s: min(SEVERITY.index(x) for x in view.labels[s.segment_id] if x in SEVERITY))
    if risky:
        gravest = risky[0]
        own = any(x in SUICIDE_LABELS for x in view.labels[gravest.segment_id])
        lead = f"风险等级{risk_level}" if own else "风险相关"
        parts.append((f"{lead}：“{_clip(gravest.text)}”", gravest.segment_id))
    action = None
    if police.value and police.evidence:
        action = police.evidence[0]
    elif referral.evidence:
        action = referral.evidence[0]
    if action is not None:
        seg = view.segments[view.index_of(action)]
        parts.append((f"接线员：“{_clip(seg.text)}”", action))
    if follow_up.value and follow_up.evidence and follow_up.evidence[0] != action:
        parts.append(("已约定回访", follow_up.evidence[0]))
    parts = [(t, i) for t, i in parts if i >= 0] or [("通话内容不足以摘要", -1)]
    text = "。".join(t for t, _ in parts[:4]) + "。"
    evidence = [i for _, i in parts[:4] if i >= 0]
    return FieldDraft(text, 0.3, evidence)
