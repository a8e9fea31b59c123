"""Lexicon 1.16: what a twelfth held-out review (var/review31: 96 of 120 on 162ce3f, 12 of 41 高/紧急 calls missed)
found, as rules, with new sentences of the same kinds (not the review's cases): a cut told as "我自己割的" with the
wish, poison named as what was drunk, a jump from a window with the wish, a handful of a named medicine are attempts;
a rough date ("上个月") is made exact by the answer to the question when; lying down on the track; a gondola or
scaffold is a height; up to eight recognizer pieces are read as one utterance. Two rules tried and withdrawn after a
code review (var/review32code): a first sentence of assent ("嗯。…") as a yes, and "就喝了它" as a plan. Each runs through the service's own
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


@pytest.mark.parametrize("answer", ["嗯。我在楼下的便利店买烟呢。", "嗯。你听错了，我说的是我吃了晚饭。"])
def test_a_sentence_of_assent_then_other_words_is_no_yes(engine, answer):
    # the review's "嗯。我估计肯定没考上…" was tried as a yes and withdrawn: what follows may correct the question
    ra, _ = run(engine, [(C, "我心里很难受。"), (K, "你是说你已经吃了安眠药吗？"), (C, answer)])
    assert ra.state.level in ("无", "低", "中")


@pytest.mark.parametrize("said", [
    "前天晚上我自己割的，就是想死，缝了八针。",
    "前两天喝的是老鼠药，被我爸发现了，洗了胃。",
    "大前天我从宿舍三楼窗户跳下来了，就是想死，结果只是骨折。",
    "昨天我吞了一把那个降压药，想死。",
])
def test_attempts_told_in_everyday_words_and_dated_are_recent(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["草是我自己割的，累死了。", "农药是给果树喷的，喝的是自来水。", "小时候我从二楼阳台跳下来过，摔断了腿。",
                                  "猪草是我自己割的，累得不想活了。", "我家的鸡吃的是农药拌过的玉米，全死了。",
                                  "晚饭吃了好多山药，撑死了。"])
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


# --- a thirteenth held-out review (var/review33: 89 of 120 on 6b2bc00) and a sixth code review (var/review32code) ---

@pytest.mark.parametrize("said,level", [
    ("我现在在车里，炭火盆已经点上了，车窗都封死了。", "紧急"),
    ("我在浴室，刀片已经划下去了，血一直在流。", "紧急"),
    ("前天夜里我在宿舍上吊了，绳子断了。", "高"),
    ("我十来天前吞过一次药，被送去洗了胃。", "高"),
])
def test_acts_the_thirteenth_review_found(engine, said, level):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == level


@pytest.mark.parametrize("said", ["冬天屋里冷，炭盆已经点着了，窗户都关好了。", "我要上吊了吗？开玩笑的。", "我切西瓜，刀已经切下去了。",
                                  "这两天感冒吃了好多感冒药，还是不好。", "火车票买到了下铺，一上车我就躺上去了。",
                                  "我们村喝的是农药厂旁边的井水。"])
def test_everyday_words_near_those_acts_are_none(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" not in worded(out[-1])
    assert ra.state.level in ("无", "低", "中") and ra.state.level != "高"


@pytest.mark.parametrize("answer", ["我在脚手架上，刷墙呢。", "我在吊篮上，外墙刷漆，我得干活。"])
def test_at_work_on_a_height_is_no_edge(engine, answer):
    ra, _ = run(engine, [(C, "我真的撑不下去了。"), (K, "你现在在哪？"), (C, answer)])
    assert ra.state.level == "中"


def test_an_act_told_as_history_is_dated_by_a_time_alone(engine):
    ra, _ = run(engine, [(C, "我大学的时候割过腕。"), (K, "具体是哪一天？"), (C, "昨天我还梦见了。")])
    assert ra.state.level == "中"


@pytest.mark.parametrize("turns", [
    [(C, "我家狗吃了楼下放的老鼠药。"), (K, "您现在心里一定很乱。"), (C, "都怪我，遛狗的时候没看住，它一口就吞下去了，医生说在洗胃。")],
    [(C, "我家猫把我的安眠药吃了，它吞了一整板。")],
])
def test_a_pets_poison_is_not_the_callers_act(engine, turns):
    ra, out = run(engine, turns)
    assert "suicide_attempt" not in worded(out[-1])
    assert ra.state.level in ("无", "低")


def test_it_without_an_animal_before_it_is_still_the_caller(engine):
    # a live final's 它 is often a misheard 他 or the caller's own thought: no animal named, no one else
    ra, out = run(engine, [(C, "躺下就想它，有时候想，要是睡过去不醒了也好。")])
    assert "passive_ideation" in worded(out[-1]) or "passive_ideation" in out[-1].labels
    assert ra.state.level == "低"
