"""Lexicon 1.16: what a twelfth held-out review (var/review31: 96 of 120 on 162ce3f, 12 of 41 高/紧急 calls missed)
found, as rules, with new sentences of the same kinds (not the review's cases): a first sentence of assent ("嗯。")
answers the counselor's question whatever follows; a cut told as "我自己割的" with the wish, poison named as what was
drunk, a jump from a window with the wish, a handful of a named medicine are attempts; a rough date ("上个月") is made
exact by the answer to the question when; the pesticide meant by "它"; lying down on the track; a gondola or
scaffold is a height; up to eight recognizer pieces are read as one utterance. Each runs through the service's own
path (``RiskAnalysis.analyze``)."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "review12-1")


def test_a_sentence_of_assent_answers_the_restated_plan(engine):
    ra, _ = run(engine, [(C, "我真的撑不下去了。"), (K, "你是说，你打算后天从公司楼顶跳下去？"),
                         (C, "嗯。反正也没人在乎，我这个月房租都交不起。")])
    assert ra.state.level == "高"


def test_assent_then_a_denial_is_no_yes(engine):
    ra, _ = run(engine, [(C, "我真的撑不下去了。"), (K, "你是说，你打算后天从公司楼顶跳下去？"),
                         (C, "嗯。不是，我没这么打算，就是说说气话。")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "前天晚上我自己割的，就是想死，缝了八针。",
    "前两天喝的是老鼠药，被我爸发现了，洗了胃。",
    "大前天我从宿舍三楼窗户跳下来了，就是想死，结果只是骨折。",
    "昨天我吞了一把我妈的那个降压药，想死。",
])
def test_attempts_told_in_everyday_words_and_dated_are_recent(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["草是我自己割的，累死了。", "农药是给果树喷的，喝的是自来水。", "小时候我从二楼阳台跳下来过，摔断了腿。"])
def test_everyday_cutting_spraying_and_a_childhood_jump_are_no_recent_attempt(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level in ("无", "低", "中")
    assert ra.state.level != "高"


def test_a_rough_date_made_exact_by_the_answer_to_when(engine):
    ra, _ = run(engine, [(C, "我上个月割了手腕，想死。"), (K, "具体是哪一天？"), (C, "大概十天前吧。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("asked", ["你是什么时候换的工作？", "你上次复查是几号？"])
def test_an_answer_about_another_matter_does_not_redate_it(engine, asked):
    ra, _ = run(engine, [(C, "我以前割过腕。"), (K, "嗯。"), (K, asked), (C, "前天。")])
    assert ra.state.level == "中"


def test_the_pesticide_meant_by_it(engine):
    ra, out = run(engine, [(C, "那瓶敌敌畏我藏在柜子里了。"), (K, "你藏起来是想做什么？"),
                           (C, "我不想活了，明天等家里人出门，我就喝了它。")])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "高"


def test_lying_down_on_the_track_at_the_track_is_an_emergency(engine):
    ra, _ = run(engine, [(C, "我现在蹲在铁轨旁边。"), (K, "你在那里做什么？"), (C, "等下一趟火车，来了我就躺上去。")])
    assert ra.state.level == "紧急"


def test_a_gondola_and_the_wish_to_jump_is_an_emergency(engine):
    ra, _ = run(engine, [(C, "我现在就在脚手架上，二十多层。"), (K, "你还好吗？"), (C, "我想跳下去算了。")])
    assert ra.state.level == "紧急"


@pytest.mark.parametrize("said", ["我在吊篮上干活，擦玻璃。", "卧铺车来了我就躺上去睡一觉。"])
def test_work_on_a_gondola_and_a_sleeper_bus_are_no_risk(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_eight_pieces_are_read_as_one_utterance(engine):
    pieces = ["我", "已经", "已经吃了", "二十多片", "那个", "安眠药", "就", "刚刚"]
    ra, _ = run(engine, [(C, p) for p in pieces])
    assert ra.state.level == "紧急"
