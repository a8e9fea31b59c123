"""A small telephony client for tests: streams audio over WS /v1/calls/stream and collects the replies."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import numpy as np
import websockets

from service.audio.codecs import encode_frame as encode


@dataclass
class Result:
    messages: list[dict] = field(default_factory=list)
    close_code: int | None = None

    def of(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind]

    def finals_text(self, speaker: str | None = None) -> str:
        return "".join(m["text"] for m in self.of("final") if speaker is None or m["speaker"] == speaker)


async def stream(url: str, token: str | None, start: dict, audio: np.ndarray | None, *, frame_s: float = 0.1,
                 speed: float = 0.0, stop: bool = True, extra: list | None = None, sr: int | None = None,
                 use_header: bool = False) -> Result:
    """Send start, the audio in frames (``speed`` × real time; 0 = as fast as possible), stop; read until close."""
    sr = sr or start["sample_rate"]
    uri = f"{url}/v1/calls/stream" + (f"?token={token}" if token and not use_header else "")
    headers = {"Authorization": f"Bearer {token}"} if token and use_header else None
    res = Result()
    async with websockets.connect(uri, additional_headers=headers, max_size=1 << 24) as ws:
        async def reader():
            try:
                async for raw in ws:
                    res.messages.append(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
        task = asyncio.create_task(reader())
        try:
            await ws.send(json.dumps(start))
            for item in extra or []:
                await ws.send(item)
            if audio is not None:
                step = max(1, int(frame_s * sr))
                for i in range(0, len(audio), step):
                    await ws.send(encode(audio[i : i + step], start.get("encoding", "pcm_s16le")))
                    await asyncio.sleep(frame_s / speed if speed else 0)
            if stop:
                await ws.send(json.dumps({"type": "stop"}))
        except websockets.ConnectionClosed:
            pass  # the service closed the call (refused or fatal): read what it said
        if stop:
            await asyncio.wait_for(task, 300)
        else:
            await asyncio.sleep(0.2)
    if not task.done():
        task.cancel()
    res.close_code = ws.close_code
    return res
