"""Call type, problem categories and emotions: weighted lexicon cues over the caller's words plus the risk labels."""

from __future__ import annotations

from service.types import RISK_LABELS, RISK_LEVELS, level_rank
from service.worksheet.evidence import by_rank, by_value
from service.worksheet.lexicon import load_lexicon, rx
from service.worksheet.model import FieldDraft
from service.worksheet.risk_fields import risk_tiers
from service.worksheet.view import CallView

CRISIS_LABELS = ("self_harm_ideation", "self_harm_behavior", "aggression_to_others", "victimization")
#: labels of the caller's own state: every label but talk about suicide without intent of one's own
OWN_RISK_LABELS = tuple(x for x in RISK_LABELS if x != "suicide_exploration")


def caller_chars(view: CallView) -> int:
    """How much the caller said, fillers ('嗯', '……') and punctuation left out."""
    filler = rx(load_lexicon().data["call_type"]["filler"])
    return sum(len(filler.sub("", s.text)) for s in view.caller())


def harassment(view: CallView) -> tuple[float, list[int]]:
    """How much the call reads as a prank, abusive or sexual call, and the segments that show it.

    The score is the number of distinct harassment patterns heard (the caller's words and the counselor's answers
    to them: "请注意用语", "我会结束这次通话"), scaled down when the caller's harassing segments are fewer than
    ``harassment_full_share`` of all the caller said: a prank call harasses throughout, while an hour-long crisis
    call meets a few of these phrases by chance ("活着有什么用", "我就是个废物", "在我们结束通话之前"). So the
    score does not grow with the length of the call (a call said twice over scores the same), and counselor phrases
    alone score nothing.
    """
    lex = load_lexicon().data["call_type"]
    filler = rx(lex["filler"])
    caller = [s for s in view.caller() if filler.sub("", s.text)]
    sides = {"caller": caller, "counselor": view.counselor()}
    groups: list[list[int]] = []
    harassing: set[int] = set()
    for side, pattern in lex["harassment"]:
        hits = [s.segment_id for s in sides[side] if rx(pattern).search(s.text)]
        if hits:
            groups.append(hits)
            if side == "caller":
                harassing.update(hits)
    if not caller or not harassing:
        return 0.0, []
    share = len(harassing) / len(caller)
    score = len(groups) * min(1.0, share / float(lex["harassment_full_share"]))
    return score, by_value(groups, 8)


def consultation(view: CallView) -> list[int]:
    """Segments where the caller asks about symptoms, drugs, services or how to help someone else."""
    lex = load_lexicon().data["call_type"]
    hits = [s.segment_id for s in view.caller()
            if rx(lex["consult_cue"]).search(s.text) and rx(lex["consult_topic"]).search(s.text)]
    return hits + [s.segment_id for s in view.with_label("suicide_exploration")]


def caller_at_risk(view: CallView, call_level: str) -> bool:
    """The caller has risk labels of their own and the risk engine rated the call 低 or above: a call for help,
    never 骚扰来电 whatever harassment phrases it holds."""
    return call_level in RISK_LEVELS and level_rank(call_level) >= level_rank("低") and view.has_label(*OWN_RISK_LABELS)


def draft_call_type(view: CallView, suicidal: bool, suicidal_ev: list[int], problems: list[str],
                    call_level: str = "无") -> FieldDraft:
    """First rule that applies, in the spec's order.

    A caller with risk labels of their own in a call the risk engine rated 低 or above is asking for help, whatever
    harassment phrases a long call holds: never 骚扰来电.
    """
    lex = load_lexicon().data["call_type"]
    said = caller_chars(view)
    # "almost nothing" is not a caller whose few words are a risk ("我真想死" is 4 characters)
    if view.segments and said <= lex["silent_max_chars"] and not suicidal and not view.with_label(*CRISIS_LABELS):
        return FieldDraft("沉默来电", 0.85, by_rank([[s.segment_id for s in view.caller()]], 6))
    score, ev = (0.0, []) if caller_at_risk(view, call_level) else harassment(view)
    if score >= lex["harassment_min_score"]:
        return FieldDraft("骚扰来电", min(0.95, 0.5 + 0.08 * score), ev)
    if suicidal:
        # the gravest of the caller's own suicidal words first (an attempt, a plan …), as for risk_level
        own = set(suicidal_ev)
        segs = [s for s in view.caller() if s.segment_id in own]
        return FieldDraft("自杀风险", 0.85, by_rank(risk_tiers(view, call_level, segs, dispatch=False), 6))
    crisis = view.with_label(*CRISIS_LABELS)
    if crisis:
        groups = [[s.segment_id for s in view.with_label(*names)] for names in
                  (("self_harm_ideation", "self_harm_behavior"), ("aggression_to_others",), ("victimization",))]
        return FieldDraft("心理危机", 0.75, by_value([g for g in groups if g], 6))
    consult = consultation(view)
    if consult:
        return FieldDraft("精神卫生知识咨询", 0.7, by_rank([consult], 6))
    if problems or said > 4 * lex["silent_max_chars"]:
        return FieldDraft("一般心理问题", 0.6, [])
    return FieldDraft("其他", 0.4, [])


def _weighted(view: CallView, rule: dict) -> tuple[float, list[int]]:
    """Sum of weight × distinct words matched, over the caller's segments that the rule does not skip."""
    kin = rx(load_lexicon().data["macros"]["KIN"])
    skip = rule.get("skip_segment")
    risky = {s.segment_id for s in view.own_suicide_segments()} if rule.get("skip_risk_segments") else set()
    score, evidence = 0.0, []
    segs = [s for s in view.caller()
            if not (rule.get("skip_kin") and kin.search(s.text)) and not (skip and rx(skip).search(s.text))
            and s.segment_id not in risky]
    patterns = rule["patterns"]
    for weight, pattern in patterns:
        words = {m.group(0) for s in segs for m in rx(pattern).finditer(s.text)}
        if words:
            score += float(weight) * len(words)
            evidence.extend([s.segment_id for s in segs if rx(pattern).search(s.text)][:2])
    return score, evidence


def draft_problem_categories(view: CallView, implied: dict[str, bool]
                             ) -> tuple[FieldDraft, dict[str, float], dict[str, list[int]]]:
    """The categories, their scores, and each chosen category's segments (for :func:`finish_categories`)."""
    lex = load_lexicon().data["problem_categories"]
    values, groups, scores = [], {}, {}
    for name, rule in lex.items():
        score, ev = _weighted(view, rule)
        if any(implied.get(f) for f in rule.get("implied_by", [])):
            score += rule["threshold"]
        scores[name] = score
        if score >= rule["threshold"]:
            values.append(name)
            groups[name] = sorted(set(ev), key=view.order)
    conf = 0.6 if values else 0.4
    return FieldDraft(values, conf, by_value(list(groups.values()), 10)), scores, groups


def finish_categories(draft: FieldDraft, call_type: str, consult_ev: list[int],
                      groups: dict[str, list[int]] | None = None) -> FieldDraft:
    """Categories that follow from the call type: 信息咨询 for consultations, 其他 for harassment, none when silent.

    ``groups``: each category's segments, so that every listed category keeps one under the cap."""
    if call_type == "沉默来电":
        return FieldDraft([], 0.8, [])
    if call_type == "骚扰来电":
        return FieldDraft(["其他"], 0.8, draft.evidence)
    values = list(draft.value)
    per_value = [list(groups[v]) for v in values if groups and v in groups] if groups else [list(draft.evidence)]
    if call_type == "精神卫生知识咨询" and "信息咨询" not in values:
        values.append("信息咨询")
        per_value.append(list(consult_ev))
    if not values:
        values = ["其他"]
    return FieldDraft(values, draft.confidence, by_value(per_value, 10))


def draft_emotions(view: CallView, call_type: str, despair: bool, despair_ev: list[int]) -> FieldDraft:
    lex = load_lexicon().data["emotions"]
    if call_type == "沉默来电":
        return FieldDraft([], 0.7, [])
    if call_type == "骚扰来电":
        return FieldDraft(["平稳"], 0.6, [])
    scores: dict[str, float] = {}
    evidence: dict[str, list[int]] = {}
    sides = ((view.caller(), 1.0), (view.counselor(), float(lex["counselor_weight"])))
    for name, (weight, pattern) in lex["patterns"].items():
        scores[name], evidence[name] = 0.0, []
        for segs, side_weight in sides:
            words = {m.group(0) for s in segs for m in rx(pattern).finditer(s.text)}
            scores[name] += float(weight) * side_weight * len(words)
            evidence[name] += [s.segment_id for s in segs if rx(pattern).search(s.text)][:2]
    if despair:
        scores["悲观绝望"] = scores.get("悲观绝望", 0.0) + 1.0
        evidence["悲观绝望"] = (evidence.get("悲观绝望", []) + despair_ev)[:3]
    chosen = sorted((n for n in scores if scores[n] >= lex["threshold"]), key=lambda n: -scores[n])[: lex["max"]]
    if not chosen:
        return FieldDraft(["平稳"], 0.4, [])
    return FieldDraft(chosen, 0.5, sorted({i for n in chosen for i in evidence[n]}))
