"""A bounded per-consumer queue for fan-out to consoles (alerts, a watched call)."""

from __future__ import annotations

import asyncio


class Subscription:
    """One consumer's queue. A consumer that cannot keep up is cut off: it gets ``None`` next and should
    reconnect (and so receive a fresh snapshot or replay) rather than make the producer wait or grow memory.

    The queue is never replaced: a consumer may already be waiting in ``get()`` on it, and only a ``None`` put
    into that queue wakes it."""

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
            self._cut_off()

    def close(self) -> None:
        """Tell the consumer the stream is over, after what is queued (``overflowed`` stays False). A queue with
        no room left for the end is an overflow: the consumer cannot have everything, so it is told to reconnect."""
        if self.closed or self.overflowed:
            return
        self.closed = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self._cut_off()

    def _cut_off(self) -> None:
        self.overflowed = True
        while not self.queue.empty():  # what is queued is superseded by the snapshot or replay on reconnecting
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def get(self) -> dict | None:
        return await self.queue.get()
