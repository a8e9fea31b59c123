"""Several service processes on one database: a replica that starts (or restarts) leaves the live calls of the
others alone, a crashed replica's calls are marked interrupted while the others keep running, and the alert
listener notices a link that went silent (a failover that never reset it) and makes every console replay from the
database, on SQLite and PostgreSQL, with real stores, real uvicorn processes and a real TCP relay."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import websockets
from sqlalchemy import select, update

import service.alerts.hub as hub_module
from service.alerts import AlertHub
from service.metrics import Metrics
from service.settings import RiskSettings
from service.store.db import CallStart, Store, utcnow
from service.store import tables
from service.store.tables import CallRow
from tests.conftest import (POSTGRES_URL, SUP, TEL, free_port, make_settings, needs_postgres, serve_process,
                            serve_with)
from tests.streaming import encode
from tests.test_alerts import Console, _event
from tests.test_live_stream import start_msg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'r.db'}" if request.param == "sqlite" else POSTGRES_URL


def _open(store: Store, source: str = "live") -> str:
    cid = f"own-{source}-{time.time_ns()}"
    store.create_call(CallStart(cid, "c-017", source, 8000, "mulaw", 2, ["caller", "counselor"], {}))
    return cid


def _status(store: Store, cid: str) -> str:
    return store.get_call(cid).status


def _backdate(store: Store, cid: str, seconds: float) -> None:
    """As if the call's owner had stopped heartbeating ``seconds`` ago (a process that died, a frozen host)."""
    with store.session() as s:
        s.execute(update(tables.CallOwnerRow).where(tables.CallOwnerRow.call_id == cid)
                  .values(heartbeat_at=utcnow() - timedelta(seconds=seconds)))
        s.commit()


# ------------------------------------------------------------------------------------- call ownership
def test_a_starting_replica_leaves_the_calls_of_running_replicas_alone(url):
    a = Store(url)
    live, upload = _open(a), _open(a, "upload")
    b = Store(url)  # another replica starts (or restarts) on the same database
    b.mark_interrupted()
    assert (_status(a, live), _status(a, upload)) == ("streaming", "processing")
    assert a.owner != b.owner
    a.finish_call(live, "ended", 12.0)
    a.finish_call(upload, "failed", 3.0, "processing failed")
    assert (_status(b, live), _status(b, upload)) == ("ended", "failed")
    with a.session() as s:  # a finished call is no longer owned: nothing is left to heartbeat or to sweep
        owned = select(tables.CallOwnerRow).where(tables.CallOwnerRow.call_id.in_((live, upload)))
        assert s.scalars(owned).all() == []
    b.close()
    a.close()


def test_a_crashed_replicas_calls_are_swept_once_its_heartbeat_is_stale(url):
    a, b = Store(url), Store(url)
    beating, dead = _open(a), _open(a)
    _backdate(a, beating, 45)
    assert a.heartbeat() >= 2  # one UPDATE refreshes every call this process owns
    _backdate(a, dead, 90)  # ... and then it stops: the process is gone
    assert b.mark_interrupted(stale_s=60) >= 1
    assert (_status(b, beating), _status(b, dead)) == ("streaming", "interrupted")
    with b.session() as s:
        assert s.get(tables.CallOwnerRow, dead) is None and s.get(tables.CallOwnerRow, beating).owner == a.owner
    assert b.get_call(dead).ended_at is not None
    b.close()
    a.close()


def test_a_call_without_an_owner_is_interrupted_at_once(url):
    """A call left 'streaming' by a version of the service from before call ownership (or one whose owner row a
    sweep already removed) has nobody to finish it."""
    a = Store(url)
    cid = f"own-legacy-{time.time_ns()}"
    with a.session() as s:
        s.add(CallRow(call_id=cid, counselor_id=None, source="live", status="streaming", sample_rate=8000,
                      encoding="mulaw", channels=1, channel_roles=["mixed"], started_at=utcnow(), audio_seconds=0.0,
                      risk_level="无", asr={}))
        s.commit()
    assert Store(url).mark_interrupted() >= 1 and _status(a, cid) == "interrupted"
    a.close()


def test_the_calls_of_a_dead_process_on_this_host_are_interrupted_without_waiting(url):
    """kill -9 and restart on the same host: the owner's process is gone, so its calls need not wait for the
    heartbeat to go stale (a process of this host can tell)."""
    a = Store(url)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    a.owner = a.owner.rsplit("/", 2)[0] + f"/{gone.pid}/deadbeef"  # the owner id of that (dead) process
    cid = _open(a)
    alive = Store(url)
    mine = _open(alive)
    assert Store(url).mark_interrupted() >= 1
    assert (_status(a, cid), _status(a, mine)) == ("interrupted", "streaming")
    alive.close()
    a.close()


def test_a_store_closed_with_calls_still_open_marks_them_interrupted(url):
    a = Store(url)
    cid = _open(a)
    a.close()  # the process stops: nobody will finish this call
    b = Store(url)
    assert _status(b, cid) == "interrupted"
    b.close()


# -------------------------------------------------------------------------------- real processes
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=needs_postgres)])
async def test_restarting_a_replica_keeps_the_others_calls_live(tmp_path, clips, db):
    """Two `scribe serve` processes on one database: B restarts while a call streams on A, and the call stays
    live; then A is killed, and B (still running) marks A's call interrupted by its periodic sweep."""
    env = {"SCRIBE_DATABASE_URL": POSTGRES_URL if db == "postgres" else f"sqlite:///{tmp_path / 'shared.db'}"}
    pa, pb = free_port(), free_port()
    a = serve_process(tmp_path / "a", pa, **env)
    b = serve_process(tmp_path / "b", pb, **env)
    audio, _ = clips["aishell1_BAC009S0764W0121"]
    cid = f"t-replica-{db}-{time.time_ns()}"

    def status(port: int) -> str:
        r = httpx.get(f"http://127.0.0.1:{port}/v1/calls/{cid}", headers={"Authorization": f"Bearer {SUP}"})
        return r.json()["status"]

    try:
        async with websockets.connect(f"ws://127.0.0.1:{pa}/v1/calls/stream?token={TEL}") as ws:
            await ws.send(json.dumps(start_msg(cid)))
            assert json.loads(await ws.recv())["type"] == "started"
            await ws.send(encode(audio[:16000, None], "pcm_s16le"))
            b.terminate()
            b.wait(30)
            b = serve_process(tmp_path / "b", pb, **env)  # B restarts while the call is live on A
            assert status(pb) == status(pa) == "streaming"
            await ws.send(encode(audio[16000:32000, None], "pcm_s16le"))  # and A goes on with it
            a.send_signal(signal.SIGKILL)
            a.wait(30)
        deadline = time.monotonic() + 75  # a sweep every 30 s; a dead process of this host is seen at once
        while status(pb) != "interrupted":
            assert time.monotonic() < deadline, f"A's call is still {status(pb)}"
            await asyncio.sleep(1)
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.terminate()
        for p in (a, b):
            p.wait(30)


# --------------------------------------------------------------------------- the alert listener
class Relay:
    """A TCP relay to PostgreSQL that can go silent: ``freeze()`` stops forwarding on every connection relayed so
    far without closing any (a failover that never resets the old connections: what is sent goes nowhere), while
    new connections pass; ``down`` refuses new connections (the database cannot be reached)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname, parts.port or 5432)
        self.server = socket.create_server(("127.0.0.1", 0))
        port = self.server.getsockname()[1]
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
        self.down = False
        self.states: list[dict] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        for st in self.states:
            st["frozen"] = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            st = {"frozen": False}
            self.states.append(st)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, st), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, st: dict) -> None:
        try:
            while data := src.recv(65536):
                if not st["frozen"]:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()


async def _until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@needs_postgres
async def test_a_silent_listen_link_is_noticed_and_every_console_replays(runtime, tmp_path, monkeypatch):
    """The listener's link goes silent (no error, no reset): it is noticed by the liveness check, the listener
    reconnects, and every console is closed with 1013 so it replays from the database: the acknowledgement made
    during the outage is honoured (the acked alert is not replayed), the alert raised during it arrives, nothing
    twice, and live alerts flow again."""
    monkeypatch.setattr(hub_module, "LIVENESS_S", 0.5, raising=False)
    monkeypatch.setattr(hub_module, "LIVENESS_TIMEOUT_S", 1.0, raising=False)
    relay = Relay(POSTGRES_URL)
    other = Store(POSTGRES_URL)  # another replica, whose link is fine
    elsewhere = AlertHub(other, RiskSettings(), Metrics())  # not started: it only stores and notifies
    cid = f"t-silent-{time.time_ns()}"
    other.create_call(CallStart(cid, "c-017", "live", 8000, "mulaw", 2, ["caller", "counselor"], {}))
    first = await elsewhere.raise_alert(_event(cid, "中"))
    srv = serve_with(runtime, make_settings(tmp_path, database_url=relay.url))
    try:
        with srv:
            rt = srv.config.app.state.runtime
            async with Console(srv.ws) as console:
                await console.wait_for(lambda m: m.get("alert_id") == first["alert_id"])
                # only the listener's connection goes silent: the pool's idle connections are let go first
                rt.pipeline.store.engine.dispose()
                relay.freeze()
                await elsewhere.ack(first["alert_id"], "sup-2")  # during the outage, on another replica
                during = await elsewhere.raise_alert(_event(cid, "高"))
                await _until(lambda: console.close_code is not None, 30, "the console was never told to reconnect")
                assert console.close_code == 1013
                ours = [m for m in console.messages if m.get("call_id") == cid]
                assert [m["type"] for m in ours] == ["alert"]  # no duplicate replay pushed at it
            async with Console(srv.ws) as again:  # what the web console does on 1013: reconnect and replay
                await again.wait_for(lambda m: m.get("alert_id") == during["alert_id"])
                later = await elsewhere.raise_alert(_event(cid, "紧急"))  # live again
                await again.wait_for(lambda m: m.get("alert_id") == later["alert_id"])
                assert not any(m.get("alert_id") == first["alert_id"] for m in again.messages)
                assert sum(m.get("alert_id") == during["alert_id"] for m in again.messages) == 1
            sock = socket.socket(fileno=rt.alerts._conn.pgconn.socket)
            try:  # TCP keepalives on the listening connection: a peer that is gone is found by the kernel too
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) <= 30
            finally:
                sock.detach()
    finally:
        relay.close()
        other.close()


@needs_postgres
async def test_consoles_that_came_before_the_first_listen_replay_once_it_is_up(tmp_path, monkeypatch):
    """The database cannot be reached when the process starts: start() stops waiting for the listener, consoles
    connect meanwhile (they get a replay but no notifications), and once the listener is up they are told to
    reconnect."""
    monkeypatch.setattr(hub_module, "START_WAIT_S", 0.3, raising=False)
    relay = Relay(POSTGRES_URL)
    store = Store(relay.url)
    store.engine.dispose()
    relay.down = True
    hub = AlertHub(store, RiskSettings(), Metrics())
    await hub.start()
    try:
        early = hub.subscribe()
        relay.down = False
        assert await asyncio.wait_for(early.get(), 15) is None and not early.overflowed
        hub.unsubscribe(early)
        after = hub.subscribe()  # a console that comes once it listens stays
        await asyncio.sleep(0.5)
        assert after.queue.empty()
    finally:
        await hub.stop()
        store.close()
        relay.close()
