"""The two channels' finals are sent and analysed in call time, whichever the recognizer finishes first.

A counselor's question ("您打算什么时候呢？") and the caller's answer after it ("明天晚上。") are decoded at about the
same moment when the recognizer is busy, and the question may come back last; the caller's answer must still be
read after it (a yes means something only after the question). The recognizer here is the real one; only the
counselor's short finals are handed back late, as they would be behind other calls' work."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import numpy as np

from service.recorded import complete_recording, open_recording
from service.runtime import Runtime
from tests.conftest import MODELS_DIR, load_fixture_call, make_settings

DELAY_S = 2.0


class LateShortFinals:
    """The real recognizer; finals shorter than ``short_s`` come back ``delay_s`` after they are decoded."""

    def __init__(self, inner, short_s: float, delay_s: float = DELAY_S) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.short = int(short_s * 16000)
        self.delayed = 0

    def submit(self, audio: np.ndarray, kind):
        fut = self.inner.submit(audio, kind)
        if kind != "final" or len(audio) >= self.short:
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


def test_a_later_caller_final_waits_for_the_counselors_earlier_one(tmp_path):
    call, audio = load_fixture_call("dev-0008-risk")
    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    # the counselor's "您打算什么时候呢？" (2.0 s) is the short one before a caller's answer
    slow = LateShortFinals(runtime.pipeline.recognizer, short_s=2.8)
    runtime.pipeline.recognizer = slow
    messages: list[dict] = []

    async def sink(msg: dict) -> None:
        messages.append(msg)

    async def run():
        session = await open_recording(runtime.pipeline, 8000, 2, "order-1", ["caller", "counselor"], sink=sink,
                                       source="live")
        await complete_recording(session, audio, 8000)
        return session

    try:
        session = asyncio.run(run())
    finally:
        runtime.pipeline.recognizer = slow.inner
        runtime.close()
    assert slow.delayed >= 1, "a short final was handed back late"
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    speakers = {m["speaker"] for m in finals}
    assert speakers == {"caller", "counselor"}
    starts = [m["start"] for m in finals]
    assert starts == sorted(starts), "finals go out in call time across the two channels"
    question = next(m for m in finals if m["speaker"] == "counselor" and m["start"] > 18)
    answer = next(m for m in finals if m["speaker"] == "caller" and m["start"] > question["start"])
    assert messages.index(question) < messages.index(answer)
    # and the analysis read them in that order: the caller's plan with its near time makes the call 高
    assert session.analysis.state.level in ("高", "紧急")


def test_a_final_does_not_wait_past_the_bound_for_the_other_channel(tmp_path, monkeypatch):
    """A recognizer far behind on one channel (here: its finals 5 s late, the bound 0.3 s) does not hold the other
    channel's finals: they go out after the bound, out of call-time order, and the call still completes."""
    import service.session

    monkeypatch.setattr(service.session, "EARLIER_FINAL_WAIT_S", 0.3)
    call, audio = load_fixture_call("dev-0008-risk")
    runtime = Runtime.build(make_settings(tmp_path, asr={"models_dir": MODELS_DIR}))
    slow = LateShortFinals(runtime.pipeline.recognizer, short_s=2.8, delay_s=5.0)
    runtime.pipeline.recognizer = slow
    messages: list[dict] = []

    async def sink(msg: dict) -> None:
        messages.append(msg)

    async def run():
        session = await open_recording(runtime.pipeline, 8000, 2, "order-2", ["caller", "counselor"], sink=sink,
                                       source="live")
        await complete_recording(session, audio, 8000)

    try:
        asyncio.run(run())
    finally:
        runtime.pipeline.recognizer = slow.inner
        runtime.close()
    finals = [m for m in messages if m["type"] == "final" and m["text"]]
    question = next(m for m in finals if m["speaker"] == "counselor" and m["start"] > 18)
    answer = next(m for m in finals if m["speaker"] == "caller" and m["start"] > question["start"])
    assert messages.index(answer) < messages.index(question), "the answer did not wait 5 s for the question"
    assert messages[-1]["type"] == "ended"
    assert runtime.pipeline.metrics.finals_unordered._value.get() >= 1, "and it is counted"
