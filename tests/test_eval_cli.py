"""Every eval command runs on a tiny fixture, so none can rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MODELS_DIR, TEL, TOKENS

ROOT = Path(__file__).resolve().parents[1]


def run_eval(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, SCRIBE_ASR__MODELS_DIR=str(MODELS_DIR), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "eval", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_calls_transcript_mode(tmp_path):
    out = tmp_path / "calls.json"
    r = run_eval("calls", str(FIXTURES / "eval" / "calls.jsonl"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert set(report["risk"]["call"]) >= {"level_accuracy", "high_recall", "false_alerts_per_nonrisk_call"}
    assert report["worksheet"]["mean"] is not None and "call_type" in report["worksheet"]["fields"]
    assert report["meta"]["data_sha256"] and report["meta"]["engine_versions"]["risk"]
    assert out.with_suffix(".html").read_text().startswith("<!DOCTYPE html>") or "<html" in out.with_suffix(".html").read_text()
    assert "Risk per call" in r.stdout


def test_calls_audio_mode_runs_the_live_session(tmp_path):
    out = tmp_path / "audio.json"
    r = run_eval("calls", str(FIXTURES / "calls" / "calls.jsonl"), "--audio", "--speed", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert 0 <= report["asr"]["cer"] < 0.5 and report["asr"]["ref_chars"] > 100
    assert report["latency"]["final_p95_s"] is not None
    assert report["meta"]["model"] == "base"


def test_utterances_and_compare(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run_eval("utterances", str(FIXTURES / "eval" / "utterances.jsonl"), "--out", str(a)).returncode == 0
    assert run_eval("utterances", str(FIXTURES / "eval" / "utterances.jsonl"), "--out", str(b)).returncode == 0
    assert "any_suicide" in json.loads(a.read_text())["risk"]["segment"]
    r = run_eval("compare", str(a), str(b))
    assert r.returncode == 0 and r.stdout.strip()


def test_invalid_input_names_the_line(tmp_path):
    r = run_eval("calls", str(FIXTURES / "eval" / "bad_calls.jsonl"), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "bad_calls.jsonl:" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_bench_against_a_running_service(server, tmp_path):
    out = tmp_path / "bench.json"
    r = run_eval("bench", str(FIXTURES / "calls" / "calls.jsonl"), "--concurrency", "2", "--speed", "4",
                 "--url", server.ws, "--token", TEL, "--out", str(out))
    assert r.returncode == 0, r.stderr
    bench = json.loads(out.read_text())["bench"]
    assert bench["concurrency"] == 2 and bench["incomplete_calls"] == 0 and bench["finals"] > 0
    assert bench["offline_cpu_s"] > 0 and bench["stream_cpu_s"] is not None and bench["realtime_factor"] > 0
