"""Lexicon 1.15: what a ninth held-out review (var/review25) missed, as rules, with new sentences of the same kinds
(not the review's cases): false starts in the recognizer's pieces, a longer answer to the question when, the
counselor's restated decision and its time, a means named in answer to the question how, a day counted ahead,
the window sill, charcoal and tape. Each runs through the service's own path (``RiskAnalysis.analyze``), pieces
0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "review9-1")


# --- the recognizer's pieces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pieces", [
    ["我", "我想", "自", "自杀"],
    ["就是", "我", "真", "真的不想活了"],
])
def test_a_false_start_the_next_piece_says_again_is_read_through(engine, pieces):
    ra, out = run(engine, [(C, p) for p in pieces])
    assert "active_ideation" in worded(out[-1])
    assert ra.state.level == "中"


def test_a_piece_that_is_not_a_false_start_is_kept(engine):
    # "我妈" | "妈妈她不要我了": the second piece does not begin with the first
    ra, out = run(engine, [(C, "他"), (C, "他说想死")])
    assert "active_ideation" not in worded(out[-1])


def test_false_starts_between_the_question_when_and_the_answer(engine):
    ra, _ = run(engine, [(K, "你以前有没有尝试过自杀？"), (C, "有过"), (K, "是什么时候？"),
                         (C, "就"), (C, "就"), (C, "一个礼拜前")])
    assert ra.state.level == "高"


def test_a_longer_answer_to_the_question_when_dates_the_attempt(engine):
    ra, _ = run(engine, [(C, "我吃过一整瓶安眠药。"), (K, "你刚才说吃过药，是什么时候的事？"),
                         (C, "就上周三，差不多十来天前吧。")])
    assert ra.state.level == "高"


def test_a_longer_piece_no_one_asked_for_dates_nothing(engine):
    ra, _ = run(engine, [(C, "我以前割过腕"), (C, "上周三我妈又骂我了，骂得特别难听")])
    assert ra.state.level == "中"


# --- the time of a plan ---------------------------------------------------------------------------------------------


def test_the_counselors_restated_decision_and_its_time_confirmed(engine):
    ra, _ = run(engine, [(C, "我打算跳河，地方都看好了。"), (K, "你的意思是，你已经决定明天去做？"),
                         (C, "对，就明天晚上。")])
    assert ra.state.level == "高"


def test_a_question_about_an_errand_with_a_time_is_not_the_plans(engine):
    ra, _ = run(engine, [(C, "我打算跳河。"), (K, "你明天准备去上班吗？"), (C, "对，明天去。")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", ["我打算两天后吃安眠药。", "我准备三天后喝农药。"])
def test_a_day_counted_ahead_within_72_hours(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "高"


def test_a_day_counted_further_ahead_is_a_plan_without_a_near_date(engine):
    ra, _ = run(engine, [(C, "我打算十天后吃安眠药。")])
    assert ra.state.level == "中"


# --- the question how ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["吃药吧。", "割。", "嗯，煤气，家里的煤气。"])
def test_a_means_named_in_answer_to_the_question_how_is_a_plan(engine, answer):
    ra, out = run(engine, [(C, "我真的不想活了。"), (K, "你有想过怎么做吗？"), (C, answer)])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("turns", [
    [(C, "我真的不想活了。"), (K, "你有想过怎么做吗？"), (C, "还没想好。")],
    [(C, "我真的不想活了。"), (K, "你有想过用什么方法吗？"), (C, "没有，我不会吃药的。")],
    [(C, "我最近老是睡不着。"), (K, "那你平时都怎么做？"), (C, "吃药。")],
    [(C, "我想死。"), (K, "你想过怎么做吗？"), (C, "我表哥以前是割腕的。")],
    [(C, "我真的不想活了。"), (K, "你想过怎么做吗？"), (C, "煤气费都交不起了。")],
])
def test_no_means_no_plan(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_plan" not in worded(out[-1])


# --- where the caller is, and what they bought ----------------------------------------------------------------------


def test_on_the_window_sill_with_the_jump_in_mind_is_under_way(engine):
    ra, out = run(engine, [(K, "您现在在哪里？"), (C, "我坐在卧室的窗台上。"),
                           (C, "我家在十二楼，往下一跳就什么都结束了。")])
    assert "active_ideation" in worded(out[-1])
    assert ra.state.level == "紧急"


def test_charcoal_and_tape_and_tonight_in_pieces(engine):
    ra, _ = run(engine, [(C, "我在网上买了木炭"), (C, "还有一卷胶带"), (C, "今天晚上"), (C, "就在车里烧")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", [
    "周末去露营，帐篷、炭、胶带都带齐了。",
    "家里的炭用完了，胶带也没了，明天去超市买。",
    "美术课要带木炭条和胶带。",
    "冬天在车里烧水喝。",
])
def test_charcoal_and_tape_in_everyday_talk(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


# --- what a code review (var/review26code) found too wide, narrowed; new sentences of the same kinds ----------------


@pytest.mark.parametrize("said", [
    "要是今晚还是睡不着，我就吃安眠药。",
    "要是菜地里再长虫，我就用农药喷一遍。",
    "如果家里的液化气用完了，我明天就去换一罐。",
    "要是这几天降温，我们就在屋里烧炭盆。",
])
def test_an_everyday_means_after_a_condition_is_no_threat(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" not in worded(out[-1])
    assert ra.state.level in ("无", "低")


@pytest.mark.parametrize("said", [
    "要是他再不接我电话，我就把攒的安眠药全吃了。",
    "如果这个月还找不到工作，我就喝农药。",
])
def test_an_everyday_means_the_words_make_an_act_is_a_threat(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" in worded(out[-1])


@pytest.mark.parametrize("said", [
    "我打算今晚吃安眠药，好好睡一觉。",
    "我准备明天吃安眠药试试，是医生开的。",
])
def test_sleeping_pills_tonight_to_sleep_are_no_plan(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


@pytest.mark.parametrize("turns", [
    [(K, "你最近有没有想过自杀？"), (C, "没有没有，就是睡不好。"), (K, "睡不着的时候你一般怎么做？"), (C, "吃药。")],
    [(C, "我真的不想活了。"), (K, "这种时候你用什么办法让自己好受一点？"), (C, "吃药吧，抗抑郁的，今晚还得吃。")],
    [(C, "活着好累。"), (K, "你家的稻子用什么方式收？"), (C, "都是机器割。")],
    [(K, "你妈妈以前自杀过，那她身体不舒服的时候怎么做？"), (C, "吃药。")],
])
def test_the_question_how_about_coping_or_chores_is_no_method_question(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_plan" not in worded(out[-1])
    assert ra.state.level in ("无", "低", "中")
    assert not ra.alerts


def test_the_question_how_that_names_the_act_after_a_yes(engine):
    ra, out = run(engine, [(K, "你有没有想过结束自己的生命？"), (C, "有。"), (K, "想过用什么方式吗？"), (C, "煤气。")])
    assert "suicide_plan" in worded(out[-1])


@pytest.mark.parametrize("said", [
    "明天部门团建烧烤，我负责带木炭和一卷胶带。",
    "搬家那天我用封箱带把装木炭的箱子封好了。",
])
def test_charcoal_and_tape_for_a_barbecue_or_a_move(engine, said):
    ra, _ = run(engine, [(C, "我有时候真的不想活了。"), (C, said)])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "艾条千万不能在车里烧。",
    "檀香我一般在房间里烧。",
    "他的照片我就在卫生间烧，烧完冲掉。",
])
def test_incense_and_photos_burnt_indoors(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_burning_in_the_car_tonight_after_intent(engine):
    ra, _ = run(engine, [(C, "我太痛苦了，真的想死。"), (C, "今天晚上就在车里烧。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", [
    "第一次玩蹦极，往下一跳就结束了，特别刺激。",
    "跳伞的时候教练说，往下一跳就都结束了，别怕。",
])
def test_a_jump_for_sport_ends_nothing(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


@pytest.mark.parametrize("between,asked", [
    ("我男朋友跟我分手了。", "这是什么时候发生的？"),
    ("我被公司辞退了。", "多久以前的事？"),
    ("我这次期末又挂科了。", "这事是什么时候？"),
    ("我前阵子刚做了个手术。", "手术是什么时候做的？"),
])
def test_a_bare_when_question_after_another_event_dates_that_event(engine, between, asked):
    ra, _ = run(engine, [(C, "我割过腕。"), (K, "嗯，我在听。"), (C, between), (K, asked), (C, "三天前。")])
    assert ra.state.level == "中"
