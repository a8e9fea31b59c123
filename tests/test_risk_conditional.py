"""Lexicon 1.15: the act a caller says they will do once a condition holds is their own intent, not a hypothetical
("要是明天还这样，我就把一整瓶安眠药全吃了"); a condition that holds the act, a question about it, 就算, a dream and
"if I said" stay hypothetical. New sentences, not the code reviews' own; each runs through the service's own path
(``RiskAnalysis.analyze``)."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call, worded


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> tuple[RiskAnalysis, list]:
    return run_call(engine, turns, "conditional-1")


@pytest.mark.parametrize("said", [
    "要是周末他还不还钱，我就喝农药。",
    "如果明天还是这样，我就把攒的药全吃了。",
    "要是他今晚还不回来，我就在家烧炭。",
])
def test_a_threat_with_a_near_day_is_a_plan_within_72_hours(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_plan" in worded(out[-1])
    assert "suicide_exploration" not in out[-1].labels
    assert ra.state.level == "高"
    assert [a.risk_level for a in ra.alerts] == ["高"]


@pytest.mark.parametrize("said,label", [
    ("要是再让我回那个家，我就割腕。", "suicide_plan"),
    ("如果这学期再挂科，我就从教学楼上跳下去。", "suicide_plan"),
    ("他要是敢把孩子带走，我就死给他看。", "active_ideation"),
    ("要是你们都不管我，我就去死。", "active_ideation"),
])
def test_a_threat_without_a_day_is_the_callers_intent(engine, said, label):
    ra, out = run(engine, [(C, said)])
    assert label in worded(out[-1])
    assert ra.state.level == "中"


@pytest.mark.parametrize("said", [
    "要是我死了，我爸妈会难过吗？",
    "万一我真的跳下去了，你们会记得我吗？",
    "如果哪天我真的想死，我就给你们打电话。",
    "如果我就这么跳下去，会怎么样？",
    "就算我死了，也没有人会在乎。",
    "如果我说我想死呢？",
    "我梦见要是我跳下去，就一了百了。",
])
def test_a_condition_that_holds_the_act_or_asks_stays_hypothetical(engine, said):
    ra, out = run(engine, [(C, said)])
    assert not set(worded(out[-1])) & {"suicide_plan", "suicide_attempt", "active_ideation"}
    assert ra.state.level in ("无", "低")
    assert not ra.alerts


@pytest.mark.parametrize("said", [
    "要是她真的想自杀，我就一直陪着她。",
    "要是我妈知道我挂科，她就会跳楼的。",
])
def test_someone_elses_act_stays_theirs(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_exploration" in out[-1].labels
    assert ra.state.level == "无"


@pytest.mark.parametrize("said", [
    "要是明天还疼，我就把止疼药吃了。",
    "如果明天还发烧，我就把退烧药吃了。",
    "要是实在睡不着，我就吃半片安眠药。",
    "如果考上了，我就去云南旅游。",
    "要是再被我妈发现，我就死定了。",
])
def test_medicine_and_everyday_consequences_are_no_risk(engine, said):
    ra, out = run(engine, [(C, said)])
    assert ra.state.level == "无"
    assert not ra.alerts


def test_the_counselors_hypothetical_question_and_a_coping_answer(engine):
    ra, out = run(engine, [(K, "如果你又想不开的时候，你会做些什么？"), (C, "要是想不开，我就给我姐打电话。")])
    assert not set(worded(out[-1])) & {"suicide_plan", "active_ideation"}
    assert ra.state.level in ("无", "低")
