"""The store under failure and concurrency, on SQLite and PostgreSQL: database errors that do not quote what was
said, an alert that is never silently lost to an unrelated integrity error, a call level that never goes down
whichever writer is last, and consumer queues that end for a consumer already waiting on them."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from service.alerts import AlertHub
from service.fanout import Subscription
from service.metrics import Metrics
from service.settings import RiskSettings
from service.store.db import CallStart, Store
from service.store.tables import AlertRow
from service.types import RISK_LEVELS, AlertEvent, FinalSegment
from tests.conftest import POSTGRES_URL, needs_postgres

SAID = "我把药都攒好了今晚就吃"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def store(request, tmp_path):
    s = Store(f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else POSTGRES_URL)
    yield s
    s.close()


def _call(store: Store) -> str:
    cid = f"h-{time.time_ns()}"
    store.create_call(CallStart(cid, "c-017", "live", 8000, "mulaw", 2, ["caller", "counselor"], {}))
    return cid


def _alert(cid: str, level: str = "高") -> AlertRow:
    return AlertRow(alert_id=str(uuid.uuid4()), call_id=cid, counselor_id="c-017", risk_level=level,
                    labels=["suicide_preparation"], evidence=[{"segment_id": 3, "speaker": "caller", "start": 1.0,
                                                               "end": 2.0, "text": SAID}],
                    engine_version="test", raised_at=datetime.now(timezone.utc), state="open")


# ------------------------------------------------------------------------------------ error messages
def test_database_errors_do_not_quote_what_was_said(store):
    """Errors are logged with their traceback elsewhere: the message must not carry the statement's parameters."""
    cid = _call(store)
    store.add_segment(FinalSegment(cid, 1, "caller", 0.5, 2.5, SAID))
    with pytest.raises(IntegrityError) as dup:
        store.add_segment(FinalSegment(cid, 1, "caller", 0.5, 2.5, SAID))
    with pytest.raises(IntegrityError) as orphan:  # an alert for a call that is not there
        store.add_alert(_alert(f"no-such-call-{time.time_ns()}"), [])
    for e in (dup.value, orphan.value):
        assert SAID not in str(e) and SAID not in repr(e) and "parameters hidden" in str(e)


# ----------------------------------------------------------------------------------------- alerts
def test_only_a_duplicate_alert_reads_as_already_raised(store):
    cid = _call(store)
    assert store.add_alert(_alert(cid), ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]) is True
    assert store.add_alert(_alert(cid), ["http://127.0.0.1:9/a"]) is False  # this level was raised already
    # any other integrity error is a fault to be seen, not an alert that quietly was never raised
    with pytest.raises(IntegrityError):
        store.add_alert(_alert(cid, "紧急"), ["http://127.0.0.1:9/a", "http://127.0.0.1:9/a"])
    assert [a.risk_level for a in store.list_alerts(call_id=cid)] == ["高"]
    with pytest.raises(IntegrityError):
        store.add_alert(_alert(f"no-such-call-{time.time_ns()}"), [])


def test_webhook_urls_are_deduplicated_in_order():
    s = RiskSettings(webhook_urls=["https://b.example/h", "https://a.example/h", "https://b.example/h"])
    assert s.webhook_urls == ["https://b.example/h", "https://a.example/h"]


async def test_an_endpoint_listed_twice_still_gets_the_alert(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    cid = _call(store)
    url = "http://127.0.0.1:9/hook"
    hub = AlertHub(store, RiskSettings(webhook_urls=[url, url]), Metrics())  # not started: nothing is sent
    seg = FinalSegment(cid, 3, "caller", 1.0, 2.0, SAID)
    msg = await hub.raise_alert(AlertEvent(cid, "高", ["suicide_preparation"], [seg], "test", "c-017"))
    assert msg is not None and [d.url for d in store.deliveries(msg["alert_id"])] == [url]
    store.close()


# ------------------------------------------------------------------------------------- risk level
def test_a_calls_level_never_goes_down(store):
    cid = _call(store)
    assert store.set_risk_level(cid, "紧急") is True
    assert store.set_risk_level(cid, "高") is False  # a late writer with an older level
    assert store.get_call(cid).risk_level == "紧急"
    other = _call(store)
    for level in ("低", "高", "中", "无"):
        store.set_risk_level(other, level)
    assert store.get_call(other).risk_level == "高"
    with pytest.raises(ValueError):
        store.set_risk_level(other, "很高")


def test_concurrent_level_writers_leave_the_highest(store):
    cids = [_call(store) for _ in range(4)]
    levels = [lv for lv in RISK_LEVELS for _ in range(6)]
    rng = random.Random(7)

    def writer(cid: str) -> None:
        mine = levels[:]
        rng.shuffle(mine)
        for lv in mine:
            store.set_risk_level(cid, lv)

    threads = [threading.Thread(target=writer, args=(cid,)) for cid in cids for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [store.get_call(cid).risk_level for cid in cids] == ["紧急"] * 4


# ---------------------------------------------------------------------------------------- fan-out
async def _take(sub: Subscription) -> dict | None:
    return await asyncio.wait_for(sub.get(), 1)


async def test_close_wakes_a_consumer_already_waiting():
    sub = Subscription(4)
    waiting = asyncio.create_task(sub.get())
    await asyncio.sleep(0.01)  # the consumer is parked in get()
    sub.close()
    assert await asyncio.wait_for(waiting, 1) is None and not sub.overflowed


async def test_close_ends_after_what_is_queued_and_a_full_queue_overflows():
    sub = Subscription(3)
    sub.put({"n": 1})
    sub.put({"n": 2})
    sub.close()
    sub.put({"n": 3})  # after the end: dropped
    assert [await _take(sub) for _ in range(3)] == [{"n": 1}, {"n": 2}, None] and not sub.overflowed

    full = Subscription(2)
    full.put({"n": 1})
    full.put({"n": 2})
    full.close()  # no room for the end: the consumer cannot have everything, so it is told to reconnect
    assert await _take(full) is None and full.overflowed

    behind = Subscription(1)  # an overflow, too, ends the wait of a consumer already in get()
    waiting = asyncio.create_task(behind.get())
    await asyncio.sleep(0.01)
    behind.put({"n": 1})
    behind.put({"n": 2})  # before the consumer ran: overflow, and what was queued is superseded
    assert await asyncio.wait_for(waiting, 1) is None and behind.overflowed


async def test_stopping_the_hub_ends_idle_consoles(tmp_path):
    """What closes an idle alert console with 1013 (reconnect) when the service stops."""
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    hub = AlertHub(store, RiskSettings(), Metrics())
    await hub.start()
    subs = [hub.subscribe() for _ in range(2)]
    waiting = [asyncio.create_task(s.get()) for s in subs]
    await asyncio.sleep(0.01)
    await hub.stop()
    assert await asyncio.wait_for(asyncio.gather(*waiting), 2) == [None, None]
    assert not any(s.overflowed for s in subs)
    store.close()
