"""Lexicon 1.13: what a fourth review's held-out cases found (var/review17 at the time; these are new sentences of
the same kinds, not its cases). Short answers to the counselor's assessment carry the date or the time they give; a
near miss, an act's aftermath or a film's character is no act in progress; a scouted site is preparation; passive
wishes, retold questions, resolved past and Traditional characters are read as they are meant. Each case runs
through the service's own path (``RiskAnalysis.analyze``), pieces 0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.risk.lexicon import normalize
from service.types import FinalSegment

C, K = "caller", "counselor"
OPENING = (K, "您好，这里是心理援助热线，请问有什么可以帮到您？")


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]], gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    ra, out, t = RiskAnalysis(engine, "answers-1", None), [], 0.0
    for i, (who, text) in enumerate([OPENING, *turns]):
        d = max(1.0, 0.25 * len(text))
        out.append(ra.analyze(FinalSegment("answers-1", i, who, t, t + d, text))[0])
        t += d + gap
    return ra, out


def worded(risk) -> dict[str, str]:
    return {k.label: k.text for k in risk.keywords}


# --- answers to the counselor's assessment ------------------------------------------------------------------------


@pytest.mark.parametrize("answer,level", [
    ("前天晚上。", "高"),      # within two weeks: 高
    ("就上个礼拜。", "高"),
    ("去年。", "中"),          # an earlier attempt
])
def test_an_answer_to_when_dates_the_attempt_it_asks_about(engine, answer, level):
    ra, _ = run(engine, [(C, "我觉得活着一点意思都没有。"), (K, "你以前有没有自杀过？"), (C, "有过。"),
                         (K, "什么时候？"), (C, answer)])
    assert ra.state.level == level


def test_when_the_thoughts_began_dates_no_attempt(engine):
    ra, _ = run(engine, [(K, "你以前有没有自杀过？"), (C, "有过。"), (K, "这个念头是什么时候开始有的？"),
                         (C, "上个礼拜。")])
    assert ra.state.level == "中"


def test_a_when_question_need_not_say_shenme_shihou(engine):
    ra, _ = run(engine, [(K, "你之前说想过从楼上跳下去，现在还这么想吗？"), (C, "嗯。"), (K, "有没有定日子？"),
                         (C, "后天。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("answer,level", [
    ("今天晚上，等他们都睡了。", "高"),  # the caller's time; 他们 is who must be asleep, in another clause
    ("明天我爸要来。", "中"),             # the time's own clause is someone else's
])
def test_whose_time_is_read_in_the_times_own_clause(engine, answer, level):
    ra, _ = run(engine, [(C, "遗书我写好了。"), (K, "你准备什么时候？"), (C, answer)])
    assert ra.state.level == level


@pytest.mark.parametrize("question,level", [
    ("是明天晚上吗？", "高"),             # only the time, restated: a yes is that time
    ("也就是后天，是吗？", "高"),
    ("明天你会去上班吗？", "中"),         # a time, but the question asks something else
    ("明天你愿意去医院看看吗？", "中"),
])
def test_a_yes_to_the_restated_time_of_a_plan(engine, question, level):
    ra, _ = run(engine, [(C, "我不想活了，绳子都买好了。"), (K, question), (C, "对。")])
    assert ra.state.level == level


@pytest.mark.parametrize("answer,level", [
    ("嗯，流了好多血。", "紧急"),   # "嗯，" then what the act did: a yes
    ("嗯，不过没割深。", "中"),      # hedged, denied in part: no yes taken
    ("嗯，我也不知道。", "中"),
])
def test_a_yes_that_goes_on(engine, answer, level):
    ra, _ = run(engine, [(C, "我不想活了。"), (K, "你刚才是不是割了？"), (C, answer)])
    assert ra.state.level == level


def test_a_yes_then_medicine_as_prescribed_is_no_act(engine):
    ra, _ = run(engine, [(C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "嗯，医生开的。")])
    assert ra.state.level == "中"


# --- acts that are not in progress ------------------------------------------------------------------------------


@pytest.mark.parametrize("said,level", [
    ("我差点把药全吃了。", "中"),          # a near miss: nothing taken
    ("我差一点就割腕了。", "中"),
    ("昨天我差点把药全吃了。", "高"),      # an interrupted act within two weeks, as an attempt
    ("我刚把药全吃了。", "紧急"),
])
def test_a_near_miss_is_no_act_in_progress(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


def test_the_aftermath_of_a_dated_attempt_is_no_act_now(engine):
    pieces = ["三天前", "我吃了", "半瓶", "安眠药", "被我妈", "发现", "送去", "洗胃了"]
    ra, risks = run(engine, [(C, p) for p in pieces])
    assert ra.state.level == "高", [(r.labels, worded(r)) for r in risks]


@pytest.mark.parametrize("said,level", [
    ("我吃了一整瓶安眠药，现在在医院洗胃。", "紧急"),   # the amount and the means in the act's own clause
    ("我割腕了，被送到医院缝了五针。", "中"),           # treated: told as what happened, undated
])
def test_aftermath_words_against_an_act_told_now(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


@pytest.mark.parametrize("pieces", [
    ["我追的那部剧", "男二号", "跳楼了"],
    ["电影里的那个女孩", "吞了安眠药"],
])
def test_a_character_in_a_story_is_someone_else(engine, pieces):
    ra, risks = run(engine, [(C, p) for p in pieces])
    assert ra.state.level in ("无", "低"), [(r.labels, worded(r)) for r in risks]
    assert "suicide_exploration" in risks[-1].labels


# --- preparation and plans ----------------------------------------------------------------------------------------


def test_a_scouted_site_is_preparation(engine):
    ra, risks = run(engine, [(C, "我真的不想活了。"), (C, "我去楼顶看过了，天台门没锁。"), (C, "明天下班就去。")])
    assert "suicide_preparation" in worded(risks[2])
    assert ra.state.level == "高"


@pytest.mark.parametrize("then,level", [
    ("明天下班就去。", "高"),    # "就去" and nothing after it: the time of the plan told before
    ("明天就去上班。", "中"),    # an errand
    ("明天就去医院。", "中"),    # help
])
def test_a_near_time_to_go_after_a_counselor_turn(engine, then, level):
    ra, _ = run(engine, [(C, "我不想活了，绳子买好了。"), (K, "嗯，我听到了。"), (C, then)])
    assert ra.state.level == level


def test_a_rooftop_visited_for_an_errand_is_not(engine):
    ra, _ = run(engine, [(C, "我们楼顶我去看过了，水箱漏水。"), (C, "明天去修。")])
    assert ra.state.level == "无"


def test_going_where_someone_died_is_a_place_plan(engine):
    ra, risks = run(engine, [(C, "我不想活了，我打算周末去她出事的那座桥。")])
    assert worded(risks[1]).get("suicide_plan", "").startswith("打算周末去")
    assert ra.state.level == "高"


def test_the_misheard_cut_wrist_is_read_by_its_sound(engine):
    # 割 and 隔 are both "ge": the recognizer writes either
    ra, risks = run(engine, [(C, "我不想活了。"), (C, "我刚才拿刀片"), (C, "隔了手腕")])
    assert worded(risks[-1]).get("suicide_attempt") == "隔了手腕"
    assert ra.state.level == "紧急"


def test_asking_the_lethal_dose_is_exploration(engine):
    _, risks = run(engine, [(C, "我想知道安眠药吃多少会死。")])
    assert "suicide_exploration" in risks[1].labels


# --- wishes, retold questions, resolved past, script ----------------------------------------------------------------


@pytest.mark.parametrize("pieces", [
    ["要是", "睡着了", "不用醒来", "就好了"],
    ["有时候觉得", "死了也挺好"],
    ["我也累，有时候觉得活着挺没意思的。"],
    ["活著真沒意思"],                      # Traditional, as a transcript may be written
])
def test_passive_wishes(engine, pieces):
    ra, risks = run(engine, [(C, p) for p in pieces])
    assert any("passive_ideation" in worded(r) for r in risks), [(r.labels, worded(r)) for r in risks]
    assert ra.state.level == "低"


def test_traditional_characters_are_read_as_simplified_with_spans_kept():
    assert normalize("活著真沒意思") == "活着真没意思"
    assert len(normalize("我會去跳樓")) == len("我會去跳樓")


def test_dying_to_spite_someone_is_active_ideation(engine):
    ra, risks = run(engine, [(C, "有时候我真想死给他们看。")])
    assert worded(risks[1]).get("active_ideation") == "死给他们看"
    assert ra.state.level == "中"


@pytest.mark.parametrize("said,level", [
    ("心理老师问我有没有想过自杀，我说没有。", "无"),
    ("医生问过我是不是想死，我没回答。", "无"),
    ("医生问我有没有想过自杀，我说想过。", "中"),
])
def test_a_retold_question_is_answered_by_what_the_caller_said(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


def test_ideation_in_the_past_that_got_better(engine):
    ra, _ = run(engine, [(C, "我初中的时候想过自杀，后来慢慢好了。")])
    assert ra.state.level == "无"


def test_a_decision_about_something_else_gives_no_intent(engine):
    _, risks = run(engine, [(C, "我想结束这段婚姻，我已经决定了，下周就去办手续。")])
    assert "决定了" not in [k.text for k in risks[1].keywords]
