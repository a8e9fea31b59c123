"""A telephony-side client of WS /v1/calls/stream: streams a recording as a live call would arrive
(``scribe stream``, the demo, and the benchmark use it)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from service.audio.codecs import encode_frame

FRAME_S = 0.02


@dataclass
class StreamedCall:
    """What came back for one streamed call, with the wall-clock times that latency is measured from."""

    call_id: str
    messages: list[dict] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # monotonic time each message arrived
    t0: float = 0.0  # monotonic time the first audio frame was sent
    speed: float = 1.0
    close_code: int | None = None

    def sent_at(self, audio_time: float) -> float:
        """Monotonic time at which the audio at ``audio_time`` seconds had been sent."""
        return self.t0 + audio_time / self.speed if self.speed else self.t0

    def finals(self) -> list[tuple[dict, float]]:
        return [(m, t) for m, t in zip(self.messages, self.received_at) if m["type"] == "final"]


async def stream_call(url: str, token: str, call_id: str, audio: np.ndarray, sample_rate: int, *,
                      encoding: str = "mulaw", roles: list[str] | None = None, speed: float = 1.0,
                      counselor_id: str | None = None,
                      on_message: Callable[[dict], None] | None = None) -> StreamedCall:
    """Stream ``audio`` (n, channels) at ``speed`` × real time (0 = as fast as possible) and collect replies."""
    import websockets

    channels = audio.shape[1]
    start = {"type": "start", "call_id": call_id, "sample_rate": sample_rate, "encoding": encoding,
             "channels": channels, "channel_roles": roles or (["mixed"] if channels == 1 else ["caller", "counselor"])}
    if counselor_id:
        start["counselor_id"] = counselor_id
    out = StreamedCall(call_id, speed=speed)
    async with websockets.connect(f"{url}/v1/calls/stream?token={token}", max_size=1 << 24) as ws:
        async def reader() -> None:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    out.messages.append(msg)
                    out.received_at.append(time.monotonic())
                    if on_message:
                        on_message(msg)
            except websockets.ConnectionClosed:
                pass

        task = asyncio.create_task(reader())
        await ws.send(json.dumps(start))
        step = int(FRAME_S * sample_rate)
        out.t0 = time.monotonic()
        try:
            for i in range(0, len(audio), step):
                await ws.send(encode_frame(audio[i : i + step], encoding))
                if speed:
                    delay = out.t0 + (i + step) / sample_rate / speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
            await ws.send(json.dumps({"type": "stop"}))
        except websockets.ConnectionClosed:
            pass
        await task
    out.close_code = ws.close_code
    return out
