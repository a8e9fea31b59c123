#!/usr/bin/env bash
# Sets everything up, starts the service on the embedded defaults (SQLite, the bundled Whisper base model)
# and streams a sample call from tests/ through the live path, printing its transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SCRIBE_DATA_DIR=${SCRIBE_DATA_DIR:-var} SCRIBE_TOKENS="demo-telephony-token:telephony,demo-supervisor-token:supervisor"
PORT=${PORT:-8765}
.venv/bin/scribe serve --port "$PORT" > var/demo-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
echo "streaming tests/fixtures/calls/dev-0008-head.flac (8 kHz stereo, G.711 μ-law) as a live call at 2× real time…"
.venv/bin/scribe stream tests/fixtures/calls/dev-0008-head.flac --url "ws://127.0.0.1:$PORT" \
  --token demo-telephony-token --encoding mulaw --speed 2 --call-id "demo-$(date +%s)"
