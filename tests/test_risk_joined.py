"""Lexicon 1.12: a caller's words the recognizer cut into pieces or wrote a pause into are read whole
(``service.risk.joined_reading``); an attempt told as the present state of things, without a time, is 紧急 (the
spec's "pills taken"); a yes to the counselor's restatement of a plan and its near time is that plan (高). Each case
runs through the service's own path (``RiskAnalysis.analyze``), the pieces 0.3 s apart as the recognizer cuts them."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import FRAGMENT_GAP_S, MAX_FRAGMENTS, RiskEngine, joined_reading
from service.types import FinalSegment

C, K = "caller", "counselor"
OPENING = (K, "您好，这里是心理援助热线，请问有什么可以帮到您？")


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def segments(turns: list[tuple[str, str]], gap: float = 0.3) -> list[FinalSegment]:
    """The turns in call time, each 0.25 s a character (at least 1 s), ``gap`` s of silence between them."""
    out, t = [], 0.0
    for i, (who, text) in enumerate(turns):
        d = max(1.0, 0.25 * len(text))
        out.append(FinalSegment("joined-1", i, who, t, t + d, text))
        t += d + gap
    return out


def run(engine: RiskEngine, turns: list[tuple[str, str]], gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    ra = RiskAnalysis(engine, "joined-1", None)
    return ra, [ra.analyze(s)[0] for s in segments(turns, gap)]


def worded(risk) -> dict[str, str]:
    return {k.label: k.text for k in risk.keywords}


@pytest.mark.parametrize("pieces,label,level", [
    (["我……", "把药……", "全吃了。"], "suicide_attempt", "紧急"),    # each piece alone: 无 in lexicon 1.11
    (["我", "把药", "全吃了"], "suicide_attempt", "紧急"),             # as the live path writes them: no marks
    (["我不想……", "活了。"], "active_ideation", "中"),
    (["我真的很想", "死。"], "active_ideation", "中"),
    (["药我已经", "攒够了"], "suicide_preparation", "中"),
])
def test_a_disclosure_cut_into_pieces_is_read_whole(engine, pieces, label, level):
    ra, risks = run(engine, [OPENING, *((C, p) for p in pieces)])
    assert label in worded(risks[-1]), [(r.labels, worded(r)) for r in risks]
    assert ra.state.level == level
    # the keyword is what this segment itself said: its time lies within the segment
    seg = segments([OPENING, *((C, p) for p in pieces)])[-1]
    for k in risks[-1].keywords:
        assert seg.text[k.char_start:k.char_end] == k.text and seg.start <= k.start <= k.end <= seg.end


def test_a_pause_inside_one_segment_is_read_through(engine):
    _, risks = run(engine, [OPENING, (C, "我不想……活了。")])
    assert worded(risks[-1]) == {"active_ideation": "不想……活"}
    ra, risks = run(engine, [OPENING, (C, "我……把药……全吃了。")])
    assert "suicide_attempt" in worded(risks[-1]) and ra.state.level == "紧急"  # 中 in lexicon 1.11: "……" ended it


@pytest.mark.parametrize("turns,gap", [
    ([(C, "我"), (C, "把药"), (C, "全吃了")], FRAGMENT_GAP_S + 0.5),        # a long silence: another utterance
    ([(C, "我把药。"), (C, "全吃了。")], 0.3),                               # the first piece was finished
    ([(C, "我不想"), (K, "嗯。"), (C, "活了。")], 0.3),                      # the counselor spoke between them
])
def test_pieces_of_different_utterances_are_not_joined(engine, turns, gap):
    ra, risks = run(engine, [OPENING, *turns], gap)
    assert not {"suicide_attempt", "active_ideation"} & set(worded(risks[-1])), worded(risks[-1])
    assert ra.alerts == []


def test_the_joined_reading_keeps_its_context_rules(engine):
    """Whose act it is is read across the pieces too: the mother's, not the caller's."""
    ra, risks = run(engine, [OPENING, (C, "我妈……"), (C, "把药……"), (C, "全吃了。")])
    assert worded(risks[-1]) == {"suicide_exploration": "全吃了"} and ra.alerts == []


def test_the_joined_reading_only_adds(engine):
    """Words the segment's own reading judged stay as it judged them: "转到她卡上了" after "给我老婆写了封信" is the
    caller's own preparation, not (as the joined words would read) the wife's."""
    _, risks = run(engine, [OPENING, (C, "我真的不想活了。"), (K, "你有没有为这件事做过什么准备？"),
                            (C, "给我老婆写了封信"), (C, "存折上的几万块，昨天转到她卡上了。")])
    labels = set(risks[-1].labels)
    assert "suicide_preparation" in labels and "suicide_exploration" not in labels


def test_joined_reading_bounds():
    seg = FinalSegment("j", 9, "caller", 20.0, 21.0, "全吃了。")
    n = MAX_FRAGMENTS + 2
    pieces = [FinalSegment("j", i, "caller", 20.0 - 2 * (n - i), 21.5 - 2 * (n - i), "药") for i in range(n)]
    reading = joined_reading(seg, pieces)
    # the nearest MAX_FRAGMENTS (eight), no more
    assert reading.fragments == MAX_FRAGMENTS == 8 and reading.text == "药" * MAX_FRAGMENTS + "全吃了。"
    close = [FinalSegment("j", i, "caller", 16.0 + i, 16.9 + i, p) for i, p in enumerate(["我……", "把", "药"])]
    reading = joined_reading(seg, close)
    assert reading.text == "我把药全吃了。" and reading.fragments == 3 and reading.start == 16.0
    assert reading.positions == (None, None, None, 0, 1, 2, 3)
    assert joined_reading(seg, []) is None                                    # nothing to join
    assert joined_reading(FinalSegment("j", 1, "caller", 0, 1, "嗯……"), []) is None  # a hesitation stays one
    assert joined_reading(FinalSegment("j", 1, "mixed", 0, 1, "我不想……活了"), []) is None  # one channel, two voices
    long = [FinalSegment("j", 0, "caller", 17.0, 19.8, "很" * 41)]
    assert joined_reading(seg, long) is None


@pytest.mark.parametrize("turns,level", [
    ([(C, "我想死。"), (K, "你是说你打算这周六去跳楼，是吗？"), (C, "嗯。")], "高"),
    ([(C, "我不想活了。"), (K, "你刚才说打算今天晚上把药吃了，对吗？"), (C, "对。")], "高"),
    ([(C, "我想死。"), (K, "你是说你想过跳楼，是吗？"), (C, "嗯。")], "中"),                 # no time
    ([(C, "我想死。"), (K, "你今晚还会有想死的念头吗？"), (C, "嗯。")], "中"),                 # thoughts, no plan
    ([(C, "我想死。"), (K, "你能答应我今晚不会去跳楼吗？"), (C, "嗯。")], "中"),               # a promise
    ([(C, "我想死。"), (K, "你是说你打算这周六去跳楼，是吗？"), (C, "不是。")], "中"),
    ([(C, "我心里很乱。"), (K, "你朋友是说打算这周六去跳楼，是吗？"), (C, "嗯。")], "无"),      # someone else's plan
])
def test_a_yes_to_the_counselors_restated_plan(engine, turns, level):
    """The counselor restates the plan and its time; the caller's yes is that plan (中 in lexicon 1.11)."""
    ra, risks = run(engine, [OPENING, *turns])
    assert ra.state.level == level, [(r.labels, worded(r)) for r in risks]
    if level == "高":
        assert worded(risks[-1])["suicide_plan"] in ("嗯", "对")
        assert [a.risk_level for a in ra.alerts] == ["高"]


# --- what a review of the three found (186 cases of its own; 131 right before these fixes, 167 after) -------------


@pytest.mark.parametrize("pieces,level,label", [
    (["我同学", "割腕了"], "无", "suicide_exploration"),         # someone else's act, the subject one piece before
    (["我室友", "把药全吃了"], "无", "suicide_exploration"),
    (["我朋友", "昨天", "把药全吃了"], "无", "suicide_exploration"),  # a run of short heads
    (["如果", "我把药全吃了"], "无", "suicide_exploration"),      # a hypothetical (as in one segment)
    (["我想", "把药全吃了"], "中", None),                         # a wish, not the act
    (["我不会", "把药全吃了的"], "无", None),                     # negated
])
def test_a_short_piece_before_is_the_head_of_the_clause(engine, pieces, level, label):
    """Each of these was 紧急 (the last piece alone: an attempt told as the present state); the short piece before
    it is the head of its clause and the clause is judged whole."""
    ra, risks = run(engine, [OPENING, *((C, p) for p in pieces)])
    assert ra.state.level == level and "suicide_attempt" not in risks[-1].labels, [worded(r) for r in risks]
    if label:
        assert label in worded(risks[-1])


@pytest.mark.parametrize("turns,level", [
    ([(C, "我刚"), (C, "割了手腕"), (C, "血一直在流")], "紧急"),         # when, in the piece before
    ([(C, "我真的不想活了。"), (C, "我在"), (C, "楼顶")], "紧急"),       # where, in the pieces before
    ([(C, "我真的不想活了。"), (C, "我已经"), (C, "站在"), (C, "窗户外面了")], "紧急"),
    ([(C, "我已经"), (C, "想好了"), (C, "这周六"), (C, "一了百了")], "高"),  # the dated decision before the words
])
def test_time_and_place_are_read_across_the_pieces(engine, turns, level):
    ra, risks = run(engine, [OPENING, *turns])
    assert ra.state.level == level, [worded(r) for r in risks]


@pytest.mark.parametrize("text", [
    "那次我把药全吃了。", "我上次把药全吃了，被抢救过来了。", "当时我把药全吃了。", "有一次我把药全吃了。", "我大学时割腕了。",
])
def test_an_attempt_told_as_history_is_not_an_emergency(engine, text):
    ra, _ = run(engine, [OPENING, (C, text)])
    assert ra.state.level == "中", text


@pytest.mark.parametrize("text,level", [
    ("药我全吃了，医生开的感冒药。", "中"), ("抗抑郁的药我全吃了，这个疗程结束了。", "中"),  # a course, not the act
    ("感冒药我一整盒全吃了。", "紧急"),                                                    # an amount: an overdose
    ("剧里那个女主割腕了。", "无"), ("我们宿舍的小李把药全吃了。", "无"),                 # someone else
    ("农药我喝了。", "紧急"), ("一整板安眠药我都吞了。", "紧急"),                         # the object first
])
def test_whose_act_and_which_medicine(engine, text, level):
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level == level, (text, worded(risks[-1]))


@pytest.mark.parametrize("question,answer,level", [
    ("你是不是已经把药吃了？", "嗯。", "紧急"), ("你刚才是不是割了？", "是的，割了。", "紧急"),
    ("你是不是已经做了什么？", "是的，割了。", "紧急"),
    ("你是说你上周六吃了一瓶安眠药，是吗？", "嗯。", "高"),   # the restatement dates it
    ("你是不是已经吃了饭？", "嗯。", "中"),                   # no act named
    ("你是不是已经把药吃了？", "没有。", "中"),
])
def test_a_yes_to_whether_the_act_is_done(engine, question, answer, level):
    ra, risks = run(engine, [OPENING, (C, "我真的不想活了。"), (K, question), (C, answer)])
    assert ra.state.level == level, (question, answer, worded(risks[-1]))


@pytest.mark.parametrize("question,level", [
    ("你是说你爸打算今晚跳楼，是吗？", "中"),                              # his plan
    ("你是说你明天要把攒的药扔掉，是吗？", "中"),                          # a safety step
    ("你是说你原来打算今晚跳楼，后来打消了这个念头，是吗？", "中"),        # given up
    ("你刚才说你买了炭，打算今晚烧，对吗？", "高"),                        # 买了炭: preparation from this caller
])
def test_what_a_restated_plan_must_be(engine, question, level):
    ra, risks = run(engine, [OPENING, (C, "我想死。"), (K, question), (C, "嗯。")])
    assert ra.state.level == level, (question, worded(risks[-1]))


@pytest.mark.parametrize("text", ["我有时候想死了就不用受这个罪了。", "我想死了就解脱了。"])
def test_thinking_death_would_end_the_suffering_is_passive(engine, text):
    """"想，死了就不用受这个罪了": the wish for relief in death (passive), not the wish to die (active, 中 before)."""
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level == "低" and worded(risks[-1]).keys() == {"passive_ideation"}, worded(risks[-1])


# --- what a second review found (150 cases of its own, written before it saw these rules' tests: 122 as it expected;
# 138 after the fixes below, which were written from its misses) -----------------------------------------------


@pytest.mark.parametrize("turns,level", [
    ([(C, "我上次"), (C, "把药全吃了"), (C, "那是三年前")], "中"),              # history in the piece before
    ([(C, "我用美工刀割了手腕"), (C, "就刚才")], "紧急"),                       # dated by the caller, same turn
    ([(C, "我用美工刀割了手腕"), (C, "昨天晚上")], "高"),
    ([(C, "我已经"), (C, "把煤气"), (C, "打开了"), (C, "不想活了")], "紧急"),  # the act, then the intent
    ([(C, "我烧了炭"), (C, "门窗"), (C, "都关上了"), (C, "不想活了")], "紧急"),
    ([(C, "我想"), (C, "自杀")], "中"),                                       # a wish, not the topic
])
def test_pieces_read_together_second_review(engine, turns, level):
    ra, risks = run(engine, [OPENING, *turns])
    assert ra.state.level == level, [worded(r) for r in risks]


@pytest.mark.parametrize("turns,level", [
    ([(C, "我现在在楼顶。"), (K, "你在楼顶做什么？"), (C, "我不想活了。")], "紧急"),  # where, then the intent
    ([(C, "我在长江大桥上。"), (K, "你在桥上做什么？"), (C, "我不想活了。")], "紧急"),
    ([(C, "我在楼顶晒被子呢。"), (K, "嗯。"), (C, "我不想活了。")], "中"),          # an errand, not the edge
    ([(C, "我不想活了。"), (K, "你现在是在楼顶吗？"), (C, "是。")], "紧急"),       # a yes to where
    ([(C, "我心里很难受。"), (K, "你现在是在楼顶吗？"), (C, "是。")], "无"),       # no intent voiced
])
def test_at_the_edge_and_the_intent_in_either_order(engine, turns, level):
    ra, risks = run(engine, [OPENING, *turns], gap=2.5)
    assert ra.state.level == level, [worded(r) for r in risks]


@pytest.mark.parametrize("text,level", [
    ("我吃了一百片阿司匹林。", "紧急"), ("我吃了两片阿司匹林。", "无"), ("我吃了一整瓶安眠药。", "紧急"),
    ("我现在正在吞安眠药。", "紧急"), ("我烧炭了。", "紧急"),
    ("我 不想 活 了 今天 晚上 就 去 跳 河", "高"),                      # the recognizer's spaces
    ("我不想跳楼。", "无"), ("我不想让家人知道我想死。", "中"),         # 不想 right before the method only
    ("我用刀划了胳膊，不是想死，就是难受。", "低"), ("我去年跳过一次河，被人救上来了。", "中"),
])
def test_words_for_acts_second_review(engine, text, level):
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level == level, (text, worded(risks[-1]))


def test_is_this_so_is_a_yes(engine):
    ra, _ = run(engine, [OPENING, (C, "我想死。"), (K, "你是说你这周末打算从桥上跳下去，是这样吗？"), (C, "是这样。")])
    assert ra.state.level == "高"


# --- what a code review of the change found: everyday speech the new words took for acts ---------------------------


@pytest.mark.parametrize("text,level", [
    ("我现在正在吃药，医生开的。", "无"), ("我今天吃了三十颗瓜子。", "无"), ("我们在院子里烧炭了，准备烤肉。", "无"),  # lexicon 1.14: charcoal for food
    ("昨天游泳抽筋了，被救上来了。", "无"), ("我跳过海选直接进了复赛。", "无"), ("我做手工的时候用剪刀划破了手。", "无"),
    ("妈的，真不想活了。", "中"), ("我想死了就可以解脱了。", "中"),
    ("我一直没按时吃药，今天把药全吃了。", "紧急"), ("我把安眠药全吃了，家里的感冒药也吃了。", "紧急"),
])
def test_everyday_words_near_the_new_ones(engine, text, level):
    ra, risks = run(engine, [OPENING, (C, text)])
    assert ra.state.level == level, (text, worded(risks[-1]))


def timed(engine, turns):
    """(speaker, text, silence before) in call time."""
    ra, t = RiskAnalysis(engine, "joined-2", None), 0.0
    for i, (who, text, gap) in enumerate([(*OPENING, 0.0), *turns]):
        t += gap
        d = max(1.0, 0.25 * len(text))
        ra.analyze(FinalSegment("joined-2", i, who, t, t + d, text))
        t += d
    return ra


@pytest.mark.parametrize("turns,level", [
    ([(C, "我不想活了。", 2.5), (K, "嗯。", 2.5), (C, "我把门窗都关好了。", 2.5)], "中"),
    ([(C, "我现在堵在长江大桥上。", 2.5), (K, "嗯。", 2.5), (C, "我真的不想活了。", 2.5)], "中"),
    ([(C, "我不想活了。", 2.5), (K, "你刚才说你割过腕，对吗？", 2.5), (C, "对。", 2.5)], "中"),    # history, undated
    ([(C, "我割过腕。", 2.5), (C, "刚刚我妈又骂我了。", 0.3)], "中"),                             # another matter's time
    ([(C, "我在楼顶", 2.5), (C, "晒被子呢。", 0.3), (K, "嗯。", 2.5), (C, "我不想活了。", 2.5)], "中"),
    ([(C, "我心里难受。", 2.5), (K, "你现在是在天台上晾衣服吗？", 2.5), (C, "是。", 2.5), (K, "嗯。", 2.5),
      (C, "我不想活了。", 2.5)], "中"),
    ([(C, "钱包丢了，我不想活了。", 2.5), (K, "嗯。", 2.5), (C, "我想好了，就这周六。", 2.5)], "高"),
    ([(C, "我心里很难受。", 2.5), (K, "你有没有想过自杀？", 2.5), (C, "是这样的，我最近工作压力很大。", 2.5)], "无"),
])
def test_turns_near_the_new_rules(engine, turns, level):
    assert timed(engine, turns).state.level == level


def test_a_head_piece_keeps_the_classifiers_labels(engine):
    """The head piece judges the words it governs, nothing else: "就是" | "我每天都很痛苦，看不到希望。" keeps what
    the segment alone is given."""
    alone = run(engine, [OPENING, (C, "我每天都很痛苦，看不到希望。")])[1][-1]
    headed = run(engine, [OPENING, (C, "就是"), (C, "我每天都很痛苦，看不到希望。")])[1][-1]
    assert headed.labels == alone.labels and alone.labels
    _, risks = run(engine, [OPENING, (C, "我不会"), (C, "把药全吃了的。")])
    assert risks[-1].labels == [] and risks[-1].score <= 0.1


# --- what a third review found (120 cases, run once on the final rules before these fixes: 94 as it expected) -----


@pytest.mark.parametrize("turns,level", [
    ([(C, "我现在在楼顶上", 2.5), (C, "风好大", 0.3), (C, "我不想活了", 2.5), (C, "我想跳下去", 0.3)], "紧急"),
    ([(C, "我现在在江边的大桥上", 2.5), (C, "已经翻过栏杆了", 0.3), (K, "你是想跳下去吗", 2.5), (C, "嗯", 2.5)], "紧急"),
    ([(K, "你现在是在江边吗", 2.5), (C, "是", 2.5), (K, "你想跳下去吗", 2.5), (C, "嗯", 2.5)], "紧急"),
    ([(K, "你两周内有没有尝试过自杀", 2.5), (C, "有", 2.5), (K, "哪天", 2.5), (C, "上周三", 2.5)], "高"),
    ([(K, "你以前有没有自杀过", 2.5), (C, "有过一次", 2.5), (C, "大概三年前", 0.3)], "中"),
    ([(C, "我昨天看了个电影", 2.5), (C, "里面那个女的", 0.3), (C, "吞了一瓶安眠药", 0.3), (C, "我哭了一晚上", 0.3)], "无"),
    ([(C, "我昨晚梦见", 2.5), (C, "自己从楼上", 0.3), (C, "跳下去了", 0.3), (C, "吓醒了", 0.3)], "无"),
])
def test_third_review(engine, turns, level):
    assert timed(engine, turns).state.level == level


@pytest.mark.parametrize("turns,level", [
    ([(K, "你现在在哪里", 2.5), (C, "楼顶", 2.5), (K, "做什么", 2.5), (C, "想跳", 2.5)], "紧急"),    # bare answers
    ([(K, "你现在在哪里", 2.5), (C, "楼顶", 2.5), (K, "做什么", 2.5), (C, "晒被子", 2.5)], "无"),
    ([(K, "你现在在哪里", 2.5), (C, "在家", 2.5), (K, "做什么", 2.5), (C, "想跳舞", 2.5)], "无"),
    ([(C, "吃了", 2.5), (C, "五十片", 0.3), (K, "你刚才说吃了五十片 是真的吗", 2.5), (C, "嗯", 2.5), (C, "想睡", 2.5)],
     "紧急"),                                                                       # an amount of pills, no name
    ([(C, "对不起所有人", 2.5), (K, "你吃了药吗 吃了多少", 2.5), (C, "一瓶", 2.5), (K, "什么时候吃的", 2.5),
      (C, "刚才", 2.5)], "紧急"),                                                  # a farewell, then the answers
    ([(C, "我今天吃了三十片薯片。", 2.5)], "无"), ([(C, "毕业了，永别了我的大学。", 2.5)], "无"),
])
def test_third_review_answers_and_amounts(engine, turns, level):
    assert timed(engine, turns).state.level == level


@pytest.mark.parametrize("turns,level", [
    ([(C, "我朋友最近老说", 2.5), (C, "不想活了", 0.3)], "无"),          # reported: the friend's words
    ([(C, "我跟你说", 2.5), (C, "我不想活了", 0.3)], "中"),              # said to the counselor: the caller's own
    ([(C, "我就是想跟你说", 2.5), (C, "我把药全吃了", 0.3)], "紧急"),
])
def test_a_piece_ending_on_a_verb_of_saying_heads_what_follows(engine, turns, level):
    assert timed(engine, turns).state.level == level
