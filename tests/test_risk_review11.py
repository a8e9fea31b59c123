"""Lexicon 1.16: what an eleventh held-out review (var/review29: 94 of 120, 12 of 39 高/紧急 calls missed, 9 of them
紧急) found, as rules, with new sentences of the same kinds (not the review's cases): the caller's body at the drop is
紧急 whatever words come with it; gas opened, a cut in progress and tens of pills are acts; an answer that names an
overdose to the counselor's question what or how much was taken is one; "不知道" opens no denial; an act the caller
only thought of is no attempt; a reservoir is a place to jump from. Each runs through the service's own path
(``RiskAnalysis.analyze``), pieces 0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "review11-1")


def levels(ra: RiskAnalysis) -> list[str]:
    return [a.risk_level for a in ra.alerts]


# --- at the drop ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("turns", [
    [(C, "我考研又没过。"), (K, "你现在在哪里？"), (C, "在宿舍楼的天台，坐在边上。")],
    [(C, "我在我家阳台，腿已经伸到外面了。")],
    [(C, "我现在站到窗台上了，窗户我打开了。")],
    [(C, "我在桥上呢。"), (K, "你现在具体在桥上什么位置？"), (C, "就在栏杆外面。")],
    [(C, "我在"), (C, "铁道"), (C, "这边"), (K, "你离铁道多远？"), (C, "我"), (C, "就站在"), (C, "铁轨上")],
])
def test_the_body_at_the_drop_is_an_emergency(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "紧急"
    assert levels(ra)[-1] == "紧急"


@pytest.mark.parametrize("said", [
    "我站在窗台上擦玻璃呢。",
    "我女儿站在窗台上够风筝。",
    "那天我站在窗台上站了很久，后来下来了。",
    "我们坐在天台边上晒太阳。",
    "我要是站在窗台上，我妈会吓坏的。",
    "我没站在窗台上，我在床上躺着。",
    "我站在轨道上，等地铁进站。",
    "我家狗老是蹲在窗台上。",
])
def test_a_sill_or_an_edge_for_an_errand_or_someone_else_is_no_emergency(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


# --- acts the review's words found -----------------------------------------------------------------------------

@pytest.mark.parametrize("turns", [
    [(C, "我不想活了。"), (K, "你现在在做什么？"), (C, "我把"), (C, "燃气"), (C, "打开了")],
    [(C, "我正在割手腕，血流了一地。")],
    [(C, "我刚才吃了艾司唑仑三十多片。")],
])
def test_acts_told_as_done_or_under_way_are_an_emergency(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "紧急"


@pytest.mark.parametrize("said", ["我把煤气打开了，准备炒菜。", "家里停电，我把燃气开了烧点热水。", "我在割麦子，手都磨破了。",
                                  "我昨天吃了两片安眠药，睡得还行。", "我把煤气打开了，结果打不着火。", "停了三天气，今天终于把燃气开了。",
                                  "我正划着胳膊，皮划艇训练太累了。", "这个月我一共吃了艾司唑仑二十多片，每天晚上一片，医生开的。"])
def test_everyday_gas_fields_and_a_dose_are_no_act(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" not in worded(out[-1])


@pytest.mark.parametrize("turns", [
    # the first words name no medicine; the answer names an overdose and when
    [(C, "我吃了。"), (K, "你吃了什么药？什么时候吃的？"), (C, "氯硝西泮，一整板，就刚刚。")],
    # "不知道" opens the answer, no denial
    [(C, "药我已经吃了。"), (K, "吃了多少？"), (C, "不知道，三四十片吧，安定。")],
])
def test_an_answer_that_names_an_overdose_is_the_act(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_attempt" in worded(out[-1])
    assert level_at_least(ra.state.level, "高")


def level_at_least(level: str, floor: str) -> bool:
    order = ["无", "低", "中", "高", "紧急"]
    return order.index(level) >= order.index(floor)


@pytest.mark.parametrize("turns", [
    [(C, "我在吃抗抑郁的药。"), (K, "你吃了什么药？"), (C, "舍曲林，一天一片。")],
    [(C, "我失眠。"), (K, "吃了多少？"), (C, "不多，安眠药半片。")],
])
def test_an_answer_with_a_dose_is_no_act(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_attempt" not in worded(out[-1])


# --- an act thought of, a place to jump from ------------------------------------------------------------------

def test_an_act_only_thought_of_is_no_attempt(engine):
    ra, out = run(engine, [(C, "前天晚上我想过把攒的安眠药都吃了，最后没敢。")])
    assert "suicide_attempt" not in worded(out[-1])
    assert ra.state.level == "中"


def test_a_reservoir_is_a_place_to_jump_from(engine):
    ra, out = run(engine, [(K, "你有具体的打算吗？"), (C, "后天"), (C, "去村后头"), (C, "那个水库"), (C, "跳")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["周末我们去水库跳水。", "我想去楼顶跳一跳，活动活动。"])
def test_diving_and_exercise_are_no_plan(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" not in worded(out[-1])


def test_a_weekday_next_week_is_no_near_time(engine):
    # "下礼拜三" is as far as "下周三": not within 72 hours by the words alone
    ra, out = run(engine, [(C, "我已经想好了，下礼拜三我就去他公司楼顶跳下去。")])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "中"


def test_settling_it_with_a_blade_ready_and_a_day_is_a_plan(engine):
    ra, out = run(engine, [(C, "这两天我就想做个了断。"), (K, "你说的了断，是指结束生命吗？"), (C, "是，绳子我都买好了。"),
                           (K, "这两天，是指今明两天吗？"), (C, "嗯，最迟后天。")])
    assert "active_ideation" in worded(out[1])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["我想跟他做个了断，这段感情太累了。", "我和她想做个了断，离婚算了。"])
def test_settling_things_with_someone_is_no_ideation(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "active_ideation" not in worded(out[-1])


def test_a_yes_to_the_decision_restated_with_its_day_is_a_plan(engine):
    ra, _ = run(engine, [(C, "我真的撑不下去了，我想在我生日那天走。"), (K, "你生日是哪天？"), (C, "后天。"),
                         (K, "所以你是打算后天，在你生日那天，结束自己的生命？"), (C, "对。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("asked", ["你是打算明天去看医生吗？", "你原来打算明天结束生命，后来放弃了，是吗？",
                                   "你明天还会有想死的念头吗？"])
def test_a_yes_to_no_decision_with_a_day_is_no_plan(engine, asked):
    ra, _ = run(engine, [(C, "我真的不想活了。"), (K, asked), (C, "对。")])
    assert ra.state.level == "中"


# --- narrowed after a code review (var/review30code: 97 new false alarms in the first version, 2 left) -------------

@pytest.mark.parametrize("turns", [
    [(C, "为了挂窗帘，我站到窗台上了。")],
    [(C, "梦里我站在铁轨上，火车开过来。")],
    [(C, "小猫爬上窗台了，我得去抱下来。")],
    [(C, "我们工班现在站在轨道上换枕木。")],
    [(C, "我们家住顶楼，我的房间就在边上。")],
    [(C, "我想爬上窗台看看雪。")],
    [(C, "晚上太热，我现在脚伸到窗户外面吹风。")],
])
def test_errands_dreams_wishes_and_others_at_the_edge_are_no_emergency(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "无"


def test_an_edge_without_now_in_an_everyday_call_is_no_emergency(engine):
    ra, _ = run(engine, [(C, "我站在窗台上。")])
    assert ra.state.level == "无"


@pytest.mark.parametrize("turns", [
    [(C, "我家狗误吃了东西。"), (K, "它吃了多少？"), (C, "老鼠药，好多，一整包都没了。")],
    [(C, "孩子把药翻出来了。"), (K, "孩子吃了什么药？"), (C, "安眠药，一整板都拆开了。")],
    [(C, "我今天胃口特别好。"), (K, "你晚饭吃了多少？"), (C, "吃了好多，吃完心里也安定了。")],
    [(C, "我失眠很久了。"), (K, "那你吃了多少安眠药？"), (C, "安眠药一晚上一片，一盒能吃半个月。")],
])
def test_an_answer_about_someone_elses_or_the_usual_intake_is_no_act(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_attempt" not in worded(out[-1])
    assert ra.state.level == "无"


@pytest.mark.parametrize("said", ["今晚我去河边跳交谊舞。", "这周末去大桥跳蹦极。", "明天去水库跳一会儿舞，再钓鱼。"])
def test_dancing_by_the_water_is_no_plan(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_a_small_dose_of_poison_is_still_an_act(engine):
    ra, out = run(engine, [(C, "我刚才吃了三颗老鼠药。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "紧急"


@pytest.mark.parametrize("plan,asked", [("等考完试我就去跳楼。", "那你哪天考？"), ("他结婚那天我就从楼上跳下去。", "婚礼是哪天？")])
def test_one_word_of_the_occasion_in_the_question_dates_the_plan(engine, plan, asked):
    ra, _ = run(engine, [(C, plan), (K, asked), (C, "后天。")])
    assert ra.state.level == "高"
