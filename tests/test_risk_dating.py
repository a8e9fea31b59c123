"""An attempt told without a date is dated by the caller's answer to the counselor's question when it happened, in the
ways a counselor asks it ("这是什么时候发生的？", "多久以前的事？", "是最近吗？"), and an attempt told as history ("我割
过腕") too; a question about another event, the thoughts or an errand dates nothing. New sentences; each runs through
the service's own path (``RiskAnalysis.analyze``)."""

from __future__ import annotations

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from tests.risk_calls import C, K, run_call


@pytest.fixture(scope="module")
def engine() -> RiskEngine:
    return RiskEngine.load()


def run(engine: RiskEngine, turns: list[tuple[str, str]]) -> RiskAnalysis:
    return run_call(engine, turns, "dating-1")[0]


@pytest.mark.parametrize("told", ["我拿水果刀割了手腕。", "我割过腕。", "我吃过一整瓶安眠药。"])
@pytest.mark.parametrize("asked,answer", [
    ("这是什么时候发生的？", "前天。"),
    ("什么时候的事？", "上周六。"),
    ("多久以前的事？", "大概十天前吧。"),
    ("是最近吗？", "就前几天。"),
])
def test_the_answer_to_when_it_happened_dates_the_attempt(engine, told, asked, answer):
    ra = run(engine, [(C, told), (K, asked), (C, answer)])
    assert ra.state.level == "高"
    assert [a.risk_level for a in ra.alerts] == ["高"]


@pytest.mark.parametrize("told", ["我拿水果刀割了手腕。", "我割过腕。"])
@pytest.mark.parametrize("asked,answer", [
    ("这是什么时候发生的？", "三年前了。"),
    ("是最近吗？", "不是，好几年前了。"),
    ("你男朋友是什么时候跟你提分手的？", "前天。"),
    ("这个念头是什么时候开始有的？", "上个礼拜。"),
    ("你下次复诊是什么时候？", "后天。"),
    ("你妈妈是什么时候知道的？", "昨天。"),
])
def test_an_old_attempt_or_another_events_time_dates_nothing(engine, told, asked, answer):
    ra = run(engine, [(C, told), (K, asked), (C, answer)])
    assert ra.state.level == "中"
    assert not ra.alerts
