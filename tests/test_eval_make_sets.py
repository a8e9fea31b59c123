"""The data-set makers: `python -m eval.make_speech_set` (speech clips as annotated calls, 16 kHz and 8 kHz μ-law,
valid input for `python -m eval calls --audio`, which then measures their CER like any call's) and
`python -m eval.make_psyguard_set` (PsyGUARD rows as labelled utterances)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from eval.data import load_calls, load_utterances
from eval.make_psyguard_set import main as psyguard_main
from eval.make_speech_set import main as make_main
from eval.make_speech_set import mulaw_round_trip, read_transcripts, to_phone
from service.audio.files import read_audio
from tests.conftest import SPEECH
from tests.test_eval_cli import run_eval

LIMIT = 2


@pytest.fixture(scope="module")
def speech_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("speech")
    assert make_main([str(SPEECH), "--out", str(out), "--limit", str(LIMIT)]) == 0
    return out


def test_both_sets_are_valid_annotated_calls(speech_set):
    clips = read_transcripts(SPEECH)[:LIMIT]
    for jsonl, rate in (("speech-16k.jsonl", 16000), ("speech-8k-mulaw.jsonl", 8000)):
        calls = load_calls(speech_set / jsonl, need_audio=True)
        assert [(c.call_id, c.segments[0].text) for c in calls] == [(f.removesuffix(".wav"), t) for f, t in clips]
        for c in calls:
            assert c.sample_rate == rate and sf.info(c.audio).samplerate == rate
            assert len(c.segments) == 1 and c.segments[0].start == 0 and c.segments[0].risk == ()
            assert c.segments[0].end == pytest.approx(sf.info(c.audio).duration, abs=1e-3)
            assert c.risk_level == "无" and c.channels is None


def test_the_8k_set_is_mulaw_encoded_by_the_service_codec(speech_set):
    name = read_transcripts(SPEECH)[0][0]
    assert sf.info(speech_set / "8k-mulaw" / name).subtype == "ULAW"
    x = read_audio(SPEECH / name, 16000)[:, 0]
    y = read_audio(speech_set / "8k-mulaw" / name, 8000)[:, 0]
    assert len(y) == pytest.approx(len(x) / 2, abs=2)
    assert np.array_equal(y, to_phone(x)) and np.array_equal(mulaw_round_trip(y), y)  # on the G.711 grid
    assert np.array_equal(read_audio(speech_set / "16k" / name, 16000), read_audio(SPEECH / name, 16000))


def test_a_folder_without_transcripts_is_refused(tmp_path, capsys):
    (tmp_path / "transcripts.tsv").write_text("name\twords\n", encoding="utf-8")
    assert make_main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no column file, text" in capsys.readouterr().err


def test_calls_audio_measures_the_clips_cer(speech_set, tmp_path):
    out = tmp_path / "speech8k.json"
    r = run_eval("calls", str(speech_set / "speech-8k-mulaw.jsonl"), "--audio", "--speed", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert 0 <= report["asr"]["cer"] < 0.5 and report["asr"]["pairs"] == LIMIT
    # --speed 0: no alert latency, and the report says why
    assert report["latency"]["alert_p95_s"] is None and "speed 0" in report["meta"]["alert_latency_note"]
    assert report["meta"]["settings"]["speed"] == 0 and report["meta"]["audio_sha256"]
    assert "note: alert latency is not measured" in r.stdout


PSYGUARD_ROWS = [  # PsyGUARD's valid.json layout; texts written for this test
    {"idx": 7, "text": "我已经把药攒够了，打算这周末吃掉。", "labels": ["自杀计划", "自杀准备行为"],
     "data_source": "synthetic", "label": [0.0] * 11},
    {"idx": 7, "text": "今天又被同事排挤了，好烦。", "labels": ["与自杀/自伤/攻击行为无关"],
     "data_source": "social_media", "label": [0.0] * 11},
    {"idx": 9, "text": "我同学说他不想活了，我该怎么办？", "labels": ["关于自杀的探索"],
     "data_source": "client_counselor", "label": [0.0] * 11},
]


def test_psyguard_rows_become_utterances(tmp_path, capsys):
    src, out = tmp_path / "valid.json", tmp_path / "sets" / "psyguard.jsonl"
    src.write_text(json.dumps(PSYGUARD_ROWS, ensure_ascii=False), encoding="utf-8")
    assert psyguard_main([str(src), "--out", str(out)]) == 0
    utts = load_utterances(out)  # valid input for `python -m eval utterances`
    assert [(u.id, u.risk, u.source) for u in utts] == [
        ("psyguard-0", ("suicide_plan", "suicide_preparation"), "psyguard:synthetic"),
        ("psyguard-1", (), "psyguard:social_media"),  # idx repeats in valid.json: ids are row positions
        ("psyguard-2", ("suicide_exploration",), "psyguard:client_counselor"),
    ]
    assert "3 utterances" in capsys.readouterr().out


def test_psyguard_unknown_label_is_refused(tmp_path, capsys):
    src = tmp_path / "valid.json"
    rows = [{**PSYGUARD_ROWS[0], "labels": ["不存在的标签"]}]
    src.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    assert psyguard_main([str(src), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "row 0" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()
