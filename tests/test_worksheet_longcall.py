"""Worksheet drafting on long calls (real calls run 30–90 minutes, 600–2,000 segments; the fixtures have ~40).

Long calls are built by concatenating the annotated fixture calls (their texts, reference risk labels and the gravest
reference level) and adding real-sounding turns; every draft is the real rules engine's, every prompt the real one.
"""

from __future__ import annotations

import json
import re

import pytest

from service.settings import Settings, WorksheetSettings
from service.types import RISK_LEVELS, FinalSegment, SegmentRisk
from service.worksheet import RulesDrafter, make_drafter
from service.worksheet.devscore import load_calls, reference_inputs
from service.worksheet.evidence import by_rank, by_value, spread
from service.worksheet.llm import DEFAULT_PROMPT_MAX_CHARS, LLMDrafter, load_prompt
from service.worksheet.topics import harassment
from service.worksheet.view import CallView
from tests.conftest import FIXTURES

CALLS = {c["call_id"]: c for path in (FIXTURES / "eval" / "calls.jsonl", FIXTURES / "worksheet" / "calls.jsonl")
         for c in load_calls(path)}


class LongCall:
    """Fixture calls one after the other (ids renumbered, times shifted), then extra turns."""

    def __init__(self, plan: list[str], extra: list[tuple[str, str]] = ()) -> None:
        self.segments: list[FinalSegment] = []
        self.risks: list[SegmentRisk] = []
        self.offsets: list[int] = []
        level, t = "无", 0.0
        for cid in plan:
            call = CALLS[cid]
            self.offsets.append(len(self.segments))
            base = t
            for s in call["segments"]:
                sid = len(self.segments)
                start, end = base + s["start"], base + s["end"]
                self.segments.append(FinalSegment("long", sid, s["speaker"], start, end, s["text"]))
                self.risks.append(SegmentRisk(sid, list(s["risk"]), engine_version="reference"))
                t = base + s["end"] + 2.0
            level = max(level, call["worksheet"]["risk_level"], key=RISK_LEVELS.index)
        self.level = level
        for speaker, text in extra:
            sid = len(self.segments)
            self.segments.append(FinalSegment("long", sid, speaker, t, t + 3.0, text))
            self.risks.append(SegmentRisk(sid, [], engine_version="reference"))
            t += 4.0
        self.text = {s.segment_id: s.text for s in self.segments}

    def draft(self, level: str | None = None):
        return RulesDrafter().draft(self.segments, self.risks, level or self.level)

    def last_part(self, local_id: int) -> int:
        """The id in the long call of segment ``local_id`` of the last fixture call of the plan."""
        return self.offsets[-1] + local_id


@pytest.fixture(scope="module")
def drafter() -> RulesDrafter:
    return RulesDrafter()


# --- call_type: a long crisis call is not 骚扰来电 -------------------------------------------------------------------

# what a caller in despair and a counselor closing a long call say, that the harassment patterns also match
DESPAIR = [("caller", "我觉得活着有什么用啊，什么都做不好。"), ("counselor", "嗯，我在听。"),
           ("caller", "我就是个废物，谁都帮不了我。"), ("counselor", "你这么说自己，听起来很痛苦。"),
           ("counselor", "在我们结束通话之前，我想跟你约定一下明天的回访时间，好吗？")]
COUNSELOR_ROUTINE = [("counselor", "这个不在我们的服务范围，不过我可以给你推荐。"), ("counselor", "先别挂断，好吗？"),
                     ("counselor", "我不是在开玩笑，我很认真。")]


@pytest.mark.parametrize("plan, extra", [
    (["dev-0004"] * 10, DESPAIR),                  # 360 segments of passive ideation (低)
    (["dev-0001"] * 8 + ["dev-0010"], DESPAIR),     # pills swallowed at the end (紧急)
    (["dev-0001"] * 8 + ["dev-0010"], COUNSELOR_ROUTINE),
])
def test_long_crisis_call_is_not_drafted_as_harassment(plan, extra):
    call = LongCall(plan, extra)
    d = call.draft()
    assert call.level in ("低", "紧急")
    assert d.fields["call_type"].value == "自杀风险"
    assert d.fields["problem_categories"].value != ["其他"] and d.fields["emotions"].value != ["平稳"]


@pytest.mark.parametrize("extra", [DESPAIR + COUNSELOR_ROUTINE, COUNSELOR_ROUTINE])
def test_long_call_without_risk_is_not_harassment_for_scattered_phrases(extra):
    """No risk labels at all (the guard does not apply): the score must not grow with the length of the call."""
    call = LongCall(["dev-0001"] * 12, extra)
    assert call.level == "无" and not any(r.labels for r in call.risks)
    assert call.draft().fields["call_type"].value == "一般心理问题"


def test_counselor_phrases_alone_are_not_harassment(drafter):
    segs = [FinalSegment("t", i, sp, 3.0 * i, 3.0 * i + 2.5, tx) for i, (sp, tx) in enumerate([
        ("counselor", "您好，心理援助热线，请讲。"), ("caller", "最近工作压力很大，天天加班，领导还老批评我。"),
        *COUNSELOR_ROUTINE, ("caller", "好，我知道了，谢谢你。")])]
    assert drafter.draft(segs, [], "无").fields["call_type"].value == "一般心理问题"


def test_harassment_score_does_not_grow_with_call_length():
    once = LongCall(["dev-0012"])
    twenty = LongCall(["dev-0012"] * 20)
    score_once, _ = harassment(CallView.build(once.segments, once.risks))
    score_twenty, ev = harassment(CallView.build(twenty.segments, twenty.risks))
    assert score_twenty == pytest.approx(score_once) and score_once >= 3
    assert len(ev) <= 8
    assert twenty.draft().fields["call_type"].value == "骚扰来电"
    # a prank stretch ahead of a long ordinary call is diluted by it, not added to
    mixed = LongCall(["dev-0012"] + ["dev-0001"] * 10)
    score_mixed, _ = harassment(CallView.build(mixed.segments, mixed.risks))
    assert score_mixed < score_once


# --- evidence: the segments behind the value, not the earliest ------------------------------------------------------

@pytest.fixture(scope="module")
def emergency() -> LongCall:
    """~1,400 segments: 38 × a passive-ideation call, then pills swallowed during the call, 120 and 110 linked."""
    return LongCall(["dev-0004"] * 38 + ["dev-0010"])


def test_risk_level_cites_the_gravest_segments_of_a_long_call(emergency):
    d = emergency.draft()
    f = d.fields["risk_level"]
    assert f.value == "紧急" and len(emergency.segments) > 1400
    ingestion = {emergency.last_part(13), emergency.last_part(15)}  # "我已经把它们吞下去了" / "就刚才，一两分钟前"
    dispatch = emergency.last_part(18)                              # "我同事已经在联系120和110"
    assert ingestion <= set(f.evidence) and dispatch in f.evidence
    assert len(f.evidence) <= 6
    # 自杀风险 too cites the caller's gravest words first
    assert ingestion <= set(d.fields["call_type"].evidence)


def test_list_fields_cite_every_value_in_a_long_call(emergency):
    d = emergency.draft()
    referral = d.fields["referral"]
    assert "急诊" in referral.value and len(referral.evidence) <= 8
    said = {"精神科门诊": r"精神科|心理门诊|精神卫生中心|心理科", "心理咨询": r"心理咨询|咨询师|心理治疗",
            "急诊": r"急诊|120|救护车|急救"}
    for value in referral.value:
        assert any(re.search(said[value], emergency.text[i]) for i in referral.evidence), value
    problems = d.fields["problem_categories"]
    assert len(problems.evidence) <= 10
    assert problems.value and len(problems.evidence) >= len(problems.value)


def test_follow_up_cites_the_arrangement_at_the_end_of_a_long_call(emergency):
    f = emergency.draft().fields["follow_up"]
    closing = emergency.last_part(39)  # "之后我们会联系你和你妈妈做回访"
    assert "回访" in emergency.text[closing]
    assert f.value is True and closing in f.evidence and len(f.evidence) <= 4


def test_short_call_evidence_where_no_cap_binds(drafter):
    """A short call cites what it always did where no cap binds; risk_level of a 紧急 call cites the caller's act
    and the counselor's emergency call first (it cited 8, 10, 13, 15: the plan ahead of the pills swallowed)."""
    d = drafter.draft(*reference_inputs(CALLS["dev-0010"]))
    assert d.fields["risk_level"].evidence == [8, 13, 15, 16, 18, 37]
    assert d.fields["prior_attempt"].evidence == [13, 15]
    assert d.fields["suicidal_ideation"].evidence == [8, 10]
    assert d.fields["referral"].evidence == [16, 18, 37]


def test_evidence_helpers():
    assert spread(range(10))[:3] == [0, 9, 4]
    assert sorted(spread(range(10))) == list(range(10))
    assert by_rank([[90, 91], list(range(20))], 4) == [0, 19, 90, 91]
    assert by_value([list(range(20)), [500], [300, 301]], 4) == [0, 19, 300, 500]
    assert by_value([[1, 2], [2, 3]], 8) == [1, 2, 3]


# --- the LLM prompt fits a budget ---------------------------------------------------------------------------------

class Recording:
    """A backend that keeps the prompt and answers nothing usable (every field then comes from the rules)."""

    name = "recording"
    model_id = "recording-1"

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []

    def complete(self, system: str, user: str) -> str:
        self.prompts.append((system, user))
        return "{}"


@pytest.fixture(scope="module")
def marathon() -> LongCall:
    """1,554 segments (14 × three fixture calls): some 59,000 characters of prompt without a budget."""
    return LongCall(["dev-0001", "dev-0004", "dev-0010"] * 14)


def parts(user: str) -> tuple[list[int], dict[int, str], list[str]]:
    """(segment ids with risk hints, transcript line by segment id, gap lines) of a rendered user message."""
    hints, transcript = user.split("分段风险标签：\n", 1)[1].split("\n\n通话转写", 1)
    hinted = [int(m) for m in re.findall(r"^\[(\d+)\] ", hints, re.M)]
    lines = {int(m.group(1)): m.group(0) for m in re.finditer(r"^\[(\d+)\] (?:来电者|咨询师|混合): .*$", transcript, re.M)}
    gaps = re.findall(r"^……（此处省略 .*$", transcript, re.M)
    return hinted, lines, gaps


def test_long_call_prompt_fits_the_budget_and_keeps_the_risk_segments(marathon):
    prompt = load_prompt("worksheet-v1")
    full = sum(map(len, prompt.render(marathon.segments, marathon.risks, marathon.level)))
    assert full > 2 * DEFAULT_PROMPT_MAX_CHARS
    system, user = prompt.render(marathon.segments, marathon.risks, marathon.level, DEFAULT_PROMPT_MAX_CHARS)
    assert len(system) + len(user) <= DEFAULT_PROMPT_MAX_CHARS
    hinted, lines, gaps = parts(user)
    risky = [r.segment_id for r in marathon.risks if r.labels]
    n = len(marathon.segments)
    assert hinted == risky
    for sid in risky:  # each labelled segment with the turns either side of it
        assert {sid - 1, sid, sid + 1} <= set(lines), sid
    assert {0, 1, 2, n - 2, n - 1} <= set(lines)  # the opening and the closing turns
    assert gaps and all(re.fullmatch(r"……（此处省略 \d+ 段，[\d:]+–[\d:]+(，其中 \d+ 段有风险标签)?）……", g)
                        for g in gaps)
    assert len(lines) + sum(int(re.search(r"省略 (\d+) 段", g).group(1)) for g in gaps) == n
    assert not any("有风险标签" in g for g in gaps)  # every labelled segment fitted


def test_short_call_prompt_is_unchanged_by_the_budget():
    call = LongCall(["dev-0010"])
    prompt = load_prompt("worksheet-v1")
    assert (prompt.render(call.segments, call.risks, call.level, DEFAULT_PROMPT_MAX_CHARS)
            == prompt.render(call.segments, call.risks, call.level))


def test_budget_smaller_than_the_risk_segments_keeps_the_gravest(marathon):
    prompt = load_prompt("worksheet-v1")
    system, user = prompt.render(marathon.segments, marathon.risks, marathon.level, 6000)
    assert len(system) + len(user) <= 6000
    hinted, lines, gaps = parts(user)
    attempts = {r.segment_id for r in marathon.risks if "suicide_attempt" in r.labels}
    passive = {r.segment_id for r in marathon.risks if r.labels == ["passive_ideation"]}
    assert set(hinted) <= set(lines)
    assert attempts & set(lines) and len(attempts & set(lines)) >= len(passive & set(lines))
    assert any("段有风险标签" in g for g in gaps)  # what did not fit is said to hold risk


def test_llm_drafter_sends_a_prompt_within_the_budget(marathon):
    backend = Recording()
    d = LLMDrafter(backend, fallback=RulesDrafter()).draft(marathon.segments, marathon.risks, marathon.level)
    (system, user), = backend.prompts
    assert len(system) + len(user) <= DEFAULT_PROMPT_MAX_CHARS
    # what the rules draft cites is in front of the model: the address, the 120 call, the pills swallowed
    _, lines, _ = parts(user)
    for name in ("location_disclosed", "police_linkage", "risk_level", "referral", "follow_up"):
        assert set(d.fields[name].evidence) <= set(lines), name


def test_prompt_budget_setting(monkeypatch):
    assert WorksheetSettings().llm_prompt_max_chars == DEFAULT_PROMPT_MAX_CHARS
    monkeypatch.setenv("SCRIBE_WORKSHEET__LLM_PROMPT_MAX_CHARS", "12000")
    settings = Settings().worksheet
    assert settings.llm_prompt_max_chars == 12000
    drafter = make_drafter(settings.model_copy(update={"engine": "llm", "llm_model": "qwen-test"}))
    assert drafter.max_prompt_chars == 12000
    with pytest.raises(ValueError):
        WorksheetSettings(llm_prompt_max_chars=10)


class Answering(Recording):
    """The rules draft of the call as the model's answer, with some values replaced."""

    def __init__(self, answer: dict) -> None:
        super().__init__()
        self.answer = answer

    def complete(self, system: str, user: str) -> str:
        super().complete(system, user)
        return json.dumps(self.answer, ensure_ascii=False)


@pytest.mark.parametrize("plan, extra, kept", [
    (["dev-0004"] * 10, DESPAIR, False),  # a caller at risk (低): the rules engine's 自杀风险 stands
    (["dev-0012"], [], True),             # a prank call without risk: the model's 骚扰来电 stands
])
def test_llm_never_drafts_harassment_for_a_caller_at_risk(plan, extra, kept):
    call = LongCall(plan, extra)
    rules = call.draft()
    answer = {name: {"value": f.value, "evidence": f.evidence} for name, f in rules.fields.items()}
    answer["call_type"] = {"value": "骚扰来电", "evidence": rules.fields["call_type"].evidence}
    d = LLMDrafter(Answering(answer)).draft(call.segments, call.risks, call.level)
    if kept:
        assert d.fields["call_type"].value == "骚扰来电" and d.fallbacks == {}
    else:
        assert d.fields["call_type"].value == "自杀风险" and set(d.fallbacks) == {"call_type"}
        assert "骚扰来电" in d.fallbacks["call_type"]
