"""The rules worksheet engine: tables of hand-checked phrasings, the fixture calls, and draft invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.types import FinalSegment, SegmentRisk
from service.worksheet import WORKSHEET_FIELDS, RulesDrafter, WorksheetDraft, validate_worksheet
from service.worksheet import devscore

FIXTURES = Path(__file__).parent / "fixtures" / "worksheet" / "calls.jsonl"


@pytest.fixture(scope="module")
def drafter() -> RulesDrafter:
    return RulesDrafter()


def make(turns: list[tuple]) -> tuple[list[FinalSegment], list[SegmentRisk]]:
    """Turns are (speaker, text) or (speaker, text, [labels]); 'A' is the counselor, 'C' the caller."""
    segs, risks = [], []
    for i, turn in enumerate(turns):
        speaker = {"A": "counselor", "C": "caller"}[turn[0]]
        segs.append(FinalSegment("t", i, speaker, 3.0 * i, 3.0 * i + 2.5, turn[1]))
        risks.append(SegmentRisk(i, list(turn[2]) if len(turn) > 2 else [], engine_version="test-risk"))
    return segs, risks


def draft(drafter: RulesDrafter, turns: list[tuple], level: str = "无") -> WorksheetDraft:
    return drafter.draft(*make(turns), level)


def fixture_calls() -> list[dict]:
    return devscore.load_calls(FIXTURES)


GREETING = ("A", "您好，心理援助热线，请讲。")


@pytest.mark.parametrize("turns, expected", [
    ([("C", "我老公最近天天很晚回家，我睡不着。")], "女"),
    ([("C", "我老婆要跟我离婚。")], "男"),
    ([("C", "我是一名男生，现在读大二。")], "男"),
    ([("C", "我是女生，在外地上班。")], "女"),
    ([("C", "我媳妇住院了，家里就靠我一个人。")], "男"),
    ([("C", "我男朋友上个月跟我分手了。")], "女"),
    ([("C", "我一个大男人，说这些挺丢人的。")], "男"),
    ([("C", "我妈天天骂我，说我没出息。")], "未知"),
    ([("C", "我爸妈就我一个孩子。")], "未知"),
    ([("A", "王先生，您慢慢说。"), ("C", "唉，最近睡不好。")], "男"),
    ([("A", "阿姨，您别着急。"), ("C", "我就是心里堵得慌。")], "女"),
])
def test_gender_from_what_is_said(drafter, turns, expected):
    d = draft(drafter, [GREETING, *turns])
    assert d.fields["caller_gender"].value == expected
    if expected != "未知":
        assert d.fields["caller_gender"].evidence


@pytest.mark.parametrize("turns, expected", [
    ([("C", "我高三，下个月就一模了。")], "12-17"),
    ([("C", "我们上初二，他是我同桌。")], "12-17"),
    ([("C", "我在上大学，大三，挂了好几门。")], "18-29"),
    ([("C", "我退休好几年了，老伴也走了。")], "60+"),
    ([("C", "我今年三十五岁，在公司做会计。")], "30-44"),
    ([("C", "我都57的人了，还受这个气。")], "45-59"),
    ([("A", "您今年多大了？"), ("C", "二十三。")], "18-29"),
    ([("C", "我今年61了。"), ("C", "我儿子上初中了。")], "60+"),
    ([("C", "我儿子上初中了，天天玩手机不写作业。")], "30-44"),
    ([("C", "我闺女今年12，上六年级。")], "未知"),
    ([("C", "今年三月我的店关门了。")], "未知"),
])
def test_age_group_from_what_is_said(drafter, turns, expected):
    d = draft(drafter, [GREETING, *turns])
    assert d.fields["caller_age_group"].value == expected


def test_silent_call(drafter):
    d = draft(drafter, [GREETING, ("C", "……"), ("A", "喂，您好，能听到吗？"), ("C", "嗯。"),
                        ("A", "没关系，您想说的时候再说。"), ("C", "……谢谢。")])
    v = d.values()
    assert v["call_type"] == "沉默来电"
    assert v["problem_categories"] == [] and v["emotions"] == []


def test_harassment_call(drafter):
    d = draft(drafter, [GREETING, ("C", "小姐姐你声音真好听，你穿的什么衣服？"),
                        ("A", "请注意用语，这是心理援助热线。"), ("C", "陪我聊会儿呗，好玩。"),
                        ("A", "如果您继续骚扰，我会结束这次通话。")])
    assert d.fields["call_type"].value == "骚扰来电"
    assert d.fields["problem_categories"].value == ["其他"]


def test_harassment_fixture_and_silent_fixture(drafter):
    by_id = {c["call_id"]: c for c in fixture_calls()}
    assert drafter.draft(*devscore.reference_inputs(by_id["dev-0012"])).values()["call_type"] == "骚扰来电"
    assert drafter.draft(*devscore.reference_inputs(by_id["dev-0002"])).values()["call_type"] == "沉默来电"


@pytest.mark.parametrize("turns, intensity, hopelessness", [
    ([("A", "如果一到十分，十分最强，你想死的念头有几分？"), ("C", "七分吧。"),
      ("A", "那绝望感呢？"), ("C", "八分。")], 7, 8),
    ([("A", "用0到10分来说，这种不想活的念头有多强？"), ("C", "大概3分吧。")], 3, None),
    ([("A", "对未来的绝望感，0到10分打几分？"), ("C", "这个高一点，6分吧。")], None, 6),
    ([("A", "如果0到10分，想死的念头有多强？"), ("C", "零分，真没有。")], 0, None),
    ([("A", "您现在的压力有几分？"), ("C", "得有9分吧。")], None, None),
    ([("A", "你想死的念头有几分？"), ("A", "慢慢说。")], None, None),
])
def test_ratings_asked_and_answered(drafter, turns, intensity, hopelessness):
    d = draft(drafter, [GREETING, *turns])
    assert d.fields["ideation_intensity"].value == intensity
    assert d.fields["hopelessness"].value == hopelessness


@pytest.mark.parametrize("turns, expected", [
    ([("A", "你现在在哪里？具体地址是什么？"), ("C", "杭州市，西湖区文三路，幸福小区3号楼2单元501。")],
     "杭州市西湖区文三路幸福小区3号楼2单元501"),
    ([("C", "我在成都上班，最近压力特别大。")], "成都"),
    ([("C", "我女儿在上海读书，我一个人在家。")], None),
    ([("C", "我是河南人，我妈在洛阳老家。")], None),
    ([("C", "我现在在我姐家，她陪着我。")], "姐家"),
])
def test_location_when_disclosed(drafter, turns, expected):
    assert draft(drafter, [GREETING, *turns]).fields["location_disclosed"].value == expected


@pytest.mark.parametrize("counselor, police, emergency", [
    ("我同事已经在联系110和120了，你别挂电话。", True, True),
    ("救护车马上就到，你先把门打开。", True, True),
    ("我的同事现在会联系110，请附近的警察过来陪陪您。", True, False),
    ("如果哪天你有危险，一定要马上打110或者120。", False, False),
    ("紧急的时候也可以直接打120。", False, False),
])
def test_police_linkage_from_counselor_speech(drafter, counselor, police, emergency):
    d = draft(drafter, [GREETING, ("C", "我不想活了。", ["active_ideation"]), ("A", counselor)], "中")
    assert d.fields["police_linkage"].value is police
    assert ("急诊" in d.fields["referral"].value) is emergency
    if police:
        assert d.fields["follow_up"].value is True


@pytest.mark.parametrize("counselor, expected", [
    ("建议你这周去医院精神科门诊看看。", ["精神科门诊"]),
    ("也可以找心理咨询师系统地聊一聊。", ["心理咨询"]),
    ("学校的心理老师也能帮你，可以去找他们。", ["学校心理中心"]),
    ("你们学校有心理咨询中心吗？可以预约一次。", ["学校心理中心"]),
    ("可以去社区居委会问问有没有补助。", ["社工或社区"]),
    ("工钱的事可以打12348法律援助热线。", ["法律援助"]),
    ("如果念头变强，就马上去医院急诊。", ["无"]),
    ("好的，祝您生活顺利。", ["无"]),
])
def test_referral_from_counselor_speech(drafter, counselor, expected):
    assert draft(drafter, [GREETING, ("C", "最近心里很烦。"), ("A", counselor)]).fields["referral"].value == expected


@pytest.mark.parametrize("counselor, expected", [
    ("明天下午我们给您回个电话，问问情况。", True),
    ("过两天我们回访一次，可以吗？", True),
    ("半小时内你们没打过来，我就回拨这个号码。", True),
    ("以后有需要，随时再打过来。", False),
])
def test_follow_up_from_counselor_speech(drafter, counselor, expected):
    assert draft(drafter, [GREETING, ("C", "嗯，我知道了，谢谢你。"), ("A", counselor)]).fields["follow_up"].value is expected


@pytest.mark.parametrize("turns, level, expected", [
    ([("C", "我昨天吃了一瓶安眠药，被我妈发现送去洗胃了。", ["suicide_attempt"])], "高",
     {"prior_attempt": "近两周", "suicide_method": "安眠药", "call_type": "自杀风险", "suicidal_ideation": "主动"}),
    ([("C", "五年前我割过腕，现在偶尔还会想。", ["suicide_attempt"])], "中",
     {"prior_attempt": "既往", "suicide_method": "割腕"}),
    ([("C", "来不及了，我刚才已经把药都吞下去了。", ["suicide_attempt"])], "紧急",
     {"prior_attempt": "本次通话中", "suicidal_ideation": "主动"}),
    ([("C", "有时候想，睡过去别醒来也挺好。", ["passive_ideation"])], "低",
     {"suicidal_ideation": "被动", "call_type": "自杀风险", "suicide_plan": False, "suicide_method": None}),
    ([("C", "我决定了，后天从楼顶跳下去。", ["active_ideation", "suicide_plan"])], "高",
     {"suicide_plan": True, "suicide_method": "跳楼"}),
    ([("C", "难受的时候我会用刀片划自己的胳膊。", ["self_harm_behavior"])], "低",
     {"self_harm": True, "call_type": "心理危机", "suicidal_ideation": "无"}),
    ([("C", "我想咨询一下，我同学老说想死，我该怎么办？", ["suicide_exploration"])], "无",
     {"call_type": "精神卫生知识咨询", "suicidal_ideation": "无"}),
    ([("C", "我想咨询一下，安眠药吃久了会不会上瘾？")], "无",
     {"call_type": "精神卫生知识咨询", "risk_level": "无"}),
    ([("C", "最近工作压力很大，天天加班，领导还老批评我。")], "无",
     {"call_type": "一般心理问题", "problem_categories": ["职场压力"]}),
    # an active label under a call level of 低 (the classifier alone found it; the engine caps it there) reads 被动,
    # never 主动 next to a 低 that active ideation would contradict
    ([("C", "最近一直睡不着，也不想出门见人。", ["active_ideation"])], "低",
     {"suicidal_ideation": "被动", "call_type": "自杀风险"}),
    # under 无 the labels are the classifier's alone (the risk engine does not count them): no ideation, not 自杀风险
    ([("C", "最近工作压力很大，天天加班，领导还老批评我，晚上睡不着，也不想出门见人。", ["passive_ideation"])], "无",
     {"suicidal_ideation": "无", "call_type": "一般心理问题"}),
    ([("C", "我真想死，活不下去了。", ["active_ideation"])], "中",
     {"suicidal_ideation": "主动", "call_type": "自杀风险"}),
])
def test_risk_fields_and_call_type(drafter, turns, level, expected):
    values = draft(drafter, [GREETING, *turns], level).values()
    assert values["risk_level"] == level
    for name, value in expected.items():
        assert values[name] == value, name


def test_every_field_is_drafted_with_existing_evidence(drafter):
    for call in fixture_calls():
        d = drafter.draft(*devscore.reference_inputs(call))
        ids = {s["id"] for s in call["segments"]}
        assert tuple(d.fields) == WORKSHEET_FIELDS
        for name, f in d.fields.items():
            assert set(f.evidence) <= ids, name
            assert 0.0 <= f.confidence <= 1.0, name
        validate_worksheet(d.values())
        out = json.loads(json.dumps(d.to_json(), ensure_ascii=False))
        assert list(out["fields"]) == list(WORKSHEET_FIELDS)
        assert out["engine"] == "rules" and out["version"] == drafter.version
        assert out["engine_versions"]["risk"] == "reference"


def test_drafted_fields_cite_evidence_when_they_assert_something(drafter):
    by_id = {c["call_id"]: c for c in fixture_calls()}
    d = drafter.draft(*devscore.reference_inputs(by_id["dev-0010"]))
    v = d.values()
    assert v["police_linkage"] is True and v["prior_attempt"] == "本次通话中"
    assert v["location_disclosed"] == "临泉县县一中对面阳光小区5号楼2单元301"
    for name in ("police_linkage", "prior_attempt", "location_disclosed", "suicide_method", "call_type", "summary"):
        assert d.fields[name].evidence, name


def test_empty_call_yields_a_valid_worksheet(drafter):
    d = drafter.draft([], [], "无")
    v = d.values()
    assert v["call_type"] == "其他" and v["referral"] == ["无"]
    assert all(not f.evidence for f in d.fields.values())


def test_bad_call_level_is_refused(drafter):
    with pytest.raises(ValueError, match="call_level"):
        drafter.draft([], [], "很高")


def test_devscore_runs_on_the_fixtures(capsys):
    assert devscore.main([str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "call_type" in out and "MEAN" in out
    scores, _ = devscore.score_calls(fixture_calls())
    assert scores["call_type"] == 1.0 and scores["police_linkage"] == 1.0


@pytest.mark.parametrize("name, pred, ref, score", [
    ("problem_categories", ["婚姻家庭"], ["婚姻家庭", "经济困难"], 0.5),
    ("emotions", [], [], 1.0),
    ("hopelessness", 7, 8, 1.0),
    ("hopelessness", 6, 8, 0.0),
    ("hopelessness", None, 8, 0.0),
    ("call_type", "自杀风险", "自杀风险", 1.0),
    ("location_disclosed", "济南历下区燕山小区7号楼2单元301", "济南市历下区燕山小区7号楼2单元301", 1.0),
    ("location_disclosed", None, None, 1.0),
    ("suicide_method", "安眠药", None, 0.0),
])
def test_devscore_field_scoring(name, pred, ref, score):
    assert devscore.score_field(name, pred, ref) == pytest.approx(score)


def test_train_check_runs_on_the_fixtures(tmp_path, capsys):
    from service.worksheet import train

    assert train.main(["--calls", str(FIXTURES), "--cpsycoun", str(tmp_path / "none.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "problem_categories" in out and "cross-validated" in out
