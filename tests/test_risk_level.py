"""Call level by the Beijing criteria, never lowered; alerts once per level (threshold, then 紧急)."""

import pytest

from service.analysis import RiskAnalysis
from service.risk import CallRiskState, RiskEngine
from service.risk.lexicon import load_lexicon
from service.types import FinalSegment, SegmentRisk


@pytest.fixture(scope="module")
def engine():
    return RiskEngine(load_lexicon(), predict=None, threshold=0.5, model_id="clf-none")


def run_call(engine, turns, threshold="高"):
    """turns: (speaker, text); returns the state and the alerts raised after each segment."""
    analysis = RiskAnalysis(engine, "t-1", "c-017", alert_threshold=threshold)
    raised = []
    for i, (speaker, text) in enumerate(turns):
        seg = FinalSegment("t-1", i, speaker, i * 5.0, i * 5.0 + 4.0, text)
        raised.append(analysis.analyze(seg)[1])
    return analysis.state, raised


LEVELS = [
    ([("caller", "最近睡不好，工作压力大")], "无"),
    ([("caller", "今天加班累死了，笑死我了")], "无"),
    ([("caller", "要是一觉睡过去再也不醒就好了")], "低"),
    ([("caller", "我会用刀片划自己，划完就松一点")], "低"),
    ([("caller", "我真想死，活不下去了")], "中"),
    ([("caller", "等拿到毕业证，六月底，就从图书馆楼顶跳下去")], "中"),
    ([("caller", "七年前我吞过一瓶安眠药，送医院洗的胃")], "中"),
    ([("caller", "我想好了，明天晚上就从阳台跳下去")], "高"),
    ([("caller", "我真想死"), ("caller", "我已经决定了，这周六"), ("caller", "绳子买好了，昨天快递到的")], "高"),
    ([("caller", "上个礼拜二，我拿围巾在卫生间上吊，挂钩断了")], "高"),
    ([("caller", "我上周五做了一件事"), ("counselor", "你愿意说说吗？"), ("caller", "我用美工刀割了手腕")], "高"),
    ([("caller", "就刚才，我已经把一整板药吞下去了")], "紧急"),
    ([("caller", "我现在站在楼顶边上，跟你说完就跳")], "紧急"),
    # an ingestion told only by answering the counselor's how-much / when (the words of it misheard)
    ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "是。"), ("counselor", "你吃了多少片，什么时候吃的？"),
      ("caller", "时来见法，就刚才一两分钟前。")], "紧急"),
    ([("counselor", "你有没有想过自杀？你是不是打算今晚就跳楼？")], "无"),
    ([("counselor", "你有没有想过结束自己的生命？"), ("caller", "嗯，想过。")], "中"),
    ([("counselor", "你有没有想过结束自己的生命？"), ("caller", "没有，没想过。")], "无"),
    ([("caller", "我同学说她想跳楼，今晚就跳")], "无"),
    # "上个礼拜天" is past, not a near date: a plan without a near date stays 中
    ([("caller", "我想过好多回，就从阳台跳下去"), ("counselor", "最近一次冒出这个念头是什么时候？"),
      ("caller", "上个礼拜天，跟婆婆吵完架，那个念头又上来了")], "中"),
    ([("caller", "我想过，就从阳台跳下去"), ("caller", "我已经决定了，就这个礼拜天")], "高"),
    # one answer cut into two segments is one turn: the near time and the plan count together...
    ([("caller", "我已经决定了。"), ("counselor", "您打算什么时候呢？"), ("caller", "明天晚上，明天室友回老家。"),
      ("caller", "宿舍就我一个人，信我都写好了，压在枕头底下。")], "高"),
    # ... but not across the counselor's turn
    ([("caller", "明天我还得去医院复查。"), ("counselor", "嗯，您说。"),
      ("caller", "我想过从阳台跳下去，信都写好了。")], "中"),
    # ASR spellings of real 8 kHz calls (Whisper base): 门缝…封好了 heard as 门风…风好了 is a sealed room, an act in
    # progress; 您开了叶化器 is 拧开了液化气, an attempt twelve days ago
    ([("caller", "想过不只是想，我不想活累，太累了。"), ("caller", "我在卫生间里，汉已经变上了，门风公又交代风好了。")], "紧急"),
    ([("caller", "因为十二天前，我把后无门冲观言。您开了叶化器官，我哥来奉货文哲未儿，串门办我托出来的。")], "高"),
    # a decision to die with a near date is a plan within 72 h, with no method named (lexicon 1.6)...
    ([("counselor", "我直接问您，您是不是在打算结束自己的生命？"), ("caller", "……是。我想好了，这周六，就是后天。")], "高"),
    ([("counselor", "您是不是有了轻生的想法？"), ("caller", "……有。不光是想，我已经想好了。"),
      ("counselor", "您说想好了，是怎么打算的？"), ("caller", "后天礼拜五，家里没人，那天就一了百了。")], "高"),
    # ... not a decision for help, a decision about something else, or one said turns before
    ([("counselor", "你有没有想过自杀？"), ("caller", "想过。"), ("caller", "不过我已经决定了，明天去看医生。")], "中"),
    ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "是。我想好了，明天就去医院。")], "中"),
    ([("counselor", "你有没有想过自杀？"), ("caller", "有时候真想死。明天还得上班，我决定了辞职。")], "中"),
    # an attempt the caller told without saying when is dated by the counselor's restatement (lexicon 1.6)...
    ([("caller", "我做了一件事，到现在谁都不知道。"), ("counselor", "你愿意说说吗？"), ("caller", "我用美工刀割了手腕。"),
      ("counselor", "你五天前刚经历过一次很危险的自杀尝试，我很担心你。")], "高"),
    ([("caller", "我用美工刀割了手腕。"), ("counselor", "八天前那次真的很危险。")], "高"),
    ([("caller", "我用美工刀割了手腕。"), ("counselor", "你愿意说说吗？")], "中"),
    # ... not an attempt the caller dated long ago, nor one two months back
    ([("caller", "去年我用美工刀割了手腕。"), ("counselor", "八天前那次真的很危险。")], "中"),
    ([("caller", "我用美工刀割了手腕。"), ("counselor", "六十天前的那次，后来去医院了吗？")], "中"),
    # the counselor naming a recent event that nearly cost the life of a caller who spoke of suicidal intent: the
    # attempt whose telling the recognizer lost ("拿皮带上吊" heard as "拿提带上标") (lexicon 1.9)...
    ([("caller", "我真想死。"), ("counselor", "你五天前刚经历过一次很危险的自杀尝试。")], "高"),
    ([("counselor", "您有没有想过结束自己的生命？"), ("caller", "想过不光是想过。"), ("caller", "我在宿舍拿提带上标。"),
      ("counselor", "八天前那次真的很危险，我很担心您。")], "高"),
    # ... not for passive ideation alone, a question, a month back, or a danger someone else caused
    ([("caller", "活着太累了。"), ("counselor", "五天前那次真的很危险。")], "低"),
    ([("caller", "我真想死。"), ("counselor", "五天前那次危险吗？")], "中"),
    ([("caller", "我真想死。"), ("counselor", "一个月前那次真的很危险。")], "中"),
    ([("caller", "我真想死。"), ("counselor", "三天前他打你那次真的很危险。")], "中"),
    ([("caller", "我真想死。"), ("counselor", "上周那次车祸真的很危险。")], "中"),
    ([("counselor", "你有没有想过自杀？"), ("caller", "想过，我已经想好了。"), ("counselor", "嗯。"),
      ("caller", "工作上的事我也想清楚了。"), ("counselor", "嗯。"), ("caller", "明天我真想死。")], "中"),
    # the counselor starting the emergency plan (110/120) for a caller who spoke of suicide is 紧急 (lexicon 1.7),
    # also where the caller's words of the act were lost to the recognizer ("坑下去了" for 吞下去了)...
    ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "我真想死。"), ("caller", "我已经把他们坑下去了。"),
      ("counselor", "我同事已经在联席120和110，就户车马上就到。")], "紧急"),
    ([("caller", "我不想活了。"), ("counselor", "您现在在哪里？告诉我详细地址，我让同事马上叫120。")], "紧急"),
    ([("caller", "我现在站在桥边，我真的想死。"), ("counselor", "警察快到了，他们会陪着您。")], "紧急"),
    # ... not advice for another time, an offer or a question, nor a dispatch in a call with no suicidal words
    ([("caller", "我真想死。"), ("counselor", "要是念头变强了，就马上打120或者这个电话。")], "中"),
    ([("caller", "我真想死。"), ("counselor", "紧急的时候也可以直接打110。")], "中"),
    ([("caller", "我真想死。"), ("counselor", "要不要我帮你叫救护车？")], "中"),
    ([("caller", "我老公又打我了，他现在还在外面砸门。"), ("counselor", "我同事已经在联系110，警察马上就到。")], "无"),
    ([("caller", "我老公又打我了，他还在外面砸门，我真的受不了了，活着太累了。"),
      ("counselor", "我同事已经在联系110，警察马上就到。")], "低"),
]


@pytest.mark.parametrize("turns,level", LEVELS)
def test_call_level(engine, turns, level):
    state, _ = run_call(engine, turns)
    assert state.level == level


def test_dated_plan_keyword_is_the_decision_and_its_time(engine):
    analysis = RiskAnalysis(engine, "t-1", None)
    analysis.analyze(FinalSegment("t-1", 0, "counselor", 0.0, 4.0, "您是不是在打算结束自己的生命？"))
    risk, alerts = analysis.analyze(FinalSegment("t-1", 1, "caller", 5.0, 9.0, "……是。我想好了，这周六，就是后天。"))
    assert [(k.text, k.label) for k in risk.keywords if k.label == "suicide_plan"] == [("想好了，这周六", "suicide_plan")]
    assert [a.risk_level for a in alerts] == ["高"]


def test_counselor_dating_an_attempt_alerts_once_with_both_sentences(engine):
    state, raised = run_call(engine, [("caller", "我用美工刀割了手腕。"), ("counselor", "八天前那次真的很危险。"),
                                      ("counselor", "十二天前的事离现在很近。")])
    assert [[a.risk_level for a in r] for r in raised] == [[], ["高"], []]
    assert [s.speaker for s in raised[1][0].evidence] == ["caller", "counselor"]
    assert "suicide_attempt" in raised[1][0].labels


def test_counselor_dispatch_raises_emergency_with_the_counselors_sentence(engine):
    state, raised = run_call(engine, [("caller", "我真想死。"), ("counselor", "我们马上叫救护车，您现在在哪里？"),
                                      ("counselor", "救护车在路上了。")])
    assert [[a.risk_level for a in r] for r in raised] == [[], ["高", "紧急"], []]
    assert [s.speaker for s in raised[1][0].evidence] == ["caller", "counselor"]


def test_level_never_decreases(engine):
    state, _ = run_call(engine, [("caller", "我真想死"), ("caller", "不过现在好多了"), ("caller", "今天天气不错")])
    assert state.level == "中"


def test_alerts_once_at_threshold_then_once_at_emergency(engine):
    turns = [
        ("caller", "我想好了，明天晚上就从阳台跳下去"),   # 高 → alert
        ("caller", "遗书也写好了，明天就跳下去"),         # still 高 → no second 高 alert
        ("caller", "就刚才，我已经把一整板药吞下去了"),     # 紧急 → alert
        ("caller", "刚才吞下去了，好多片"),               # still 紧急 → nothing
    ]
    state, raised = run_call(engine, turns)
    assert [[a.risk_level for a in r] for r in raised] == [["高"], [], ["紧急"], []]
    high = raised[0][0]
    assert high.call_id == "t-1" and high.counselor_id == "c-017" and high.engine_version == engine.version
    assert high.evidence and high.evidence[-1].segment_id == 0
    assert "suicide_plan" in high.labels


def test_jump_straight_to_emergency_raises_both(engine):
    _, raised = run_call(engine, [("caller", "就刚才，我已经把一整板药吞下去了")])
    assert [a.risk_level for a in raised[0]] == ["高", "紧急"]


def test_threshold_is_configurable(engine):
    _, raised = run_call(engine, [("caller", "我真想死"), ("caller", "我真想死")], threshold="中")
    assert [[a.risk_level for a in r] for r in raised] == [["中"], []]


def test_no_alert_below_threshold(engine):
    _, raised = run_call(engine, [("caller", "我真想死，活不下去了")])
    assert raised == [[]]


def test_bad_threshold_is_refused():
    with pytest.raises(ValueError):
        CallRiskState("t-1", None, "v", alert_threshold="无")


def test_counselor_labels_are_ignored_by_the_call():
    state = CallRiskState("t-1", None, "v")
    seg = FinalSegment("t-1", 0, "counselor", 0.0, 1.0, "你是不是已经把药吞下去了？")
    assert state.update(seg, SegmentRisk(0, labels=["suicide_attempt"])) == []
    assert state.level == "无"


def active_classifier(texts):
    from service.risk.classifier import Classifier

    outputs = Classifier.load().outputs
    return [{o: (0.99 if o in ("any_suicide", "active_ideation") else 0.01) for o in outputs} for _ in texts]


def test_classifier_only_labels_flag_segments_but_do_not_move_the_level():
    engine = RiskEngine(load_lexicon(), predict=active_classifier, threshold=0.5, model_id="clf-stub")
    state, raised = run_call(engine, [("caller", "最近一直睡不着，也不想出门见人"), ("caller", "我现在就过去，马上到")])
    assert state.level == "无" and raised == [[], []]
    assert "active_ideation" in state.labels


def test_worded_labels_still_count_in_full_next_to_classifier_ones():
    engine = RiskEngine(load_lexicon(), predict=active_classifier, threshold=0.5, model_id="clf-stub")
    state, _ = run_call(engine, [("caller", "我想好了，明天晚上就从阳台跳下去")])
    assert state.level == "高"


def test_devreport_runs_on_the_fixture_calls(capsys):
    from pathlib import Path

    from service.risk import devreport

    calls = Path(__file__).parent / "fixtures" / "worksheet" / "calls.jsonl"
    report = devreport.main([str(calls), "--per-call"])
    assert report["calls"] == 3 and report["high_recall"] == 1.0
    assert sum(report["confusion"].values()) == 3
    alone = report["classifier_alone"]
    assert alone["caller_segments"] > 0 and alone["confirm_point"]["threshold"] >= alone["recall_point"]["threshold"]
    assert "dev-0010" in capsys.readouterr().out


def analyse(engine, segments, order):
    from service.analysis import RiskAnalysis

    analysis = RiskAnalysis(engine, "t-1", None)
    for i in order:
        speaker, start, end, text = segments[i]
        analysis.analyze(FinalSegment("t-1", i, speaker, start, end, text))
    return analysis


ORDERED = [("caller", 0.0, 3.0, "我已经决定了。"), ("counselor", 4.0, 6.0, "您打算什么时候呢？"),
           ("caller", 7.0, 8.5, "明天晚上。"), ("caller", 9.0, 13.0, "宿舍就我一个人，信我都写好了，压在枕头底下。"),
           ("counselor", 14.0, 16.0, "谢谢你告诉我。")]


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [1, 4, 0, 2, 3], [0, 1, 4, 3, 2]])
def test_level_follows_call_time_not_arrival(engine, order):
    """The two channels' finals arrive in decoding order (an uploaded recording runs faster than real time, so a
    counselor's later sentence can arrive first); context and turns follow call time."""
    analysis = analyse(engine, ORDERED, order)
    assert analysis.state.level == "高"
    assert [s.start for s in analysis.context] == sorted(s.start for s in analysis.context)


def test_an_answer_is_not_to_a_question_asked_after_it(engine):
    segments = [("caller", 0.0, 3.0, "是啊，考试又没考好。"), ("counselor", 4.0, 7.0, "你有没有想过结束自己的生命？")]
    assert analyse(engine, segments, [1, 0]).state.level == "无"
    assert analyse(engine, [segments[1], ("caller", 8.0, 9.0, "是啊。")], [0, 1]).state.level == "中"


def test_a_turn_is_bounded_by_the_counselor_in_call_time():
    """The counselor's "嗯。" arrives first; the caller's two sentences then arrive back to back but were two turns."""
    engine = RiskEngine(load_lexicon(), predict=None, threshold=0.5, model_id="clf-none")
    segments = [("caller", 0.0, 2.0, "明天我还得去医院复查。"), ("counselor", 3.0, 4.0, "嗯，您说。"),
                ("caller", 5.0, 9.0, "我想过从阳台跳下去，信都写好了。")]
    assert analyse(engine, segments, [1, 0, 2]).state.level == "中"
    assert analyse(engine, segments, [0, 2, 1]).state.level == "中"


def test_a_long_call_keeps_its_risk_detection(engine):
    """Calls run 30–90 minutes: past the recent history the level keeps (HISTORY_SEGMENTS), a caller's risk is still
    read, turns and answers still work. (Trimming that history on insertion once raised IndexError on every caller
    segment after the 64th: the risk of a call stopped there.)"""
    analysis = RiskAnalysis(engine, "t-1", "c-017")
    t = 0.0
    for i in range(300):
        speaker = "counselor" if i % 2 == 0 else "caller"
        text = "嗯，您接着说。" if speaker == "counselor" else "最近睡不好，工作压力大。"
        analysis.analyze(FinalSegment("t-1", i, speaker, t, t + 3.0, text))
        t += 4.0
    assert analysis.state.level == "无" and len(analysis.state._history) == 64
    question = FinalSegment("t-1", 300, "counselor", t, t + 3.0, "你有没有想过结束自己的生命？")
    answer = FinalSegment("t-1", 301, "caller", t + 4.0, t + 5.0, "嗯，想过。")
    analysis.analyze(question)
    risk, _ = analysis.analyze(answer)
    assert "active_ideation" in risk.labels and analysis.state.level == "中"
    # a turn cut in two by the recognizer: the near time in one segment, the plan's words in the next
    analysis.analyze(FinalSegment("t-1", 302, "caller", t + 6.0, t + 7.0, "明天晚上。"))
    _, alerts = analysis.analyze(FinalSegment("t-1", 303, "caller", t + 7.5, t + 11.0, "信我都写好了，压在枕头底下。"))
    assert [a.risk_level for a in alerts] == ["高"] and analysis.state.level == "高"
    # a late final of the other channel, older than everything still remembered, is taken and does not break the turn
    analysis.analyze(FinalSegment("t-1", 304, "counselor", 1.0, 2.0, "嗯。"))
    _, alerts = analysis.analyze(FinalSegment("t-1", 305, "caller", t + 12.0, t + 15.0, "就刚才，我已经把一整板药吞下去了。"))
    assert [a.risk_level for a in alerts] == ["紧急"] and len(analysis.state._history) == 64


MIXED_CALL = [("您是不是在打算结束自己的生命？", [], "无"), ("嗯，是的。", ["active_ideation"], "中"),
              ("你有伤害自己的想法吗？", [], "中"), ("你知道吗？想死的心都有了。", ["passive_ideation"], "中"),
              ("你知道我有多想死吗？", ["active_ideation"], "中")]


def test_one_channel_calls_take_the_counselors_questions_as_questions():
    """A one-channel call's speaker is "mixed": a question put to 你/您 about suicide is the counselor asking (no
    label, however sure the classifier is), and the "嗯，是的" after it answers it; the speaker's own words, even in
    a question ("你知道我有多想死吗？"), still count."""
    engine = RiskEngine.load()
    analysis = RiskAnalysis(engine, "t-1", None)
    for i, (text, labels, level) in enumerate(MIXED_CALL):
        risk, _ = analysis.analyze(FinalSegment("t-1", i, "mixed", i * 5.0, i * 5.0 + 4.0, text))
        assert (risk.labels, analysis.state.level) == (labels, level), text
    # in a two-channel call the caller's words are the caller's, questions or not
    risk = engine.analyze(FinalSegment("t-1", 0, "caller", 0.0, 4.0, "你有没有想过自杀？"))
    assert risk.labels


def test_a_dispatch_needs_suicidal_intent_in_the_callers_words():
    """A classifier-only label ("最近真的累死了" read as ideation, anywhere in a long call) is no suicidal intent for
    the counselor's dispatch to make 紧急: a domestic-violence call where the police are called stays where the
    caller's words put it; with the intent in words the same dispatch is 紧急."""
    engine = RiskEngine(load_lexicon(), predict=active_classifier, threshold=0.5, model_id="clf-stub")
    dispatch = ("counselor", "你先把门锁好，我同事已经在联系110了，警察马上就到。")
    state, raised = run_call(engine, [("caller", "最近一直睡不着，也不想出门见人"),
                                      ("caller", "他又在外面砸门了，说要进来打我，我好害怕。"), dispatch])
    assert "active_ideation" in state.labels and state.level == "无" and raised == [[], [], []]
    state, raised = run_call(engine, [("caller", "我真想死，活不下去了"), dispatch])
    assert state.level == "紧急" and [a.risk_level for a in raised[1]] == ["高", "紧急"]


def _filled(turns_before, turns_after, minutes: float):
    """turns_before, then ``minutes`` of harmless talk (a turn each 5 s), then turns_after."""
    filler = [("counselor", "嗯，您接着说。"), ("caller", "最近睡不好，工作压力大。")] * int(minutes * 6)
    return [*turns_before, *filler, *turns_after]


@pytest.mark.parametrize("minutes,level", [(1, "高"), (15, "高"), (30, "中")])
def test_a_plan_and_a_near_time_count_together_within_one_stretch_of_the_call(engine, minutes, level):
    """A near time beside suicidal words and a method an hour later are no plan to act within 72 h; within one
    stretch of the assessment (PLAN_TIME_WINDOW_S, 20 minutes) they are."""
    state, raised = run_call(engine, _filled([("caller", "明天我就不想活了。")],
                                             [("caller", "我打算从楼顶跳下去。")], minutes))
    assert state.level == level and sum(len(r) for r in raised) == (level == "高")


def test_an_alert_shows_the_sentences_that_decided_its_level(engine):
    """Five segments of evidence, in a long call: the preparation that made it 高 is among them, however many
    lower-risk sentences came between."""
    turns = _filled([("caller", "绳子我已经买好了，昨天快递到的。")],
                    [("caller", "活着真没意思，有时候想睡过去就别醒了。")] * 6 + [("caller", "我真想死。明天晚上吧。")], 10)
    state, raised = run_call(engine, turns)
    alert = next(a for r in raised for a in r)
    assert alert.risk_level == "高" and len(alert.evidence) == 5
    texts = [s.text for s in alert.evidence]
    assert texts[0] == "绳子我已经买好了，昨天快递到的。" and texts[-1] == "我真想死。明天晚上吧。"
    assert [s.start for s in alert.evidence] == sorted(s.start for s in alert.evidence)
