"""Lexicon 1.15: what a tenth held-out review (var/review27) found, as rules, with new sentences of the same kinds
(not the review's cases): an act treated or rescued since is not in progress, a habit told before an act does not
date it, someone else's absence as the caller's time, 两三天, the question when put as "什么时候吃的？", a means on the
road, insulin, a jump stopped by others, many pieces. Each runs through the service's own path
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
    return run_call(engine, turns, "review10-1")


def levels(ra: RiskAnalysis) -> list[str]:
    return [a.risk_level for a in ra.alerts]


# --- when the act was ----------------------------------------------------------------------------------------------


def test_an_act_treated_since_is_history_not_in_progress(engine):
    ra, _ = run(engine, [(C, "我割过一次腕。"), (K, "能说说当时的情况吗？"), (C, "割了好几刀，在急诊缝的针，后来出的院。"),
                         (K, "那是什么时候？"), (C, "四年前。")])
    assert ra.state.level == "中"
    assert not ra.alerts


def test_an_act_told_with_its_rescue_and_no_date_is_recent_not_under_way(engine):
    ra, _ = run(engine, [(C, "我跳河了，被路过的人捞上来了。")])
    assert ra.state.level == "高"
    assert levels(ra) == ["高"]


def test_an_act_after_a_hospital_stay_is_still_under_way(engine):
    ra, _ = run(engine, [(C, "出院以后，我又把药全吃了。")])
    assert ra.state.level == "紧急"


def test_a_habit_told_before_the_act_does_not_date_it(engine):
    ra, _ = run(engine, [(C, "以前每年过年，我都给她包饺子。"), (K, "您现在在做什么？"),
                         (C, "我把煤气打开了，窗户都关死了。")])
    assert ra.state.level == "紧急"


def test_the_question_when_put_with_the_verb_alone(engine):
    ra, _ = run(engine, [(C, "我"), (C, "我吃了"), (C, "二十"), (C, "二十多片"), (C, "那个"), (C, "安眠药"),
                         (K, "什么时候吃的？"), (C, "刚刚")])
    assert ra.state.level == "紧急"


# --- when the plan is ----------------------------------------------------------------------------------------------


def test_someone_elses_absence_is_the_callers_time(engine):
    ra, _ = run(engine, [(C, "我真的不想活了，安眠药我攒了一瓶。"), (K, "打算什么时候？"),
                         (C, "后天我老公出差，家里没人，就那天。")])
    assert ra.state.level == "高"


def test_someone_elses_visit_is_not_the_callers_time(engine):
    ra, _ = run(engine, [(C, "我真的不想活了，安眠药我攒了一瓶。"), (K, "打算什么时候？"),
                         (C, "不知道，明天我爸要来看我。")])
    assert ra.state.level == "中"


def test_two_or_three_days_is_near(engine):
    ra, _ = run(engine, [(C, "等我把房租交了，我就去跳河。"), (K, "房租什么时候交？"), (C, "就这两三天吧。")])
    assert ra.state.level == "高"


def test_a_means_on_the_road_named_in_answer_to_the_question_how(engine):
    ra, out = run(engine, [(K, "您有没有想过结束自己的生命？"), (C, "想过。"), (K, "有没有想过怎么做？"), (C, "开车冲下去。"),
                           (K, "有没有想好什么时候？"), (C, "明天，送完这趟货。")])
    assert ra.state.level == "高"


# --- acts ----------------------------------------------------------------------------------------------------------


def test_insulin_taken_to_inject_oneself(engine):
    ra, out = run(engine, [(C, "前天晚上我偷偷拿了我爸的胰岛素，给自己打了一整支。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


def test_a_diabetics_insulin_is_no_act(engine):
    ra, _ = run(engine, [(C, "我有糖尿病，每天早上给自己打胰岛素。")])
    assert ra.state.level == "无"


def test_a_jump_stopped_by_others(engine):
    ra, out = run(engine, [(C, "大前天晚上我爬到楼顶想跳下去，是保安把我拉下来的。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


# --- what a code review (var/review28code) found too wide, narrowed; new sentences of the same kinds ----------------


@pytest.mark.parametrize("said", [
    "我爬到院墙上想跳进去拿球，被门卫拽下来了。",
    "我站到台上想跳一段舞，被同事拉下来了。",
    "我爬到卡车上想跳下来搬货，被师傅拉住了。",
])
def test_a_leap_at_play_or_work_stopped_by_others_is_no_attempt(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


@pytest.mark.parametrize("said", [
    "我是一型糖尿病，饭前拿了胰岛素给自己打了六个单位。",
    "医生让我每天晚上拿胰岛素给自己打一针。",
])
def test_insulin_as_prescribed_is_no_act(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


@pytest.mark.parametrize("said", [
    "我十九岁那年把药全吃了，被我姐送到医院抢救过来了。",
    "刚结婚那几年我割过腕，被我老公发现，抢救过来了。",
])
def test_a_rescue_told_in_a_past_frame_is_history(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "中"


def test_an_accident_with_a_rescue_is_no_recent_attempt(engine):
    ra, _ = run(engine, [(C, "我去河里游泳抽筋了，差点淹死，被人救回来了。")])
    assert ra.state.level in ("无", "低", "中")
    assert not ra.alerts


@pytest.mark.parametrize("asked,answer", [
    ("您用什么方式回老家？", "开车，明天一早就走。"),
    ("您平时怎么去上班？", "开车，今天早上还堵车了。"),
])
def test_driving_to_an_ordinary_how_question_is_no_method(engine, asked, answer):
    ra, out = run(engine, [(C, "我真的不想活了。"), (K, asked), (C, answer)])
    assert "suicide_plan" not in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("asked,answer", [
    ("你女儿什么时候回家？", "她明天上夜班，后天才回来，家里没人。"),
    ("你们什么时候搬家？", "这两三天吧，趁我老公休假。"),
])
def test_someone_elses_time_asked_about_someone_else_is_not_the_plans(engine, asked, answer):
    ra, _ = run(engine, [(C, "我想死。"), (K, asked), (C, answer)])
    assert ra.state.level == "中"


def test_a_habit_that_holds_the_act_still_dates_it(engine):
    ra, _ = run(engine, [(C, "我以前每次跟我老公吵完架都会吃安眠药。"), (C, "最严重的一次吃了一整瓶，被送去洗胃了。")])
    assert ra.state.level == "中"


def test_a_habit_with_its_own_date_still_dates_the_act(engine):
    ra, _ = run(engine, [(C, "前年我每天晚上都睡不着。"), (C, "我吞了一整瓶安眠药，住了一个礼拜的院。")])
    assert ra.state.level == "中"


def test_the_time_of_telling_is_not_the_time_of_the_act(engine):
    ra, _ = run(engine, [(C, "刚才"), (C, "我"), (C, "跟我老公"), (C, "说"), (C, "我去年吃了一整瓶安眠药")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("asked,answer", [
    ("你老板什么时候找你谈？", "明天，他出差回来。"),
    ("你们同学聚会是哪天？", "明天晚上。"),
])
def test_a_wish_and_the_day_of_an_errand_is_no_plan(engine, asked, answer):
    ra, _ = run(engine, [(C, "我想死。"), (K, asked), (C, answer)])
    assert ra.state.level == "中"


@pytest.mark.parametrize("asked,answer", [("你想过什么时候吗？", "就这个周末。"), ("有没有定日子？", "明天。")])
def test_a_wish_and_the_day_the_caller_means_to_act_is_a_plan(engine, asked, answer):
    ra, _ = run(engine, [(C, "我想死。"), (K, asked), (C, answer)])
    assert ra.state.level == "高"


def test_a_plan_tied_to_an_occasion_is_dated_by_it(engine):
    ra, _ = run(engine, [(C, "等我把这个月房租交了，我就去跳河。"), (K, "房租什么时候交？"), (C, "明天。")])
    assert ra.state.level == "高"


def test_the_conversation_itself_still_dates_the_act(engine):
    # "刚才" heading a telling to someone else dates the telling; told to the counselor, or while talking, the act
    ra, _ = run(engine, [(C, "我刚才跟你说话的时候，用刀片把手腕割了，现在还在流血。")])
    assert ra.state.level == "紧急"
