"""Risk fields of the worksheet from the risk engine's labels and the words around them; 0–10 ratings."""

from __future__ import annotations


from service.types import RISK_LEVELS, FinalSegment, level_rank
from service.worksheet.actions import dispatch_segments
from service.worksheet.evidence import by_rank
from service.worksheet.lexicon import load_lexicon, parse_number, rx
from service.worksheet.model import FieldDraft
from service.worksheet.view import CallView

ACTIVE = ("active_ideation", "suicide_plan", "suicide_preparation")
SELF_HARM = ("self_harm_ideation", "self_harm_behavior")
TIMING_ORDER = ("无", "既往", "近两周", "本次通话中")
TWO_WEEKS_DAYS = 14
#: the Beijing level an attempt shows by when it was made (no timing, or an earlier one: 中)
ATTEMPT_LEVEL = {"本次通话中": "紧急", "近两周": "高"}
MAX_EVIDENCE = 6


def _grade(labels: list[str], attempt_timing: str | None) -> tuple[int, int]:
    """(level rank, rank within the level) that one caller segment shows by the Beijing criteria, from its labels.

    Within 中 a plan or preparation ranks above active ideation: with a near date it is the 高 criterion.
    """
    grade = (0, 0)
    if set(labels) & {"passive_ideation", *SELF_HARM}:
        grade = max(grade, (level_rank("低"), 0))
    if "active_ideation" in labels:
        grade = max(grade, (level_rank("中"), 0))
    if set(labels) & {"suicide_plan", "suicide_preparation"}:
        grade = max(grade, (level_rank("中"), 1))
    if "suicide_attempt" in labels:
        grade = max(grade, (level_rank(ATTEMPT_LEVEL.get(attempt_timing or "", "中")), 1))
    return grade


def risk_tiers(view: CallView, call_level: str, segments: list[FinalSegment] | None = None,
               dispatch: bool = True) -> list[list[int]]:
    """The segments behind ``call_level``, most relevant tier first (each in time order): the caller's own risk
    segments (``segments``, default the suicidal and self-harm ones) at the gravest criteria the level reaches (紧急:
    an attempt in progress or just made, and with ``dispatch`` the counselor's emergency call; 高: a recent attempt, a
    plan …), then the lower grades, graver first; segments graded above the level (labels the risk engine did not
    count) last."""
    if segments is None:
        segments = view.own_suicide_segments() + view.with_label(*SELF_HARM)
    timing = {seg.segment_id: label for seg, label, _ in attempt_timings(view)}
    graded: dict[tuple[int, int], list[int]] = {}
    for seg in segments:
        g = _grade(view.labels.get(seg.segment_id, []), timing.get(seg.segment_id))
        if seg.segment_id not in graded.get(g, []):
            graded.setdefault(g, []).append(seg.segment_id)
    if dispatch and call_level == "紧急":
        # the counselor starting the emergency plan (120/110) is what the risk engine reads as an act in progress
        graded.setdefault((level_rank("紧急"), 0), []).extend(sid for sid, _ in dispatch_segments(view))
    top = level_rank(call_level) if call_level in RISK_LEVELS else len(RISK_LEVELS)
    within = sorted((g for g in graded if g[0] <= top), reverse=True)
    above = sorted(g for g in graded if g[0] > top)
    return [sorted(set(graded[g]), key=view.order) for g in within + above]


def draft_risk_level(view: CallView, call_level: str) -> FieldDraft:
    return FieldDraft(call_level, 0.9, by_rank(risk_tiers(view, call_level), MAX_EVIDENCE))


def draft_ideation(view: CallView, prior_attempt: str, call_level: str | None = None) -> FieldDraft:
    """主动/被动/无 from the labels, kept consistent with the call level by the Beijing criteria: active ideation is 中
    or above, passive 低 or above. Under a lower level the labels came from the classifier alone, which the risk
    engine does not let move the level, so they read one step down (active → 被动) or as 无."""
    if call_level == "无":
        return FieldDraft("无", 0.6, [])
    active = view.with_label(*ACTIVE)
    if active and call_level in (None, "中", "高", "紧急"):
        # active ideation in words first; a plan or preparation implies it
        return FieldDraft("主动", 0.85, by_rank([_ids(view.with_label("active_ideation")), _ids(active)],
                                                 MAX_EVIDENCE))
    if prior_attempt in ("本次通话中", "近两周"):
        # an attempt now or in the last two weeks is taken as active intent even when not restated
        recent = [seg.segment_id for seg, label, _ in attempt_timings(view) if label == prior_attempt]
        return FieldDraft("主动", 0.6, by_rank([recent, _ids(view.with_label("suicide_attempt"))], MAX_EVIDENCE))
    passive = view.with_label("passive_ideation")
    if passive:
        return FieldDraft("被动", 0.8, by_rank([_ids(passive)], MAX_EVIDENCE))
    if active:
        return FieldDraft("被动", 0.5, by_rank([_ids(active)], MAX_EVIDENCE))
    return FieldDraft("无", 0.8, [])


def _ids(segs: list[FinalSegment]) -> list[int]:
    return [s.segment_id for s in segs]


def draft_plan(view: CallView) -> FieldDraft:
    segs = view.with_label("suicide_plan", "suicide_preparation")
    if segs:
        return FieldDraft(True, 0.85, by_rank([_ids(segs)], MAX_EVIDENCE))
    return FieldDraft(False, 0.75, [])


def draft_self_harm(view: CallView) -> FieldDraft:
    segs = view.with_label(*SELF_HARM)
    if segs:
        return FieldDraft(True, 0.85, by_rank([_ids(segs)], MAX_EVIDENCE))
    return FieldDraft(False, 0.8, [])


def _timing(text: str) -> str | None:
    risk = load_lexicon().data["risk"]
    m = rx(risk["days_ago"]).search(text)
    if m:
        days = parse_number(m.group(1))
        if days is not None:
            return "近两周" if days <= TWO_WEEKS_DAYS else "既往"
    for label in ("本次通话中", "近两周", "既往"):
        if rx(risk["attempt_timing"][label]).search(text):
            return label
    return None


def attempt_timings(view: CallView) -> list[tuple[FinalSegment, str | None, int | None]]:
    """Each segment labelled ``suicide_attempt`` with when the attempt was (timing words in its own segment, else in
    the nearest segments around it) and the segment that says so; (segment, None, None) when nothing says when."""
    out: list[tuple[FinalSegment, str | None, int | None]] = []
    for seg in view.with_label("suicide_attempt"):
        i = view.index_of(seg.segment_id)
        order = [i] + [j for d in (1, 2) for j in (i - d, i + d) if 0 <= j < len(view.segments)]
        found: tuple[FinalSegment, str | None, int | None] = (seg, None, None)
        for j in order:
            label = _timing(view.segments[j].text)
            if label:
                found = (seg, label, view.segments[j].segment_id)
                break
        out.append(found)
    return out


def draft_prior_attempt(view: CallView) -> FieldDraft:
    """The most recent attempt: timing words in the attempt's own segment, else in the nearest segments around it."""
    timings = attempt_timings(view)
    if not timings:
        return FieldDraft("无", 0.8, [])
    best, evidence = "既往", []
    found_any = False
    for seg, label, said in timings:
        if label is None:
            continue
        found_any = True
        if TIMING_ORDER.index(label) >= TIMING_ORDER.index(best):
            if TIMING_ORDER.index(label) > TIMING_ORDER.index(best):
                evidence = []
            best = label
            evidence.append((seg.segment_id, said))
    if not evidence:
        return FieldDraft(best, 0.8 if found_any else 0.4, by_rank([[s.segment_id for s, _, _ in timings]],
                                                                    MAX_EVIDENCE))
    # the attempts at the chosen timing, then the segments that date them
    return FieldDraft(best, 0.8, by_rank([[a for a, _ in evidence], [t for _, t in evidence]], MAX_EVIDENCE))


def draft_method(view: CallView) -> FieldDraft:
    """The method as the caller names it, from segments labelled active/plan/preparation/attempt."""
    risk = load_lexicon().data["risk"]
    segs = view.with_label("active_ideation", "suicide_plan", "suicide_preparation", "suicide_attempt")
    if not segs:
        return FieldDraft(None, 0.7, [])
    joined = "，".join(s.text.rstrip("。！？…") for s in segs)
    for name, pattern in risk["methods"]:
        m = rx(pattern).search(joined)
        if not m:
            continue
        value = m.group(0) if name == "drug" else name
        if name == "跳江":
            water = rx(risk["water"]).search(joined)
            value = "跳" + water.group(1) if water else "跳桥"
        ev = [s.segment_id for s in segs if rx(pattern).search(s.text)] or [s.segment_id for s in segs][:3]
        if name in ("安眠药", "服药"):
            for other in view.caller():
                drug = rx(risk["methods"][0][1]).search(other.text)
                if drug:
                    value, ev = drug.group(0), ev + [other.segment_id]
                    break
        return FieldDraft(value, 0.7, ev)
    return FieldDraft(None, 0.4, [s.segment_id for s in segs][:3])


def _answer(view: CallView, start: int) -> tuple[int, int] | None:
    risk = load_lexicon().data["risk"]
    seen = 0
    for seg in view.segments[start + 1:]:
        if seg.speaker == "counselor":
            break
        seen += 1
        m = rx(risk["rating_answer"]).search(seg.text) or rx(risk["rating_answer_bare"]).search(seg.text.strip())
        if m:
            value = parse_number(m.group(1))
            if value is not None and 0 <= value <= 10:
                return value, seg.segment_id
        if seen >= 2:
            break
    return None


def draft_ratings(view: CallView) -> tuple[FieldDraft, FieldDraft]:
    """ideation_intensity and hopelessness: a counselor's 0–10 question and the caller's answer right after it.

    A follow-up like '那对未来的绝望感呢？' counts as a rating question when a rating was asked just before.
    Each field takes the first rating of its kind in the call: the spec ("as rated or stated") does not say whether
    a re-rating after the intervention replaces it, and no annotated call rates twice.
    """
    risk = load_lexicon().data["risk"]
    found: dict[str, FieldDraft] = {}
    last_rating_q = -99
    for i, seg in enumerate(view.segments):
        if seg.speaker == "caller":
            continue
        text = seg.text
        is_q = bool(rx(risk["rating_question"]).search(text))
        hopeless = bool(rx(risk["rating_hopelessness"]).search(text))
        if not is_q and not (hopeless and i - last_rating_q <= 4):
            continue
        last_rating_q = i
        if hopeless:
            target = "hopelessness"
        elif rx(risk["rating_intensity"]).search(text):
            target = "ideation_intensity"
        else:
            continue
        if target in found:
            continue
        ans = _answer(view, i)
        if ans:
            found[target] = FieldDraft(ans[0], 0.85, [seg.segment_id, ans[1]])
    none = FieldDraft(None, 0.7, [])
    return found.get("ideation_intensity", none), found.get("hopelessness", FieldDraft(None, 0.7, []))


def draft_protective(view: CallView) -> FieldDraft:
    """What holds the caller back, from the answers to '是什么让您撑着' / '放不下的是谁' questions."""
    risk = load_lexicon().data["risk"]
    values: list[str] = []
    evidence: list[int] = []

    def take(seg) -> None:
        for value, pattern in risk["protective"]:
            if rx(pattern).search(seg.text) and value not in values:
                values.append(value)
                evidence.append(seg.segment_id)

    for i, seg in enumerate(view.segments):
        if seg.speaker == "caller":
            if rx(risk["protective_statement"]).search(seg.text):
                take(seg)
            continue
        if rx(risk["protective_reflection"]).search(seg.text):
            take(seg)
        if not rx(risk["protective_question"]).search(seg.text):
            continue
        for ans in view.segments[i + 1: i + 3]:
            if ans.speaker == "counselor":
                break
            take(ans)
    if "母亲" in values and "父母" in values:
        values.remove("母亲")
    return FieldDraft(values, 0.5 if values else 0.6, sorted(set(evidence)))


