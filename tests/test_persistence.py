"""Persistence: finals survive a killed process; recordings upload through the same pipeline; PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import time
import uuid
from datetime import datetime, timezone

import httpx
import numpy as np
import pytest
import soundfile as sf
import websockets

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.store.db import CallExists, CallStart, Store
from service.store.tables import AlertRow
from service.types import FinalSegment
from tests.conftest import (POSTGRES_URL, SUP, TEL, free_port, load_fixture_call, make_settings, needs_postgres,
                            serve_process, serve_with)
from tests.streaming import encode, stream
from tests.test_live_stream import cer, start_msg, with_silence





async def test_killed_process_loses_no_sent_final(tmp_path, clips):
    port = free_port()
    proc = serve_process(tmp_path, port)
    audio, ref = clips["aishell1_BAC009S0764W0121"]
    x = np.concatenate([with_silence(audio), with_silence(audio)])
    finals = []
    try:
        uri = f"ws://127.0.0.1:{port}/v1/calls/stream?token={TEL}"
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps(start_msg("t-kill")))
            assert json.loads(await ws.recv())["type"] == "started"
            for i in range(0, len(x), 16000):
                await ws.send(encode(x[i : i + 16000, None], "pcm_s16le"))
            while not finals:  # wait for the first final, then kill the process mid-call
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if msg["type"] == "final":
                    finals.append(msg)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = serve_process(tmp_path, port)  # a new process on the same database
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/v1/calls/t-kill", headers={"Authorization": f"Bearer {SUP}"})
        call = r.json()
        assert call["status"] == "interrupted"
        stored = {s["segment_id"]: s["text"] for s in call["segments"]}
        for f in finals:
            assert stored[f["segment_id"]] == f["text"]
    finally:
        proc.terminate()
        proc.wait(30)


async def test_upload_runs_the_live_pipeline(server, clips):
    call, audio = load_fixture_call()
    buf = io.BytesIO()
    sf.write(buf, audio, 8000, format="WAV", subtype="PCM_16")
    async with httpx.AsyncClient(base_url=server.http, timeout=300) as http:
        files = {"file": ("call.wav", buf.getvalue(), "audio/wav")}
        data = {"channel_roles": "caller,counselor", "call_id": "t-upload", "counselor_id": "c-001"}
        r = await http.post("/v1/calls?wait=true", files=files, data=data, headers={"Authorization": f"Bearer {TEL}"})
        assert r.status_code == 202 and r.json()["status"] == "ended"
        got = (await http.get("/v1/calls/t-upload", headers={"Authorization": f"Bearer {SUP}"})).json()
        assert got["status"] == "ended" and got["source"] == "upload" and got["counselor_id"] == "c-001"
        assert got["asr"]["model"] == "base"
        ref_caller = "".join(s["text"] for s in call["segments"] if s["speaker"] == "caller")
        hyp_caller = "".join(s["text"] for s in got["segments"] if s["speaker"] == "caller")
        assert cer(ref_caller, hyp_caller) < 0.4
        again = await http.post("/v1/calls", files=files, data=data, headers={"Authorization": f"Bearer {TEL}"})
        assert again.status_code == 409
        # background processing (no wait) finishes on its own
        r = await http.post("/v1/calls", files={"file": ("m.wav", buf.getvalue(), "audio/wav")},
                            data={"call_id": "t-upload-bg"}, headers={"Authorization": f"Bearer {TEL}"})
        assert r.status_code == 202 and r.json()["status"] == "processing"
        for _ in range(600):
            got = (await http.get("/v1/calls/t-upload-bg", headers={"Authorization": f"Bearer {SUP}"})).json()
            if got["status"] == "ended":
                break
            await asyncio.sleep(0.1)
        assert got["status"] == "ended" and got["segments"]


@pytest.mark.parametrize("payload,code", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt not really audio" * 20, 400),
    (b"", 400),
])
async def test_corrupt_uploads_are_refused_and_store_nothing(server, payload, code):
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post("/v1/calls", files={"file": ("x.wav", payload, "audio/wav")},
                            data={"call_id": "t-corrupt"}, headers={"Authorization": f"Bearer {TEL}"})
        assert r.status_code == code and r.json()["detail"]
        assert (await http.get("/v1/calls/t-corrupt", headers={"Authorization": f"Bearer {SUP}"})).status_code == 404
        r = await http.post("/v1/calls", files={"file": ("x.wav", b"abc", "audio/wav")},
                            headers={"Authorization": f"Bearer {SUP}"})
        assert r.status_code == 403


def test_store_round_trip_sqlite(tmp_path):
    _round_trip(Store(f"sqlite:///{tmp_path / 'x.db'}"))


@needs_postgres
def test_store_round_trip_postgres():
    _round_trip(Store(POSTGRES_URL))


def _round_trip(store: Store) -> None:
    cid = f"rt-{time.time_ns()}"
    store.create_call(CallStart(cid, "c-1", "live", 8000, "mulaw", 2, ["caller", "counselor"], {"model": "base"}))
    store.add_segment(FinalSegment(cid, 1, "counselor", 2.0, 3.0, "您好"), -0.2, 0.01)
    store.add_segment(FinalSegment(cid, 0, "caller", 0.5, 1.5, "喂"), -0.3, 0.02)
    segs = store.segments(cid)
    assert [(s.segment_id, s.speaker, s.text) for s in segs] == [(0, "caller", "喂"), (1, "counselor", "您好")]
    store.finish_call(cid, "ended", 3.2)
    call = store.get_call(cid)
    assert call.status == "ended" and call.audio_seconds == 3.2 and call.channel_roles == ["caller", "counselor"]
    store.close()


def _reopen(store: Store) -> None:
    """An upload cut short is reopened to be transcribed again: its segments go, its alerts stay (their levels are
    returned, not to be raised twice), it is processing again; nothing else is reopened."""
    cid = f"ro-{time.time_ns()}"
    store.create_call(CallStart(cid, "c-1", "upload", 16000, "pcm_s16le", 2, ["caller", "counselor"], {}))
    store.add_segment(FinalSegment(cid, 0, "caller", 0.5, 1.5, "喂"))
    store.add_alert(AlertRow(alert_id=str(uuid.uuid4()), call_id=cid, counselor_id="c-1", risk_level="高",
                             labels=["suicide_plan"], evidence=[], engine_version="test",
                             raised_at=datetime.now(timezone.utc), state="open"), [])
    with pytest.raises(CallExists):
        store.reopen_upload(cid)  # still being transcribed: not cut short
    store.finish_call(cid, "interrupted", 1.5)
    store.set_risk_level(cid, "高")
    assert store.reopen_upload(cid) == ["高"]
    call = store.get_call(cid)
    assert (call.status, call.ended_at, call.risk_level) == ("processing", None, "高")
    assert store.segments(cid) == [] and len(store.list_alerts(call_id=cid)) == 1
    with pytest.raises(CallExists):
        store.reopen_upload(cid)  # another process reopened it first
    live = f"rl-{time.time_ns()}"
    store.create_call(CallStart(live, None, "live", 8000, "mulaw", 2, ["caller", "counselor"], {}))
    store.finish_call(live, "interrupted", 1.0)
    with pytest.raises(CallExists):
        store.reopen_upload(live)  # a live call is never heard again
    store.close()


def test_an_interrupted_upload_is_reopened_sqlite(tmp_path):
    _reopen(Store(f"sqlite:///{tmp_path}/s.db"))


@needs_postgres
def test_an_interrupted_upload_is_reopened_postgres():
    _reopen(Store(POSTGRES_URL))


def test_a_resumed_call_does_not_alert_twice():
    """The levels the first try alerted are counted: the same sentences heard again raise only what is new."""
    ra = RiskAnalysis(RiskEngine.load(), "re-1", None)
    ra.resumed(["高"])
    ra.analyze(FinalSegment("re-1", 0, "caller", 0.0, 2.0, "我想死，我打算今晚从楼顶跳下去。"))
    assert ra.state.level == "高" and ra.alerts == []
    ra.analyze(FinalSegment("re-1", 1, "caller", 3.0, 5.0, "我现在就站在楼顶上。"))
    assert [a.risk_level for a in ra.alerts] == ["紧急"]


@needs_postgres
async def test_live_call_on_postgres(runtime, clips, tmp_path):
    settings = make_settings(tmp_path, database_url=POSTGRES_URL)
    with serve_with(runtime, settings) as srv:
        audio, ref = clips["aishell1_BAC009S0764W0121"]
        cid = f"t-pg-{time.time_ns()}"
        res = await stream(srv.ws, TEL, start_msg(cid), with_silence(audio)[:, None])
        assert res.messages[-1]["type"] == "ended"
        async with httpx.AsyncClient(base_url=srv.http) as http:
            call = (await http.get(f"/v1/calls/{cid}", headers={"Authorization": f"Bearer {SUP}"})).json()
        assert call["status"] == "ended" and cer(ref, "".join(s["text"] for s in call["segments"])) < 0.35
