"""python -m eval: calls, utterances, bench, compare (see ../shared/spec/eval-contract.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from eval.data import DataError, load_calls, load_utterances
from eval.report import build_report, make_meta, markdown_summary, write_report


def _settings():
    from service.settings import Settings

    return Settings()


def _risk_engine():
    from service.risk import RiskEngine

    return RiskEngine.load()


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
    for i, u in enumerate(utts):
        analysis = RiskAnalysis(engine, f"utt-{i}", None)
        risk, _ = analysis.analyze(FinalSegment(f"utt-{i}", 0, "caller", 0.0, 1.0, u.text))
        refs.append([Span(0.0, 1.0, frozenset(u.risk))])
        hyps.append([Span(0.0, 1.0, frozenset(risk.labels))])
    report = build_report("utterances", meta=make_meta(args.file, command=" ".join(sys.argv),
                          engine_versions={"risk": engine.version}), risk_segment=score_segment_risk(refs, hyps))
    return _emit(report, args.out)


async def _calls_audio(calls, speed: float):
    """Each recording through the live session code at `speed`; returns per-call segments, levels, alerts, latencies."""
    from service.recorded import complete_recording, open_recording
    from service.runtime import Runtime
    from service.audio.files import read_audio
    import tempfile
    import time

    settings = _settings()
    if not os.environ.get("SCRIBE_DATABASE_URL"):
        settings = settings.model_copy(update={"database_url": f"sqlite:///{tempfile.mkdtemp()}/eval.db"})
    runtime = Runtime.build(settings)
    out = []
    try:
        for c in calls:
            audio = read_audio(c.audio, 8000)
            roles = ["caller", "counselor"] if audio.shape[1] == 2 else ["mixed"]
            if c.channels and audio.shape[1] == 2:
                roles = [None, None]
                for who, idx in c.channels.items():
                    roles[idx] = who
            session = await open_recording(runtime.pipeline, 8000, audio.shape[1],
                                           f"eval-{c.call_id}-{time.time_ns()}", roles, source="live")
            await complete_recording(session, audio, 8000, speed=speed, chunk_s=0.1)
            segs = runtime.pipeline.store.segments(session.call_id)
            out.append((segs, session.analysis, session.final_latencies))
    finally:
        runtime.close()
    return out, runtime.pipeline.recognizer.description


def cmd_calls(args) -> int:
    from eval.scoring import (CallOutcome, Span, latency_block, score_asr, score_calls, score_segment_risk,
                              score_worksheets, transcript_pairs)
    from service.analysis import RiskAnalysis
    from service.types import FinalSegment
    from service.worksheet import RulesDrafter

    drafter = RulesDrafter()
    ws_refs, ws_hyps = [], []

    calls = load_calls(args.file, need_audio=args.audio)
    engine = _risk_engine()
    ref_spans, hyp_spans, outcomes, pairs, finals_lat = [], [], [], [], []
    asr_desc = None
    if args.audio:
        results, asr_desc = asyncio.run(_calls_audio(calls, args.speed))
    for n, c in enumerate(calls):
        ref_spans.append(list(c.segments))
        if args.audio:
            segs, analysis, lats = results[n]
            finals_lat.extend(lats)
            hyp = [FinalSegment(c.call_id, s.segment_id, s.speaker, s.start, s.end, s.text) for s in segs]
            pairs.extend(transcript_pairs(c.segments, hyp))
            labels = {r.segment_id: r.labels for r in analysis.risks}
        else:
            analysis = RiskAnalysis(engine, c.call_id, None)
            hyp = [FinalSegment(c.call_id, s.id, s.speaker, s.start, s.end, s.text) for s in c.segments]
            for seg in hyp:
                analysis.analyze(seg)
            labels = {r.segment_id: r.labels for r in analysis.risks}
        hyp_spans.append([Span(s.start, s.end, frozenset(labels.get(s.segment_id, []))) for s in hyp])
        outcomes.append(CallOutcome(c.call_id, c.risk_level, analysis.state.level, len(analysis.alerts)))
        ws_refs.append(c.worksheet)
        ws_hyps.append(drafter.draft(hyp, analysis.risks, analysis.state.level).values())
    meta = make_meta(args.file, command=" ".join(sys.argv), model=(asr_desc or {}).get("model"),
                     engine_versions={"risk": engine.version, "worksheet": drafter.version}, settings={"asr": asr_desc, "speed": args.speed,
                                                                          "audio": args.audio})
    report = build_report(
        "calls", meta=meta, asr=score_asr(pairs) if args.audio else None,
        risk_segment=score_segment_risk(ref_spans, hyp_spans), risk_call=score_calls(outcomes),
        worksheet=score_worksheets(ws_refs, ws_hyps, [c.call_id for c in calls]),
        latency=latency_block(finals_lat, []) if args.audio else None)
    return _emit(report, args.out)


def cmd_bench(args) -> int:
    from eval.bench import offline_floor, run_bench

    calls = load_calls(args.file, need_audio=True)
    token = args.token or os.environ.get("SCRIBE_TOKEN")
    if not token:
        return _fail("bench needs --token or SCRIBE_TOKEN (a telephony token)")
    bench, audios = asyncio.run(run_bench(calls, args.concurrency, args.speed, args.url, token))
    settings = _settings()
    floor, floor_settings = offline_floor(audios, settings)
    bench["offline_cpu_s"] = round(floor, 2)
    if bench["stream_cpu_s"] is not None:
        bench["stream_vs_offline"] = round(bench["stream_cpu_s"] / floor, 3) if floor else None
    meta = make_meta(args.file, command=" ".join(sys.argv), model=floor_settings["model"],
                     settings={"url": args.url, "offline_floor": floor_settings, "encoding": "mulaw 8 kHz stereo"})
    return _emit(build_report("bench", meta=meta, bench=bench), args.out)


def cmd_compare(args) -> int:
    from eval.compare import compare_reports, load_report

    print(compare_reports(load_report(args.a), load_report(args.b)))
    return 0


def _emit(report: dict, out: str) -> int:
    json_path, html_path = write_report(report, out)
    print(markdown_summary(report))
    print(f"\nreport: {json_path} (HTML: {html_path})")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("calls", help="annotated calls: risk, call levels, worksheet; --audio adds ASR and latency")
    c.add_argument("file")
    c.add_argument("--audio", action="store_true")
    c.add_argument("--speed", type=float, default=1.0)
    c.add_argument("--out", required=True)
    c.set_defaults(func=cmd_calls)
    u = sub.add_parser("utterances", help="labelled utterances: segment risk")
    u.add_argument("file")
    u.add_argument("--out", required=True)
    u.set_defaults(func=cmd_utterances)
    b = sub.add_parser("bench", help="stream K calls at once through a running service")
    b.add_argument("file")
    b.add_argument("--concurrency", type=int, required=True)
    b.add_argument("--speed", type=float, default=1.0)
    b.add_argument("--url", default="ws://127.0.0.1:8000")
    b.add_argument("--token")
    b.add_argument("--out", required=True)
    b.set_defaults(func=cmd_bench)
    k = sub.add_parser("compare", help="what moved between two reports")
    k.add_argument("a")
    k.add_argument("b")
    k.set_defaults(func=cmd_compare)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except DataError as e:
        return _fail(str(e))
    except (FileNotFoundError, IsADirectoryError) as e:
        return _fail(f"cannot read {e.filename}")


if __name__ == "__main__":
    sys.exit(main())
