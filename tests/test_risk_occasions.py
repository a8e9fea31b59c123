"""Lexicon 1.16: what the tenth review's still-missed cases (var/review27) were, as rules, with new sentences: a
plan's time said as waiting for someone to leave ("就等明天我爸妈出差"), an occasion whose day was told before the plan
("我后天考最后一门" … "考完我就…"), 大后天 as near, a plan at a grave, a night at the edge that ended "最后没跳" (an
aborted attempt), and an answer about then that puts no one at the edge now. Each runs through the service's own path
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
    return run_call(engine, turns, "occasions-1")


def test_waiting_for_someone_to_leave_is_the_plans_time(engine):
    ra, _ = run(engine, [(C, "我不想活了，安眠药我攒了四十多片。"), (K, "嗯。"), (C, "就等后天我老婆出门上班。")])
    assert ra.state.level == "高"


def test_someone_leaving_without_a_plan_is_no_plan(engine):
    ra, _ = run(engine, [(C, "我最近压力特别大。"), (K, "嗯。"), (C, "就等明天我爸妈出差，我能清净两天。")])
    assert ra.state.level == "无"


def test_the_occasions_day_told_before_the_plan_dates_it(engine):
    ra, _ = run(engine, [(C, "我后天考最后一门。"), (K, "嗯，然后呢？"), (C, "考完我就去江边跳下去。")])
    assert ra.state.level == "高"


@pytest.mark.parametrize("before", ["我妹妹后天考最后一门。", "我去年考过一次驾照。", "我明天要上班。"])
def test_someone_elses_occasion_or_another_matter_dates_nothing(engine, before):
    ra, _ = run(engine, [(C, before), (K, "嗯。"), (C, "考完我就去江边跳下去。")])
    assert ra.state.level == "中"


def test_a_plan_at_a_grave_the_day_after_tomorrow(engine):
    ra, out = run(engine, [(C, "大后天是我爸走的日子，我准备那天去他坟上喝农药。")])
    assert "suicide_plan" in worded(out[-1])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["清明我要去我爸坟前烧纸。", "大后天我要去医院复查。"])
def test_a_grave_visit_and_a_checkup_are_no_plan(engine, said):
    ra, _ = run(engine, [(C, said)])
    assert ra.state.level == "无"


def test_a_night_at_the_edge_that_ended_without_the_jump_is_an_attempt(engine):
    ra, out = run(engine, [(C, "前天夜里我在楼顶坐了两个钟头，最后没敢跳。")])
    assert "suicide_attempt" in worded(out[-1])
    assert ra.state.level == "高"


@pytest.mark.parametrize("said", ["我在跳水台上站了半天，最后没敢跳。", "我们在河边站了一会儿，后来没跳，水太凉了。"])
def test_a_dive_not_taken_is_no_attempt(engine, said):
    ra, out = run(engine, [(C, said)])
    assert "suicide_attempt" not in worded(out[-1])


def test_an_answer_about_then_puts_no_one_at_the_edge_now(engine):
    ra, _ = run(engine, [(C, "上个月我在桥上站了一个多小时，最后没跳。"), (K, "你当时是想跳下去吗？"),
                         (C, "是，腿都跨出去了。")])
    assert ra.state.level == "中"
