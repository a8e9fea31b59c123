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
    pieces = [FinalSegment("j", i, "caller", 10.0 + 2 * i, 11.5 + 2 * i, "药") for i in range(5)]
    reading = joined_reading(seg, pieces)
    assert reading.fragments == 0 or reading.fragments <= MAX_FRAGMENTS
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
