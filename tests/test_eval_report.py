"""Reports: contract keys, JSON + one-file HTML, Markdown summary, no transcript text, and compare's verdicts."""

import copy
import json
import re
from pathlib import Path

import pytest

from eval.compare import compare_reports, diff_reports, direction, load_report, numeric_leaves
from eval.data import RISK_LABELS, file_sha256, load_calls, load_utterances
from eval.report import CONTRACT_KEYS, build_report, contract_problems, make_meta, markdown_summary, write_report
from eval.scoring import (CallOutcome, Span, latency_block, score_asr, score_calls, score_segment_risk,
                          score_worksheets)

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
CALLS = FIXTURES / "calls.jsonl"


def _get(report, dotted):
    node = report
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def calls():
    return load_calls(CALLS)


@pytest.fixture(scope="module")
def report(calls):
    """A calls report where the "service" echoes the reference, except that it misses the 紧急 call's level and
    adds one character to each call's first segment."""
    pairs = [(s.text, s.text + "哦" if i == 0 else s.text) for c in calls for i, s in enumerate(c.segments)]
    outcomes = [CallOutcome(c.call_id, c.risk_level, "中" if c.risk_level == "紧急" else c.risk_level,
                            alerts=int(c.risk_level == "紧急")) for c in calls]
    meta = make_meta(CALLS, command="calls --audio", model="tiny-test", engine_versions={"risk": "lexicon/0"},
                     settings={"speed": 0})
    return build_report(
        "calls", meta=meta, asr=score_asr(pairs),
        risk_segment=score_segment_risk([c.segments for c in calls], [c.segments for c in calls]),
        risk_call=score_calls(outcomes),
        worksheet=score_worksheets([c.worksheet for c in calls], [c.worksheet for c in calls],
                                   [c.call_id for c in calls]),
        latency=latency_block([0.4, 0.6, 0.8, 1.5], [1.0]))


def test_report_has_every_contract_key(report):
    assert contract_problems(report) == []
    for keys in CONTRACT_KEYS.values():
        if keys[0].startswith("bench"):
            continue
        for key in keys:
            _get(report, key)
    assert set(report["risk"]["segment"]["labels"]) == set(RISK_LABELS)
    assert report["asr"]["cer"] == pytest.approx(3 / report["asr"]["ref_chars"])


def test_meta_says_what_produced_the_numbers(report):
    meta = report["meta"]
    assert meta["data_sha256"] == file_sha256(CALLS)
    assert (meta["model"], meta["engine_versions"], meta["settings"]) == ("tiny-test", {"risk": "lexicon/0"},
                                                                          {"speed": 0})
    assert meta["normaliser"].startswith("zh-") and meta["packages"]["jiwer"]


def test_missing_contract_keys_are_refused(report):
    with pytest.raises(ValueError, match="risk.call"):
        build_report("calls", meta=report["meta"], risk_segment=report["risk"]["segment"],
                     worksheet=report["worksheet"])
    broken = copy.deepcopy(report)
    del broken["risk"]["segment"]["labels"]["victimization"]["support"]
    assert contract_problems(broken) == ["risk.segment.labels.victimization.support"]
    with pytest.raises(ValueError, match="bench.dropped_frames"):
        build_report("bench", meta=report["meta"], bench={"concurrency": 2, "realtime_factor": 0.2,
                                                         "final_p95_s": 1, "alert_p95_s": 1, "offline_cpu_s": 1,
                                                         "stream_cpu_s": 2})


def test_utterance_report(tmp_path):
    utts = load_utterances(FIXTURES / "utterances.jsonl")
    ref = [[Span(0, 1, u.labels)] for u in utts]
    hyp = [[Span(0, 1, frozenset({"passive_ideation"}))] for _ in utts]
    report = build_report("utterances", meta=make_meta(FIXTURES / "utterances.jsonl", command="utterances"),
                          risk_segment=score_segment_risk(ref, hyp))
    assert report["risk"]["segment"]["labels"]["passive_ideation"]["precision"] == 0.25
    assert report["risk"]["segment"]["any_suicide"]["precision"] == 0.5
    json_path, html_path = write_report(report, tmp_path / "u.json")
    assert "Risk per segment" in html_path.read_text(encoding="utf-8")


def test_write_report_json_and_one_file_html(report, tmp_path):
    json_path, html_path = write_report(report, tmp_path / "out" / "report.json")
    assert html_path == tmp_path / "out" / "report.html"
    assert load_report(json_path) == json.loads(json.dumps(report))
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 5  # confusion matrix, label F1, worksheet fields, final and alert latency histograms
    assert not re.search(r"src=['\"](?!data:)", page)  # nothing fetched from elsewhere
    for text in ("Risk level confusion", "Worksheet fields", "dev-0010", file_sha256(CALLS)):
        assert text in page


def test_markdown_summary(report):
    md = markdown_summary(report)
    assert "| any_suicide | 1.000 | 1.000 | 1.000 |" in md
    assert "| level_accuracy |" in md and "| final_p50_s |" in md
    assert "–" in md  # undefined metrics show as a dash, not 0


def test_reports_carry_no_transcript_text(report, calls, tmp_path):
    json_path, html_path = write_report(report, tmp_path / "r.json")
    outputs = [json_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8"), markdown_summary(report)]
    for segment in (s for c in calls for s in c.segments if len(s.text) >= 6):
        assert not any(segment.text in out for out in outputs)


# ------------------------------------------------------------------------------------------------- compare

DIRECTIONS = [
    ("asr.cer", "lower"),
    ("asr.insertions", "lower"),
    ("asr.ref_chars", None),
    ("latency.final_p95_s", "lower"),
    ("latency.final.mean", "lower"),
    ("latency.final.n", None),
    ("bench.realtime_factor", "lower"),
    ("bench.stream_cpu_s", "lower"),
    ("bench.dropped_frames", "lower"),
    ("bench.concurrency", None),
    ("cost.risk_caller_segment.mean", "lower"),
    ("cost.risk_caller_segment.p95", "lower"),
    ("cost.worksheet_draft.n", None),
    ("risk.segment.any_suicide.recall", "higher"),
    ("risk.segment.labels.active_ideation.f1", "higher"),
    ("risk.segment.labels.active_ideation.support", None),
    ("risk.call.high_recall", "higher"),
    ("risk.call.false_alerts_per_nonrisk_call", "lower"),
    ("worksheet.fields.emotions", "higher"),
    ("worksheet.mean", "higher"),
    ("worksheet.missing.emotions", "lower"),
]


@pytest.mark.parametrize(("path", "expected"), DIRECTIONS)
def test_direction(path, expected):
    assert direction(path) == expected


def test_diff_reports_verdicts(report):
    new = copy.deepcopy(report)
    new["asr"]["cer"] = report["asr"]["cer"] / 2
    new["risk"]["call"]["level_accuracy"] = 0.5  # was 2/3
    new["latency"]["final_p95_s"] += 0.25
    new["risk"]["segment"]["labels"]["victimization"]["support"] += 1
    new["bench_extra"] = {"x": 1}
    del new["worksheet"]["mean"]
    changes = {c.path: c for c in diff_reports(report, new)}
    assert changes["asr.cer"].verdict == "improved"
    assert changes["risk.call.level_accuracy"].verdict == "regressed"
    assert changes["risk.call.level_accuracy"].delta == pytest.approx(0.5 - 2 / 3)
    assert changes["latency.final_p95_s"].verdict == "regressed"
    assert changes["risk.segment.labels.victimization.support"].verdict == "changed"
    assert changes["bench_extra.x"].verdict == "added" and changes["worksheet.mean"].verdict == "removed"
    assert len(changes) == 6
    assert diff_reports(report, copy.deepcopy(report)) == []


def test_compare_reports_text(report):
    new = copy.deepcopy(report)
    new["risk"]["call"]["level_accuracy"] = 0.0
    new["meta"]["data_sha256"] = "0" * 64
    text = compare_reports(report, new)
    assert "not comparable" in text
    assert re.search(r"\| risk\.call\.level_accuracy \| 0\.\d{4} \| 0\.0000 \| -0\.\d+ \| regressed \|", text)
    assert text.index("1 regressed") < text.index("| metric |")
    assert "0 regressed, 0 improved" in compare_reports(report, report)


def test_numeric_leaves_skip_lists_bools_and_meta(report):
    leaves = numeric_leaves(report)
    assert "asr.cer" in leaves and "risk.call.level_accuracy" in leaves
    assert not any(p.startswith("meta") or "rows" in p or "values" in p for p in leaves)


def test_the_offline_floor_hears_telephone_audio_at_its_own_rate():
    """The floor's model input is the 8 kHz call as the live path hears it: 16 kHz samples for the same seconds
    (not the 8 kHz samples read as 16 kHz: half the length), after the μ-law round trip."""
    import numpy as np

    from eval.bench import floor_channels
    from service.audio.files import read_audio

    call = load_calls(Path(__file__).parent / "fixtures" / "calls" / "calls.jsonl")[0]
    audio = read_audio(call.audio, 8000)
    channels = floor_channels([audio], 8000, "mulaw")
    assert len(channels) == 2
    for ch, x in enumerate(channels):
        assert x.dtype == np.float32 and abs(len(x) - 2 * len(audio)) <= 32
        # the μ-law round trip: close to the channel, not equal to it
        resampled_clean = floor_channels([audio[:, ch:ch + 1]], 8000, "pcm_s16le")[0]
        err = np.abs(x - resampled_clean)
        assert 0 < float(err.mean()) < 0.01


def test_update_gaps_time_the_screen_between_updates_of_an_utterance():
    """Gaps from the moment an utterance's first audio was sent to each partial of its segment and to its final;
    utterances shorter than UPDATE_GAP_MIN_S are left out, partials of every length counted."""
    from eval.bench import update_gaps
    from service.client import StreamedCall

    r = StreamedCall("c", t0=100.0, speed=1.0)
    msgs = [  # (message, arrival)
        ({"type": "partial", "segment_id": 0, "start": 1.0, "text": "我"}, 102.0),
        ({"type": "partial", "segment_id": 0, "start": 1.0, "text": "我最近"}, 103.5),
        ({"type": "final", "segment_id": 0, "start": 1.0, "end": 4.0, "text": "我最近睡不着。"}, 105.0),
        ({"type": "risk", "segment_id": 0, "labels": []}, 105.1),
        ({"type": "partial", "segment_id": 1, "start": 6.0, "text": "嗯"}, 107.0),
        ({"type": "final", "segment_id": 1, "start": 6.0, "end": 7.0, "text": "嗯。"}, 107.8),  # short: no gaps
        ({"type": "final", "segment_id": 2, "start": 8.0, "end": 11.0, "text": "没有partial的一句。"}, 112.0),
    ]
    for m, t in msgs:
        r.messages.append(m)
        r.received_at.append(t)
    gaps, partials = update_gaps([r])
    assert partials == 3
    assert gaps == pytest.approx([1.0, 1.5, 1.5, 4.0])
