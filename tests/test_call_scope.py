"""Which calls a token reads, over real HTTP and WebSockets against a real service and database: a counselor token
that names its holder (``token:counselor@c-017``) reads, drafts, corrects and follows only the calls recorded with
that counselor_id; another counselor's call answers 404 (the watch socket closes "unknown call"), as a call that does
not exist, and nothing of it changes. A counselor token that names nobody, and supervisors, read every call."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from service.store.db import CallStart, Store
from service.types import FinalSegment
from tests.conftest import COUN, SUP, TOKENS, make_settings, serve_with

C17 = "coun-scope-token-c17"
C99 = "coun-scope-token-c99"
CALLS = {"scope-a": "c-017", "scope-b": "c-099", "scope-c": None}


@pytest.fixture(scope="module")
def srv(runtime, tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("scope"),
                             tokens=f"{TOKENS},{C17}:counselor@c-017,{C99}:counselor@c-099")
    with serve_with(runtime, settings) as s:
        store = s.config.app.state.runtime.pipeline.store
        for call_id, counselor in CALLS.items():
            store.create_call(CallStart(call_id, counselor, "live", 8000, "pcm_s16le", 2, ["caller", "counselor"], {}))
            store.add_segment(FinalSegment(call_id, 0, "caller", 0.0, 2.0, "我最近压力很大，睡不着。"))
            store.add_segment(FinalSegment(call_id, 1, "counselor", 2.0, 4.0, "能说说发生了什么吗？"))
            store.finish_call(call_id, "ended", 4.0)
        with httpx.Client(base_url=s.http, headers={"Authorization": f"Bearer {SUP}"}, timeout=60) as sup:
            for call_id in CALLS:  # each call's worksheet drafted by the supervisor: it exists for every call
                assert sup.post(f"/v1/calls/{call_id}/worksheet/draft").status_code == 200
        yield s


def http(srv, token: str) -> httpx.Client:
    return httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def listed(srv, token: str) -> set[str]:
    with http(srv, token) as h:
        r = h.get("/v1/calls", params={"limit": 500})
    assert r.status_code == 200
    return {c["call_id"] for c in r.json()["calls"]} & set(CALLS)


def test_a_named_counselor_lists_only_their_calls(srv):
    assert listed(srv, C17) == {"scope-a"}
    assert listed(srv, C99) == {"scope-b"}
    # a token naming nobody (a team's, a seat's) and supervisors read every call, as before
    assert listed(srv, COUN) == set(CALLS)
    assert listed(srv, SUP) == set(CALLS)


def test_another_counselors_call_reads_as_missing(srv):
    with http(srv, C17) as h:
        own = h.get("/v1/calls/scope-a")
        assert own.status_code == 200 and own.json()["counselor_id"] == "c-017"
        assert h.get("/v1/calls/scope-a/worksheet").status_code == 200
        missing = h.get("/v1/calls/no-such-call")
        for call_id in ("scope-b", "scope-c"):  # another's, and a call with no counselor named
            for path in ("", "/worksheet", "/worksheet/history"):
                r = h.get(f"/v1/calls/{call_id}{path}")
                assert r.status_code == 404, (call_id, path)
                assert r.json()["detail"] == f"no call {call_id}"  # the same answer as a call that is not there
            assert "counselor_id" not in r.text and "c-099" not in r.text
    assert missing.status_code == 404 and missing.json()["detail"] == "no call no-such-call"


def test_another_counselors_worksheet_cannot_be_changed(srv):
    with http(srv, SUP) as sup:
        before = sup.get("/v1/calls/scope-b/worksheet").json()
    with http(srv, C17) as h:
        assert h.patch("/v1/calls/scope-b/worksheet",
                       json={"fields": {"summary": "改写"}, "reason": "x"}).status_code == 404
        assert h.post("/v1/calls/scope-b/worksheet/draft").status_code == 404
        assert h.post("/v1/calls/scope-b/worksheet/finalize").status_code == 404
    with http(srv, C99) as own:  # its own counselor may
        r = own.patch("/v1/calls/scope-b/worksheet", json={"fields": {"summary": "来电者压力大，失眠。"}, "reason": "补充"})
        assert r.status_code == 200 and r.json()["updated_by"] == "c-099"
    with http(srv, SUP) as sup:
        after = sup.get("/v1/calls/scope-b/worksheet").json()
        history = sup.get("/v1/calls/scope-b/worksheet/history").json()["versions"]
    assert after["version"] == before["version"] + 1  # the one change its counselor made, none of c-017's
    assert [v["by"] for v in history[1:]] == ["c-099"]
    assert after["status"] == "draft"


async def _watch(srv, call_id: str, token: str) -> tuple[list[dict], int | None, str]:
    got: list[dict] = []
    async with websockets.connect(f"{srv.ws}/v1/calls/{call_id}/watch?token={token}", open_timeout=10) as ws:
        try:
            while True:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        except websockets.ConnectionClosed as e:
            return got, (e.rcvd.code if e.rcvd else None), (e.rcvd.reason if e.rcvd else "")


def test_watching_another_counselors_call_is_refused_as_unknown(srv):
    got, code, reason = asyncio.run(_watch(srv, "scope-b", C17))
    assert got == [] and (code, reason) == (1008, "unknown call")
    got, code, reason = asyncio.run(_watch(srv, "scope-a", C17))  # its own: the snapshot, then ended
    assert [m["type"] for m in got] == ["snapshot", "ended"] and code == 1000
    assert [s["segment_id"] for s in got[0]["segments"]] == [0, 1]


def test_an_existing_database_gets_the_counselor_index(tmp_path):
    """A database made before the index existed gets it when a store opens it (create_all alone would not)."""
    from sqlalchemy import inspect, text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    first = Store(url)
    with first.engine.begin() as c:
        c.execute(text("DROP INDEX ix_calls_counselor_started"))
    assert "ix_calls_counselor_started" not in {i["name"] for i in inspect(first.engine).get_indexes("calls")}
    first.close()
    again = Store(url)
    assert "ix_calls_counselor_started" in {i["name"] for i in inspect(again.engine).get_indexes("calls")}
    again.create_call(CallStart("idx-1", "c-017", "live", 8000, "pcm_s16le", 1, ["mixed"], {}))
    assert [c.call_id for c in again.list_calls(counselor_id="c-017")] == ["idx-1"]
    assert again.list_calls(counselor_id="c-099") == []
    again.close()
