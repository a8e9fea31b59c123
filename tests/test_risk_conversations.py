"""Whole conversations, the way a 12356 call goes (opening, the problem, the counselor's risk questions, safety
planning), written for a second review of lexicon 1.11 (none from the annotated calls). A caller at 低 or 中 who later
speaks of ordinary life must page no supervisor; a caller whose disclosure is spread over answers must reach 高 or 紧急.
Before the review's fixes 20 of its 50 conversations came out right (30 with lexicon 1.10); after, 47."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.types import FinalSegment

C, K = "caller", "counselor"
OPEN = [(K, "您好，这里是12356心理援助热线，请问有什么可以帮您？")]


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns) -> RiskAnalysis:
    ra = RiskAnalysis(engine, "conv-1", None)
    for i, (who, text) in enumerate([*OPEN, *turns]):
        ra.analyze(FinalSegment("conv-1", i, who, i * 6.0, i * 6.0 + 5.0, text))
    return ra


PASSIVE = [(C, "最近睡不着，活着真累。"), (K, "听起来你很辛苦。你有没有想过自杀？"), (C, "没有，就是觉得累。")]
ACTIVE = [(C, "我真的不想活了。"), (K, "谢谢你愿意说出来。")]

NO_ALERT = {
    "prescribed medicine": PASSIVE + [(K, "你今天吃了药没有？"), (C, "对，吃了。"), (C, "我刚吃了药，医生开的那个。")],
    "birthday candles": PASSIVE + [(K, "今天家里在做什么？"), (C, "女儿过生日，蜡烛都点上了，她在许愿呢。")],
    "a nosebleed yesterday": PASSIVE + [(C, "昨天流鼻血，血止不住，吓死我了。")],
    "cooking on gas": [(C, "孩子不爱吃饭，我好烦。"), (C, "我在厨房呢，煤气打开了，正在给他煮面条。")],
    "the mother on the roof": ACTIVE + [(K, "你现在在哪里？"), (C, "我在屋里躺着，我妈在楼顶收衣服。")],
    "drying the quilt on the roof": ACTIVE + [(K, "你现在在哪里？"), (C, "我在楼顶晒被子呢。")],
    "when the thought began": ACTIVE + [(K, "这个念头是什么时候开始有的？"), (C, "今天下午，他摔完东西以后。")],
    "when to see a doctor": ACTIVE + [(K, "那你什么时候方便去看看医生？"), (C, "明天吧，明天上午没课。")],
    "the next appointment": ACTIVE + [(K, "下次复诊是什么时候？"), (C, "这周五。")],
    "a safety promise": PASSIVE + [(K, "你能答应我，今晚不会去跳楼吗？"), (C, "嗯。"), (K, "你现在在哪？"), (C, "在楼顶收衣服。")],
    "a daughter's plan": ACTIVE + [(C, "我女儿也说不想活了。"), (K, "她说过什么时候吗？"), (C, "她说这周六考完试就走。")],
    "the vet tomorrow": ACTIVE + [(C, "明天我要把狗送到宠物医院去看看。")],
    "fishing at the weekend": ACTIVE + [(C, "这周末打算和老同事去江边钓鱼。")],
    "an attempt in high school": [(C, "读高中那会儿我吃了一瓶安眠药，被我妈发现送医院了。"), (K, "那现在呢？"),
                                  (C, "现在有时候也想死。")],
    "work tomorrow": [(C, "有时候真想跳下去算了。"), (K, "嗯。"), (C, "唉，活着真累，明天又要上班。")],
    "a follow-up visit": ACTIVE + [(C, "我想好了，明天就去复诊。")],
}


@pytest.mark.parametrize("name", list(NO_ALERT))
def test_ordinary_life_later_in_the_call_pages_no_one(engine, name):
    ra = run(engine, NO_ALERT[name])
    assert ra.alerts == [] and ra.state.level in ("无", "低", "中"), (name, ra.state.level)


HIGH = {
    "saved pills, a date in answer": ([(C, "我老公要跟我离婚，我什么都没有了。"), (K, "您有没有想过结束自己的生命？"), (C, "嗯。"),
                                       (K, "有没有想过用什么方式？"), (C, "……安眠药。"), (K, "您手上有安眠药吗？"),
                                       (C, "有，我攒了一些，大概三十几片。"), (K, "您想过什么时候吗？"), (C, "嗯……这周六吧。")], "高"),
    "half an hour ago": (ACTIVE + [(K, "吃了多少片？"), (C, "二十来片吧。"), (K, "什么时候吃的？"), (C, "半个小时前。")], "紧急"),
    "symptoms after a yes": (ACTIVE + [(K, "您是不是已经吃了药？"), (C, "嗯。"), (C, "安眠药……一整瓶……"), (C, "头好晕……想睡觉……")],
                             "紧急"),
    "tonight after all": (ACTIVE + [(K, "您有没有想过什么时候？"), (C, "本来想等过完年，可是今晚我就想吃了。"), (C, "药攒了五十片。")],
                          "高"),
    "charcoal, tape tonight": ([(C, "我不想活了，炭买了一袋。"), (C, "今晚还要去买胶带把窗户封上。")], "高"),
    "the gas on, dizzy": (ACTIVE + [(C, "煤气我已经打开了，门窗都关着。")], "紧急"),
    "on the roof": (ACTIVE + [(K, "你现在在哪里？"), (C, "我在楼顶。")], "紧急"),
    "a method and tonight after 想过": ([(C, "我心里很难受。"), (K, "你有没有想过自杀？"), (C, "想过……想过跳楼……就今晚，等他们睡着了以后。")],
                                      "高"),
}


@pytest.mark.parametrize("name", list(HIGH))
def test_a_disclosure_spread_over_answers_reaches_the_supervisor(engine, name):
    turns, level = HIGH[name]
    ra = run(engine, turns)
    assert ra.state.level == level and ra.alerts, (name, ra.state.level)
