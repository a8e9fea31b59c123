"""Alert webhooks: at-least-once delivery of every alert to every configured endpoint.

Deliveries are rows in the database, written in the same transaction as the alert, so an alert raised just
before a crash is still delivered after the restart, and several processes share the work (a delivery is leased
before it is sent). Each POST carries:

- the alert JSON (the ``alert`` message of ``WS /v1/alerts``) as the body;
- ``Idempotency-Key: <alert_id>``: the same on every retry, so a receiver drops duplicates;
- ``X-Scribe-Timestamp`` and ``X-Scribe-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"``
  with ``SCRIBE_RISK__WEBHOOK_SECRET`` (receivers check it with :func:`verify` and reject old timestamps).

A 2xx answer delivers it; anything else (another status, a timeout, a refused connection, an invalid URL) is
retried after ``webhook_backoff_s``, doubling up to five minutes, ``webhook_max_attempts`` times in all: by default
after 1, 2, 4 … 256 s, then every 5 minutes, 21 attempts over about 64 minutes, so an endpoint that is down for up
to an hour still gets every alert. An attempt takes at most ``webhook_timeout_s`` in all, however slowly the
endpoint answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import httpx

from service.alerts.hub import alert_json
from service.metrics import Metrics
from service.settings import RiskSettings
from service.store.db import Delivery, Store

logger = logging.getLogger(__name__)
POLL_S = 1.0
MAX_BACKOFF_S = 300.0
MAX_IN_FLIGHT = 20  # deliveries one process sends at once
LEASE_SLACK_S = 5.0  # of a lease, kept after the attempt's own time for reading the alert and recording the result


def retry_delay(settings: RiskSettings, attempt: int) -> float:
    """Seconds from failed attempt ``attempt`` (1, 2, …) to the next: doubling from ``webhook_backoff_s``, at most
    MAX_BACKOFF_S."""
    return min(settings.webhook_backoff_s * 2 ** min(attempt - 1, 64), MAX_BACKOFF_S)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300.0) -> bool:
    """For receivers: the signature matches and the timestamp is recent."""
    try:
        if abs(time.time() - float(timestamp)) > max_age_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSender:
    def __init__(self, store: Store, settings: RiskSettings, metrics: Metrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.client = httpx.AsyncClient(timeout=settings.webhook_timeout_s)
        self.lease_s = settings.webhook_timeout_s * 2 + LEASE_SLACK_S
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self) -> None:
        """Claim due deliveries while there is room, each sent in a task of its own: an endpoint that is down or
        slow holds up only its own deliveries. No more are claimed than can be sent at once, so a claimed delivery
        never waits for a slot while its lease runs."""
        try:
            while True:
                self._wake.clear()  # before claiming: a wake while we claim is not lost
                free = MAX_IN_FLIGHT - len(self._in_flight)
                if free > 0:
                    leased_at = time.monotonic()
                    try:
                        due = await asyncio.to_thread(self.store.claim_deliveries, self.lease_s, free)
                    except Exception:
                        logger.exception("webhooks: could not read pending deliveries")
                        due = []
                    for d in due:
                        task = asyncio.create_task(self._send(d, leased_at + self.lease_s - LEASE_SLACK_S))
                        self._in_flight.add(task)
                        task.add_done_callback(self._sent)
                    if due:
                        continue
                try:
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                except TimeoutError:
                    pass
        finally:
            for task in self._in_flight:
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _sent(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free

    async def _send(self, d: Delivery, send_by: float) -> None:
        try:
            await self._attempt(d, send_by)
        except Exception:  # the database: the lease runs out and the delivery is sent again
            logger.exception("webhook for alert %s: could not read the alert or record the attempt", d.alert_id)

    async def _attempt(self, d: Delivery, send_by: float) -> None:
        """One attempt, over by ``send_by`` (monotonic; LEASE_SLACK_S before the lease ends), so that no other
        process claims the delivery while this one may still be sending it."""
        row = await asyncio.to_thread(self.store.get_alert, d.alert_id)
        if row is None:
            return
        budget = min(self.settings.webhook_timeout_s, send_by - time.monotonic())
        if budget <= 0:  # the database was slow: leave it to the next lease
            logger.warning("webhook for alert %s: no time left in its lease; it will be sent again", d.alert_id)
            return
        body = json.dumps(alert_json(row), ensure_ascii=False, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": d.alert_id,
                   "X-Scribe-Timestamp": ts, "X-Scribe-Delivery-Attempt": str(d.attempts + 1),
                   "User-Agent": "hotline-scribe-webhooks"}
        secret = self.settings.webhook_secret.get_secret_value()
        if secret:
            headers["X-Scribe-Signature"] = sign(secret, ts, body)
        status: int | None = None
        try:
            # httpx's timeout bounds each read, not the whole exchange: an endpoint that trickles bytes would not end
            async with asyncio.timeout(budget):
                resp = await self.client.post(d.url, content=body, headers=headers)
            status = resp.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as e:  # any failure (an invalid URL too) is an attempt: recorded, retried or given up
            error = type(e).__name__  # the name only: a message could quote the request
        attempt = d.attempts + 1
        retry_at = None
        if error is None:
            self.metrics.webhooks.labels("delivered").inc()
        elif attempt < self.settings.webhook_max_attempts:
            self.metrics.webhooks.labels("retry").inc()
            delay = retry_delay(self.settings, attempt)
            retry_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
            logger.warning("webhook for alert %s: attempt %d failed (%s); retrying in %.0f s",
                           d.alert_id, attempt, error, delay)
        else:
            self.metrics.webhooks.labels("failed").inc()
            logger.error("webhook for alert %s: given up after %d attempts (%s)", d.alert_id, attempt, error)
        await asyncio.to_thread(self.store.delivery_result, d.id, status=status, error=error, retry_at=retry_at)
