"""Every eval command runs on a tiny fixture, so none can rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MODELS_DIR, SUP, TEL, TOKENS, make_settings, serve_with

ROOT = Path(__file__).resolve().parents[1]


def run_eval(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, SCRIBE_ASR__MODELS_DIR=str(MODELS_DIR), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "eval", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_calls_transcript_mode(tmp_path):
    out = tmp_path / "calls.json"
    r = run_eval("calls", str(FIXTURES / "eval" / "calls.jsonl"), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert set(report["risk"]["call"]) >= {"level_accuracy", "high_recall", "false_alerts_per_nonrisk_call"}
    assert report["worksheet"]["mean"] is not None and "call_type" in report["worksheet"]["fields"]
    assert report["meta"]["data_sha256"] and report["meta"]["engine_versions"]["risk"]
    assert out.with_suffix(".html").read_text().startswith("<!DOCTYPE html>") or "<html" in out.with_suffix(".html").read_text()
    assert "Risk per call" in r.stdout
    assert "latency" not in report and report["meta"]["settings"]["audio"] is False
    # what risk analysis and drafting cost here, per segment by speaker and per call (a benchmark, not a test)
    calls = [json.loads(line) for line in (FIXTURES / "eval" / "calls.jsonl").read_text().splitlines() if line.strip()]
    speakers = [s["speaker"] for c in calls for s in c["segments"]]
    cost = report["cost"]
    assert cost["unit"] == "ms" and cost["worksheet_draft"]["n"] == len(calls)
    for who in ("caller", "counselor"):
        step = cost[f"risk_{who}_segment"]
        assert step["n"] == speakers.count(who) > 0
        assert 0 < step["p50"] <= step["p95"] <= step["max"]
    assert "Cost per step" in r.stdout


def test_calls_audio_mode_runs_the_live_session(tmp_path):
    # Two calls streamed at once at 4x real time. The alert threshold is 中 so that the alert path is measured
    # whatever the base model mishears on this 8 kHz clip (as in test_alerts).
    out = tmp_path / "audio.json"
    r = run_eval("calls", str(FIXTURES / "calls" / "calls.jsonl"), "--audio", "--speed", "4", "--concurrency", "2",
                 "--out", str(out), env_extra={"SCRIBE_RISK__ALERT_THRESHOLD": "中"})
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert 0 <= report["asr"]["cer"] < 0.5 and report["asr"]["ref_chars"] > 100
    assert report["latency"]["final_p95_s"] is not None
    meta = report["meta"]
    assert meta["model"] == "base" and meta["audio_sha256"] and "alert_latency_note" not in meta
    assert meta["settings"]["concurrency"] == 2 and meta["settings"]["speed"] == 4
    assert meta["settings"]["alert_threshold"] == "中" and meta["command"].startswith("python -m eval calls")
    lat = report["latency"]
    rows = lat["alert_rows"]
    assert lat["alerts"] == len(rows) == sum(r["alerts"] for r in report["risk"]["call"]["rows"])
    assert lat["alerts_unjustified"] == sum(not row["justified"] for row in rows)
    risky = [row for row in rows if row["call_id"] == "dev-0008-risk"]
    assert risky and risky[0]["level"] == "中", "the caller discloses a decision and a plan"
    # hand-checked: the reference first justifies 中 at the end of segment 13 (5.66 s of audio = 1.415 s at 4x)
    assert risky[0]["justified_by_end_s"] == 5.66
    assert risky[0]["latency_s"] == pytest.approx(risky[0]["arrived_s"] - 5.66 / 4)
    assert lat["alert_p95_s"] is not None and -2 < risky[0]["latency_s"] < 60
    for row in rows:
        if row["call_id"] == "dev-0008-head":  # the reference never rises in the first 39 s: nothing justifies it
            assert not row["justified"] and row["latency_s"] is None


def test_saved_finals_replay_the_run_that_heard_them(tmp_path):
    """--save-finals keeps what the recognizer heard; --finals feeds it to the same engine again and gives that run's
    risk, levels, worksheet and CER exactly, with no audio decoded."""
    calls = str(FIXTURES / "calls" / "calls.jsonl")
    heard, finals = tmp_path / "heard.json", tmp_path / "finals.jsonl"
    env = {"SCRIBE_RISK__ALERT_THRESHOLD": "中"}  # alerts to compare, whatever the base model mishears
    r = run_eval("calls", calls, "--audio", "--speed", "0", "--concurrency", "2", "--save-finals", str(finals),
                 "--out", str(heard), "--no-progress", env_extra=env)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in finals.read_text(encoding="utf-8").splitlines()]
    assert [x["call_id"] for x in lines] == ["dev-0008-head", "dev-0008-risk"]
    assert all(x["format"] == "scribe-finals/1" and x["asr"]["model"] == "base" and x["segments"] for x in lines)
    replayed = tmp_path / "replayed.json"
    r = run_eval("calls", calls, "--finals", str(finals), "--out", str(replayed), "--no-progress", env_extra=env)
    assert r.returncode == 0, r.stderr
    a, b = json.loads(heard.read_text()), json.loads(replayed.read_text())
    assert b["risk"] == a["risk"] and b["worksheet"] == a["worksheet"] and b["asr"] == a["asr"]
    assert sum(row["alerts"] for row in b["risk"]["call"]["rows"]) >= 1, "the risky call alerts at 中"
    assert "cost" not in a, "with --audio the service analyses the finals; its cost is not this process's"
    assert b["cost"]["risk_caller_segment"]["n"] == sum(s["speaker"] == "caller" for x in lines for s in x["segments"])
    assert "latency" not in b and b["meta"]["finals_sha256"] and b["meta"]["settings"]["asr"]["model"] == "base"
    # the same words through another classifier (SCRIBE_RISK__CLASSIFIER_DIR): its id names the engine
    import shutil

    other = tmp_path / "other-model"
    shutil.copytree(ROOT / "models" / "risk", other)
    config = json.loads((other / "classifier.json").read_text())
    (other / "classifier.json").write_text(json.dumps(config | {"model_id": "clf-other"}))
    r = run_eval("calls", calls, "--finals", str(finals), "--out", str(tmp_path / "other.json"), "--no-progress",
                 env_extra=env | {"SCRIBE_RISK__CLASSIFIER_DIR": str(other)})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "other.json").read_text())["meta"]["engine_versions"]["risk"].endswith("+clf-other")


def test_finals_options_refuse_what_they_cannot_do(tmp_path, capsys):
    from eval.__main__ import main

    calls = str(FIXTURES / "calls" / "calls.jsonl")
    out = str(tmp_path / "x.json")
    assert main(["calls", calls, "--save-finals", str(tmp_path / "f.jsonl"), "--out", out]) == 2
    assert "--save-finals" in capsys.readouterr().err
    finals = tmp_path / "f.jsonl"
    finals.write_text('{"format": "scribe-finals/1", "call_id": "dev-0008-head", "segments": []}\n', encoding="utf-8")
    assert main(["calls", calls, "--finals", str(finals), "--audio", "--out", out]) == 2
    assert main(["calls", calls, "--finals", str(finals), "--out", out]) == 2
    assert "no finals for 1 of the calls: dev-0008-risk" in capsys.readouterr().err
    finals.write_text('{"format": "scribe-finals/1", "call_id": "dev-0008-head", "segments": [{"id": 1}]}\nnot json\n',
                      encoding="utf-8")
    assert main(["calls", calls, "--finals", str(finals), "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"{finals}:1: $.segments[0]: needs id, speaker, start, end and text" in err and f"{finals}:2: $: not JSON" in err
    assert not Path(out).exists()


def test_utterances_and_compare(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run_eval("utterances", str(FIXTURES / "eval" / "utterances.jsonl"), "--out", str(a)).returncode == 0
    assert run_eval("utterances", str(FIXTURES / "eval" / "utterances.jsonl"), "--out", str(b)).returncode == 0
    assert "any_suicide" in json.loads(a.read_text())["risk"]["segment"]
    utterances = (FIXTURES / "eval" / "utterances.jsonl").read_text().splitlines()
    assert json.loads(a.read_text())["cost"]["risk_caller_segment"]["n"] == sum(bool(u.strip()) for u in utterances)
    r = run_eval("compare", str(a), str(b))
    assert r.returncode == 0 and r.stdout.strip()


def test_calls_refuses_a_negative_speed_or_no_concurrency(tmp_path, capsys):
    from eval.__main__ import main

    calls = str(FIXTURES / "calls" / "calls.jsonl")
    assert main(["calls", calls, "--audio", "--speed", "-1", "--out", str(tmp_path / "x.json")]) == 2
    assert main(["calls", calls, "--audio", "--concurrency", "0", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "--speed must be" in err and "--concurrency must be" in err and not (tmp_path / "x.json").exists()
    # and so does the benchmark, before it connects anywhere
    bench = ["bench", calls, "--url", "ws://127.0.0.1:9", "--token", "t", "--out", str(tmp_path / "b.json")]
    assert main([*bench, "--concurrency", "0"]) == 2
    assert main([*bench, "--concurrency", "2", "--speed", "-2"]) == 2
    err = capsys.readouterr().err
    assert "--speed must be" in err and "--concurrency must be" in err and not (tmp_path / "b.json").exists()


def test_calls_levels_keeps_only_those_reference_levels(tmp_path, capsys):
    from eval.__main__ import main

    calls = str(FIXTURES / "eval" / "calls.jsonl")
    out = tmp_path / "high.json"
    assert main(["calls", calls, "--levels", "高,紧急", "--out", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    kept = {r["call_id"]: r["ref_level"] for r in report["risk"]["call"]["rows"]}
    assert kept and set(kept.values()) <= {"高", "紧急"} and report["meta"]["settings"]["levels"] == "高,紧急"
    assert main(["calls", calls, "--levels", "很高", "--out", str(tmp_path / "x.json")]) == 2
    assert "--levels takes" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


def test_an_out_path_that_cannot_hold_the_report_is_refused_before_the_run(tmp_path, capsys):
    """--out X.html would have been overwritten by the HTML page; a directory, or a file where a directory should
    be, failed only after the run (with "cannot read" or a traceback)."""
    from eval.__main__ import main

    calls = str(FIXTURES / "eval" / "calls.jsonl")
    (tmp_path / "afile").write_text("x")
    for out, says in [(tmp_path / "r.html", "give the JSON's name (r.json)"), (tmp_path, "is a directory"),
                      (tmp_path / "afile" / "r.json", "is a file, not a directory")]:
        assert main(["calls", calls, "--out", str(out), "--no-progress"]) == 2
        assert says in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_nan_and_infinity_are_not_json_numbers(tmp_path):
    """Python's JSON reader takes NaN and Infinity; a time of NaN then passed every check (each comparison false)."""
    good = (FIXTURES / "eval" / "calls.jsonl").read_text(encoding="utf-8").splitlines()[0]
    first = json.loads(good)["segments"][0]
    for bad in ("NaN", "Infinity", "-Infinity"):
        line = good.replace(f'"start": {json.dumps(first["start"])}', f'"start": {bad}', 1)
        assert line != good
        (tmp_path / "c.jsonl").write_text(line + "\n", encoding="utf-8")
        r = run_eval("calls", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "x.json"))
        assert r.returncode == 2 and f"{bad.lstrip('-')} is not a JSON number" in r.stderr, r.stderr
        assert not (tmp_path / "x.json").exists()


def test_invalid_input_names_the_line(tmp_path):
    r = run_eval("calls", str(FIXTURES / "eval" / "bad_calls.jsonl"), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "bad_calls.jsonl:" in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_calls_audio_windows_scores_the_upload_path(tmp_path):
    out = tmp_path / "windows.json"
    r = run_eval("calls", str(FIXTURES / "calls" / "calls.jsonl"), "--audio", "--asr", "windows", "--concurrency",
                 "2", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert 0 <= report["asr"]["cer"] < 0.5 and report["asr"]["ref_chars"] > 100 and report["asr"]["pairs"] == 4
    assert "latency" not in report, "an upload has no live latency"
    settings = report["meta"]["settings"]
    assert settings["asr_path"] == "windows" and settings["recording_mode"] == "windows"
    assert settings["speed"] is None and report["meta"]["audio_sha256"] and settings["asr"]["model"] == "base"
    rows = {row["call_id"]: row for row in report["risk"]["call"]["rows"]}
    assert rows["dev-0008-risk"]["hyp_level"] in ("中", "高", "紧急"), "the disclosure is heard in windows too"
    assert report["worksheet"]["mean"] is not None


def test_calls_windows_asr_needs_audio(tmp_path):
    r = run_eval("calls", str(FIXTURES / "calls" / "calls.jsonl"), "--asr", "windows", "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "--asr windows" in r.stderr and not (tmp_path / "x.json").exists()


def test_bench_against_a_running_service(runtime, tmp_path):
    """Two fixture calls at 4×, the plan-disclosing one (dev-0008-risk) alerting through the real model; a
    supervisor console on WS /v1/alerts times the alert against the annotation. The threshold is 中 so that the
    plumbing is tested whatever the recognizer makes of the plan (python -m eval measures that)."""
    out = tmp_path / "bench.json"
    with serve_with(runtime, make_settings(tmp_path, risk={"alert_threshold": "中"})) as server:
        r = run_eval("bench", str(FIXTURES / "calls" / "calls.jsonl"), "--concurrency", "2", "--speed", "4",
                     "--url", server.ws, "--token", TEL, "--alerts-token", SUP, "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    bench = report["bench"]
    assert bench["concurrency"] == 2 and bench["incomplete_calls"] == 0 and bench["finals"] > 0
    assert bench["offline_cpu_s"] > 0 and bench["stream_cpu_s"] is not None and bench["realtime_factor"] > 0
    assert bench["alerts"] >= 1 and bench["alerts_timed"] == bench["alerts"] - bench["alerts_unjustified"]
    assert bench["alert_p95_s"] is not None and len(bench["alert_values_s"]) == bench["alerts_timed"]
    assert report["meta"]["settings"]["alert_timing"] == "console on WS /v1/alerts"
    assert "bench streams" not in r.stderr  # the progress bar stays off when stderr is not a terminal


def test_bench_refuses_an_alerts_token_without_the_supervisor_role(server, tmp_path):
    out = tmp_path / "bench.json"
    r = run_eval("bench", str(FIXTURES / "calls" / "calls.jsonl"), "--concurrency", "1", "--speed", "0",
                 "--url", server.ws, "--token", TEL, "--alerts-token", TEL, "--out", str(out))
    assert r.returncode == 2 and "supervisor" in r.stderr and not out.exists()


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from eval.report import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = progress(total=3, desc="calls", unit="call")
    bar.update(2)
    bar.refresh()  # tqdm redraws at most every 0.1 s on its own
    bar.close()
    assert "calls" in term.getvalue() and "2/3" in term.getvalue()
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress(total=3, enabled=False).disable  # --no-progress
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress(total=3).disable  # not a terminal


def test_every_command_takes_no_progress():
    from eval.__main__ import build_parser

    parser = build_parser()
    for argv in (["calls", "f.jsonl", "--audio", "--concurrency", "3"], ["utterances", "f.jsonl"],
                 ["corrections"], ["bench", "f.jsonl", "--concurrency", "2"]):
        assert parser.parse_args([*argv, "--out", "r.json"]).progress is True
        assert parser.parse_args([*argv, "--out", "r.json", "--no-progress"]).progress is False
    assert parser.parse_args(["calls", "f.jsonl", "--out", "r.json"]).concurrency == 1
    assert parser.parse_args(["corrections", "--out", "r.json"]).database_url is None


def test_calls_scores_a_long_call(tmp_path):
    """Three fixture calls back to back as one of 111 segments (real calls run 30–90 minutes): the report is
    written and the emergency at its end is found."""
    calls = [json.loads(line) for line in (FIXTURES / "eval" / "calls.jsonl").read_text().splitlines() if line.strip()]
    long = dict(calls[-1], call_id="long-1", segments=[])
    offset = 0.0
    for call in calls:
        for seg in call["segments"]:
            long["segments"].append(dict(seg, id=len(long["segments"]), start=round(seg["start"] + offset, 2),
                                         end=round(seg["end"] + offset, 2)))
        offset = long["segments"][-1]["end"] + 2.0
    assert len(long["segments"]) > 100 and calls[-1]["worksheet"]["risk_level"] == "紧急"
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(long, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "long.json"
    r = run_eval("calls", str(path), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["risk"]["call"]["high_recall"] == 1.0 and report["risk"]["call"]["level_accuracy"] == 1.0


def test_calls_transcript_mode_alerts_at_the_configured_threshold(tmp_path):
    """Every mode raises alerts where the service would (SCRIBE_RISK__ALERT_THRESHOLD), and the report says at
    which level: the fixture's 紧急 call raises one alert at 紧急, two (高, then 紧急) at the default."""
    rows = {}
    for threshold in ("紧急", None):
        out = tmp_path / f"calls-{threshold}.json"
        env = {"SCRIBE_RISK__ALERT_THRESHOLD": threshold} if threshold else None
        r = run_eval("calls", str(FIXTURES / "eval" / "calls.jsonl"), "--out", str(out), "--no-progress", env_extra=env)
        assert r.returncode == 0, r.stderr
        report = json.loads(out.read_text())
        assert report["meta"]["settings"]["alert_threshold"] == (threshold or "高")
        rows[threshold] = {row["call_id"]: row for row in report["risk"]["call"]["rows"]}
    assert rows["紧急"]["dev-0010"]["hyp_level"] == "紧急"
    assert rows["紧急"]["dev-0010"]["alerts"] == 1 and rows[None]["dev-0010"]["alerts"] == 2


def test_scribe_transcribe_prints_and_stores_a_recording(tmp_path):
    """`scribe transcribe` (the README's sample-call command) reads the file as an upload is read, a block at a
    time, prints each final and stores the call; a damaged file is refused with exit 2 and a reason."""
    import os

    env = dict(os.environ, SCRIBE_ASR__MODELS_DIR=str(MODELS_DIR), SCRIBE_DATA_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "service.cli", "transcribe", str(FIXTURES / "calls" / "dev-0008-head.flac"),
           "--json", "--call-id", "cli-1"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    finals = [json.loads(line) for line in r.stdout.splitlines()]
    assert finals and {f["speaker"] for f in finals} == {"caller", "counselor"} and all(f["text"] for f in finals)
    assert "call cli-1:" in r.stderr and " s transcribed" in r.stderr
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    r = subprocess.run(cmd[:4] + [str(bad)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "cannot read" in r.stderr
