"""Lexicon 1.14: what the fifth review left wrong and a sixth review found (new sentences of the same kinds, not the
reviews' cases). A noun phrase naming someone who did the act, a bereaved caller's life after a death, a stutter of
"不是", "快撑不住了" as exhaustion, following the dead, pets. Each case runs through the service's own path
(``RiskAnalysis.analyze``), pieces 0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.types import FinalSegment

C, K = "caller", "counselor"
OPENING = (K, "您好，这里是心理援助热线，请问有什么可以帮到您？")


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]], gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    ra, out, t = RiskAnalysis(engine, "review6-1", None), [], 0.0
    for i, (who, text) in enumerate([OPENING, *turns]):
        d = max(1.0, 0.25 * len(text))
        out.append(ra.analyze(FinalSegment("review6-1", i, who, t, t + d, text))[0])
        t += d + gap
    return ra, out


def worded(risk) -> dict[str, str]:
    return {k.label: k.text for k in risk.keywords}


# --- whose act --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("said", [
    "我是急诊科的护士，昨天夜班来了一个喝农药的，抢救了一晚上。",
    "我们派出所上周处置了一个跳河的。",
    "小区里那个跳楼的人我认识，以前常一起下棋。",
    "新闻里说有个割腕的女孩，才十五岁。",
])
def test_a_noun_phrase_names_someone_who_did_it(engine, said):
    ra, out = run(engine, [(C, said)])
    assert ra.state.level == "无"
    assert not set(out[-1].labels) & {"suicide_plan", "suicide_attempt", "active_ideation"}
    assert "suicide_exploration" in out[-1].labels


@pytest.mark.parametrize("said,label", [
    ("我就是一个想死的人，谁也帮不了我。", "active_ideation"),
    ("我心里有一个想死的念头，怎么也甩不掉。", "active_ideation"),
])
def test_the_caller_described_as_one_is_the_caller(engine, said, label):
    ra, out = run(engine, [(C, said)])
    assert label in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "我爸走了以后，活着没意思。",
    "老伴去世以后，觉得活着真没意思。",
    "我家那条狗死了之后，活着没意思。",
])
def test_the_one_left_behind_speaks_of_their_own_life(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "passive_ideation" in worded(out[-1])
    assert ra.state.level == "低"


def test_someone_elses_wish_to_die_is_no_loss_told(engine):
    # "他想死，" ends on 死 but tells nobody's death: what follows is still his
    ra, out = run(engine, [(C, "昨天他跟我说，他想死，说跳下去就什么都不用管了。")])
    assert ra.state.level == "无"
    assert "suicide_plan" not in out[-1].labels


@pytest.mark.parametrize("said,level", [
    ("我家那只猫死了也挺好，天天半夜叫。", "无"),
    ("我们家的狗死了，我也不想活了。", "中"),   # the caller's own words after the pet
    ("我活得像条狗，死了也挺好。", "低"),       # a simile, not an animal
])
def test_a_pet_is_someone_else(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


# --- what the words mean ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("turns", [
    [(K, "你划手的时候，是想死吗？"), (C, "不是"), (C, "不是想死")],
    [(K, "你划手的时候，是想死吗？"), (C, "不是不是想死，就是难受。")],
])
def test_no_said_twice_is_still_no(engine, turns):
    ra, out = run(engine, turns)
    assert "active_ideation" not in worded(out[-1])
    assert ra.state.level == "无"


def test_a_not_a_question_is_still_no_negation(engine):
    ra, out = run(engine, [(C, "你说我是不是想死了才会这样想？我真的想死。")])
    assert "active_ideation" in worded(out[-1])


@pytest.mark.parametrize("said,label,level", [
    ("孩子天天夜里哭，我感觉自己快撑不住了。", "passive_ideation", "低"),
    ("一个人带两个孩子，真的快要熬不下去了。", "passive_ideation", "低"),
    ("我真的撑不住了，不想活了。", "active_ideation", "中"),
])
def test_nearly_at_the_limit_is_exhaustion_not_intent(engine, said, label, level):
    ra, out = run(engine, [(C, said)])
    assert label in worded(out[-1])
    assert ra.state.level == level


@pytest.mark.parametrize("said", [
    "老伴走了半年了，我想跟着她去了。",
    "儿子没了，我真想跟着他走了算了。",
])
def test_following_the_dead_is_intent(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "active_ideation" in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", ["我想跟着他去深圳打工。", "过年我想跟着我妈去外婆家。"])
def test_following_someone_somewhere_is_no_intent(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_a_little_poison_is_a_method(engine):
    ra, out = run(engine, [(C, "我不想活了。"), (C, "我想喝点农药，一了百了。")])
    assert "suicide_plan" in worded(out[-1])
