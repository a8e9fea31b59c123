"""The ``scribe`` command: serve, transcribe a recording, manage models."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path


def _settings():
    from service.settings import Settings

    return Settings()


def _logging(level: str) -> None:
    from service.logredact import redact_uvicorn_logs

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_uvicorn_logs()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    settings = _settings()
    _logging(settings.log_level)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=settings.log_level.lower(),
                ws_max_size=16 * 1024 * 1024)
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from service.audio.files import AudioFileError, FileAudio, probe_audio
    from service.recorded import run_recording
    from service.runtime import Runtime

    settings = _settings()
    _logging("WARNING")
    try:  # checked whole as an upload is, then read from the file a block at a time (a 90-minute call too)
        audio = FileAudio(args.file, probe_audio(args.file, settings.stream.max_call_duration_s))
    except (AudioFileError, FileNotFoundError) as e:
        print(f"scribe transcribe: cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    roles = args.channel_roles.split(",") if args.channel_roles else (
        ["mixed"] if audio.channels == 1 else ["caller", "counselor"])
    if len(roles) != audio.channels:
        print(f"scribe transcribe: {audio.channels} channels but {len(roles)} roles", file=sys.stderr)
        return 2
    runtime = Runtime.build(settings)
    call_id = args.call_id or f"file-{Path(args.file).stem}-{int(time.time())}"

    async def show(msg: dict) -> None:
        if msg["type"] == "final" and msg["text"]:
            if args.json:
                print(json.dumps(msg, ensure_ascii=False), flush=True)
            else:
                print(f"[{msg['start']:7.2f}–{msg['end']:7.2f}] {msg['speaker']:9s} {msg['text']}", flush=True)

    try:
        asyncio.run(run_recording(runtime.pipeline, audio, 16000, call_id, roles, sink=show))
    finally:
        runtime.close()
    print(f"call {call_id}: {audio.duration_s:.1f} s transcribed; stored in {settings.effective_database_url}",
          file=sys.stderr)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    import os

    from service.audio.files import AudioFileError, read_audio
    from service.client import stream_call

    token = args.token or os.environ.get("SCRIBE_TOKEN")
    if not token:
        print("scribe stream: give --token or set SCRIBE_TOKEN (a telephony token)", file=sys.stderr)
        return 2
    try:
        audio = read_audio(args.file, args.rate)
    except (AudioFileError, FileNotFoundError) as e:
        print(f"scribe stream: cannot read {args.file}: {e}", file=sys.stderr)
        return 2

    def show(msg: dict) -> None:
        if msg["type"] == "final" and msg["text"]:
            print(f"[{msg['start']:7.2f}–{msg['end']:7.2f}] {msg['speaker']:9s} {msg['text']}", flush=True)
        elif msg["type"] in ("error", "ended", "risk"):
            print(json.dumps(msg, ensure_ascii=False), flush=True)

    call_id = args.call_id or f"demo-{int(time.time())}"
    res = asyncio.run(stream_call(args.url, token, call_id, audio, args.rate, encoding=args.encoding,
                                  speed=args.speed, on_message=show))
    return 0 if res.messages and res.messages[-1]["type"] == "ended" else 1


def cmd_models(args: argparse.Namespace) -> int:
    from service.asr.models import ModelError, load_manifest, resolve_model

    settings = _settings()
    manifest = load_manifest()
    if args.action == "list":
        for name, entry in manifest["asr"].items():
            here = (settings.effective_models_dir / name / "model.bin").is_file()
            print(f"{name:28s} {'present' if here else 'absent ':8s} {entry['description']}")
        return 0
    try:
        m = resolve_model(args.name or settings.asr.model, settings.effective_models_dir, manifest)
    except ModelError as e:
        print(f"scribe models: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"name": m.name, "path": str(m.path), "sha256": m.sha256}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scribe", description="hotline-scribe: live hotline transcription")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("transcribe", help="run a recording through the live pipeline and print its transcript")
    p.add_argument("file")
    p.add_argument("--channel-roles", help="e.g. caller,counselor (default: mixed for mono, caller,counselor)")
    p.add_argument("--call-id")
    p.add_argument("--json", action="store_true", help="print final messages as JSON lines")
    p.set_defaults(func=cmd_transcribe)
    p = sub.add_parser("stream", help="stream a recording to a running service as a live call (telephony side)")
    p.add_argument("file")
    p.add_argument("--url", default="ws://127.0.0.1:8000")
    p.add_argument("--token", help="telephony token (default: $SCRIBE_TOKEN)")
    p.add_argument("--rate", type=int, default=8000, choices=[8000, 16000])
    p.add_argument("--encoding", default="mulaw", choices=["pcm_s16le", "mulaw", "alaw"])
    p.add_argument("--speed", type=float, default=1.0, help="times real time; 0 = as fast as possible")
    p.add_argument("--call-id")
    p.set_defaults(func=cmd_stream)
    p = sub.add_parser("models", help="list known models, or provision and verify one")
    p.add_argument("action", choices=["list", "verify"])
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
