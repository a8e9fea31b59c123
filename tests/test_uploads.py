"""Uploads (POST /v1/calls): decoded block by block from the file (the same samples, windows and text as the whole
file in memory), checked when they arrive (every problem with the file a clear 4xx, nothing kept), at most
stream.max_concurrent_uploads transcribed at once, the rest queued on disk (503 + Retry-After past the bound) and
transcribed after a restart; live calls are served meanwhile."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import json
import signal
import struct
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

import service.uploads as uploads
from service.asr.engine import Transcript
from service.audio.files import AudioFileError, AudioTooLong, FileAudio, probe_audio, read_audio
from service.recorded import complete_recording, open_recording
from tests.conftest import FIXTURES, SUP, TEL, free_port, make_settings, serve_process, serve_with
from tests.streaming import stream
from tests.test_live_stream import start_msg, with_silence

CALL = FIXTURES / "calls" / "dev-0008-head.flac"  # 38.8 s, 8 kHz stereo


def wav_bytes(x: np.ndarray, sr: int = 8000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def call_audio() -> np.ndarray:
    return sf.read(CALL, dtype="int16")[0]


@pytest.fixture(scope="module")
def call_wav(call_audio) -> bytes:
    return wav_bytes(call_audio)


# ------------------------------------------------------------------------------------------------ the file, blocks


@pytest.mark.parametrize("frames", [16000 * 600, 16000 * 7, 620640, 310320, 12345])
def test_file_blocks_are_the_samples_read_audio_gives(frames):
    whole = read_audio(CALL)
    assert len(whole) == 620640
    parts = list(FileAudio(CALL, probe_audio(CALL)).blocks(frames))
    assert [last for _, last in parts] == [False] * (len(parts) - 1) + [True]
    assert all(len(b) == frames for b, _ in parts[:-1]) and 0 < len(parts[-1][0]) <= frames
    assert all(b.dtype == np.int16 for b, _ in parts)
    assert np.array_equal(np.concatenate([b for b, _ in parts]).astype(np.float32) / 32768.0, whole)


class _Recognizer:
    """Records every window's audio; hears nothing."""

    def __init__(self) -> None:
        self.windows: list[str] = []

    def submit(self, audio: np.ndarray, kind: str) -> concurrent.futures.Future:
        self.windows.append(hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest() + f":{audio.dtype}")
        fut: concurrent.futures.Future = concurrent.futures.Future()
        fut.set_result(Transcript("", "", 0.0, 0.0, 1.0))
        return fut


class _Session:
    source = "upload"
    call_id = "t-blocks"

    def __init__(self, settings) -> None:
        from types import SimpleNamespace
        self.p = SimpleNamespace(settings=settings, recognizer=_Recognizer())
        self.channels = [SimpleNamespace(index=0, role="caller"), SimpleNamespace(index=1, role="counselor")]
        self.samples: list[int] = []

    async def add_recorded_finals(self, finals, samples: int) -> None:
        self.samples.append(samples)

    async def finish(self) -> None:
        pass

    async def fail(self, reason: str) -> None:
        raise AssertionError(reason)


def test_a_file_is_windowed_as_the_whole_array_is(tmp_path, monkeypatch):
    """Several blocks (BLOCK_S made 10 s): the same blocks and the same window audio, to the bit."""
    import service.recorded as rec

    monkeypatch.setattr(rec, "BLOCK_S", 10.0)
    settings = make_settings(tmp_path)
    runs = []
    for audio in (read_audio(CALL), FileAudio(CALL, probe_audio(CALL))):
        s = _Session(settings)
        asyncio.run(complete_recording(s, audio, 16000))
        runs.append((s.samples, sorted(s.p.recognizer.windows)))
    assert runs[0][0] == [160000, 160000, 160000, 140640]
    assert runs[0] == runs[1] and runs[0][1]


def test_an_upload_from_its_file_has_the_text_of_the_whole_array(runtime):
    """The real model: the fixture call through the windows decoder from the file, block by block, and from the
    whole array in memory (the way uploads were read before): the same finals, times and text."""
    async def finals(call_id: str, audio) -> list[tuple]:
        msgs: list[dict] = []

        async def sink(m: dict) -> None:
            msgs.append(m)

        s = await open_recording(runtime.pipeline, 16000, 2, call_id, ["caller", "counselor"], sink=sink)
        await complete_recording(s, audio, 16000)
        return [(m["speaker"], m["start"], m["end"], m["text"]) for m in msgs if m["type"] == "final"]

    a = asyncio.run(finals("t-up-array", read_audio(CALL)))
    b = asyncio.run(finals("t-up-file", FileAudio(CALL, probe_audio(CALL))))
    assert a and a == b


# ---------------------------------------------------------------------------------------- the file, checked


def _damaged(call_wav: bytes) -> dict[str, tuple[bytes, str]]:
    """name → (file, what the refusal must say)."""
    flac = CALL.read_bytes()
    mono = call_wav[:40]  # a WAV header (fmt: 8 kHz stereo 16 bit)
    return {
        "truncated wav": (call_wav[: len(call_wav) // 2], "truncated"),
        "truncated wav, odd byte": (call_wav[: len(call_wav) // 2 + 1], "truncated"),
        "wav header only": (call_wav[:44], "truncated"),
        "wav header shorter than its data": (call_wav[:40] + struct.pack("<I", 16000) + call_wav[44:], "header"),
        "wav with no samples": (mono + struct.pack("<I", 0), "no audio"),
        "wav cut inside its header": (call_wav[:30], "not a decodable"),
        "truncated flac": (flac[: len(flac) // 2], "truncated"),
        "flac cut in its header": (flac[:100], "not a decodable"),
        "six channels": (call_wav[:22] + struct.pack("<H", 6) + call_wav[24:], "channels"),
        "text": ("这不是录音 not a recording\n".encode() * 50, "not a decodable"),
        "json": (b'{"call_id": "x", "segments": []}', "not a decodable"),
        "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "no audio stream"),
        "zeros": (bytes(50000), "not a decodable"),
    }


def test_probe_refuses_damaged_files_and_says_why(tmp_path, call_wav):
    for name, (data, why) in _damaged(call_wav).items():
        p = tmp_path / "x.upload"
        p.write_bytes(data)
        with pytest.raises(AudioFileError, match=why):
            probe_audio(p)
    p = tmp_path / "ok.upload"
    p.write_bytes(call_wav)
    info = probe_audio(p)
    assert (info.sample_rate, info.channels, info.frames) == (8000, 2, 310320)
    with pytest.raises(AudioTooLong):
        probe_audio(p, max_s=30)


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF, 0x7FFFFFFF])
def test_a_streaming_writers_wav_is_read_to_its_end(tmp_path, call_wav, size):
    """Recorders that cannot seek back leave the data size 0 or "as large as can be": the whole file is the call."""
    p = tmp_path / "stream.wav"
    p.write_bytes(call_wav[:4] + struct.pack("<I", size) + call_wav[8:40] + struct.pack("<I", size) + call_wav[44:])
    assert probe_audio(p).frames == 310320
    assert sum(len(b) for b, _ in FileAudio(p, probe_audio(p)).blocks(16000 * 600)) == 620640


def test_a_wav_with_chunks_after_its_data_is_whole(tmp_path, call_wav):
    p = tmp_path / "list.wav"
    p.write_bytes(call_wav + b"LIST" + struct.pack("<I", 9) + b"INFOabcde" + b"\x00")
    assert probe_audio(p).frames == 310320


# ------------------------------------------------------------------------------------------------ the service


def _gate(monkeypatch) -> threading.Event:
    """Uploads wait for the returned event before they are transcribed (they stay "processing" until then)."""
    gate = threading.Event()
    real = uploads.complete_recording

    async def gated(session, audio, sample_rate, **kw):
        await asyncio.to_thread(gate.wait)
        return await real(session, audio, sample_rate, **kw)

    monkeypatch.setattr(uploads, "complete_recording", gated)
    return gate


def _spool(data_dir: Path) -> list[str]:
    d = data_dir / "uploads"
    return sorted(p.suffix for p in d.iterdir() if p.is_file()) if d.exists() else []


async def _wait_for(http: httpx.AsyncClient, call_id: str, status: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = (await http.get(f"/v1/calls/{call_id}")).json()
        if got.get("status") == status or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)


async def _announce(port: int, token: str | None, length: int) -> tuple[str, dict[str, str]]:
    """POST /v1/calls with ``Expect: 100-continue`` and a Content-Length of ``length``, sending no body: the status
    line the service answers with ("HTTP/1.1 100 Continue" when it wants the body) and its headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        writer.write((f"POST /v1/calls HTTP/1.1\r\nHost: scribe\r\n{auth}Content-Type: multipart/form-data; "
                      f"boundary=b\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n").encode())
        await writer.drain()
        line = (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
        headers = {}
        while (h := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
            k, v = h.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return line, headers
    finally:
        writer.close()


async def test_an_announced_upload_is_refused_before_its_body(runtime, tmp_path):
    """Refusals that do not depend on the body come before it (no 1 GiB sent for nothing); an upload that may go on
    is told to send it."""
    with serve_with(runtime, make_settings(tmp_path)) as srv:
        line, hdr = await _announce(srv.port, None, 1000)
        assert line == "HTTP/1.1 401 Unauthorized" and hdr["www-authenticate"] == "Bearer"
        assert (await _announce(srv.port, "not-a-token-0001", 1000))[0] == "HTTP/1.1 401 Unauthorized"
        assert (await _announce(srv.port, SUP, 1000))[0] == "HTTP/1.1 403 Forbidden"
        line, hdr = await _announce(srv.port, TEL, (1 << 30) + (2 << 20))
        assert line.startswith("HTTP/1.1 413 ") and hdr["connection"] == "close"
        assert (await _announce(srv.port, TEL, 1 << 30))[0] == "HTTP/1.1 100 Continue"  # within the limit: go on
        assert not list((tmp_path / "uploads").glob("*.audio")), "nothing was kept"


def _post(up: httpx.AsyncClient, call_id: str, data: bytes, name: str = "x.wav", ctype: str = "audio/wav", **form):
    """POST /v1/calls as the telephony side: the file and the form's fields."""
    return up.post("/v1/calls", files={"file": (name, data, ctype)}, data={"call_id": call_id, **form},
                   headers={"Authorization": f"Bearer {TEL}"})


async def test_uploads_queue_beyond_the_limit_and_live_calls_go_on(runtime, clips, tmp_path, monkeypatch, call_wav):
    settings = make_settings(tmp_path, stream={"max_concurrent_uploads": 1, "max_queued_uploads": 1,
                                               "max_call_duration_s": 120})
    gate = _gate(monkeypatch)
    try:
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=300) as up, \
                    httpx.AsyncClient(base_url=srv.http, timeout=60, headers={"Authorization": f"Bearer {SUP}"}) as http:
                def post(call_id: str, name: str = "call.wav", ctype: str = "audio/wav"):
                    return _post(up, call_id, call_wav, name, ctype, channel_roles="caller,counselor")

                a = await post("t-q-a")
                assert a.status_code == 202 and a.json()["status"] == "processing"
                b = await post("t-q-b")
                assert b.status_code == 202 and b.json() == {"call_id": "t-q-b", "status": "queued",
                                                             "url": "/v1/calls/t-q-b", "queue_position": 1}
                got = (await http.get("/v1/calls/t-q-b")).json()
                assert got["status"] == "queued" and got["queue_position"] == 1 and got["source"] == "upload"
                assert got["channel_roles"] == ["caller", "counselor"] and got["segments"] == []
                listed = (await http.get("/v1/calls")).json()  # the list shows the waiting upload beside the calls
                assert [w["call_id"] for w in listed["queued"]] == ["t-q-b"]
                assert listed["queued"][0]["queue_position"] == 1 and "segments" not in listed["queued"][0]
                assert "t-q-a" in {c["call_id"] for c in listed["calls"]} and "t-q-b" not in {
                    c["call_id"] for c in listed["calls"]}
                assert (await post("t-q-b")).status_code == 409, "already queued"
                c = await post("t-q-c")
                assert c.status_code == 503 and c.headers["Retry-After"] == "60" and "later" in c.json()["detail"]
                assert (await http.get("/v1/calls/t-q-c")).status_code == 404
                # a client that announces its body (curl does for large files) is refused before sending any of it
                line, hdr = await _announce(srv.port, TEL, 500_000_000)
                assert line == "HTTP/1.1 503 Service Unavailable" and hdr["retry-after"] == "60"
                assert hdr["connection"] == "close" and hdr["x-content-type-options"] == "nosniff"
                assert _spool(tmp_path) == [".audio", ".audio", ".json", ".json", ".tries"], "A (started) and B only, nothing of C"

                # a live call is served while uploads run and wait
                audio, _ = clips["aishell1_BAC009S0764W0121"]
                live = await stream(srv.ws, TEL, start_msg("t-q-live"), with_silence(audio)[:, None])
                assert live.messages[-1]["type"] == "ended" and live.of("final")

                gate.set()
                for cid in ("t-q-a", "t-q-b"):
                    got = await _wait_for(http, cid, "ended")
                    assert got["status"] == "ended" and got["segments"], cid
                assert _spool(tmp_path) == [], "an upload's files go once it is transcribed"
                assert (await http.get("/v1/calls")).json()["queued"] == []
                c = await post("t-q-c", name="c.bin", ctype="text/plain")  # the content decides, not the type
                assert c.status_code == 202
                assert (await _wait_for(http, "t-q-c", "ended"))["segments"]
    finally:
        gate.set()


async def test_bad_uploads_get_a_clear_4xx_and_keep_nothing(runtime, tmp_path, monkeypatch, call_wav, call_audio):
    settings = make_settings(tmp_path, stream={"max_concurrent_uploads": 1, "max_call_duration_s": 30})
    gate = _gate(monkeypatch)
    tel = {"Authorization": f"Bearer {TEL}"}
    try:
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=120) as up, \
                    httpx.AsyncClient(base_url=srv.http, timeout=60, headers={"Authorization": f"Bearer {SUP}"}) as http:
                def post(call_id: str, data: bytes, ctype: str = "audio/wav", **form):
                    return _post(up, call_id, data, ctype=ctype, **form)

                short = wav_bytes(call_audio[: 8000 * 20])  # 20 s: under the 30 s limit
                ok = await post("t-bad-ok", short)  # being transcribed (held) while the bad ones come
                assert ok.status_code == 202 and ok.json()["status"] == "processing"
                cases = [(name, data, 400, why) for name, (data, why) in _damaged(call_wav).items()] + [
                    ("empty", b"", 400, "empty"),
                    ("too long", call_wav, 413, "longer than 30 s"),
                ]
                for i, (name, data, code, why) in enumerate(cases):
                    r = await post(f"t-bad-{i}", data, "text/plain" if name == "text" else "audio/wav")
                    assert r.status_code == code and why in r.json()["detail"], (name, r.status_code, r.text)
                    assert (await http.get(f"/v1/calls/t-bad-{i}")).status_code == 404, name
                r = await post("t-bad-roles", short, channel_roles="caller")
                assert r.status_code == 422 and "2 roles" in r.json()["detail"]
                r = await post("t-bad-ctr", short, counselor_id="x" * 500)
                assert r.status_code == 422
                r = await post("..", short)  # a path segment a browser resolves away: never a call id
                assert r.status_code == 422 and "dots alone" in r.json()["detail"]
                r = await up.post("/v1/calls", content=short, headers={**tel, "Content-Type": "audio/wav"})
                assert r.status_code == 422, "a bare body, not a form with a file"
                r = await up.post("/v1/calls", json={"call_id": "x"}, headers=tel)
                assert r.status_code == 422
                assert _spool(tmp_path) == [".audio", ".json", ".tries"], "only the good upload (started) is kept"
                gate.set()
                got = await _wait_for(http, "t-bad-ok", "ended")
                assert got["status"] == "ended" and got["segments"], "the good one is not disturbed"
                assert _spool(tmp_path) == []
    finally:
        gate.set()


async def test_uploads_cut_short_or_queued_are_transcribed_after_a_restart(runtime, tmp_path, monkeypatch, call_wav):
    """The service stops with one upload being transcribed and one waiting: the next process on the same data
    directory transcribes both, the one cut short again from its start (its call reopened, not recorded twice: the
    same transcript as the other upload of the same file, no segment of the first try left)."""
    settings = make_settings(tmp_path, stream={"max_concurrent_uploads": 1})
    gate = _gate(monkeypatch)
    try:
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=60) as up:
                for cid, state in (("t-r-a", "processing"), ("t-r-b", "queued")):
                    r = await _post(up, cid, call_wav, "call.wav")
                    assert r.status_code == 202 and r.json()["status"] == state
        srv.config.app.state.runtime.close()  # as the process would at its end: A's call is interrupted
        # stopped: A was cut short on its first try, B never started; a stop of the service is not counted
        assert _spool(tmp_path) == [".audio", ".audio", ".json", ".json", ".tries"]
        assert [p.read_text() for p in (tmp_path / "uploads").glob("*.tries")] == ["0"]
        gate.set()
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=60,
                                         headers={"Authorization": f"Bearer {SUP}"}) as http:
                a = await _wait_for(http, "t-r-a", "ended")
                b = await _wait_for(http, "t-r-b", "ended")
                assert a["status"] == b["status"] == "ended" and a["segments"]
                assert [(s["speaker"], s["text"]) for s in a["segments"]] == \
                    [(s["speaker"], s["text"]) for s in b["segments"]]
                assert len({s["segment_id"] for s in a["segments"]}) == len(a["segments"])
                listed = (await http.get("/v1/calls")).json()
                assert [c["call_id"] for c in listed["calls"]].count("t-r-a") == 1 and listed["queued"] == []
        assert _spool(tmp_path) == []
        assert not list((tmp_path / "uploads" / "unprocessed").glob("*")) if (tmp_path / "uploads" / "unprocessed").exists() else True
    finally:
        gate.set()


async def test_an_upload_cut_short_every_time_is_set_aside(tmp_path, call_audio):
    """A recording whose transcription dies with the process MAX_TRIES times (a file that brings the process down
    would bring down every restart) is set aside for an operator, its call left interrupted. kill -9 each time: the
    next process finds the call still "processing" (its owner's heartbeat may look alive: a container restarted
    with new process ids) and, holding the file's lock, knows nobody is transcribing it."""
    long_call = wav_bytes(np.tile(call_audio, (8, 1)))  # 5 minutes: still being transcribed when the process dies
    port = free_port()
    tries = tmp_path / "uploads"
    for attempt in range(uploads.MAX_TRIES):
        proc = serve_process(tmp_path, port)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                         headers={"Authorization": f"Bearer {SUP}"}) as http:
                if attempt == 0:
                    assert (await _post(http, "t-x", long_call, "long.wav")).json()["status"] == "processing"
                deadline = time.monotonic() + 120
                while [p.read_text() for p in tries.glob("*.tries")] != [str(attempt + 1)]:
                    assert time.monotonic() < deadline, "the try was not counted"
                    await asyncio.sleep(0.2)
                got = await _wait_for(http, "t-x", "processing")
                assert got["status"] == "processing"
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    proc = serve_process(tmp_path, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                     headers={"Authorization": f"Bearer {SUP}"}) as http:
            assert (await http.get("/v1/calls/t-x")).json()["status"] == "interrupted"
    finally:
        proc.terminate()
        proc.wait(30)
    assert _spool(tmp_path) == []
    kept = sorted(p.suffix for p in (tmp_path / "uploads" / "unprocessed").iterdir())
    assert kept == [".audio", ".json", ".tries"], "the recording is kept for an operator"


async def test_an_upload_waiting_to_be_transcribed_again_is_queued(runtime, tmp_path, monkeypatch, call_wav):
    """While the upload cut short waits behind another, its call reads ``queued`` with its position, not
    ``interrupted``, and the list shows it once."""
    settings = make_settings(tmp_path, stream={"max_concurrent_uploads": 1})
    gate = _gate(monkeypatch)
    try:
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=60) as up:
                assert (await _post(up, "t-q-a", call_wav, "call.wav")).json()["status"] == "processing"
        srv.config.app.state.runtime.close()
        uploads_dir = tmp_path / "uploads"
        # an upload accepted earlier than A, waiting: it goes first after the restart and holds the one slot
        meta = json.loads(next(uploads_dir.glob("*.json")).read_text())
        early = dict(meta, id="0" * 32, call_id="t-q-0", accepted_at="2000-01-01T00:00:00+00:00")
        (uploads_dir / f"{early['id']}.audio").write_bytes(next(uploads_dir.glob("*.audio")).read_bytes())
        (uploads_dir / f"{early['id']}.json").write_text(json.dumps(early))
        with serve_with(runtime, settings) as srv:
            async with httpx.AsyncClient(base_url=srv.http, timeout=60,
                                         headers={"Authorization": f"Bearer {SUP}"}) as http:
                got = (await http.get("/v1/calls/t-q-a")).json()
                assert (got["status"], got["queue_position"]) == ("queued", 1)
                listed = (await http.get("/v1/calls")).json()
                assert [c["status"] for c in listed["calls"] if c["call_id"] == "t-q-a"] == ["queued"]
                assert listed["queued"] == []  # recorded already: listed with the calls, once
                gate.set()
                assert (await _wait_for(http, "t-q-a", "ended"))["status"] == "ended"
    finally:
        gate.set()


async def test_a_queued_upload_survives_a_killed_process(tmp_path, call_audio):
    """kill -9 while one upload is transcribed and one waits; the next process transcribes both, the one cut short
    again from its start (it was accepted first, so it goes first)."""
    long_call = wav_bytes(np.tile(call_audio, (8, 1)))  # 5 minutes: still being transcribed when the process dies
    port = free_port()
    env = {"SCRIBE_STREAM__MAX_CONCURRENT_UPLOADS": "1"}
    proc = serve_process(tmp_path, port, **env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as up:
            r = await _post(up, "t-k-a", long_call, "long.wav")
            assert r.json()["status"] == "processing"
            r = await _post(up, "t-k-b", wav_bytes(call_audio), "short.wav")
            assert r.status_code == 202 and r.json()["status"] == "queued"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = serve_process(tmp_path, port, **env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                     headers={"Authorization": f"Bearer {SUP}"}) as http:
            got = await _wait_for(http, "t-k-b", "ended", timeout=600)
            assert got["status"] == "ended" and got["segments"]
            again = (await http.get("/v1/calls/t-k-a")).json()
            assert again["status"] == "ended" and again["segments"]
            assert again["segments"][-1]["end"] > 4 * sf.info(CALL).duration  # all of it, not the first try's part
    finally:
        proc.terminate()
        proc.wait(30)


async def test_no_upload_starts_while_live_calls_are_at_their_limit(tmp_path, monkeypatch):
    """Live calls come first: an upload waits while the live calls are at max_concurrent_calls (it never takes
    one of their places), and starts within about a second once one ends."""
    from types import SimpleNamespace

    from service.audio.files import AudioInfo

    settings = make_settings(tmp_path, stream={"max_concurrent_calls": 2, "max_concurrent_uploads": 2,
                                               "max_queued_uploads": 1})
    started: list[str] = []

    async def transcribe(self, job):
        started.append(job.call_id)
        return "ended"

    monkeypatch.setattr(uploads.UploadQueue, "_transcribe", transcribe)
    rt = SimpleNamespace(settings=settings, live={"live-1": object(), "live-2": object()},
                         pipeline=SimpleNamespace(store=SimpleNamespace(get_call=lambda call_id: None)))
    q = uploads.UploadQueue(rt)
    await q.start()
    try:
        def job(call_id: str) -> uploads.UploadJob:
            return uploads.UploadJob(call_id, call_id, ["mixed"], None, AudioInfo("wav", "pcm_s16le", 8000, 1, 8000),
                                       "2026-01-01T00:00:00", q.dir)

        assert q.submit(job("u-1")) == "queued" and q.position("u-1") == 1
        with pytest.raises(uploads.QueueFull):
            q.submit(job("u-2"))
        await asyncio.sleep(1.5)
        assert started == [], "live calls at their limit: the upload waits"
        del rt.live["live-2"]
        assert await asyncio.wait_for(q.job("u-1").done, 5) == "ended" and started == ["u-1"]
        assert q.submit(job("u-2")) == "processing"
    finally:
        await q.stop()
