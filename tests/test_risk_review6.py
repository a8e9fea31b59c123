"""Lexicon 1.14: what the fifth review left wrong and a sixth review found (new sentences of the same kinds, not the
reviews' cases). A noun phrase naming someone who did the act, a bereaved caller's life after a death, a stutter of
"不是", "快撑不住了" as exhaustion, following the dead, pets. Each case runs through the service's own path
(``RiskAnalysis.analyze``), pieces 0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.types import level_rank
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]], gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "review6-1", gap)


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


# --- acts told plainly ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("said,level", [
    ("我刚才把降压药和安眠药混在一起吃了，一整瓶。", "紧急"),
    ("我把医生开的药一起吞了，大半瓶。", "紧急"),
    ("我把降压药吃了。", "无"),                       # medicine taken, no amount
])
def test_a_bottle_of_pills_taken_at_once(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


@pytest.mark.parametrize("said,level", [
    ("大前天晚上我在卧室里烧了炭，后来实在难受自己爬出来了。", "高"),
    ("前天我在车里烧炭，被我姐发现了。", "高"),
    ("我前两天从桥上跳下去了，被路过的人拉上来了。", "高"),
])
def test_an_attempt_told_with_its_rescue(engine, said, level):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == level


def test_a_barbecue_is_no_attempt(engine):
    ra, _ = run(engine, [(C, "周末我们在院子里烧炭烤肉，孩子们可高兴了。")])
    assert ra.state.level == "无"


@pytest.mark.parametrize("said,level", [
    ("我刚在左手腕上割了两刀，血一直在流。", "紧急"),
    ("我把煤气打开了，窗户也都关死了。", "紧急"),
    ("门窗我都关严了，燃气也开着。", "紧急"),
])
def test_an_act_in_progress_told_plainly(engine, said, level):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == level


@pytest.mark.parametrize("said", ["我把煤气打开了，准备炖排骨。", "我在胳膊上划了几道，不想死，就是难受。"])
def test_everyday_gas_and_self_harm_are_not_attempts(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" not in out[-1].labels
    assert ra.state.level in ("无", "低")


@pytest.mark.parametrize("said", [
    "我想好了，周六爸妈出门以后，我就在家把攒的安眠药全吃了。",
    "等他们下周一去上班了，我就把那些药都吃了。",
])
def test_an_act_told_as_what_the_caller_will_do_is_a_plan(engine, said):
    ra, out = run(engine, [(C, "我不想活了。"), (C, said)])
    assert "suicide_plan" in worded(out[-1])
    assert "suicide_attempt" not in out[-1].labels
    assert ra.state.level != "紧急"


def test_an_act_told_after_owning_up_is_still_done(engine):
    ra, out = run(engine, [(C, "我打算跟你说实话，我刚才把药全吃了。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "紧急"


def test_talking_just_now_does_not_date_the_act(engine):
    # "刚才没说实话" is the conversation; the attempt is dated 上周六 (within two weeks): 高, not 紧急
    ra, _ = run(engine, [(C, "我刚才没说实话。上周六我在出租屋烧了炭，后来自己打开窗户跑出来了。"),
                         (K, "现在身体怎么样？"), (C, "没事了，就是头还有点疼。")])
    assert ra.state.level == "高"


def test_the_aftermath_told_in_pieces_is_no_act_now(engine):
    turns = [(C, "上周四"), (C, "我吃了"), (C, "二十多片"), (C, "安眠药"), (C, "后来"), (C, "我爸发现了"),
             (C, "送医院抢救过来了")]
    ra, _ = run(engine, turns)
    assert ra.state.level == "高"


# --- where the caller is ----------------------------------------------------------------------------------------


def test_sitting_at_the_roof_edge_after_intent(engine):
    ra, _ = run(engine, [(C, "我真的不想活了。"), (C, "我在楼顶边上坐着呢。")])
    assert ra.state.level == "紧急"


def test_the_roof_edge_for_chores_is_no_edge(engine):
    ra, _ = run(engine, [(C, "我在楼顶边上晾被子呢。")])
    assert ra.state.level == "无"


def test_the_rope_hung_and_the_stool(engine):
    ra, out = run(engine, [(C, "绳子"), (C, "已经系好了"), (C, "我现在"), (C, "站在凳子上")])
    assert ra.state.level == "紧急"


@pytest.mark.parametrize("said", ["晾衣绳挂好了，你把衣服拿出来吧。", "我站在凳子上换灯泡呢。"])
def test_a_clothesline_or_a_bulb_is_nothing(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_i_want_to_jump_said_with_a_stutter_at_the_edge(engine):
    ra, _ = run(engine, [(C, "我在天台"), (C, "我我想跳")])
    assert ra.state.level == "紧急"


# --- who it was -------------------------------------------------------------------------------------------------


def test_the_friend_was_the_caller(engine):
    ra, out = run(engine, [(C, "我想替一个朋友问问，她说想去跳河，我该怎么劝？"), (K, "她现在在哪儿？"),
                           (C, "其实根本没有什么朋友，说的就是我。我现在就坐在河边上。")])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "紧急"


def test_a_relative_then_the_caller_tired_reveals_nothing(engine):
    ra, _ = run(engine, [(C, "我妈说她不想活了。"), (C, "其实最累的是我。")])
    assert ra.state.level == "无"


@pytest.mark.parametrize("said", [
    "今天新闻说隔壁县有个高中生跳河了，我看了好难过。",
    "热搜上说有个大学生在宿舍烧炭了。",
])
def test_news_retold_is_someone_else(engine, said):
    ra, out = run(engine, [(C, said)])
    assert ra.state.level == "无"
    assert not ra.alerts


# --- the counselor's question in pieces, and how it is answered -------------------------------------------------


def test_a_restated_plan_in_pieces_confirmed(engine):
    turns = [(C, "我在网上买了炭"), (C, "后天就到"), (K, "你是打算"), (K, "后天用炭"), (K, "结束自己的生命"),
             (K, "对吗"), (C, "嗯"), (C, "对")]
    ra, out = run(engine, turns)
    assert "suicide_plan" in out[-2].labels
    assert ra.state.level == "高"


def test_a_question_in_pieces_about_others_takes_no_yes(engine):
    turns = [(K, "很多人压力大的时候"), (K, "都会有想死的念头"), (K, "你最近睡得怎么样"), (C, "嗯")]
    ra, _ = run(engine, turns)
    assert ra.state.level == "无"


@pytest.mark.parametrize("yes", ["嗯呐", "对头"])
def test_regional_yes(engine, yes):
    ra, _ = run(engine, [(C, "我不想活了。"), (K, "你是说你打算明天去跳河，是吗？"), (C, yes)])
    assert ra.state.level == "高"


@pytest.mark.parametrize("when", ["明儿个晚上", "后儿个"])
def test_regional_days_to_come_are_near(engine, when):
    ra, _ = run(engine, [(C, "我不想活了。"), (C, f"{when}我就去跳河。")])
    assert ra.state.level == "高"


# --- words -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("said,label", [
    ("有时候真想一死了之。", "active_ideation"),
    ("我认真想过就这么死。", "active_ideation"),
    ("活到这个岁数，两眼一闭就算了。", "passive_ideation"),
    ("要是睡一觉再也不醒就好了。", "passive_ideation"),
    ("等女儿结了婚，我就吃药走。", "suicide_plan"),
    ("我会拿刀划手腕。", "self_harm_behavior"),
])
def test_more_ways_to_say_it(engine, said, label):
    _, out = run(engine, [(C, said)])
    assert label in worded(out[-1])


@pytest.mark.parametrize("said", [
    "你别老吊死在一棵树上，换个工作吧。",
    "我们厂子快撑不下去了，老板说下个月可能停工。",
])
def test_sayings_and_businesses_are_nothing(engine, said):
    ra, out = run(engine, [(C, said)])
    assert ra.state.level == "无"
    assert not worded(out[-1])


@pytest.mark.parametrize("said", [
    "读大学那会儿我想过自杀，后来吃了一年药就好了。",
    "二十岁的时候想过死，现在早就好了。",
])
def test_ideation_long_over(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_no_longer_that_kind_of_wish(engine):
    ra, out = run(engine, [(C, "最近心情一般，但没有从前那种想死的冲动了。")])
    assert "active_ideation" not in worded(out[-1])


# --- a code review's false alarms and misses, and a seventh review's kinds (new sentences) ---------------------


@pytest.mark.parametrize("said", [
    "我带了三个实习生，其中一个昨天吞了一瓶安眠药。",
    "我中午吃了药被同事看见了，他们问我是不是病了。",
    "窗户都关好了，燃气开着在煮粥。",
    "我们在屋里烧了点炭烤栗子。",
    "我把绳子系在两根杆子上晾衣服。",
    "出门前我把狗的绳子拴在门把手上了。",
    "今晚想吃点安眠药睡个好觉。",
    "明天早上我要把降压药都吃了再去体检。",
    "这周末我就把这盒消炎药都吃了，疗程就结束了。",
    "我是装修工，天天站在楼顶边上刷防水。",
    "老板天天骂人，烦得我想死。",
])
def test_everyday_words_raise_nothing(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert level_rank(ra.state.level) <= level_rank("低")
    assert not ra.alerts


def test_a_joke_told_as_one(engine):
    ra, _ = run(engine, [(C, "我跟室友开玩笑说再挂科就去跳楼。")])
    assert not ra.alerts
    ra, out = run(engine, [(C, "我开玩笑说想死，其实是真的。")])
    assert ra.state.level == "中"


def test_on_a_stool_without_a_rope_is_no_emergency(engine):
    ra, _ = run(engine, [(C, "我之前想过死。"), (K, "你现在在做什么？"), (C, "我站在凳子上擦窗户呢。")])
    assert ra.state.level != "紧急"


def test_the_last_piece_of_a_question_that_names_the_plan_alone(engine):
    # "明天" belongs to the piece before, which arranges the next talk, not to the plan
    turns = [(C, "我想过跳楼。"), (K, "我们明天下午再约个时间聊"), (K, "你刚才说你想跳楼，是吗？"), (C, "嗯。")]
    ra, _ = run(engine, turns)
    assert ra.state.level == "中"


@pytest.mark.parametrize("said,level", [
    ("本来打算好好过日子的，可我还是把一整瓶安眠药都吞了。", "紧急"),
    ("我想好了，已经把药都吃了。", "紧急"),
    ("考试前一天我吞过一瓶安眠药，那是五年前的事了。", "中"),
    ("一个半月前我吞了一整瓶药。", "中"),
    ("上个星期我从三楼阳台跳下来过。", "高"),
])
def test_when_an_act_was_told(engine, said, level):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == level


@pytest.mark.parametrize("turns", [
    [(C, "我差点就割腕了"), (C, "前天晚上")],
    [(C, "前天晚上我差点把攒的药全吃了。")],
])
def test_a_recent_near_miss_is_high_not_an_emergency(engine, turns):
    ra, _ = run(engine, turns)
    assert ra.state.level == "高"


@pytest.mark.parametrize("said,label", [
    ("我现在就是一个想死的人。", "active_ideation"),
    ("我没有办法摆脱这种想死的念头。", "active_ideation"),
    ("没有人能理解这种想自杀的感觉。", "active_ideation"),
    ("活得连一条狗都不如，真想死。", "active_ideation"),
    ("生意赔光了我撑不下去了。", "active_ideation"),
    ("一个人在外面，活着有啥意思。", "passive_ideation"),
    ("最近想死的心都有了。", "passive_ideation"),
])
def test_the_callers_own_words(engine, said, label):
    _, out = run(engine, [(C, said)])
    assert label in worded(out[-1])


def test_a_classmate_who_wants_to_die_is_someone_else(engine):
    ra, out = run(engine, [(C, "我们宿舍有个想自杀的室友，我该怎么帮她？")])
    assert ra.state.level == "无"
    assert "suicide_exploration" in out[-1].labels


def test_she_is_me(engine):
    ra, _ = run(engine, [(C, "我想帮一个朋友问问，她老说想死。"),
                         (C, "唉，不绕弯子了，她就是我。")])
    assert ra.state.level == "中"


def test_ideation_over_told_across_clauses(engine):
    ra, _ = run(engine, [(C, "我读研那会儿抑郁过，想过死，后来治好了，这几年都挺好。")])
    assert ra.state.level == "无"


def test_a_habit_at_the_river_is_no_edge(engine):
    ra, _ = run(engine, [(C, "我最近老想死。"), (C, "每次走到江边就会想跳下去。")])
    assert ra.state.level != "紧急"


# --- a second code review and an eighth review (new sentences) -------------------------------------------------


@pytest.mark.parametrize("said", [
    "刚才血压高，我就把降压药吃了。",
    "医生让我明天把那瓶药都吃了再去复诊。",
    "明天做胃镜，今晚要把那两盒泻药都喝了。",
    "天冷了，门窗都关好了，燃气开着暖气片呢。",
    "煤气阀门开着，窗户关了，我出门忘了关火，赶紧回家了。",
    "冬天窗户都关上了，屋里点了一盆炭取暖。",
    "过年挂灯笼，绳子已经系在房梁上了，我站在凳子上呢。",
    "挂窗帘呢，绳子系好了，我站在椅子上。",
    "我把船的绳子拴在栏杆上了，等会儿去钓鱼。",
    "我梦见昨天我就把药全吃了。",
    "游泳课上我差点就跳下去了，后来还是不敢。",
])
def test_more_everyday_words_raise_no_alert(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert not ra.alerts, said


def test_someone_elses_near_miss_and_act_stay_theirs(engine):
    ra, _ = run(engine, [(C, "我儿子昨天差点就跳下去了，被消防员拉回来了。")])
    assert not ra.alerts
    ra, _ = run(engine, [(C, "我室友昨天就把一整瓶安眠药都吃了，现在在医院。")])
    assert not ra.alerts


@pytest.mark.parametrize("said,level", [
    ("我刚才差点就跳下去了。", "高"),                             # stopped short just now: no act under way
    ("我计划了很久，最后把一整瓶安眠药都吞了。", "紧急"),          # the plan done
    ("我想明天晚上把攒的安眠药都吃了。", "高"),                   # a wish with its day: a plan
    ("有一个晚上我吞了一整瓶安眠药。", "中"),                     # once, some night: history
    ("我现在已经走到河水里了，水到我的腰了。", "紧急"),
    ("我把煤气打开了，没点火，就这么开着。", "紧急"),
])
def test_what_the_act_words_tell(engine, said, level):
    ra, _ = run(engine, [(C, "我真的不想活了。"), (C, said)])
    assert ra.state.level == level, said


def test_the_rope_from_the_fan_and_the_stool(engine):
    ra, _ = run(engine, [(C, "绳子已经挂在吊扇上了，我现在就站在凳子上给你打电话。")])
    assert ra.state.level == "紧急"


def test_a_scarf_tied_after_intent_and_the_stool(engine):
    ra, _ = run(engine, [(C, "我不想活了。"), (C, "围巾我都系好了。"), (C, "我踩在凳子上了。")])
    assert ra.state.level == "紧急"


def test_pulled_back_over_the_railing_yesterday(engine):
    ra, out = run(engine, [(C, "昨天晚上我上了天台，翻过了栏杆，是我哥把我拉下来的。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


def test_the_friend_revealed_after_the_friend_was_named_earlier(engine):
    turns = [(C, "我想替我一个朋友问问。"), (C, "她最近一直说想死，还偷偷攒了安眠药。"), (K, "这个朋友现在在哪里？"),
             (C, "……其实，那个朋友就是我。")]
    ra, out = run(engine, turns)
    assert {"suicide_preparation", "active_ideation"} <= set(worded(out[-1]))


def test_who_helped_is_no_reveal(engine):
    turns = [(C, "我有个朋友昨天割腕了。"), (K, "是谁送她去的医院？"), (C, "其实是我。")]
    ra, _ = run(engine, turns)
    assert not ra.alerts


@pytest.mark.parametrize("said", ["我作为一个妈妈，真的撑不下去了，想死。", "我这个大学生活得真没意思，想死。"])
def test_the_speaker_said_to_be_one_still_speaks(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "active_ideation" in worded(out[-1])


def test_a_way_among_several_is_the_callers(engine):
    _, out = run(engine, [(C, "我想了很多办法，其中一个是跳河。")])
    assert "suicide_plan" in worded(out[-1])


def test_a_bare_yes_to_the_act_restated(engine):
    turns = [(C, "那些药……我都……"), (K, "你是说，你已经把药吃下去了，是吗？"), (C, "嗯。")]
    ra, _ = run(engine, turns)
    assert ra.state.level == "紧急"


def test_a_question_asked_on_its_own_before_the_restatement(engine):
    turns = [(C, "我想死。"), (K, "今天晚上家里有人陪你吗"), (K, "你说你打算吃安眠药"), (K, "对吗"), (C, "对。")]
    ra, _ = run(engine, turns)
    assert ra.state.level == "中"


def test_the_rope_written_as_heard_stays_a_rope(engine):
    # 吊扇 is also how the recognizer hears 桥上 (a heard form); the words as written still count
    ra, out = run(engine, [(C, "我不想活了。"), (C, "绳子已经挂在吊扇上了。")])
    assert "suicide_preparation" in worded(out[-1])


def test_while_talking_just_now_is_when_the_act_happened(engine):
    # "刚才没说实话" is the talk; "刚才跟你说话的时候" is when the wrist was cut (紧急, not 高)
    ra, _ = run(engine, [(C, "我不想活了。"), (C, "我跟你说实话，我刚才跟你说话的时候，拿菜刀把手腕割了，割得挺深。")])
    assert ra.state.level == "紧急"
