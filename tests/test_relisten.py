"""A live caller heard again for risk (service.relisten): when it starts, what it hears again, what it may add
(labels, a higher level, an alert) and what it never changes (the finals already sent)."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis import RiskAnalysis
from service.relisten import MAX_WAITING_S, RELISTEN_BACK_S, Relistener
from service.risk import RiskEngine
from service.risk.lexicon import load_lexicon
from service.runtime import Runtime
from service.types import FinalSegment
from tests.conftest import MODELS_DIR, make_settings, stream_fixture_call


@pytest.fixture(scope="module")
def engine():
    return RiskEngine(load_lexicon(), predict=None, threshold=0.5, model_id="clf-none")


def seg(i: int, speaker: str, text: str, start: float | None = None) -> FinalSegment:
    start = i * 5.0 if start is None else start
    return FinalSegment("r-1", i, speaker, start, start + 4.0, text)


def test_the_call_shows_risk_by_the_callers_words_or_the_counselor_naming_it(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    analysis.analyze(seg(0, "caller", "最近工作压力大，累死了"))
    analysis.analyze(seg(1, "counselor", "听起来你很辛苦，最近睡得怎么样？"))
    assert not analysis.risk_context(), "hyperbole and everyday talk are no reason to hear the caller again"
    analysis.analyze(seg(2, "counselor", "我想问一下，你有没有想过自杀？"))
    assert analysis.risk_context(), "the counselor asked about suicide"
    other = RiskAnalysis(engine, "r-2", "c-017")
    other.analyze(seg(0, "caller", "我真的不想活了"))
    assert other.risk_context(), "the caller's own words"


def test_what_is_heard_again_adds_risk_once_and_raises_the_level(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    analysis.analyze(seg(0, "counselor", "你刚才说想死，现在是什么情况？"))
    garbled = seg(1, "caller", "来不及为曾才说话的时候，我已经把他们坑下去了，一种饭都吃了")
    risk, _ = analysis.analyze(garbled)
    assert "suicide_attempt" not in risk.labels and analysis.state.level in ("无", "低", "中")
    heard = FinalSegment("r-1", 1, "caller", 5.2, 9.0, "来不及了，刚才说话的时候，我已经把它们吞下去了，一整板都吃了")
    found = analysis.analyze_relistened(heard)
    assert found is not None
    risk, alerts = found
    assert "suicide_attempt" in risk.labels and risk.segment_id == 1, "the label goes to the live final it covers"
    assert analysis.state.level == "紧急"
    assert [a.risk_level for a in alerts] == ["高", "紧急"], "the alerts the level rise raises, at once"
    assert alerts[-1].evidence[-1].text == heard.text, "the evidence is the sentence as heard again"
    assert analysis.analyze_relistened(heard) is None, "the same labels again add nothing"
    assert analysis.analyze_relistened(
        FinalSegment("r-1", 1, "caller", 5.2, 9.0, "来不及了，刚才说话的时候")) is None, "no labels: nothing"


async def test_a_message_of_what_is_heard_again_keeps_the_live_finals_labels(engine):
    """A client keeps a segment's labels by segment_id: the second risk message for it carries them all."""
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    live = await analysis.on_final(seg(1, "caller", "我真的不想活了，太累了"), None)
    assert live and live[0]["labels"]
    msgs = await analysis.on_relisten(FinalSegment("r-1", 1, "caller", 5.1, 9.0, "我真的不想活了，遗书都写好了"))
    assert len(msgs) == 1 and set(live[0]["labels"]) < set(msgs[0]["labels"])
    assert "suicide_preparation" in msgs[0]["labels"]
    assert {k["label"] for k in msgs[0]["keywords"]} <= set(msgs[0]["labels"])


async def test_messages_of_what_is_heard_again_name_the_live_final(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    analysis.analyze(seg(0, "counselor", "你是不是有想过结束自己的生命？"))
    await analysis.on_final(seg(1, "caller", "您开了验话器官，我哥来送货文这位儿"), None)
    msgs = await analysis.on_relisten(FinalSegment("r-1", 1, "caller", 5.1, 9.0, "我拧开了液化气罐，想死"))
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg["type"] == "risk" and msg["segment_id"] == 1 and msg["relistened"] is True
    assert msg["text"] == "我拧开了液化气罐，想死" and msg["labels"] and msg["keywords"]
    assert all(5.1 <= k["start"] <= k["end"] <= 9.0 for k in msg["keywords"]), "keyword times within the piece"
    assert msg["risk_level"] == analysis.state.level


class _Session:
    """What Relistener needs of a CallSession; the window is never decoded (no task is run)."""

    def __init__(self, analysis: RiskAnalysis, window_s: float = 25.0, min_s: float = 4.0) -> None:
        from service.metrics import Metrics
        from service.settings import Settings

        settings = Settings(risk={"relisten_window_s": window_s, "relisten_min_s": min_s})
        self.p = type("P", (), {"settings": settings, "metrics": Metrics()})()
        self.analysis = analysis
        self.call_id = "r-1"
        self.spawned: list = []

    def _spawn(self, coro) -> None:
        self.spawned.append(coro.cr_frame.f_locals["window"])
        coro.close()


def _audio(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def test_speech_before_the_risk_is_kept_bounded_and_heard_once_it_shows(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    session = _Session(analysis)
    relisten = Relistener(session)
    n = int(RELISTEN_BACK_S / 6) + 5
    for i in range(n):  # a long risk-free stretch: only the last RELISTEN_BACK_S of it is kept
        s = seg(i, "caller", "嗯，工作的事", start=i * 7.0)
        analysis.analyze(s)
        relisten.caller_final(s, _audio(6.0))
    assert not relisten.active and not session.spawned
    assert sum(len(h.audio) for h in relisten._back) <= RELISTEN_BACK_S * 16000
    question = seg(n, "counselor", "你有没有想过自杀？", start=n * 7.0)
    analysis.analyze(question)
    relisten.counselor_final(question)
    assert relisten.active, "the counselor named suicide"
    heard = [h.seg.segment_id for w in session.spawned for h in w]
    assert heard == list(range(n - len(heard), n)) and len(heard) == int(RELISTEN_BACK_S / 6)
    assert all(sum(len(h.audio) for h in w) <= 25.0 * 16000 for w in session.spawned), "windows of ≤ 25 s"


def test_windows_go_at_a_full_window_or_at_the_end_of_a_turn_with_enough_speech(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    analysis.analyze(seg(0, "caller", "我不想活了"))
    session = _Session(analysis, window_s=10.0, min_s=4.0)
    relisten = Relistener(session)
    relisten.caller_final(seg(1, "caller", "嗯", start=5.0), _audio(2.0))
    assert relisten.active and not session.spawned
    relisten.counselor_final(seg(2, "counselor", "嗯，你说", start=8.0))
    assert not session.spawned, "2 s of caller speech: wait for more"
    relisten.caller_final(seg(3, "caller", "就是觉得", start=10.0), _audio(3.0))
    relisten.counselor_final(seg(4, "counselor", "我在听", start=14.0))
    assert [[h.seg.segment_id for h in w] for w in session.spawned] == [[1, 3]], "the turn ended with 5 s"
    for i in range(5, 9):
        relisten.caller_final(seg(i, "caller", "说了很多", start=i * 5.0), _audio(3.0))
    assert [[h.seg.segment_id for h in w] for w in session.spawned][1:] == [[5, 6, 7]], "8 would not fit in 10 s"
    relisten.caller_final(seg(9, "caller", "最后一句", start=50.0), _audio(1.0))
    relisten.flush()
    assert [h.seg.segment_id for h in session.spawned[-1]] == [8, 9], "the end of the call hears what is left"
    assert len(session.spawned) == 3


@pytest.mark.parametrize("relisten", [True, False])
def test_a_streamed_call_is_heard_again_once_it_shows_risk_and_its_finals_stay_as_sent(tmp_path, relisten):
    settings = make_settings(tmp_path, asr={"models_dir": MODELS_DIR}, risk={"relisten": relisten})
    runtime = Runtime.build(settings)
    try:
        session, messages = stream_fixture_call(runtime, "relisten-1")
        stored = runtime.pipeline.store.segments("relisten-1")
    finally:
        runtime.close()
    finals = {m["segment_id"]: m for m in messages if m["type"] == "final" and m["text"]}
    assert sorted((s.segment_id, s.text) for s in stored) == sorted((i, m["text"]) for i, m in finals.items()), \
        "the stored finals are the ones sent, unchanged"
    again = [m for m in messages if m["type"] == "risk" and m.get("relistened")]
    assert messages[-1]["type"] == "ended" and messages[-1]["risk_level"] == session.analysis.state.level
    if not relisten:
        assert session.relisten is None and not again
        return
    assert session.relisten.active, "the caller's decision shows the risk"
    assert session.relisten.windows >= 1, "and the caller's speech is heard again"
    for m in again:
        assert finals[m["segment_id"]]["speaker"] == "caller" and m["labels"] and m["text"]
        assert messages.index(m) < len(messages) - 1, "before the call ends"
    row = {s.segment_id: s for s in stored}
    for m in again:
        assert set(m["labels"]) <= set(row[m["segment_id"]].risk_labels), "stored with the live final"
        assert any(h["text"] == m["text"] for h in row[m["segment_id"]].risk["relistened"])


def test_a_recognizer_that_cannot_keep_up_skips_windows_and_counts_them(engine):
    analysis = RiskAnalysis(engine, "r-1", "c-017")
    analysis.analyze(seg(0, "caller", "我不想活了"))
    session = _Session(analysis)  # windows handed to it are never heard: they all stay waiting
    relisten = Relistener(session)
    for i in range(1, 80):
        relisten.caller_final(seg(i, "caller", "说了很多", start=i * 6.0), _audio(5.0))
    relisten.flush()
    waiting = sum(len(h.audio) for w in session.spawned for h in w) / 16000
    assert waiting <= MAX_WAITING_S < 79 * 5.0
    metric = session.p.metrics.relisten
    assert metric.labels("heard")._value.get() == pytest.approx(waiting)
    assert metric.labels("skipped")._value.get() == pytest.approx(79 * 5.0 - waiting)


async def test_a_redraft_keeps_what_hearing_again_found(tmp_path, runtime):
    from service.store.db import CallStart

    rt = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}), share=runtime)
    store = rt.pipeline.store
    store.create_call(CallStart("r-9", "c-017", "live", 8000, "pcm_s16le", 2, ["caller", "counselor"], {}))
    analysis = rt.pipeline.analysis_factory("r-9", "c-017")
    live = [seg(0, "counselor", "你刚才说想死，现在是什么情况？"),
            seg(1, "caller", "来不及为曾才说话的时候，我已经把他们坑下去了，一种饭都吃了")]
    for s in live:
        s = FinalSegment("r-9", s.segment_id, s.speaker, s.start, s.end, s.text)
        store.add_segment(s, -0.3, 0.01)
        await analysis.on_final(s, None)
    level_live = analysis.state.level
    await analysis.on_relisten(FinalSegment("r-9", 1, "caller", 5.2, 9.0, "我已经把它们吞下去了，一整板都吃了"))
    assert analysis.state.level == "紧急" != level_live
    assert store.get_call("r-9").risk_level == "紧急"
    assert "suicide_attempt" in next(r for r in store.segments("r-9") if r.segment_id == 1).risk_labels
    row = await rt.drafting.on_request("r-9", "counselor-1")
    assert row.fields["risk_level"]["value"] == "紧急", "the stored text alone says less; the redraft keeps it"
    await rt.stop()


def test_only_labels_the_words_carry_count_when_heard_again():
    from service.risk.train import OUTPUTS

    probs = {**dict.fromkeys(OUTPUTS, 0.0), "any_suicide": 0.95, "active_ideation": 0.95}
    always = RiskEngine(load_lexicon(), lambda texts: [probs for _ in texts], 0.5, "clf-always")
    analysis = RiskAnalysis(always, "r-1", "c-017")
    analysis.analyze(seg(0, "counselor", "你有没有想过自杀？"))
    live, _ = analysis.analyze(seg(1, "caller", "小面馆"))
    assert not live.labels, "too short for the classifier"
    risk = always.analyze(seg(2, "caller", "我今年四十六还开了个小念馆"), [])
    assert "active_ideation" in risk.labels and not risk.keywords, "the classifier alone flags it"
    assert analysis.analyze_relistened(seg(1, "caller", "我今年四十六还开了个小念馆")) is None, \
        "heard again, a label with no words behind it adds nothing"
    found = analysis.analyze_relistened(seg(1, "caller", "我今年四十六，真的不想活了"))
    assert found is not None and "active_ideation" in found[0].labels and found[0].keywords
