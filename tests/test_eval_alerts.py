"""Alert latency: when the reference first justifies a level (the service's own call-level rules over reference
labels), and each alert's latency from the end of that segment. Hand-checked tables."""

from __future__ import annotations

import pytest

from eval.alerts import RaisedAlert, alert_rows, alert_summary, reference_justified_at
from eval.data import AnnotatedCall, Segment, load_calls
from tests.conftest import FIXTURES

NEUTRAL = {"risk_level": "无"}


def call_of(*segments: tuple[str, float, float, str, tuple[str, ...]]) -> AnnotatedCall:
    return AnnotatedCall("t", tuple(Segment(i, who, start, end, text, risk)
                                    for i, (who, start, end, text, risk) in enumerate(segments)), NEUTRAL)


@pytest.mark.parametrize("segments, expected", [
    ([], {}),
    ([("caller", 0.0, 2.0, "今天考试累死了。", ())], {}),
    ([("caller", 0.0, 2.0, "活着没意思。", ("passive_ideation",))], {"低": 2.0}),
    # a counselor's words never raise the caller's level
    ([("counselor", 0.0, 2.0, "你有没有想过自杀？", ("active_ideation",))], {}),
    # 低 at the first segment, 中 at the second: each level from the first segment that reaches it
    ([("caller", 0.0, 2.0, "活着没意思。", ("passive_ideation",)),
      ("counselor", 2.5, 4.0, "嗯，我在听。", ()),
      ("caller", 4.5, 7.0, "我想自杀。", ("active_ideation",))], {"低": 2.0, "中": 7.0}),
    # a jump justifies every level on the way at once
    ([("caller", 1.0, 3.5, "我刚刚把一瓶安眠药都吃了。", ("suicide_attempt",))],
     {"低": 3.5, "中": 3.5, "高": 3.5, "紧急": 3.5}),
])
def test_reference_justified_at(segments, expected):
    assert reference_justified_at(call_of(*segments)) == expected


def test_fixture_calls_reach_their_reference_level():
    calls = {c.call_id: c for c in load_calls(FIXTURES / "calls" / "calls.jsonl")}
    # dev-0008-risk: active ideation (segment 13, ends 5.66 s), then a plan with a near date (segment 17, 32.07 s).
    # 高 needs the near date in the caller's own words: reference labels count as such (see eval/alerts.py).
    assert reference_justified_at(calls["dev-0008-risk"]) == {"低": 5.66, "中": 5.66, "高": 32.07}
    assert reference_justified_at(calls["dev-0008-head"]) == {}


JUSTIFIED = [("caller", 0.0, 2.0, "活着没意思。", ("passive_ideation",)),
             ("caller", 4.5, 7.0, "我想自杀。", ("active_ideation",))]


@pytest.mark.parametrize("alert, speed, justified_by, latency", [
    (RaisedAlert("中", 4.0), 2.0, 7.0, 4.0 - 7.0 / 2),    # 0.5 s after the segment's end was streamed
    (RaisedAlert("低", 4.0), 2.0, 2.0, 4.0 - 2.0 / 2),
    (RaisedAlert("中", 3.0), 1.0, 7.0, 3.0 - 7.0),        # earlier than the reference: negative, kept as is
    (RaisedAlert("高", 9.0), 1.0, None, None),            # never justified: no latency
    (RaisedAlert("中", 4.0), 0.0, 7.0, None),             # --speed 0: wall time means nothing
    (RaisedAlert("中", None), 1.0, 7.0, None),            # the hub did not raise it: no arrival time
])
def test_alert_rows(alert, speed, justified_by, latency):
    (row,) = alert_rows(call_of(*JUSTIFIED), [alert], speed)
    assert row["level"] == alert.level and row["justified_by_end_s"] == justified_by
    assert row["justified"] == (justified_by is not None)
    assert row["latency_s"] == (None if latency is None else pytest.approx(latency))


def test_pipeline_latency_is_from_the_services_own_trigger():
    """The reference's sentence (ends 7.0 s) was misheard; the service alerted on a later one (ends 9.0 s): the
    alert latency holds the detection delay, the pipeline latency only what the service took after hearing it."""
    (row,) = alert_rows(call_of(*JUSTIFIED), [RaisedAlert("中", 10.0, trigger_end_s=9.0)], 1.0)
    assert row["latency_s"] == pytest.approx(3.0) and row["pipeline_s"] == pytest.approx(1.0)
    (row,) = alert_rows(call_of(*JUSTIFIED), [RaisedAlert("中", 10.0, trigger_end_s=9.0)], 0.0)
    assert row["pipeline_s"] is None  # --speed 0
    (row,) = alert_rows(call_of(*JUSTIFIED), [RaisedAlert("中", 10.0)], 1.0)
    assert row["pipeline_s"] is None  # no trigger known


def test_alert_summary_counts():
    rows = alert_rows(call_of(*JUSTIFIED), [RaisedAlert("中", 4.0), RaisedAlert("紧急", 5.0)], 1.0)
    assert alert_summary(rows) == {"alerts": 2, "alerts_unjustified": 1, "alerts_timed": 1}
    assert alert_summary([]) == {"alerts": 0, "alerts_unjustified": 0, "alerts_timed": 0}
