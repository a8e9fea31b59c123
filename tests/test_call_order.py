"""The two channels' finals are sent and analysed in call time, whichever the recognizer finishes first.

A counselor's question ("您打算什么时候呢？") and the caller's answer after it ("明天晚上。") are decoded at about the
same moment when the recognizer is busy, and the question may come back last; the caller's answer must still be
read after it (a yes means something only after the question). The recognizer here is the real one; only the
counselor's short finals are handed back late, as they would be behind other calls' work."""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading

import numpy as np
import pytest

from service.runtime import Runtime
from service.session import CallSession
from tests.conftest import MODELS_DIR, make_settings, stream_fixture_call

DELAY_S = 2.0
#: the role of the channel whose utterance is being submitted (set around CallSession._dispatch)
SUBMITTING_FOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("submitting_for", default=None)


@pytest.fixture(autouse=True)
def note_the_submitting_channel(monkeypatch):
    """Tell the recognizer wrapper which channel an utterance comes from (the recognizer itself is not told)."""
    dispatch = CallSession._dispatch

    def by_channel(self, ended):
        for ch, utt in ended:
            token = SUBMITTING_FOR.set(ch.role)
            try:
                dispatch(self, [(ch, utt)])
            finally:
                SUBMITTING_FOR.reset(token)

    monkeypatch.setattr(CallSession, "_dispatch", by_channel)


class LateShortFinals:
    """The real recognizer; the counselor's finals shorter than ``short_s`` come back ``delay_s`` after they are
    decoded. (The caller's short answer must not be delayed too: whether "明天晚上。" is cut shorter than ``short_s``
    depends on timing, and delayed as long as the question it would no longer overtake it.)"""

    def __init__(self, inner, short_s: float, delay_s: float = DELAY_S) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.short = int(short_s * 16000)
        self.delayed = 0

    def submit(self, audio: np.ndarray, kind):
        fut = self.inner.submit(audio, kind)
        if kind != "final" or len(audio) >= self.short or SUBMITTING_FOR.get() != "counselor":
            return fut
        self.delayed += 1
        late: concurrent.futures.Future = concurrent.futures.Future()

        def hand_back(done: concurrent.futures.Future) -> None:
            def later() -> None:
                if done.exception() is not None:
                    late.set_exception(done.exception())
                else:
                    late.set_result(done.result())
            threading.Timer(self.delay_s, later).start()

        fut.add_done_callback(hand_back)
        return late

    def __getattr__(self, name):
        return getattr(self.inner, name)


def stream_with_late_counselor(tmp_path, call_id: str, delay_s: float = DELAY_S):
    """dev-0008-risk streamed as a live call, the counselor's "您打算什么时候呢？" (2.0 s: the short final before a
    caller's answer) handed back ``delay_s`` late; (session, messages, the late recognizer, the metrics)."""
    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    slow = LateShortFinals(runtime.pipeline.recognizer, short_s=2.8, delay_s=delay_s)
    runtime.pipeline.recognizer = slow
    try:
        session, messages = stream_fixture_call(runtime, call_id)
    finally:
        runtime.pipeline.recognizer = slow.inner
        runtime.close()
    return session, messages, slow, runtime.pipeline.metrics


def question_and_answer(messages: list[dict]) -> tuple[dict, dict]:
    """The counselor's "您打算什么时候呢？" and the caller's final after it."""
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    question = next(m for m in finals if m["speaker"] == "counselor" and m["start"] > 18)
    answer = next(m for m in finals if m["speaker"] == "caller" and m["start"] > question["start"])
    return question, answer


def test_a_later_caller_final_waits_for_the_counselors_earlier_one(tmp_path):
    session, messages, slow, _ = stream_with_late_counselor(tmp_path, "order-1")
    assert slow.delayed >= 1, "a short final was handed back late"
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    assert {m["speaker"] for m in finals} == {"caller", "counselor"}
    starts = [m["start"] for m in finals]
    assert starts == sorted(starts), "finals go out in call time across the two channels"
    question, answer = question_and_answer(messages)
    assert messages.index(question) < messages.index(answer)
    # and the analysis read them in that order: the caller's plan with its near time makes the call 高
    assert session.analysis.state.level in ("高", "紧急")


def test_a_final_does_not_wait_past_the_bound_for_the_other_channel(tmp_path, monkeypatch):
    """A recognizer far behind on one channel (here: its finals 5 s late, the bound 0.3 s) does not hold the other
    channel's finals: they go out after the bound, out of call-time order, and the call still completes."""
    import service.session

    monkeypatch.setattr(service.session, "EARLIER_FINAL_WAIT_S", 0.3)
    _, messages, _, metrics = stream_with_late_counselor(tmp_path, "order-2", delay_s=5.0)
    question, answer = question_and_answer(messages)
    assert messages.index(answer) < messages.index(question), "the answer did not wait 5 s for the question"
    assert messages[-1]["type"] == "ended"
    assert metrics.finals_unordered._value.get() >= 1, "and it is counted"


def test_a_channel_keeps_only_its_unsent_finals(tmp_path):
    """What a channel keeps of its finals to order them is bounded: the finals already sent are let go, also in a
    one-channel call, where no other channel reads them."""
    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    try:
        session, messages = stream_fixture_call(runtime, "order-3", mono=True)
    finally:
        runtime.close()
    assert len([m for m in messages if m["type"] == "final" and m["text"]]) >= 3
    assert len(session.channels[0].pending) <= 1


def test_finals_ending_in_one_frame_go_out_in_call_time(tmp_path):
    """The whole call in one frame (as a long frame or the flush at the end hands both channels' utterances over at
    once): they are dispatched in call time, not caller channel first, so each caller final waits for the
    counselor's before it, and the answer is read after its question."""
    from service.recorded import complete_recording, open_recording
    from tests.conftest import load_fixture_call

    _, audio = load_fixture_call("dev-0008-risk")
    messages: list[dict] = []

    async def sink(msg: dict) -> None:
        messages.append(msg)

    async def run():
        session = await open_recording(runtime.pipeline, 8000, 2, "order-4", ["caller", "counselor"], sink=sink,
                                       source="live")
        await complete_recording(session, audio, 8000, chunk_s=len(audio) / 8000 + 1)
        return session

    import asyncio

    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}, stream={"max_frame_s": 120}))
    try:
        session = asyncio.run(run())
    finally:
        runtime.close()
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    assert {m["speaker"] for m in finals} == {"caller", "counselor"}
    starts = [m["start"] for m in finals]
    assert starts == sorted(starts)
    question, answer = question_and_answer(messages)
    assert messages.index(question) < messages.index(answer)
    assert session.analysis.state.level in ("高", "紧急")


def test_a_failing_final_is_counted_and_the_call_goes_on(tmp_path, monkeypatch):
    """A fault in one final's analysis (here: the third caller final's) fails that task alone: the call's other
    finals and its end still go out, and the fault is counted (scribe_pipeline_task_failures_total), not only
    logged: risk that stops mid-call must show on the dashboard."""
    from service.analysis import RiskAnalysis

    analyze = RiskAnalysis.analyze
    seen = []

    def failing_once(self, seg):
        if seg.speaker == "caller":
            seen.append(seg.segment_id)
            if len(seen) == 3:
                raise RuntimeError("injected fault")
        return analyze(self, seg)

    monkeypatch.setattr(RiskAnalysis, "analyze", failing_once)
    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    try:
        session, messages = stream_fixture_call(runtime, "order-5")
        failures = runtime.pipeline.metrics.task_failures._value.get()
    finally:
        runtime.close()
    assert len(seen) > 3 and failures == 1
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    assert sum(m["speaker"] == "caller" for m in finals) == len(seen)
    assert messages[-1]["type"] == "ended"
