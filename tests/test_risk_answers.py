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
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]], gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "answers-1", gap)


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


def test_traditional_characters_are_read_as_simplified_with_spans_kept(engine):
    assert normalize("活著真沒意思") == "活着真没意思"
    said = "他們都說我沒用，活著真沒意思。"
    _, risks = run(engine, [(C, said)])
    hit = next(k for k in risks[1].keywords if k.label == "passive_ideation")
    assert said[hit.char_start:hit.char_end] == hit.text == "活著真沒意思"  # the span is on the words as written


def test_dying_to_spite_someone_is_active_ideation(engine):
    ra, risks = run(engine, [(C, "有时候我真想死给他们看。")])
    assert worded(risks[1]).get("active_ideation") == "死给他们看"
    assert ra.state.level == "中"


@pytest.mark.parametrize("said,level", [
    ("心理老师问我有没有想过自杀，我说没有。", "无"),
    ("医生问我有没有想过自杀，我摇了摇头。", "无"),
    ("医生问我有没有想过自杀，我说想过。", "中"),
    ("医生问我有没有想过自杀？我说有。", "中"),      # the answer after the question's own "？"
    ("医生问我有没有想过自杀，我点了点头。", "中"),
    ("医生问过我是不是想死，我没回答。", "中"),      # no no told: the words count, as they did
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


def test_a_yes_run_into_the_decision_and_after_this_call(engine):
    # the recognizer wrote no stop after "是"; "挂完这个电话就去" is a near time, as "打完这个电话就吃" is imminent
    ra, risks = run(engine, [(K, "你是不是在想结束自己的生命？"), (C, "是我想好了挂完这个电话就去")])
    assert {"active_ideation", "suicide_plan"} <= set(worded(risks[-1]))
    assert ra.state.level == "高"


def test_after_this_call_is_no_plan_by_itself(engine):
    ra, _ = run(engine, [(C, "打完这个电话我就去吃饭。")])
    assert ra.state.level == "无"



def test_a_retold_question_answered_in_the_next_piece(engine):
    ra, _ = run(engine, [(C, "医生问我有没有想过自杀"), (C, "我说有")])
    assert ra.state.level == "中"


# --- what a code review of these rules found they must not do ------------------------------------------------------


@pytest.mark.parametrize("question,answer", [
    ("你是不是已经吃了药？", "嗯，饭后吃的。"),            # medicine as told
    ("你刚才是不是吃了安眠药？", "嗯，吃了一片，想睡个觉。"),
    ("你现在是在江边吗？", "嗯，散步呢。"),                 # an errand after the "嗯，"
    ("你现在是在天台上吗？", "嗯，在晒被子。"),
])
def test_a_yes_that_goes_on_to_something_ordinary_is_no_emergency(engine, question, answer):
    ra, _ = run(engine, [(C, "我不想活了。"), (K, question), (C, answer)])
    assert ra.state.level == "中"


@pytest.mark.parametrize("question,answer", [
    ("你明天能去医院看看医生吗？", "好，明天就去。"),   # the counselor's suggestion, not the plan
    ("你晚饭吃了吗？", "还没，等会就吃。"),
    ("你愿意试试放松练习吗？", "好，今晚就做。"),
    ("今天是周四，对吧？", "对。"),                     # today, stated: no time to come
    ("那明天呢？明天有什么安排？", "嗯，要上班。"),
    ("明天早上呢？", "对，要送孩子上学。"),             # the yes goes on to something else
])
def test_times_that_are_not_the_plans(engine, question, answer):
    ra, _ = run(engine, [(C, "我不想活了，药都攒够了。"), (K, question), (C, answer)])
    assert ra.state.level == "中"


@pytest.mark.parametrize("question", ["你男朋友是什么时候跟你提分手的？", "你是哪天被公司辞退的？"])
def test_a_date_of_another_event_dates_no_attempt(engine, question):
    ra, _ = run(engine, [(C, "我用刀割了手腕。"), (K, question), (C, "前天。")])
    assert ra.state.level == "中"


def test_a_bare_when_after_an_attempt_dates_it(engine):
    ra, _ = run(engine, [(C, "我用刀割了手腕。"), (K, "那是什么时候的事？"), (C, "前天。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("pieces,level", [
    (["我昨天写了封信给我女儿", "然后吃了一整瓶安眠药"], "高"),   # the caller is the subject of the piece
    (["我再也不想见到他", "不想活了"], "中"),
    (["我就像电影里的那个女孩", "不想活了"], "中"),
    (["我最对不起的就是我妈", "真的不想活了"], "中"),
])
def test_a_person_the_caller_speaks_of_heads_nothing(engine, pieces, level):
    ra, _ = run(engine, [(C, p) for p in pieces])
    assert ra.state.level == level


@pytest.mark.parametrize("said", [
    "我把药全吃了，我不想被送医院。",      # the aftermath refused: the act is now
    "我把药全吃了，不要给我洗胃。",
    "我割腕了，这次不想再被救回来了。",
    "我差点就没打这个电话。我把药全吃了。",  # a near miss of something else, in another sentence
    "差点就挺过去了，可我还是把药全吃了。",
])
def test_refused_aftermath_and_other_near_misses_leave_the_act_now(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "紧急"


def test_a_near_miss_cut_into_pieces(engine):
    ra, _ = run(engine, [(C, "差点"), (C, "把药全吃了")])
    assert ra.state.level == "中"


def test_a_cause_told_before_the_decision_does_not_cancel_it(engine):
    ra, _ = run(engine, [(C, "我不想活了。"), (C, "分手以后我想了很久，我已经决定了，这周六。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("turns", [
    [(C, "我不想活了。"), (C, "拿了点感冒药，准备今晚吃了早点睡。")],
    [(C, "我不想活了。"), (K, "你去看过医生吗？"), (C, "医院三楼的心理科我去看过了，明天还要去。")],
])
def test_medicine_and_a_clinic_visited_are_no_preparation(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "中"


# --- a fifth review (held out for the rules above) found these ------------------------------------------------------


@pytest.mark.parametrize("said", [
    "我们班一个女生上周在宿舍割腕了，还好发现得早。",        # someone told as a noun phrase, no pronoun
    "昨天夜班送来一个小伙子，吃了一瓶安眠药，我们给他洗胃。",  # a nurse's patient, the treatment given to him
])
def test_someone_else_named_by_a_noun_phrase(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level in ("无", "低")


def test_a_sports_jump_is_no_plan(engine):
    ra, _ = run(engine, [(C, "我是跳水运动员，后天比赛要从十米台跳下去，紧张得睡不着。")])
    assert ra.state.level == "无"


def test_a_place_of_someone_elses_is_no_subject(engine):
    # "她家楼下", "他们酒店": places; the caller is who acts
    ra, risks = run(engine, [(C, "我想好了，他生日那天，我就去他们小区楼顶跳下去。")])
    assert "suicide_plan" in worded(risks[1])
    assert ra.state.level == "中"


def test_a_corrected_time_is_the_plans(engine):
    ra, _ = run(engine, [(C, "我想好了，她订婚那天，我就在她家楼下喝农药。"), (K, "你说她订婚那天，是下个月吗？"),
                         (C, "不是下个月，就是后天。")])
    assert ra.state.level == "高"


def test_a_time_denied_is_no_near_time(engine):
    ra, _ = run(engine, [(C, "我打算从楼上跳下去。"), (K, "你说的是今天晚上吗？"), (C, "不是今天晚上，是下个月。")])
    assert ra.state.level == "中"


def test_a_thanks_before_the_when_question(engine):
    ra, _ = run(engine, [(C, "那天晚上我吞了好多药。"), (K, "谢谢您告诉我。您说的那天，是哪天？"), (C, "就上周六。")])
    assert ra.state.level == "高"


def test_at_the_edge_with_words_between(engine):
    ra, _ = run(engine, [(C, "我在我们单位楼顶上，坐在边上，脚悬在外面。"), (K, "您是想跳下去吗？"), (C, "嗯，我不想活了。")])
    assert ra.state.level == "紧急"


def test_gas_turned_on_said_plainly(engine):
    ra, _ = run(engine, [(C, "我"), (C, "不想活了"), (C, "我已经"), (C, "把煤气"), (C, "开了")])
    assert ra.state.level == "紧急"


def test_a_bottle_eaten_just_now(engine):
    ra, _ = run(engine, [(C, "我刚吃的，吃了大半瓶。")])
    assert ra.state.level == "紧急"


@pytest.mark.parametrize("said,level", [
    ("一觉睡过去，不要再醒了。", "低"),
    ("每天早上醒过来，我都想还不如别醒过来。", "低"),
    ("真希望自己从来没出生过。", "低"),
])
def test_more_passive_wishes(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


def test_the_counselors_dispatch_cut_into_pieces(engine):
    pieces = ["我们", "同事", "已经", "在联系", "一一零", "和", "一二零"]
    ra, _ = run(engine, [(C, "我不想活了。"), (C, "我现在头好晕。"), *((K, p) for p in pieces)])
    assert ra.state.level == "紧急"


# --- what a second code review found the fifth review's fixes must not do -----------------------------------------


@pytest.mark.parametrize("turns", [
    [(C, "我心情特别差，晚上一个人吃了一整盒蛋糕。")],                         # food, not pills
    [(C, "我这个月吃了好几盒抗抑郁药，感觉没什么用。")],                       # a course of treatment
    [(C, "我真的不想活了。"), (K, "那天他们吵架的时候，你在做什么？"), (C, "我就站在边上。")],  # no high place
    [(C, "我不想活了。"), (K, "你现在在哪里？"), (C, "我在家，我在犹豫要不要去楼顶。")],       # thinking of it
    [(C, "我想死，有时候想开煤气。"), (K, "你现在家里是什么情况？"), (C, "我现在煤气都不敢开了。")],
    [(C, "我有时候想死。"), (K, "晚上睡得怎么样？"), (C, "太热了，睡觉的时候脚都伸在外面。")],
    [(C, "我想死，你们会报警吗？"), (K, "不会的"), (K, "我不会"), (K, "打110的"), (K, "你放心")],
])
def test_no_emergency_from_everyday_words(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level in ("低", "中", "无"), ra.state.level


@pytest.mark.parametrize("question,answer", [
    ("今天是周末吧？家里有人陪你吗？", "对，今天周末，我老公在家。"),
    ("你说的那个考试是明天吗？", "对，明天。"),
])
def test_a_yes_or_no_about_an_events_day_is_no_plan_time(engine, question, answer):
    ra, _ = run(engine, [(C, "我真的想死。"), (K, question), (C, answer)])
    assert ra.state.level == "中"


def test_a_when_question_about_someone_else_in_an_earlier_sentence(engine):
    ra, _ = run(engine, [(C, "我用美工刀割了手腕。"), (K, "你说你妈妈也自杀过。那是哪天的事？"), (C, "上个星期。")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("turns", [
    [(C, "我不想活了，药我已经攒好了。"), (K, "你打算什么时候？"), (C, "不是今天就是明天。")],   # either: near
    [(C, "我想死，炭我已经买好了，明天以后我就不在这个世界上了。")],
])
def test_either_day_and_not_in_this_world_are_near_times(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", [
    "我一个女生，在外地打工，真的撑不下去了。",   # the caller describing herself
    "股票跳水，我真想跳楼。",                     # 跳水 of a market, then the caller's own wish
])
def test_the_callers_own_words_stay_the_callers(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "我女儿学校压力太大，天天在家说不想活了。",   # the daughter's words
    "我最近睡着了总是叫不醒，闹钟都没用。",
    "我怀孕了，希望没有出生缺陷。",
    "宝宝刚睡着，希望别醒。",
])
def test_no_risk_of_the_callers_own(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"
