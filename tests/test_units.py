"""Units of the live path: codecs, text guard, agreement, settings, model provisioning, segmenter."""

from __future__ import annotations

import audioop
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from service.asr.models import ModelError, resolve_model
from service.asr.text import StablePrefix, clean_text, collapse_repetitions, strip_prompt_echo
from service.asr.vad import SAMPLE_RATE, Segmenter, VadModel
from service.audio.codecs import (ALAW_TO_FLOAT, MULAW_TO_FLOAT, FrameError, StreamResampler, decode_frame,
                                  encode_alaw, encode_mulaw)
from service.settings import Settings, VADSettings, parse_tokens


# ---------------------------------------------------------------- codecs
def test_g711_tables_match_reference_codec():
    allbytes = bytes(range(256))
    assert np.array_equal(MULAW_TO_FLOAT, np.frombuffer(audioop.ulaw2lin(allbytes, 2), "<i2") / 32768)
    assert np.array_equal(ALAW_TO_FLOAT, np.frombuffer(audioop.alaw2lin(allbytes, 2), "<i2") / 32768)
    x = np.linspace(-1, 1, 65536).astype(np.float32)
    pcm = np.clip(x * 32768, -32768, 32767).astype("<i2").tobytes()
    assert encode_mulaw(x) == audioop.lin2ulaw(pcm, 2)
    assert encode_alaw(x) == audioop.lin2alaw(pcm, 2)


@pytest.mark.parametrize("encoding,data,channels,expected", [
    ("pcm_s16le", b"\x00\x40\x00\xc0", 1, [[0.5], [-0.5]]),
    ("pcm_s16le", b"\x00\x40\x00\xc0", 2, [[0.5, -0.5]]),
    ("mulaw", b"\xff\x7f", 1, [[0.0], [0.0]]),
    ("alaw", b"\xd5\x55", 2, [[0.000244140625, -0.000244140625]]),
    ("pcm_s16le", b"", 1, np.zeros((0, 1))),
])
def test_decode_frame(encoding, data, channels, expected):
    assert np.allclose(decode_frame(data, encoding, channels), np.array(expected))


@pytest.mark.parametrize("encoding,n,channels", [("pcm_s16le", 3, 1), ("pcm_s16le", 6, 2), ("mulaw", 3, 2)])
def test_decode_frame_refuses_partial_samples(encoding, n, channels):
    with pytest.raises(FrameError):
        decode_frame(b"\x00" * n, encoding, channels)


def test_stream_resampler_keeps_length_across_frames():
    r = StreamResampler(8000)
    x = np.sin(np.arange(8000) / 7).astype(np.float32)
    out = [r.process(x[i : i + 80]) for i in range(0, 8000, 80)] + [r.process(np.zeros(0, np.float32), last=True)]
    assert sum(len(o) for o in out) == 16000


# ------------------------------------------------------------ text guard
@pytest.mark.parametrize("raw,expected", [
    ("我最近真的撐不下去了。", "我最近真的撑不下去了。"),
    ("字幕由Amara.org社群提供", ""),
    ("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", ""),
    ("我想聊聊。字幕由Amara.org社群提供", "我想聊聊。"),
    ("谢谢观看", ""),
    ("谢谢观看这个节目的人很多", "谢谢观看这个节目的人很多"),
    ("。。。", ""),
    ("好的好的好的好的好的", "好的"),
    ("换一首歌换一首歌", "换一首歌"),
    ("对对对，好的", "对对对，好的"),
    ("说一下,然后呢?", "说一下，然后呢？"),
    ("啊啊啊啊啊啊啊啊", "啊啊啊"),
    # the particle 着 (Whisper writes 著 both for it and for 著名); 妳, 衹 are not Mainland forms
    ("晚上睡不著，活著沒意思，妳衹是聽著", "晚上睡不着，活着没意思，你只是听着"),
    ("他是著名的作家，效果显著", "他是著名的作家，效果显著"),
    ("效果顯著，讀過原著，他很著急，拿著刀", "效果显著，读过原著，他很着急，拿着刀"),
    ("我睡不著", "我睡不着"),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


PROMPT = "以下是普通话的句子，使用简体中文。"


@pytest.mark.parametrize("text,expected", [
    ("以下是普通话的句子。", ""),  # what Whisper base said on unclear 8 kHz audio with this prompt
    ("以下是普通话。", ""),
    ("普通。", ""),
    ("您打算什么时候呢？以下是普通话的句子。", "您打算什么时候呢？"),
    ("我说的是普通话的方言吗？", "我说的是普通话的方言吗？"),  # a clause with words of its own stays
    ("是。", "是。"),  # one character is never an echo
])
def test_prompt_echo_is_dropped(text, expected):
    """Only the initial prompt is echo-checked (hotwords are words a caller may well say on their own)."""
    assert strip_prompt_echo(text, PROMPT) == expected
    assert strip_prompt_echo(text, None) == text


def test_collapse_keeps_genuine_short_repeats():
    assert collapse_repetitions("我我想") == "我我想"
    assert collapse_repetitions("谢谢谢谢") == "谢谢谢谢"


def test_stable_prefix_never_retracts():
    sp = StablePrefix()
    assert sp.update("我最近") == ("", "我最近")
    assert sp.update("我最近真的") == ("我最近", "真的")
    assert sp.update("我最近真的撑不") == ("我最近真的", "撑不")
    assert sp.update("我最进") == ("我最近真的", "")  # a worse hypothesis never shrinks what was committed
    assert sp.update("我最近真的撑不下去") == ("我最近真的", "撑不下去")
    assert sp.update("我最近真的撑不下去了") == ("我最近真的撑不下去", "了")


# --------------------------------------------------------------- settings
def test_tokens_and_nested_env(monkeypatch):
    assert parse_tokens("a:telephony, b:admin") == {"a": "telephony", "b": "admin"}
    assert parse_tokens("c:counselor@c-017") == {"c": "counselor@c-017"}  # a token may name its holder
    for bad in ("a", "a:boss", ":admin", "a:boss@c-017"):
        with pytest.raises(ValueError):
            parse_tokens(bad)
    monkeypatch.setenv("SCRIBE_TOKENS", "t0k3n:telephony,s3cr3t:supervisor")
    monkeypatch.setenv("SCRIBE_ASR__MODEL", "/models/large-v3")
    monkeypatch.setenv("SCRIBE_ASR__DEVICE", "cuda")
    monkeypatch.setenv("SCRIBE_VAD__MIN_SILENCE_S", "0.5")
    monkeypatch.setenv("SCRIBE_STREAM__MAX_CONCURRENT_CALLS", "8")
    s = Settings()
    assert s.token_roles == {"t0k3n": "telephony", "s3cr3t": "supervisor"}
    assert (s.asr.model, s.asr.device, s.vad.min_silence_s, s.stream.max_concurrent_calls) == (
        "/models/large-v3", "cuda", 0.5, 8)
    assert "s3cr3t" not in repr(s)


def test_production_refuses_unsafe_tokens():
    with pytest.raises(ValueError):
        Settings(mode="production", tokens="")
    with pytest.raises(ValueError):
        Settings(mode="production", tokens="changeme:admin")
    assert Settings(mode="production", tokens="a-long-random-token-1234:admin").mode == "production"


def test_production_refuses_counselor_tokens_that_name_nobody():
    """Such a token reads every caller's words: production wants each counselor's token to name its holder, unless
    the deployment says it shares them."""
    shared = "a-long-random-token-1234:supervisor,a-long-random-token-5678:counselor"
    with pytest.raises(ValueError, match="name nobody"):
        Settings(mode="production", tokens=shared)
    assert Settings(mode="production", tokens=shared, shared_counselor_tokens=True).mode == "production"
    named = "a-long-random-token-1234:supervisor,a-long-random-token-5678:counselor@c-017"
    assert Settings(mode="production", tokens=named).mode == "production"
    assert Settings(tokens=shared).mode == "development"  # development allows them


# ----------------------------------------------------------------- models
def test_default_model_assembles_once_and_verifies(tmp_path):
    m = resolve_model("base", tmp_path)
    stamp = m.path / ".scribe-verified.json"
    assert (m.path / "model.bin").stat().st_size == 145217532
    assert m.sha256["model.bin"] == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    before = ((m.path / "model.bin").stat().st_mtime_ns, stamp.stat().st_mtime_ns)
    again = resolve_model("base", tmp_path)
    assert again.path == m.path
    assert ((m.path / "model.bin").stat().st_mtime_ns, stamp.stat().st_mtime_ns) == before  # not re-assembled
    with open(m.path / "model.bin", "r+b") as f:  # a truncated copy is detected and rebuilt
        f.truncate(1000)
    assert resolve_model("base", tmp_path).sha256["model.bin"] == m.sha256["model.bin"]
    assert (m.path / "model.bin").stat().st_size == 145217532


def test_named_directory_model_and_paths(tmp_path):
    with pytest.raises(ModelError, match="not present"):
        resolve_model("large-v3", tmp_path)
    with pytest.raises(ModelError, match="neither a known model"):
        resolve_model(str(tmp_path / "nowhere"), tmp_path)
    (tmp_path / "mine").mkdir()
    with pytest.raises(ModelError, match="missing model.bin"):
        resolve_model(str(tmp_path / "mine"), tmp_path)
    base = resolve_model("base", tmp_path / "store")
    small = tmp_path / "models" / "small"
    small.mkdir(parents=True)
    for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        os.link(base.path / f, small / f)
    m = resolve_model("small", tmp_path / "models")  # by name, from a copied directory: hashed and stamped
    assert m.sha256["model.bin"] == base.sha256["model.bin"]
    assert json.loads((small / ".scribe-verified.json").read_text())["files"]["model.bin"]["size"] == 145217532
    assert resolve_model(str(small), tmp_path).path == small.resolve()


def test_corrupt_manifest_checksum_is_refused(tmp_path):
    from service.asr.models import load_manifest

    manifest = load_manifest()
    manifest["asr"]["base"]["files"]["model.bin"] = "0" * 64
    with pytest.raises(ModelError, match="corrupt"):
        resolve_model("base", tmp_path, manifest)


# -------------------------------------------------------------- segmenter
@pytest.fixture(scope="module")
def vad() -> VadModel:
    return VadModel()


def feed_all(seg: Segmenter, x: np.ndarray, step: int = 320) -> list:
    out = []
    for i in range(0, len(x), step):
        out.extend(seg.feed(x[i : i + step]))
    return out + seg.flush()


def test_segmenter_cuts_utterances_at_silence(vad, clips):
    a = clips["aishell1_BAC009S0764W0121"][0]
    b = clips["speechcolab_cctv_104"][0]
    z = np.zeros(SAMPLE_RATE, np.float32)
    x = np.concatenate([z, a, z, z, b, z])
    utts = feed_all(Segmenter(vad, VADSettings()), x)
    assert len(utts) == 2
    assert abs(utts[0].start / SAMPLE_RATE - 1.0) < 0.45
    assert utts[0].end <= len(z) + len(a) + 0.8 * SAMPLE_RATE
    assert utts[1].start >= len(z) * 3 + len(a) - 0.5 * SAMPLE_RATE
    assert all(len(u.audio) == u.end - u.start for u in utts)


def test_segmenter_forces_cut_at_max_length(vad, clips):
    meeting = clips["wenetspeech_meeting_S00000"][0]  # ~12 s of continuous speech
    utts = feed_all(Segmenter(vad, VADSettings(max_segment_s=4.0)), meeting)
    assert len(utts) >= 3
    assert all(u.end - u.start <= 4.0 * SAMPLE_RATE + 512 for u in utts)
    for prev, nxt in zip(utts, utts[1:]):
        assert nxt.start >= prev.end - 1  # no overlap, nothing lost between forced cuts
    assert any(u.forced_cut for u in utts)


def test_segmenter_tells_speech_from_a_pause_in_progress(vad, clips):
    """What the partial schedule reads: speech so far grows while someone speaks, the trailing silence counts a
    pause and is back to 0 when speech resumes; both are 0 between utterances."""
    a = clips["aishell1_BAC009S0764W0121"][0]
    seg = Segmenter(vad, VADSettings())
    assert seg.speech == 0 and seg.trailing_silence == 0
    seg.feed(np.zeros(SAMPLE_RATE // 2, np.float32))
    seg.feed(a[: 2 * SAMPLE_RATE])
    assert seg.in_speech and seg.speech >= SAMPLE_RATE and seg.trailing_silence < 0.2 * SAMPLE_RATE
    spoken = seg.speech
    assert seg.feed(np.zeros(int(0.4 * SAMPLE_RATE), np.float32)) == []  # shorter than min_silence_s: no end
    assert 0.25 * SAMPLE_RATE <= seg.trailing_silence <= 0.45 * SAMPLE_RATE
    assert spoken <= seg.speech <= spoken + 2 * 512  # the VAD's state lags the end of speech by a window or two
    spoken = seg.speech
    seg.feed(a[2 * SAMPLE_RATE : 3 * SAMPLE_RATE])
    assert seg.trailing_silence < 0.2 * SAMPLE_RATE and seg.speech > spoken
    assert feed_all(seg, np.zeros(SAMPLE_RATE, np.float32))  # the pause is long enough now: the utterance ends
    assert not seg.in_speech and seg.speech == 0 and seg.trailing_silence == 0


def test_segmenter_silence_empty_and_zero_frames(vad):
    seg = Segmenter(vad, VADSettings())
    assert seg.feed(np.zeros(0, np.float32)) == []
    assert feed_all(seg, np.zeros(SAMPLE_RATE * 5, np.float32)) == []
    assert Segmenter(vad, VADSettings()).flush() == []


def test_two_hour_call_keeps_memory_bounded(vad, clips):
    """Two hours of audio (speech every minute, silence between): the buffer never grows past one segment."""
    speech = clips["aishell1_BAC009S0764W0121"][0]
    minute = np.zeros(60 * SAMPLE_RATE, np.float32)
    minute[SAMPLE_RATE : SAMPLE_RATE + len(speech)] = speech
    seg = Segmenter(vad, VADSettings())
    n_utts, peak = 0, 0
    for _ in range(120):
        for i in range(0, len(minute), SAMPLE_RATE * 10):
            n_utts += len(seg.feed(minute[i : i + SAMPLE_RATE * 10]))
            peak = max(peak, seg.audio.size)
    assert n_utts == 120
    assert seg.position == 120 * 60 * SAMPLE_RATE
    assert peak <= (10 + VADSettings().max_segment_s + 1) * SAMPLE_RATE


# ------------------------------------------------------------ partial share
def test_partials_yield_to_finals_and_keep_to_their_share(tmp_path, clips):
    """Real model: once partials have had their share of decoding time, or while a final waits, a partial is
    refused (the session skips it); finals are never refused."""
    import time

    from service.asr.engine import QueueFull, Recognizer
    from service.metrics import Metrics
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    audio = clips["aishell1_BAC009S0764W0121"][0]
    asr = settings.asr.model_copy(update={"workers": 1, "partial_share": 0.001, "partial_fill": 0.0})  # 10 ms / 10 s
    metrics = Metrics()
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir), metrics=metrics)
    try:
        t0 = time.perf_counter()
        first = rec.transcribe_sync(audio[:32000], "partial")  # the first partial is within the share
        assert first.text
        with pytest.raises(QueueFull, match="share"):
            rec.submit(audio[:32000], "partial")
        assert rec.transcribe_sync(audio, "final").text  # finals are never refused
        # the model's time is its decoding time (CTranslate2's own threads included), within the time it took
        spent = metrics.compute_seconds._value.get()
        assert 0.5 * (time.perf_counter() - t0) < spent <= time.perf_counter() - t0
    finally:
        rec.close()
    asr = settings.asr.model_copy(update={"workers": 1, "partial_share": 2.0})
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir))
    try:
        running = rec.submit(audio, "final")
        waiting = rec.submit(audio, "final")  # one worker: this one waits behind the first
        with pytest.raises(QueueFull, match="final is waiting"):
            rec.submit(audio[:32000], "partial")
        assert running.result().text and waiting.result().text
        assert rec.transcribe_sync(audio[:32000], "partial").text  # no final waiting, share unbounded
    finally:
        rec.close()


def test_partials_fill_idle_model_time_until_finals_take_it(tmp_path, clips):
    """Real model: beyond partial_share, partials may use what finals leave idle (partial_fill less the finals'
    share of the last 10 s); once finals have taken that, partials are refused again."""
    from service.asr.engine import QueueFull, Recognizer
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    audio = clips["aishell1_BAC009S0764W0121"][0]
    asr = settings.asr.model_copy(update={"workers": 1, "partial_share": 0.001, "partial_fill": 0.1})  # 1 s idle
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir))
    try:
        assert rec.transcribe_sync(audio[:32000], "partial").text
        assert rec.transcribe_sync(audio[:32000], "partial").text  # past partial_share, within the idle fill
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:  # finals take more than the fill's 1 s of the window
            assert rec.transcribe_sync(audio, "final").text
        with pytest.raises(QueueFull, match="share"):
            rec.submit(audio[:32000], "partial")
    finally:
        rec.close()


def test_partials_asked_for_together_are_decoded_as_one_batch(tmp_path, clips):
    """Real model: partials submitted within PARTIAL_GATHER_S of each other (the sessions' shared partial clock)
    wait for each other and go through the model as one batch; each gets its own text. A final is not held."""
    from service.asr.engine import Recognizer
    from service.metrics import Metrics
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    a, b = clips["aishell1_BAC009S0764W0121"][0], clips["speechcolab_cctv_104"][0]
    asr = settings.asr.model_copy(update={"workers": 1, "partial_share": 2.0})
    metrics = Metrics()
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir), metrics=metrics)
    try:
        futures = [rec.submit(x, "partial") for x in (a[:32000], b[:48000], a[:40000])]
        texts = [f.result().text for f in futures]
        assert all(texts) and texts[1] != texts[0]
        hist = metrics.batch_size.labels("partial")
        assert hist._sum.get() == 3 and sum(b.get() for b in hist._buckets) == 1  # 3 partials, 1 batch
        assert rec.transcribe_sync(a, "final").text
        assert sum(b.get() for b in metrics.batch_size.labels("final")._buckets) == 1
    finally:
        rec.close()


def test_a_finals_text_does_not_depend_on_what_is_decoded_with_it(tmp_path, clips):
    """Real model: finals queued together are batched only with finals of the same encoder window (a window set by
    the longest in the batch changed what Whisper heard in the others), so each gets the text it gets alone."""
    from service.asr.engine import Recognizer
    from service.metrics import Metrics
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    short = [clips[name][0] for name in ("aishell1_BAC009S0764W0121", "speechcolab_cctv_104", "aishell2_IT0011W0001")]
    long = clips["wenetspeech_meeting_S00000"][0]  # 12.4 s: a 14 s window, the others 8 s
    asr = settings.asr.model_copy(update={"workers": 1})
    metrics = Metrics()
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir), metrics=metrics)
    try:
        alone = [rec.transcribe_sync(x, "final").text for x in short]
        with rec._cv:  # all four are queued before the worker takes any
            futures = [rec.submit(x, "final") for x in (short[0], long, short[1], short[2])]
        together = [f.result().text for f in futures]
        assert [together[0], together[2], together[3]] == alone and together[1]
        hist = metrics.batch_size.labels("final")
        assert hist._sum.get() == 3 + 4 and sum(b.get() for b in hist._buckets) == 3 + 2  # 3 alone, then 3 + 1
        assert rec._final_frames(len(short[0])) == 800 and rec._final_frames(len(long)) == 1400
    finally:
        rec.close()


def test_the_guard_drops_prompt_echoes_but_not_hotwords(tmp_path):
    from service.asr.engine import Recognizer
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    asr = settings.asr.model_copy(update={"workers": 1, "hotwords": "安眠药 遗书", "initial_prompt": PROMPT})
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir))
    try:
        assert rec._guard("安眠药。", -0.2, 0.01).text == "安眠药。"  # a hotword said on its own is speech
        echo = rec._guard("以下是普通话的句子。", -0.2, 0.01)
        assert echo.text == "" and echo.dropped == "hallucination"
    finally:
        rec.close()


@pytest.mark.parametrize("live", [True, False])
def test_windows_keep_a_worker_free_for_finals_while_calls_are_live(tmp_path, clips, live):
    """Real model, two workers: while a live final was queued recently, windows (a caller heard again, an upload)
    run on one worker at most, so that a final never waits behind two of them; with no live call they use both."""
    from service.asr.engine import Recognizer
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    audio = clips["aishell1_BAC009S0764W0121"][0]
    asr = settings.asr.model_copy(update={"workers": 2, "batch_size": 1})
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir))
    try:
        if live:
            assert rec.transcribe_sync(audio, "final").text
        windows = [rec.submit(audio, "window") for _ in range(3)]
        most = 0
        while not all(w.done() for w in windows):
            most = max(most, len(rec._windows_running))
            time.sleep(0.001)
        assert all(w.result().text for w in windows)
        assert most == (1 if live else 2)
    finally:
        rec.close()


def test_the_recognizers_record_of_finals_stays_bounded_without_partials(tmp_path, clips, monkeypatch):
    """Real model: what finals and recordings took is kept only for the partial budget's window, also in a
    process that never decodes a partial (partials off, uploads only); it once grew by one entry per batch."""
    import service.asr.engine
    from service.asr.engine import Recognizer
    from tests.conftest import make_settings

    monkeypatch.setattr(service.asr.engine, "PARTIAL_SHARE_WINDOW_S", 0.01)
    settings = make_settings(tmp_path)
    audio = clips["aishell1_BAC009S0764W0121"][0][:32000]
    asr = settings.asr.model_copy(update={"workers": 1})
    rec = Recognizer(asr, resolve_model(asr.model, settings.effective_models_dir))
    try:
        for _ in range(4):
            assert rec.transcribe_sync(audio, "final").text
        assert len(rec._other_log) <= 1
    finally:
        rec.close()
