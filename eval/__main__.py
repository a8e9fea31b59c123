"""python -m eval: calls, utterances, bench, corrections, compare (see ../shared/spec/eval-contract.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path

from eval.data import RISK_LEVELS, DataError, load_calls, load_utterances
from eval.report import CostClock, build_report, html_name_problem, make_meta, markdown_summary, progress, write_report


def _settings():
    from service.settings import Settings

    return Settings()


def _risk_engine():
    from service.risk import RiskEngine

    risk = _settings().risk
    return RiskEngine.load(model_path=risk.classifier_dir, heard_forms=risk.heard_forms_table())


def _command(args) -> str:
    """The command line as typed (recorded in the report's meta)."""
    return shlex.join(["python", "-m", "eval", *args.argv])


def _audio_sha256(calls) -> str:
    """One sha256 over the recordings' bytes, in call order (the JSONL's hash does not cover them)."""
    import hashlib

    from eval.data import file_sha256

    digest = hashlib.sha256()
    for c in calls:
        digest.update(f"{c.call_id}:{file_sha256(c.audio)}\n".encode())
    return digest.hexdigest()


def _fail(msg: str) -> int:
    print(f"python -m eval: {msg}", file=sys.stderr)
    return 2


def cmd_utterances(args) -> int:
    from eval.scoring import Span, score_segment_risk
    from service.analysis import RiskAnalysis
    from service.types import FinalSegment

    utts = load_utterances(args.file)
    engine = _risk_engine()
    refs, hyps = [], []
    cost = CostClock()
    for i, u in enumerate(progress(utts, "utterances", unit="utt", enabled=args.progress)):
        analysis = RiskAnalysis(engine, f"utt-{i}", None)
        with cost.time("risk_caller_segment"):
            risk, _ = analysis.analyze(FinalSegment(f"utt-{i}", 0, "caller", 0.0, 1.0, u.text))
        refs.append([Span(0.0, 1.0, frozenset(u.risk))])
        hyps.append([Span(0.0, 1.0, frozenset(risk.labels))])
    report = build_report("utterances", meta=make_meta(args.file, command=_command(args),
                          engine_versions={"risk": engine.version}), risk_segment=score_segment_risk(refs, hyps),
                          cost=cost.summary())
    return _emit(report, args.out)


def cmd_calls(args) -> int:
    from eval.alerts import SPEED0_NOTE, alert_rows, alert_summary
    from eval.scoring import (CallOutcome, Span, latency_block, latency_summary, score_asr, score_calls,
                              score_segment_risk, score_worksheets, transcript_pairs)
    from service.analysis import RiskAnalysis
    from service.types import FinalSegment
    from service.worksheet import RulesDrafter

    if args.speed < 0:
        return _fail("--speed must be 0 (as fast as possible) or more")
    if args.concurrency < 1:
        return _fail("--concurrency must be at least 1")
    if args.asr == "windows" and not args.audio:
        return _fail("--asr windows transcribes the recordings: it needs --audio")
    if args.save_finals and not args.audio:
        return _fail("--save-finals keeps what the recognizer heard: it needs --audio")
    if args.finals and args.audio:
        return _fail("--finals replays finals already heard: it takes no --audio")
    windows = args.asr == "windows"
    drafter = RulesDrafter()
    ws_refs, ws_hyps = [], []

    calls = load_calls(args.file, need_audio=args.audio)
    if args.levels:
        wanted = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
        if not wanted or any(lv not in RISK_LEVELS for lv in wanted):
            return _fail(f"--levels takes risk levels of {','.join(RISK_LEVELS)}, comma-separated")
        calls = [c for c in calls if c.risk_level in wanted]
        if not calls:
            return _fail(f"no call in {args.file} has a reference risk_level in {','.join(wanted)}")
    engine = _risk_engine()
    cost = CostClock()  # what risk and drafting cost where they run here (not with --audio: there the service does)
    ref_spans, hyp_spans, outcomes, pairs, finals_lat, alerts = [], [], [], [], [], []
    asr_desc = None
    recorded = None
    if args.finals:
        from eval.finals import load_finals

        recorded = load_finals(args.finals, [c.call_id for c in calls])
        asr_desc = recorded.asr
        alert_threshold = _settings().risk.alert_threshold
    if args.audio:
        from eval.live import CHUNK_S, stream_calls

        results, asr_desc = asyncio.run(stream_calls(calls, args.speed, args.concurrency, args.progress,
                                                     mode=args.asr))
    for n, c in enumerate(progress(calls, "calls", unit="call", enabled=args.progress and not args.audio)):
        ref_spans.append(list(c.segments))
        if args.audio:
            live = results[n]
            analysis = live.analysis
            finals_lat.extend(live.final_latencies)
            alerts.extend(alert_rows(c, live.alerts, args.speed))
            hyp = [FinalSegment(c.call_id, s.segment_id, s.speaker, s.start, s.end, s.text) for s in live.segments]
            pairs.extend(transcript_pairs(c.segments, hyp))
        elif recorded is not None:
            # finals a recognizer heard in an earlier run, analysed in the order that run's analysis read them
            analysis = RiskAnalysis(engine, c.call_id, None, alert_threshold)
            for seg in recorded.calls[c.call_id]:
                with cost.time(f"risk_{seg.speaker}_segment"):
                    analysis.analyze(seg)
            hyp = sorted(recorded.calls[c.call_id], key=lambda s: (s.start, s.segment_id))
            pairs.extend(transcript_pairs(c.segments, hyp))
        else:
            analysis = RiskAnalysis(engine, c.call_id, None, _settings().risk.alert_threshold)
            hyp = [FinalSegment(c.call_id, s.id, s.speaker, s.start, s.end, s.text) for s in c.segments]
            for seg in hyp:
                with cost.time(f"risk_{seg.speaker}_segment"):
                    analysis.analyze(seg)
        labels = {r.segment_id: r.labels for r in analysis.risks}
        hyp_spans.append([Span(s.start, s.end, frozenset(labels.get(s.segment_id, []))) for s in hyp])
        outcomes.append(CallOutcome(c.call_id, c.risk_level, analysis.state.level, len(analysis.alerts)))
        ws_refs.append(c.worksheet)
        with cost.time("worksheet_draft"):
            draft = drafter.draft(hyp, analysis.risks, analysis.state.level)
        ws_hyps.append(draft.values())
    settings = {"asr": asr_desc, "speed": args.speed if args.audio and not windows else None, "audio": args.audio,
                "asr_path": (args.asr if args.audio else None), "levels": args.levels}
    extra = {}
    if args.save_finals:
        from eval.finals import save_finals

        save_finals(args.save_finals, calls, results, asr_desc, args.asr)
        settings.update(save_finals=str(args.save_finals))
    if recorded is not None:
        settings.update(finals=str(args.finals), finals_recorded=recorded.settings, alert_threshold=alert_threshold)
        extra["finals_sha256"] = recorded.sha256
    if args.audio:
        settings.update(concurrency=args.concurrency)
        extra["audio_sha256"] = _audio_sha256(calls)
    settings.setdefault("alert_threshold", _settings().risk.alert_threshold)  # every mode raises alerts at it
    if windows:
        settings.update(recording_mode="windows")
    elif args.audio:
        settings.update(chunk_s=CHUNK_S)
        if not args.speed:
            extra["alert_latency_note"] = SPEED0_NOTE
    meta = make_meta(args.file, command=_command(args), model=(asr_desc or {}).get("model"),
                     engine_versions={"risk": engine.version, "worksheet": drafter.version}, settings=settings,
                     **extra)
    latency = None
    if args.audio and not windows:
        latency = latency_block(finals_lat, [r["latency_s"] for r in alerts if r["latency_s"] is not None])
        pipeline = latency_summary([r["pipeline_s"] for r in alerts if r["pipeline_s"] is not None])
        latency.update(alert_summary(alerts), alert_pipeline_p95_s=pipeline["p95"], alert_pipeline=pipeline,
                       alert_rows=alerts)
    report = build_report(
        "calls", meta=meta, asr=score_asr(pairs) if args.audio or recorded is not None else None,
        risk_segment=score_segment_risk(ref_spans, hyp_spans), risk_call=score_calls(outcomes),
        worksheet=score_worksheets(ws_refs, ws_hyps, [c.call_id for c in calls]), latency=latency,
        cost=None if args.audio else cost.summary())
    return _emit(report, args.out)


def cmd_corrections(args) -> int:
    from eval.corrections import (CorrectionsError, data_sha256, engine_versions, load_finalized, redact_url,
                                  score_corrections)

    url = args.database_url or _settings().effective_database_url
    try:
        pairs = load_finalized(url, show_progress=args.progress)
    except CorrectionsError as e:
        return _fail(str(e))
    worksheet, corrections = score_corrections(pairs)
    meta = make_meta(redact_url(url), command=_command(args), data_sha256=data_sha256(pairs),
                     engine_versions=engine_versions(corrections),
                     settings={"database": redact_url(url), "reference": "finalized worksheet values",
                               "hypothesis": "the engine's draft values as drafted",
                               "changed": corrections["changed_rule"]})
    return _emit(build_report("corrections", meta=meta, worksheet=worksheet, corrections=corrections), args.out)


def cmd_bench(args) -> int:
    from eval.bench import offline_floor, run_bench

    if args.speed < 0:
        return _fail("--speed must be 0 (as fast as possible) or more")
    if args.concurrency < 1:
        return _fail("--concurrency must be at least 1")
    calls = load_calls(args.file, need_audio=True)
    token = args.token or os.environ.get("SCRIBE_TOKEN")
    if not token:
        return _fail("bench needs --token or SCRIBE_TOKEN (a telephony token)")
    alerts_token = args.alerts_token or os.environ.get("SCRIBE_ALERTS_TOKEN")
    try:
        bench, audios = asyncio.run(run_bench(calls, args.concurrency, args.speed, args.url, token,
                                              show_progress=args.progress, alerts_token=alerts_token))
    except PermissionError as e:
        return _fail(str(e))
    settings = _settings()
    floor, floor_settings = offline_floor(audios, settings)
    bench["offline_cpu_s"] = round(floor, 2)
    if bench["stream_cpu_s"] is not None:
        bench["stream_vs_offline"] = round(bench["stream_cpu_s"] / floor, 3) if floor else None
    meta = make_meta(args.file, command=_command(args), model=floor_settings["model"],
                     settings={"url": args.url, "offline_floor": floor_settings, "encoding": "mulaw 8 kHz stereo",
                               "concurrency": args.concurrency, "speed": args.speed,
                               "alert_timing": "console on WS /v1/alerts" if alerts_token else None},
                     audio_sha256=_audio_sha256(calls))
    return _emit(build_report("bench", meta=meta, bench=bench), args.out)


def cmd_compare(args) -> int:
    from eval.compare import compare_reports, load_report

    print(compare_reports(load_report(args.a), load_report(args.b)))
    return 0


def out_problem(out: Path) -> str | None:
    """Why the report cannot be written to ``out`` (checked before the run), or None."""
    if (problem := html_name_problem(out)) is not None:
        return problem
    if out.is_dir():
        return f"--out {out} is a directory; give a file name"
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"--out {out}: {parent} is a file, not a directory"
    return None


def _emit(report: dict, out: str) -> int:
    try:
        json_path, html_path = write_report(report, out)
    except OSError as e:
        return _fail(f"cannot write the report to {e.filename or out}: {e.strerror or e}")
    print(markdown_summary(report))
    print(f"\nreport: {json_path} (HTML: {html_path})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``eval-contract.md``, plus ``corrections``, ``--concurrency`` and ``--no-progress``."""
    p = argparse.ArgumentParser(prog="python -m eval")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("calls", help="annotated calls: risk, call levels, worksheet; --audio adds ASR and latency")
    c.add_argument("file")
    c.add_argument("--audio", action="store_true")
    c.add_argument("--speed", type=float, default=1.0,
                   help="with --audio: times real time (default 1; 0: as fast as it can go, no alert latency)")
    c.add_argument("--concurrency", type=int, default=1, metavar="K",
                   help="with --audio: stream K calls at once, each at --speed (default 1)")
    c.add_argument("--asr", choices=("live", "windows"), default="live",
                   help="with --audio: live (default) streams each recording through the service's live path; "
                        "windows runs it as an upload is run (POST /v1/calls, asr.recording_mode windows: speech "
                        "decoded in windows of up to 30 s), with no latency")
    c.add_argument("--levels", metavar="L,L", help="only calls whose reference risk_level is one of these "
                                                    "(e.g. 高,紧急 to time alerts at --speed 1 in less time)")
    c.add_argument("--save-finals", metavar="FINALS.jsonl",
                   help="with --audio: also write every call's finals (text, speaker, times) in the order the risk "
                        "analysis read them, for --finals; they are the callers' words: keep the file as you keep "
                        "the recordings")
    c.add_argument("--finals", metavar="FINALS.jsonl",
                   help="instead of the reference texts, the finals a recognizer heard in a run saved with "
                        "--save-finals: risk and worksheet through ASR again in seconds, after a change behind the "
                        "recognizer (lexicon, classifier, level rules, drafting); no latency")
    c.add_argument("--out", required=True)
    c.set_defaults(func=cmd_calls)
    u = sub.add_parser("utterances", help="labelled utterances: segment risk")
    u.add_argument("file")
    u.add_argument("--out", required=True)
    u.set_defaults(func=cmd_utterances)
    w = sub.add_parser("corrections", help="the service's worksheet drafts against what counselors finalized")
    w.add_argument("--database-url", help="SQLAlchemy URL (default: the service's, SCRIBE_DATABASE_URL or "
                                          "sqlite:///SCRIBE_DATA_DIR/scribe.db)")
    w.add_argument("--out", required=True)
    w.set_defaults(func=cmd_corrections)
    b = sub.add_parser("bench", help="stream K calls at once through a running service")
    b.add_argument("file")
    b.add_argument("--concurrency", type=int, required=True)
    b.add_argument("--speed", type=float, default=1.0)
    b.add_argument("--url", default="ws://127.0.0.1:8000")
    b.add_argument("--token")
    b.add_argument("--alerts-token", help="a supervisor token: time the streamed calls' alerts on WS /v1/alerts "
                                          "against their annotations (alert_p95_s); also SCRIBE_ALERTS_TOKEN")
    b.add_argument("--out", required=True)
    b.set_defaults(func=cmd_bench)
    for command in (c, u, w, b):
        command.add_argument("--no-progress", dest="progress", action="store_false",
                             help="no progress bar (it is hidden anyway when stderr is not a terminal)")
    k = sub.add_parser("compare", help="what moved between two reports")
    k.add_argument("a")
    k.add_argument("b")
    k.set_defaults(func=cmd_compare)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    out = getattr(args, "out", None)
    if out is not None and (problem := out_problem(Path(out))):
        return _fail(problem)  # before a run that may take many minutes
    try:
        return args.func(args)
    except DataError as e:
        return _fail(str(e))
    except (FileNotFoundError, IsADirectoryError) as e:
        return _fail(f"cannot read {e.filename}")


if __name__ == "__main__":
    sys.exit(main())
