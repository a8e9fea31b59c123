"""Lexicon 1.16: a wound told as it is now dates the attempt the caller told without a date (a wound still dressed or
healing is days old: Beijing 高), a plan is dated by an errand's day only when it was tied to that errand, buying the
pills to take them all is a plan, and sleeping pills taken on the weekend as prescribed are not. New sentences, each
run through the service's own path (``RiskAnalysis.analyze``)."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "wounds-1")


# --- a wound told as it is now --------------------------------------------------------------------------------------

@pytest.mark.parametrize("turns", [
    # the wound told after the counselor asks about it (the live recognizer lost the act's date: dev-0009's case)
    [(C, "我拿剃须刀片割了手腕，那会儿是真的想死。"), (K, "伤口现在怎么样？"),
     (C, "流了不少血，我自己按住了，现在拿纱布缠着，不让家里人看见。")],
    # the recognizer's spelling of 纱布
    [(C, "我拿剃须刀片割了手腕，想死。"), (K, "伤口现在怎么样？"), (C, "用沙布包着，穿长袖。")],
    # in the same words as the act
    [(C, "我用刀片割了手腕，是想死，胳膊上现在还缠着绷带。")],
    # healing, the stitches still in
    [(C, "我割了手腕，就是想死。"), (K, "现在身体怎么样？"), (C, "伤口还在发炎，医生说过两天拆线。")],
    # a yes to the counselor's question that tells it
    [(C, "我割了手腕，想死。"), (K, "伤口还包着纱布吗？"), (C, "嗯。")],
])
def test_a_wound_still_tended_dates_the_attempt_as_recent(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "高"
    assert [a.risk_level for a in ra.alerts] == ["高"]


@pytest.mark.parametrize("turns", [
    # told as history, or in a past frame
    [(C, "我割过腕，想死。"), (K, "伤口现在怎么样？"), (C, "还缠着纱布呢。")],
    [(C, "二十岁那年我割了手腕，想死。"), (K, "后来呢？"), (C, "拿纱布包了一下，没去医院。")],
    [(C, "以前我割了手腕，想死。"), (K, "伤口呢？"), (C, "用纱布包着。")],
    # healed: a scar
    [(C, "我割了手腕，想死。"), (K, "伤口现在怎么样？"), (C, "早就好了，留了一道疤。")],
    # someone else's wound
    [(C, "我割了手腕，想死。"), (K, "嗯。"), (C, "我儿子摔了一跤，膝盖上贴着创可贴。")],
    # a wound that is no attempt's
    [(C, "我不想活了。"), (K, "最近发生了什么？"), (C, "上个月做了个手术，伤口还疼。")],
])
def test_an_old_or_someone_elses_wound_dates_nothing(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "中"


def test_a_cut_in_the_kitchen_is_no_attempt(engine):
    ra, _ = run(engine, [(C, "我切菜切到手了，用纱布包了一下。")])
    assert ra.state.level == "无"


# --- a plan and the day of an errand ----------------------------------------------------------------------------

@pytest.mark.parametrize("asked", ["你老板什么时候找你谈？", "你们同学聚会是哪天？"])
def test_a_plan_not_tied_to_the_errand_is_not_dated_by_it(engine, asked):
    ra, _ = run(engine, [(C, "我想从楼上跳下去。"), (K, asked), (C, "明天。")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("plan,asked,answer", [
    ("等我儿子高考完，我就去跳河。", "你儿子哪天高考？", "后天。"),
    ("我妹妹出嫁那天，我就从楼上跳下去。", "你妹妹什么时候出嫁？", "这个周六。"),
])
def test_a_plan_tied_to_an_occasion_is_dated_by_when_it_is(engine, plan, asked, answer):
    ra, _ = run(engine, [(C, plan), (K, asked), (C, answer)])
    assert ra.state.level == "高"


@pytest.mark.parametrize("asked", ["具体是哪天？", "那你想哪天？"])
def test_the_question_when_put_plainly_dates_a_plan(engine, asked):
    ra, _ = run(engine, [(C, "我想死，安眠药我已经攒好了。"), (K, asked), (C, "明天。")])
    assert ra.state.level == "高"


# --- buying the pills to take them all ----------------------------------------------------------------------

@pytest.mark.parametrize("said", ["发了工资我就去买安眠药，一口气全吃了。", "我要去买老鼠药，全吃了。"])
def test_buying_the_means_to_take_it_all_is_a_plan(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", ["明天我要去买药，我爸的药都吃完了。", "我想去买点零食，全吃了。"])
def test_errands_with_medicine_are_no_plan(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" not in worded(out[-1])


def test_sleeping_pills_on_the_weekend_as_usual_are_no_plan(engine):
    ra, out = run(engine, [(C, "我不想活了。"), (K, "睡眠怎么样？"), (C, "周末我就吃安眠药，平常不敢吃。")])
    assert "suicide_plan" not in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "我前两天切菜切到手了，贴着创可贴。",
    "上周做了个阑尾手术，伤口还疼。",
    "猫抓了我，胳膊上贴着创可贴。",
    "我前天抽血，胳膊上现在还贴着创可贴。",
    "伤口疼了半年了，一直没好利索。",
])
def test_a_wound_from_something_else_or_long_ago_dates_nothing(engine, said):
    ra, _ = run(engine, [(C, "我割了手腕，想死。"), (K, "嗯，你说。"), (C, said)])
    assert ra.state.level == "中"
