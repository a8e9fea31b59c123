"""Recorded calls decoded in windows of up to 30 s (asr.recording_mode = "windows"): the timed pieces, their way
back to call time, and a whole upload through the real model against the same upload utterance by utterance."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from service.asr.engine import split_timed
from service.recorded import (BOUNDARY_SLACK_S, WINDOW_S, original_time, remainder, run_recording,
                              speech_windows, split_across_stretches)
from tests.conftest import MODELS_DIR, load_fixture_call, make_settings

TS = 50365  # <|0.00|> of the multilingual tokenizer; any value works for split_timed


def ts(seconds: float) -> int:
    return TS + round(seconds / 0.02)


def test_split_timed_reads_whispers_timed_output():
    # ends on a single timestamp: the window is done
    tokens = [ts(0.0), 1, 2, ts(2.4), ts(2.4), 3, ts(5.0), ts(6.0), 4, 5, ts(8.0)]
    assert split_timed(tokens, TS, 9.0) == ([(0.0, 2.4, [1, 2]), (2.4, 5.0, [3]), (6.0, 8.0, [4, 5])], None)
    # ends on a pair: the model stopped short of the window's end; resume where the last piece ended
    tokens = [ts(0.0), 1, 2, ts(2.4), ts(3.0), 3, ts(5.0), ts(5.0)]
    assert split_timed(tokens, TS, 20.0) == ([(0.0, 2.4, [1, 2]), (3.0, 5.0, [3])], 5.0)
    # unfinished text after the last pair is left out, to be decoded again from 2.4 s
    tokens = [ts(0.0), 1, 2, ts(2.4), ts(3.0), 3, 4]
    assert split_timed(tokens, TS, 20.0) == ([(0.0, 2.4, [1, 2])], 2.4)
    assert split_timed([7, 8], TS, 3.0) == ([(0.0, 3.0, [7, 8])], None), "untimed text spans the window"
    assert split_timed([ts(1.0), 7, ts(40.0)], TS, 3.0) == ([(1.0, 3.0, [7])], None), "clamped to the window"
    assert split_timed([ts(0.0), ts(1.0)], TS, 3.0) == ([], 0.0), "nothing heard: resume at 0 (taken as done)"
    assert split_timed([], TS, 3.0) == ([], None)


def test_remainder_is_the_rest_of_a_packed_window():
    audio = np.arange(16000 * 10, dtype=np.float32)  # packed: 3 s of (1, 4), 2 s of (10, 12), 5 s of (20, 25)
    rest, stretches = remainder(audio, [(1.0, 4.0), (10.0, 12.0), (20.0, 25.0)], 3.5)
    assert len(rest) == 16000 * 6.5 and rest[0] == 16000 * 3.5
    assert stretches == [(10.5, 12.0), (20.0, 25.0)]


def test_original_time_puts_back_the_silence_cut_out():
    stretches = [(1.0, 4.0), (10.0, 12.0), (20.0, 25.0)]  # packed: 0–3, 3–5, 5–10
    assert original_time(0.5, stretches) == pytest.approx(1.5)
    assert original_time(3.5, stretches) == pytest.approx(10.5)
    assert original_time(6.0, stretches) == pytest.approx(21.0)
    # a start just before a stretch's end belongs to the next stretch; an end just after its start, to the one before
    assert original_time(3.0 - BOUNDARY_SLACK_S / 2, stretches) == pytest.approx(10.0)
    assert original_time(3.0 + BOUNDARY_SLACK_S / 2, stretches, is_end=True) == pytest.approx(4.0)
    assert original_time(99.0, stretches, is_end=True) == pytest.approx(25.0), "clamped to the last stretch"


def test_a_piece_heard_across_a_cut_silence_is_split_per_stretch():
    stretches = [(60.0, 67.0), (75.0, 84.0)]  # packed: 0–7, 7–16; the counselor spoke in between
    text = "然后我女朋友，我们在一起三年，上个月她说压力太大，分手了，每天上班回家，睡不着，吃不下，在公司也老走神"
    parts = split_across_stretches(0.0, 15.6, text, stretches)
    assert len(parts) == 2 and "".join(t for _, _, t in parts) == text
    (a0, b0, t0), (a1, b1, t1) = parts
    assert (a0, b0, a1, b1) == (0.0, 7.0, 7.0, 15.6)
    assert t0 == "然后我女朋友，我们在一起三年，上个月她说压力太大，", "cut at the clause end nearest 7 / 15.6 of it"
    assert original_time(a1, stretches) == 75.0, "the second part starts where the caller spoke again"
    # within one stretch, or barely touching the next one, a piece stays whole
    assert split_across_stretches(1.0, 6.0, text, stretches) == [(1.0, 6.0, text)]
    assert split_across_stretches(1.0, 7.3, text, stretches) == [(1.0, 7.3, text)]
    # no clause end near the proportional point: cut at the character
    parts = split_across_stretches(0.0, 16.0, "甲" * 32, stretches)
    assert [len(t) for _, _, t in parts] == [14, 18]


def test_speech_windows_pack_speech_only_and_never_exceed_a_window(clips):
    speech, _ = clips[sorted(clips)[0]]
    silence = np.zeros(16000 * 5, np.float32)
    x = np.concatenate([silence, speech, silence, speech, silence] + [speech, silence] * 4)
    windows = speech_windows(x)
    assert windows, "there is speech"
    starts = [s for _, stretches in windows for s, _ in stretches]
    assert starts == sorted(starts) and starts[0] >= 4.0, "the leading 5 s of silence is cut out"
    for audio, stretches in windows:
        assert len(audio) <= WINDOW_S * 16000
        assert len(audio) == sum(round((e - s) * 16000) for s, e in stretches)
    assert speech_windows(np.zeros(16000 * 10, np.float32)) == []


def _cer(ref: str, hyp: str) -> float:
    from eval.scoring import score_asr

    return score_asr([(ref, hyp)])["cer"]


@pytest.mark.parametrize("call_id", ["dev-0008-risk"])
def test_an_upload_in_windows_is_timed_in_call_order_and_hears_the_disclosure(tmp_path, call_id):
    from service.runtime import Runtime

    call, audio = load_fixture_call(call_id)
    duration = len(audio) / 8000
    results = {}
    for mode in ("windows", "live"):
        settings = make_settings(tmp_path / mode, asr={"models_dir": MODELS_DIR, "recording_mode": mode})
        runtime = Runtime.build(settings)
        try:
            session = asyncio.run(run_recording(runtime.pipeline, audio, 8000, f"rec-{mode}", ["caller", "counselor"]))
            segments = runtime.pipeline.store.segments(f"rec-{mode}")
            results[mode] = (segments, session.analysis.state.level, runtime.pipeline.store.get_call(f"rec-{mode}"))
        finally:
            runtime.close()
    segments, level, record = results["windows"]
    assert record.status == "ended" and record.audio_seconds == pytest.approx(duration, abs=0.01)
    assert segments and all(0 <= s.start <= s.end <= duration + 0.05 for s in segments)
    assert [s.segment_id for s in segments] == list(range(len(segments))), "numbered in call order"
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    for who in ("caller", "counselor"):
        ref = "".join(s["text"] for s in call["segments"] if s["speaker"] == who)
        win = "".join(s.text for s in segments if s.speaker == who)
        live = "".join(s.text for s in results["live"][0] if s.speaker == who)
        # (the clip cuts a counselor sentence at each end that the annotation leaves out: both modes hear them)
        assert who == "counselor" or _cer(ref, win) < 0.4
        assert _cer(ref, win) <= _cer(ref, live) + 0.05, f"{who}: windows no worse than utterance by utterance"
    # every caller segment overlaps the caller's annotated speech (times came back from the packed windows)
    ref_caller = [(s["start"], s["end"]) for s in call["segments"] if s["speaker"] == "caller"]
    for s in segments:
        if s.speaker == "caller":
            assert any(s.start < e + 1.0 and s.end > b - 1.0 for b, e in ref_caller), (s.start, s.end)
    assert level in ("中", "高", "紧急"), "the caller's decision and plan are heard"


def test_a_long_upload_is_heard_block_by_block_in_call_order(tmp_path, monkeypatch):
    """Blocks bound memory on a long recording and let its finals out as each is heard: 10 s blocks here."""
    import service.recorded as recorded
    from service.runtime import Runtime

    monkeypatch.setattr(recorded, "BLOCK_S", 10.0)
    call, audio = load_fixture_call("dev-0008-risk")
    messages: list[dict] = []

    async def sink(msg: dict) -> None:
        messages.append(msg)

    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    try:
        asyncio.run(run_recording(runtime.pipeline, audio, 8000, "rec-blocks", ["caller", "counselor"], sink=sink))
        segments = runtime.pipeline.store.segments("rec-blocks")
        record = runtime.pipeline.store.get_call("rec-blocks")
    finally:
        runtime.close()
    assert record.status == "ended" and record.audio_seconds == pytest.approx(len(audio) / 8000, abs=0.01)
    finals = [m for m in messages if m["type"] == "final"]
    assert len(finals) == len(segments) >= 4 and messages[-1]["type"] == "ended"
    assert [f["segment_id"] for f in finals] == list(range(len(finals)))
    assert all(0 <= f["start"] <= f["end"] <= len(audio) / 8000 + 0.05 for f in finals)
    # blocks come out in order: no final starts before the block the previous one started in
    assert all(b["start"] >= a["start"] - 10.0 for a, b in zip(finals, finals[1:]))
    ref = "".join(s["text"] for s in call["segments"] if s["speaker"] == "caller")
    assert _cer(ref, "".join(f["text"] for f in finals if f["speaker"] == "caller")) < 0.5
