"""A bounded per-consumer queue for fan-out to consoles (alerts, a watched call)."""

from __future__ import annotations

import asyncio


class Subscription:
    """One consumer's queue. A consumer that cannot keep up is cut off: it gets ``None`` next and should
    reconnect (and so receive a fresh snapshot or replay) rather than make the producer wait or grow memory."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict | None] = asyncio.Queue(size)
        self.overflowed = False
        self.closed = False

    def put(self, msg: dict) -> None:
        if self.overflowed or self.closed:
            return
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def close(self) -> None:
        """Tell the consumer the stream is over (``overflowed`` stays False)."""
        if not self.closed and not self.overflowed:
            self.closed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    async def get(self) -> dict | None:
        return await self.queue.get()
