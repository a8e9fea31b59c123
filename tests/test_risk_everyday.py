"""Lexicon 1.11: what a crafted review of the engine found (191 caller sentences and short exchanges written for it,
none from the annotated calls). Everyday words that are acts only in a call already about risk ("蜡烛点上了", "喝了
一瓶啤酒", "把鞋脱了", "坐在湖边"); attempts said plainly ("我把药全吃了", "我割腕了", "我已经把煤气打开了"); a yes to
"你是不是已经吃了药？"; a near time given in answer to "什么时候"; times and plans that are not a plan's ("但是明天还得送
孩子上学", "遗书我去年就写过"); third parties the list lacked; the counselor's own ingestion question taken for a caller
who spoke of suicide. Each case runs through the service's own path (``RiskAnalysis.analyze``)."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.risk.lexicon import load_lexicon
from service.types import FinalSegment

C, K = "caller", "counselor"
OPENING = (K, "您好，这里是心理援助热线，请问有什么可以帮到您？")


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    """The turns in call time (5 s each); the analysis and each segment's risk."""
    ra = RiskAnalysis(engine, "every-1", None)
    risks = [ra.analyze(FinalSegment("every-1", i, who, i * 5.0, i * 5.0 + 4.0, text))[0]
             for i, (who, text) in enumerate(turns)]
    return ra, risks


@pytest.mark.parametrize("text", [
    "我刚喝了一瓶啤酒，有点晕。", "我刚吃了几片饼干垫垫肚子。", "我刚吃了药，现在感觉好一点了。", "我流鼻血了，血一直往外冒。",
    "生日蛋糕的蜡烛我都点上了。", "我一进门就把鞋脱了。", "冬天太冷了，我把窗缝都贴好了。", "烧烤用的炭我买好了，这周末去露营。",
    "家里果树生虫了，我买了农药，明天去打。", "跟你打完电话就吃饭去。", "我每天早上坐在湖边看书。", "我不小心把口香糖吞下去了。",
    "今天商场跳楼价，我买了件衣服。", "我渴了，想喝一瓶可乐。", "我现在就想吃安眠药睡一觉，明天还要考试。",
])
def test_everyday_words_alone_raise_no_alert(engine, text):
    """Before lexicon 1.11 each of these was 高 or 紧急 on its own (a supervisor paged for a birthday cake)."""
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level in ("无", "低", "中") and ra.alerts == [], (text, risks[-1].labels)
    assert not {"suicide_attempt", "suicide_preparation"} & set(risks[-1].labels), text


def test_everyday_words_are_acts_in_a_call_about_risk(engine):
    """The same words once the caller has spoken of dying, or in the same segment: "蜡烛点上了" is no cake then."""
    lex = load_lexicon()
    for text, label in [("我把鞋脱了。", "suicide_preparation"), ("窗缝都贴好了。", "suicide_preparation"),
                        ("炭我买好了。", "suicide_preparation"), ("我把猫送给朋友了。", "suicide_preparation"),
                        ("我都吃下去了。", "suicide_attempt")]:
        assert not lex.find(text), text
        assert label in {m.label for m in lex.view(acts=True).find(text)}, text
    ra, risks = run(engine, [OPENING, (C, "我真的不想活了。"), (K, "嗯，我在听。"), (C, "炭我已经点上了。")])
    assert "suicide_attempt" in risks[-1].labels and ra.state.level == "紧急"
    _, risks = run(engine, [OPENING, (C, "我不想活了，我把猫托付给朋友了。")])  # the same segment's own words
    assert {"active_ideation", "suicide_preparation"} <= set(risks[-1].labels)
    _, risks = run(engine, [OPENING, (C, "活着没意思，我把猫托付给朋友了。")])  # passive ideation is no intent
    assert "suicide_preparation" not in risks[-1].labels


@pytest.mark.parametrize("text,level", [
    ("我刚才把一整瓶安眠药都吃了。", "紧急"),      # was 无: only the classifier's ideation, which moves no level
    ("我刚才把一整瓶安眠药都吃了，现在好困。", "紧急"),
    ("我吃了好多安眠药，现在头好晕。", "紧急"),    # a symptom now: in progress (was 中)
    ("我喝了农药，你们救救我。", "紧急"),          # (was 中)
    ("我刚才割腕了，血止不住。", "紧急"),          #割腕 was only a method (中)
    ("我把药全吃了。", "紧急"),                    # no time, told as done: just happened, the spec's "pills taken"
    ("我割腕了。", "紧急"),                        # (高 in lexicon 1.11, 无 before)
    ("我那天吃了一整瓶药，今天刚出院。", "高"),    # within two weeks (was 中)
    ("我准备今晚把攒的安眠药全吃了。", "高"),      # a plan for tonight, not an attempt told without a time
    ("等会儿我就把药全吃了。", "紧急"),
    ("药我已经准备好了，等我妈睡着了我就全吃了。", "高"),
    ("我已经想好了，这周六趁我妈出差在家烧炭。", "高"),  # 趁我妈: the mother is no subject (was exploration, 无)
    ("绳子我都买好了。", "中"),
    ("药我已经吃下去了。", "紧急"),
    ("我已经把他们坑下去了，一整半都吃了。", "紧急"),  # 一整半: the recognizer's 一整板, found by pinyin; all of it taken, no time
])
def test_acts_said_plainly(engine, text, level):
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level == level, (text, risks[-1].labels, [k.text for k in risks[-1].keywords])


@pytest.mark.parametrize("text", ["我用美工刀割了手腕。", "我以前吃过一瓶安眠药。", "我割过腕。"])
def test_an_attempt_narrated_or_in_the_past_waits_for_its_date(engine, text):
    """Told as narrative or history, with no date: 中 until the counselor or the caller dates it."""
    ra, _ = run(engine, [OPENING, (C, text)])
    assert ra.state.level == "中" and ra.alerts == []


@pytest.mark.parametrize("turns,level", [
    ([(C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "对，刚吃的。")], "紧急"),
    ([(C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "是的，吃了。")], "紧急"),  # done, no time: just happened
    ([(C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "嗯。")], "紧急"),  # (中 in lexicon 1.11)
    ([(C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "吃了，上个月的事了。")], "中"),  # dated, not recent
    ([(C, "我不想活了，我想从楼顶跳下去。"), (K, "你想过什么时候吗？"), (C, "就这个周末。")], "高"),
    ([(C, "我不想活了。"), (K, "嗯，我在听。"), (C, "我已经把煤气打开了。")], "紧急"),  # (was 无)
    ([(C, "我不想活了。"), (K, "您是不是已经吃了药？"), (C, "嗯。"), (C, "头好晕……想睡觉……")], "紧急"),
    ([(C, "我不想活了。"), (K, "吃了多少片？"), (C, "二十来片吧。"), (K, "什么时候吃的？"), (C, "半个小时前。")], "紧急"),
    ([(C, "在家……药我全吃了。")], "紧急"),
    ([(C, "我真的不想活了。"), (K, "你有没有想过什么时候？"), (C, "我已经想好了。"), (C, "就明天晚上。")], "高"),
    ([(C, "我不想活了。"), (K, "你有没有想过用什么方式？"), (C, "吃安眠药，"), (C, "我攒了三十多片。"),
      (K, "打算什么时候呢？"), (C, "今天晚上。")], "高"),
    ([(C, "我真的不想活了。"), (K, "你现在在哪里？"), (C, "我在楼顶。")], "紧急"),
    ([(C, "我真的不想活了。"), (K, "平时有什么让你放松的事吗？"), (C, "我每天早上坐在湖边看书。")], "中"),  # a habit
    ([(C, "我不想活了。"), (K, "你有具体的计划吗？"), (C, "有，我打算这周六去江边。")], "高"),
])
def test_answers_to_the_counselors_questions(engine, turns, level):
    ra, risks = run(engine, [OPENING, *turns])
    assert ra.state.level == level, [(r.labels, [k.text for k in r.keywords]) for r in risks]


def test_a_yes_to_an_attempt_question_is_the_attempt(engine):
    _, risks = run(engine, [OPENING, (C, "我不想活了。"), (K, "你是不是已经吃了药？"), (C, "嗯。")])
    assert risks[-1].labels == ["suicide_attempt"] and [k.text for k in risks[-1].keywords] == ["嗯"]
    # a question about someone else: the yes is about them
    _, risks = run(engine, [OPENING, (C, "我朋友最近状态很差。"), (K, "你朋友有没有说过想自杀？"), (C, "嗯。")])
    assert "active_ideation" not in risks[-1].labels and "suicide_exploration" in risks[-1].labels
    # a hesitation is no answer
    _, risks = run(engine, [OPENING, (K, "你有没有想过自杀？"), (C, "嗯……")])
    assert risks[-1].labels == []


@pytest.mark.parametrize("turns", [
    [(C, "我想过跳楼，但是明天还得送孩子上学。")],
    [(C, "我有时候想吞药，明天我打算去看心理医生。")],
    [(C, "我真的不想活了。"), (K, "嗯，我在听。"), (C, "明天还要去医院复查，好烦。"), (C, "遗书我去年就写过一封，后来撕了。")],
    [(C, "一想到明天还要上班我就想死。"), (K, "嗯，工作让你很累。"), (C, "我之前还查过怎么割腕。")],
])
def test_a_time_or_plan_that_is_not_a_plans_makes_no_alert(engine, turns):
    """高 needs a plan to act within 72 h: obligations set against the wish, an errand for help, what was once
    written or looked up are none (each was 高 before)."""
    ra, _ = run(engine, [OPENING, *turns])
    assert ra.state.level == "中" and ra.alerts == []


@pytest.mark.parametrize("text", ["我们班有个女生割腕了。", "楼下的大爷喝了农药，救护车刚拉走。"])
def test_someone_elses_act_is_no_alert(engine, text):
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.alerts == [] and "suicide_attempt" not in risks[-1].labels
    assert "suicide_exploration" in risks[-1].labels


def test_the_counselors_ingestion_question_is_not_the_callers_suicide(engine):
    """"你吃了多少片？什么时候吃的？" after "我一直在吃抗抑郁的药" (the classifier's guess, no words of suicide): the
    answer is about prescribed medicine, not an ingestion (was 紧急)."""
    ra, risks = run(engine, [OPENING, (C, "我一直在吃抗抑郁的药。"), (K, "你吃了多少片？什么时候吃的？"),
                             (C, "两片，刚才吃的，医生开的。")])
    assert ra.state.level == "无" and ra.alerts == [] and "suicide_attempt" not in risks[-1].labels


@pytest.mark.parametrize("text,labels", [
    ("我觉得活着真没劲。", {"passive_ideation"}), ("活着一点意思都没有。", {"passive_ideation"}),
    ("死了就不用再受这份罪了。", {"passive_ideation"}), ("我死了大家都轻松了。", {"passive_ideation"}),
    ("我想把自己了结了。", {"active_ideation"}), ("我想自己结束掉这条命。", {"active_ideation"}),
    ("我打算下个月生日那天自杀。", {"suicide_plan"}),  # a decision with a date not near: 中 (was exploration)
    ("我昨晚又用刀划手了。", {"self_harm_behavior"}), ("我心烦的时候就拿烟头烫胳膊。", {"self_harm_behavior"}),
    ("我胳膊上全是疤，都是我自己划的。", {"self_harm_behavior"}),
    ("我妈天天骂我，真想死。", {"victimization", "active_ideation"}),  # the caller's own wish, not the mother's
    ("被我老公打了这么多年，真不想活了。", {"victimization", "active_ideation"}),
])
def test_words_the_lexicon_lacked(engine, text, labels):
    _, risks = run(engine, [OPENING, (C, text)])
    worded = {k.label for k in risks[-1].keywords}
    assert labels <= worded, (text, risks[-1].labels, [k.text for k in risks[-1].keywords])


@pytest.mark.parametrize("text", [
    "在全班面前摔了一跤，尴尬得我想死。", "我想结束自己的这段婚姻。", "我不想活得这么累了，想换个活法。", "我不想活在别人的眼光里。",
    "我打算跳槽，去一家外企。", "我工作上处处撞墙，什么都不顺。", "我用绳子把箱子捆好了。", "我们在给我爸安排后事，他癌症晚期了。",
    "我小时候误喝过农药，被送去洗胃。", "我还不至于想死。", "我倒没到想死的地步。", "我高中的时候想过自杀，后来慢慢走出来了。",
    "前几年抑郁的时候想过死，现在已经好了。", "为什么有的人会想不开去跳楼呢？", "我烦得想死，天天加班。",
])
def test_everyday_readings_carry_no_risk_of_the_callers_own(engine, text):
    _, risks = run(engine, [OPENING, (C, text)])
    worded = {k.label for k in risks[-1].keywords}
    assert not worded & {"passive_ideation", "active_ideation", "suicide_plan", "suicide_preparation", "suicide_attempt",
                         "self_harm_behavior"}, (text, [(k.text, k.label) for k in risks[-1].keywords])


@pytest.mark.parametrize("answer,level", [
    ("经常想。", "中"), ("每天都在想。", "中"), ("一直都有。", "中"), ("嗯，不止一次。", "中"), ("嗯……偶尔吧。", "中"),
    ("想是想过，不过不会去做的。", "中"), ("有过，但是现在没有了。", "无"), ("没有，从来没有过。", "无"),
])
def test_short_answers_to_the_risk_question(engine, answer, level):
    ra, _ = run(engine, [OPENING, (C, "我心里很难受。"), (K, "你有没有想过自杀？"), (C, answer)])
    assert ra.state.level == level, answer
