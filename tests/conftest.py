"""Shared fixtures: the real model loaded once, a real service on a loopback port, real audio clips."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from service.app import create_app
from service.audio.files import read_audio
from service.runtime import Runtime
from service.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
SPEECH = FIXTURES / "speech"
TOKENS = "tel-token-0001:telephony,coun-token-0001:counselor,sup-token-0001:supervisor,adm-token-0001:admin"
TEL, COUN, SUP, ADM = "tel-token-0001", "coun-token-0001", "sup-token-0001", "adm-token-0001"
MODELS_DIR = Path(os.environ.get("SCRIBE_TEST_MODELS_DIR", Path(__file__).resolve().parents[1] / "var" / "models"))


POSTGRES_URL = os.environ.get("SCRIBE_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("CI"), reason="set SCRIBE_TEST_POSTGRES_URL (CI always does)")


def serve_process(data_dir: Path, port: int, **env: str) -> subprocess.Popen:
    """``scribe serve`` in a process of its own (kill -9, several processes on one database), ready to use;
    ``env`` adds SCRIBE_* variables."""
    env = dict(os.environ, SCRIBE_TOKENS=TOKENS, SCRIBE_DATA_DIR=str(data_dir),
               SCRIBE_ASR__MODELS_DIR=str(MODELS_DIR), SCRIBE_LOG_LEVEL="WARNING", **env)
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("service did not become ready")


def make_settings(tmp: Path, **overrides) -> Settings:
    env = {"tokens": TOKENS, "data_dir": tmp, "asr": {"models_dir": MODELS_DIR}}
    env.update(overrides)
    return Settings(**env)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory) -> Runtime:
    rt = Runtime.build(make_settings(tmp_path_factory.mktemp("data")))
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def clips() -> dict[str, tuple[np.ndarray, str]]:
    """name → (16 kHz mono float32, reference text)."""
    out = {}
    with open(SPEECH / "transcripts.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out[row["file"].removesuffix(".wav")] = (read_audio(SPEECH / row["file"])[:, 0], row["text"])
    return out


class Server:
    def __init__(self, app, port: int) -> None:
        self.port = port
        self.config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=1 << 24)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(runtime) -> Server:
    with Server(create_app(runtime.settings, runtime=runtime), free_port()) as srv:
        yield srv


def serve_with(runtime: Runtime, settings: Settings) -> Server:
    """A second service sharing the loaded models but with its own settings and database."""
    rt = Runtime.build(settings, share=runtime)
    return Server(create_app(settings, runtime=rt), free_port())


def load_fixture_call(call_id: str = "dev-0008-head") -> tuple[dict, np.ndarray]:
    """An annotated synthetic call and its 8 kHz stereo audio: ``dev-0008-head`` (the first 39 s, no risk) or
    ``dev-0008-risk`` (33 s from the middle, where the caller discloses a plan: a 高 call)."""
    lines = (FIXTURES / "calls" / "calls.jsonl").read_text(encoding="utf-8").splitlines()
    call = next(c for c in map(json.loads, lines) if c["call_id"] == call_id)
    return call, read_audio(FIXTURES / "calls" / call["audio"], 8000)


def stream_fixture_call(runtime: Runtime, call_id: str, fixture: str = "dev-0008-risk", mono: bool = False):
    """Run a fixture call (8 kHz stereo, caller then counselor; ``mono``: its caller channel alone, as one "mixed"
    channel) through ``runtime`` as a live call, as fast as the recognizer allows; (the session, every message)."""
    from service.recorded import complete_recording, open_recording

    _, audio = load_fixture_call(fixture)
    roles = ["mixed"] if mono else ["caller", "counselor"]
    audio = audio[:, :1] if mono else audio
    messages: list[dict] = []

    async def sink(msg: dict) -> None:
        messages.append(msg)

    async def run():
        session = await open_recording(runtime.pipeline, 8000, len(roles), call_id, roles, sink=sink, source="live")
        await complete_recording(session, audio, 8000)
        return session

    return asyncio.run(run()), messages
