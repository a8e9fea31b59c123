"""The alert hub: one per process. It persists an alert (once per call and level, enforced by the database),
pushes it to every console connected to this process, and, with PostgreSQL, to every other process through
LISTEN/NOTIFY, so a supervisor sees alerts from all replicas whichever one their console is connected to.

With SQLite (one process by construction) the fan-out is local. With PostgreSQL every event, this process's own
included, arrives through the notification channel, so there is exactly one path and no double delivery; a
console that connects first reads the open alerts from the database. The NOTIFY is sent in the transaction that
stores the alert (or its acknowledgement): every replica hears of what is stored, even if this process dies right
after the commit, and of nothing that is not.

Notifications sent while the listener is not listening are lost (a dropped link, a failover, a database that was
down at start-up). So whenever it starts listening, every console connected at that moment is closed with 1013:
it reconnects and replays from the database, which holds what happened meanwhile (alerts raised, and alerts
acknowledged, which no replay of open alerts pushed at a connected console could take back). A link that goes
silent without an error is found by TCP keepalives and by a ``SELECT 1`` every LIVENESS_S.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

from service.fanout import Subscription
from service.metrics import Metrics
from service.settings import RiskSettings
from service.store.db import PG_KEEPALIVES, Store
from service.store.tables import AlertRow
from service.types import AlertEvent

logger = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8), "CST")
CHANNEL = "scribe_alerts"
CONSOLE_QUEUE = 1000
RECONNECT_MAX_S = 30.0
START_WAIT_S = 10.0  # start() waits this long for the listener, then the service starts anyway
LIVENESS_S = 10.0  # a listening connection is checked this often (a SELECT 1), notifications or not
LIVENESS_TIMEOUT_S = 5.0  # a check unanswered for this long: the link is dead, reconnect
CONNECT_TIMEOUT_S = 10


def iso_time(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(BEIJING).isoformat(timespec="milliseconds")


def alert_json(row: AlertRow) -> dict:
    """The ``alert`` message of the protocol (plus state, acknowledgement and engine version)."""
    return {"type": "alert", "alert_id": row.alert_id, "call_id": row.call_id, "counselor_id": row.counselor_id,
            "risk_level": row.risk_level, "labels": list(row.labels), "evidence": list(row.evidence),
            "raised_at": iso_time(row.raised_at), "engine_version": row.engine_version, "state": row.state,
            "acked_at": iso_time(row.acked_at), "acked_by": row.acked_by}


def ack_json(row: AlertRow) -> dict:
    return {"type": "ack", "alert_id": row.alert_id, "call_id": row.call_id, "acked_by": row.acked_by,
            "acked_at": iso_time(row.acked_at)}


class AlertHub:
    def __init__(self, store: Store, settings: RiskSettings, metrics: Metrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.shared = store.url.startswith(("postgresql://", "postgresql+psycopg://"))
        self._subs: set[Subscription] = set()
        self._tasks: list[asyncio.Task] = []
        self._webhooks = None
        self._conn = None  # the listening connection while there is one
        self.started = False

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the notification listener (PostgreSQL) and the webhook sender (when webhooks are configured)."""
        if self.started:
            return
        self.started = True
        if self.shared:
            ready = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._listen(ready), name="alerts-listen"))
            try:
                await asyncio.wait_for(ready.wait(), START_WAIT_S)
            except TimeoutError:
                logger.error("alert notifications: not listening yet; alerts from other processes may be late")
        if self.settings.webhook_urls:
            from service.alerts.webhooks import WebhookSender

            self._webhooks = WebhookSender(self.store, self.settings, self.metrics)
            self._tasks.append(asyncio.create_task(self._webhooks.run(), name="alerts-webhooks"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self._webhooks is not None:
            await self._webhooks.close()
        self.started = False
        for sub in list(self._subs):
            sub.close()

    # --------------------------------------------------------------- events
    async def raise_alert(self, event: AlertEvent) -> dict | None:
        """Persist and publish; None when this call already has an alert at this level."""
        row = AlertRow(
            alert_id=str(uuid.uuid4()), call_id=event.call_id, counselor_id=event.counselor_id,
            risk_level=event.risk_level, labels=list(event.labels),
            evidence=[{"segment_id": s.segment_id, "speaker": s.speaker, "start": s.start, "end": s.end,
                       "text": s.text} for s in event.evidence],
            engine_version=event.engine_version, raised_at=datetime.now(timezone.utc), state="open",
        )
        if not await asyncio.to_thread(self.store.add_alert, row, list(self.settings.webhook_urls),
                                       self._note("alert", row.alert_id)):
            return None
        self.metrics.alerts.labels(row.risk_level).inc()
        logger.warning("alert %s raised: call %s reached %s", row.alert_id, row.call_id, row.risk_level)
        msg = alert_json(row)
        self._publish(msg)
        if self._webhooks is not None:
            self._webhooks.wake()
        return msg

    async def ack(self, alert_id: str, by: str) -> dict | None:
        row, changed = await asyncio.to_thread(self.store.ack_alert, alert_id, by, self._note("ack", alert_id))
        if row is None:
            return None
        if changed:
            logger.info("alert %s acknowledged by %s", alert_id, by)
            self._publish(ack_json(row))
        return alert_json(row)

    def subscribe(self) -> Subscription:
        sub = Subscription(CONSOLE_QUEUE)
        self._subs.add(sub)
        self.metrics.alert_consoles.set(len(self._subs))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        self.metrics.alert_consoles.set(len(self._subs))

    def _fan_out(self, msg: dict) -> None:
        for sub in list(self._subs):
            sub.put(msg)

    def _note(self, kind: str, alert_id: str) -> tuple[str, str] | None:
        """The NOTIFY the store sends with the change (PostgreSQL); ids only: NOTIFY payloads are not for text."""
        return (CHANNEL, json.dumps({"kind": kind, "alert_id": alert_id})) if self.shared else None

    def _publish(self, msg: dict) -> None:
        """Local fan-out of a stored change; with PostgreSQL its notification, committed with it, brings it to every
        process, this one included."""
        if not self.shared:
            self._fan_out(msg)

    async def _listen(self, ready: asyncio.Event) -> None:
        """LISTEN on the alerts channel, checking the link every LIVENESS_S; reconnect with backoff; once listening
        (again, or for the first time), consoles resynchronise from the database."""
        import psycopg

        url = self.store.url.replace("postgresql+psycopg://", "postgresql://", 1)
        delay = 0.5
        while True:
            try:
                connecting = psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                                             **PG_KEEPALIVES)
                async with await connecting as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._conn = conn
                    self._resynchronise()
                    ready.set()
                    delay = 0.5
                    while True:
                        # notifications that come during the check are kept by psycopg for the next round
                        async for note in conn.notifies(timeout=LIVENESS_S):
                            await self._on_notify(note.payload)
                        async with asyncio.timeout(LIVENESS_TIMEOUT_S):
                            await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # TimeoutError: the link went silent
                logger.error("alert notifications: connection lost (%s); retrying in %.1f s", type(e).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
            finally:
                self._conn = None

    def _resynchronise(self) -> None:
        """Just started listening: whatever was notified before is lost to the consoles connected now, so each is
        closed (1013) to reconnect and replay from the database. Pushing a replay at them instead would repeat what
        they have and could not withdraw the alerts acknowledged meanwhile."""
        subs = [sub for sub in self._subs if not sub.closed]
        for sub in subs:
            sub.close()
        if subs:
            logger.warning("alert notifications: listening; %d consoles told to reconnect and replay", len(subs))

    async def _on_notify(self, payload: str) -> None:
        try:
            note = json.loads(payload)
            row = await asyncio.to_thread(self.store.get_alert, note["alert_id"])
        except Exception:
            logger.exception("alert notifications: unusable notification")
            return
        if row is None:
            return
        self._fan_out(alert_json(row) if note.get("kind") == "alert" else ack_json(row))
