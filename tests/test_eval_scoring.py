"""Scoring: hand-checked tables for CER, segment risk matching, call level, worksheet fields and latency."""

from types import SimpleNamespace as NS

import pytest

from eval.data import WORKSHEET_FIELDS
from eval.scoring import (FIELD_KINDS, CallOutcome, Span, alert_latency, char_edit_counts, count_segment_risk,
                          field_score, latency_block, latency_summary, overlaps, score_asr, score_calls,
                          score_segment_risk, score_worksheets, transcript_pairs)

# ----------------------------------------------------------------------------------------------------- CER

CER_CASES = [
    ("今天天气很好", "今天天很好", 1 / 6),
    ("今天天气很好", "今天天气很好", 0.0),
    ("今天天气很好", "今天天汽很好", 1 / 6),  # one substitution
    ("今天", "今天天天", 2 / 2),  # two insertions
    ("你好", "", 1.0),
    ("我打了幺二零", "我打了120", 0.0),
    ("我打了一二零", "我打了幺二零", 0.0),
    ("我覺得很難過。", "我觉得很难过", 0.0),
    ("ＯＫ，１２０。", "ok 120", 0.0),
    ("abc", "abd", 1 / 3),
]


@pytest.mark.parametrize(("ref", "hyp", "cer"), CER_CASES)
def test_cer(ref, hyp, cer):
    assert score_asr([(ref, hyp)])["cer"] == pytest.approx(cer)


def test_cer_counts():
    c = char_edit_counts([("今天天气很好", "今天天很好"), ("abc", "abdx")])
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (7, 1, 1, 1)
    assert c.ref_chars == 9 and c.errors == 3


def test_cer_is_corpus_level_not_a_mean_of_rates():
    report = score_asr([("今天天气很好", "今天天很好"), ("你好", "你好")])
    assert report["cer"] == pytest.approx(1 / 8)  # (1 deletion) / (6 + 2), not (1/6 + 0) / 2
    assert report["ref_chars"] == 8 and report["deletions"] == 1 and report["pairs"] == 2


def test_cer_empty_reference():
    report = score_asr([("", "你好")])
    assert report["cer"] is None and report["ref_chars"] == 0 and report["insertions"] == 2
    assert score_asr([])["cer"] is None
    assert score_asr([("……", "")])["ref_chars"] == 0  # punctuation only: nothing to count


def test_transcript_pairs_stereo_and_mono():
    ref = [NS(start=0, speaker="counselor", text="您好"), NS(start=2, speaker="caller", text="我"),
           NS(start=3, speaker="caller", text="很累")]
    stereo = [NS(start=2.1, speaker="caller", text="我很"), NS(start=0.1, speaker="counselor", text="您好"),
              NS(start=2.9, speaker="caller", text="累")]
    assert transcript_pairs(ref, stereo) == [("我很累", "我很累"), ("您好", "您好")]
    mono = [NS(start=2.1, speaker="mixed", text="我很累"), NS(start=0.1, speaker="mixed", text="您好")]
    assert transcript_pairs(ref, mono) == [("您好我很累", "您好我很累")]
    assert transcript_pairs(ref, []) == [("您好我很累", "")]


# ------------------------------------------------------------------------------------------ segment risk

OVERLAP_CASES = [
    ((0, 5), (5, 10), False),  # touching is not overlapping
    ((0, 5), (4.9, 6), True),
    ((0, 5), (1, 2), True),
    ((3, 3), (0, 5), True),  # a zero-length span inside
    ((5, 5), (0, 5), True),  # a zero-length span at the edge
    ((6, 6), (0, 5), False),
    ((0, 1), (0, 1), True),
]


@pytest.mark.parametrize(("a", "b", "expected"), OVERLAP_CASES)
def test_overlaps(a, b, expected):
    assert overlaps(Span(*a), Span(*b)) is expected
    assert overlaps(Span(*b), Span(*a)) is expected


REF = [Span(0, 5, frozenset({"active_ideation", "suicide_plan"})), Span(5, 10),
       Span(10, 15, frozenset({"passive_ideation"})), Span(20, 25, frozenset({"victimization"}))]
HYP = [Span(1, 4, frozenset({"active_ideation"})),  # overlaps REF[0]: correct
       Span(4.5, 6, frozenset({"suicide_plan"})),  # overlaps REF[0] by 0.5 s: correct
       Span(5, 10, frozenset({"passive_ideation"})),  # only touches REF[0] and REF[2]: wrong
       Span(12, 13, frozenset({"active_ideation"})),  # REF[2] is passive, not active: wrong, but any_suicide right
       Span(20, 21)]  # misses the victimization

# label: (detections, correct detections, support, found, precision, recall, f1)
RISK_TABLE = {
    "active_ideation": (2, 1, 1, 1, 0.5, 1.0, 2 / 3),
    "suicide_plan": (1, 1, 1, 1, 1.0, 1.0, 1.0),
    "passive_ideation": (1, 0, 1, 0, 0.0, 0.0, 0.0),
    "victimization": (0, 0, 1, 0, None, 0.0, 0.0),
    "self_harm_ideation": (0, 0, 0, 0, None, None, None),
    "any_suicide": (4, 3, 2, 2, 0.75, 1.0, 6 / 7),
}


@pytest.mark.parametrize("label", RISK_TABLE)
def test_segment_risk_matching(label):
    det, correct, support, found, p, r, f1 = RISK_TABLE[label]
    counts = count_segment_risk(REF, HYP)[label]
    got = (counts.detections, counts.correct_detections, counts.support, counts.found)
    assert got == (det, correct, support, found)
    for got, want in ((counts.precision, p), (counts.recall, r), (counts.f1, f1)):
        assert got == (None if want is None else pytest.approx(want))


def test_segment_risk_report_shape_and_pooling():
    report = score_segment_risk([REF, REF], [HYP, HYP])
    assert set(report["any_suicide"]) >= {"precision", "recall", "f1"}
    assert report["labels"]["active_ideation"]["support"] == 2
    assert report["labels"]["active_ideation"]["precision"] == pytest.approx(0.5)
    micro = report["micro"]  # ten labels pooled, per call: 4 detections, 2 correct; support 4, found 2; two calls
    assert (micro["detections"], micro["correct_detections"], micro["support"], micro["found"]) == (8, 4, 8, 4)


def test_matching_never_crosses_calls():
    a = [Span(0, 5, frozenset({"active_ideation"}))]
    report = score_segment_risk([a, []], [[], a])
    assert report["labels"]["active_ideation"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "detections": 1, "correct_detections": 0,
        "found": 0}


def test_reference_as_hypothesis_is_perfect():
    report = score_segment_risk([REF], [REF])
    assert report["any_suicide"]["f1"] == 1.0
    assert all(m["f1"] in (1.0, None) for m in report["labels"].values())


def test_one_hypothesis_over_two_reference_segments_finds_both():
    ref = [Span(0, 2, frozenset({"active_ideation"})), Span(2, 4, frozenset({"active_ideation"}))]
    counts = count_segment_risk(ref, [Span(1, 3, frozenset({"active_ideation"}))])["active_ideation"]
    assert (counts.precision, counts.recall) == (1.0, 1.0)


def test_risk_input_errors():
    with pytest.raises(ValueError, match="unknown risk labels"):
        count_segment_risk([], [Span(0, 1, frozenset({"suicidal"}))])
    with pytest.raises(ValueError, match="1 reference calls but 2"):
        score_segment_risk([[]], [[], []])


# --------------------------------------------------------------------------------------------- call level

OUTCOMES = [
    CallOutcome("c1", "无", "无", 0),
    CallOutcome("c2", "低", "中", 0),
    CallOutcome("c3", "低", "高", 1),  # a false alert
    CallOutcome("c4", "中", "中", 0),
    CallOutcome("c5", "高", "紧急", 1),  # reached 高 or above: counts for high_recall
    CallOutcome("c6", "紧急", "中", 0),  # missed
    CallOutcome("c7", "高", "高", 2),
]


def test_call_metrics():
    r = score_calls(OUTCOMES)
    assert r["level_accuracy"] == pytest.approx(3 / 7)
    assert r["high_recall"] == pytest.approx(2 / 3)
    assert r["false_alerts_per_nonrisk_call"] == pytest.approx(1 / 3)
    assert r["high_precision"] == pytest.approx(2 / 3)
    assert r["level_within_one"] == pytest.approx(5 / 7)
    assert (r["calls"], r["high_calls"], r["nonrisk_calls"]) == (7, 3, 3)
    assert r["confusion"] == {"levels": ["无", "低", "中", "高", "紧急"], "matrix": [
        [1, 0, 0, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 1, 0, 0]]}
    assert r["rows"][2] == {"call_id": "c3", "ref_level": "低", "hyp_level": "高", "alerts": 1}


def test_call_metrics_without_denominators():
    r = score_calls([CallOutcome("c", "中", "中")])
    assert (r["level_accuracy"], r["high_recall"], r["false_alerts_per_nonrisk_call"]) == (1.0, None, None)
    assert score_calls([])["level_accuracy"] is None
    with pytest.raises(ValueError, match="unknown risk level"):
        score_calls([CallOutcome("c", "中", "high")])


# ---------------------------------------------------------------------------------------------- worksheet

FIELD_CASES = [
    ("call_type", "自杀风险", "自杀风险", 1.0),
    ("call_type", "自杀风险", "心理危机", 0.0),
    ("suicide_plan", True, True, 1.0),
    ("suicide_plan", True, False, 0.0),
    ("problem_categories", ["学业压力", "亲子关系"], ["学业压力"], 0.5),
    ("emotions", ["焦虑烦躁", "悲伤低落", "孤独"], ["悲伤低落", "孤独", "愤怒"], 0.5),
    ("referral", [], [], 1.0),
    ("referral", ["急诊"], [], 0.0),
    ("ideation_intensity", 7, 8, 1.0),
    ("ideation_intensity", 7, 9, 0.0),
    ("hopelessness", 0, 1, 1.0),
    ("hopelessness", None, None, 1.0),
    ("hopelessness", None, 3, 0.0),
    ("hopelessness", 3, None, 0.0),
    ("suicide_method", "安眠药", "吃了安眠药", 1.0),
    ("suicide_method", "在家用绳子上吊", "上吊", 1.0),
    ("suicide_method", "安眠药", "割腕", 0.0),
    ("suicide_method", "安眠藥", "安眠药", 1.0),
    ("suicide_method", None, None, 1.0),
    ("suicide_method", None, "安眠药", 0.0),
    ("suicide_method", "", None, 1.0),
    ("location_disclosed", "阳光小区5号楼", "在阳光小区5号楼", 1.0),
    ("location_disclosed", "阳光小区5号楼2单元301", "阳光小区", 0.0),  # less specific than said
    ("location_disclosed", "阳光小区五号楼", "阳光小区5号楼。", 1.0),
    ("location_disclosed", None, "杭州", 0.0),
    ("protective_factors", ["家人支持", "宠物"], ["家人", "宠物"], 1.0),
    ("protective_factors", ["母亲"], ["父母"], 0.0),
    ("protective_factors", ["家人支持", "宠物", "对未来的计划"], ["宠物"], 1 / 3),
    ("protective_factors", ["宠物"], ["宠物", "朋友"], 1 / 2),
    ("protective_factors", [], [], 1.0),
    ("summary", "来电者……", "完全不同", None),
]


@pytest.mark.parametrize(("field", "ref", "hyp", "expected"), FIELD_CASES)
def test_field_score(field, ref, hyp, expected):
    got = field_score(field, ref, hyp)
    assert got == (None if expected is None else pytest.approx(expected))


def test_every_worksheet_field_has_a_rule():
    assert set(FIELD_KINDS) == set(WORKSHEET_FIELDS)
    assert FIELD_KINDS["summary"] == "unscored"


def test_score_worksheets_means_and_missing_fields():
    ref = {"call_type": "自杀风险", "emotions": ["孤独"], "hopelessness": 5, "summary": "…"}
    ref = {**{f: None for f in WORKSHEET_FIELDS}, **ref}
    perfect = dict(ref)
    partial = {k: v for k, v in ref.items() if k != "emotions"} | {"call_type": "心理危机"}
    r = score_worksheets([ref, ref], [perfect, partial], ["a", "b"])
    assert r["fields"]["call_type"] == 0.5
    assert r["fields"]["emotions"] == 0.5  # missing in b scores 0
    assert r["missing"]["emotions"] == 1 and r["missing"]["call_type"] == 0
    assert "summary" not in r["fields"]
    assert r["mean"] == pytest.approx((len(r["fields"]) - 1) / len(r["fields"]))
    assert r["rows"][1]["call_id"] == "b" and r["rows"][1]["call_type"] == 0.0
    with pytest.raises(ValueError):
        score_worksheets([ref], [])


# ------------------------------------------------------------------------------------------------ latency

LATENCY_CASES = [
    ([1, 2, 3, 4], 2.5, 3.85),
    ([0.6], 0.6, 0.6),
    (list(range(101)), 50.0, 95.0),
]


@pytest.mark.parametrize(("values", "p50", "p95"), LATENCY_CASES)
def test_latency_summary(values, p50, p95):
    s = latency_summary(values)
    assert (s["n"], s["p50"], s["p95"]) == (len(values), pytest.approx(p50), pytest.approx(p95))


def test_latency_empty_and_block():
    assert latency_summary([]) == {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    block = latency_block([1, 2, 3, 4], [])
    assert block["final_p50_s"] == 2.5 and block["final_p95_s"] == pytest.approx(3.85) and block["alert_p95_s"] is None
    assert block["final_values_s"] == [1.0, 2.0, 3.0, 4.0]


ALERT_CASES = [
    ("高", 31.2, {"中": 10.0, "高": 30.0}, 1.2),
    ("中", 12.0, {"中": 10.0, "高": 30.0}, 2.0),
    ("中", 31.0, {"高": 30.0}, 1.0),  # a higher level justifies a lower one
    ("紧急", 40.0, {"中": 10.0, "高": 30.0}, None),  # never justified: a false alert, no latency
    ("高", 29.0, {"高": 30.0}, -1.0),  # early alerts show as negative, not hidden
]


@pytest.mark.parametrize(("level", "arrived", "justified", "expected"), ALERT_CASES)
def test_alert_latency(level, arrived, justified, expected):
    got = alert_latency(level, arrived, justified)
    assert got == (None if expected is None else pytest.approx(expected))
