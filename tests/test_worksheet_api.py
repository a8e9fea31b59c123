"""The worksheet workflow over HTTP on a real call: drafted at the end of the call (and on request during it),
corrected field by field with who and when, finalized and locked, every version kept; and the watch socket
that a counselor's console follows a live call with."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from service.analysis import RiskAnalysis
from service.drafting import Drafting
from service.metrics import Metrics
from service.settings import WorksheetSettings
from service.store.db import CallStart, Store
from service.types import FinalSegment
from service.worksheet import WORKSHEET_FIELDS
from tests.conftest import COUN, SUP, TEL, TOKENS, free_port, load_fixture_call, make_settings, serve_with
from tests.streaming import encode, stream

NAMED = "coun-named-token-17"
HEAD = {"type": "start", "call_id": "", "sample_rate": 8000, "encoding": "mulaw", "channels": 2,
        "channel_roles": ["caller", "counselor"], "counselor_id": "c-017"}


def start(call_id: str) -> dict:
    return {**HEAD, "call_id": call_id}


@pytest.fixture(scope="module")
def srv(runtime, tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("ws"), tokens=f"{TOKENS},{NAMED}:counselor@c-017")
    with serve_with(runtime, settings) as s:
        yield s


@pytest.fixture(scope="module")
def ended_call(srv):
    _, audio = load_fixture_call("dev-0008-head")
    res = asyncio.run(stream(srv.ws, TEL, start("t-ws-1"), audio, frame_s=0.2, speed=0))
    assert res.of("ended")[0]["worksheet"] == "/v1/calls/t-ws-1/worksheet"
    return res


def client(srv, token: str = NAMED) -> httpx.Client:
    return httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {token}"})


def test_draft_is_ready_when_the_call_ends(srv, ended_call):
    with client(srv) as http:
        ws = http.get("/v1/calls/t-ws-1/worksheet").json()
        segments = {s["segment_id"] for s in http.get("/v1/calls/t-ws-1").json()["segments"]}
    assert ws["status"] == "draft" and ws["version"] == 1 and ws["engine"] == "rules"
    assert list(ws["fields"]) == list(WORKSHEET_FIELDS) and ws["engine_versions"]["engine"] == "rules"
    for name, f in ws["fields"].items():
        assert 0 <= f["confidence"] <= 1 and f["corrected"] is False
        assert set(f["evidence"]) <= segments, name  # evidence names real segments of this call
    assert any(f["evidence"] for f in ws["fields"].values())
    # the worksheet's risk level is the call's level from the risk engine, as the telephony side was told
    assert ws["fields"]["risk_level"]["value"] == ended_call.of("ended")[0]["risk_level"]


def test_correct_finalize_and_history(srv, ended_call):
    with client(srv) as http:
        before = http.get("/v1/calls/t-ws-1/worksheet").json()
        bad = http.patch("/v1/calls/t-ws-1/worksheet",
                         json={"fields": {"call_type": "闲聊", "ideation_intensity": 11, "nickname": "x",
                                          "caller_gender": "女"}})
        assert bad.status_code == 422
        assert {p["field"] for p in bad.json()["detail"]} == {"call_type", "ideation_intensity", "nickname"}
        assert http.get("/v1/calls/t-ws-1/worksheet").json()["version"] == before["version"]  # nothing saved
        assert http.patch("/v1/calls/t-ws-1/worksheet", json={"fields": {}}).status_code == 422
        assert http.patch("/v1/calls/t-ws-1/worksheet", json={"reason": "no fields"}).status_code == 422

        r = http.patch("/v1/calls/t-ws-1/worksheet", json={
            "fields": {"caller_age_group": "18-29", "problem_categories": ["学业压力"]}, "reason": "来电者说研二"})
        assert r.status_code == 200
        ws = r.json()
        assert ws["version"] == before["version"] + 1 and ws["updated_by"] == "c-017"
        f = ws["fields"]["caller_age_group"]
        assert f["value"] == "18-29" and f["corrected"] and f["corrected_by"] == "c-017" and f["corrected_at"]
        assert ws["fields"]["call_type"]["corrected"] is False

        redraft = http.post("/v1/calls/t-ws-1/worksheet/draft")  # a new draft keeps what a person corrected
        assert redraft.status_code == 200
        assert redraft.json()["fields"]["caller_age_group"]["value"] == "18-29"
        assert redraft.json()["fields"]["problem_categories"]["corrected"] is True

        with client(srv, SUP) as sup:
            fin = sup.post("/v1/calls/t-ws-1/worksheet/finalize")
        assert fin.status_code == 200 and fin.json()["status"] == "finalized"
        assert fin.json()["finalized_by"].startswith("supervisor:")  # an unnamed token: role and token hash
        assert SUP not in fin.json()["finalized_by"]
        assert http.patch("/v1/calls/t-ws-1/worksheet", json={"fields": {"follow_up": True}}).status_code == 409
        assert http.post("/v1/calls/t-ws-1/worksheet/finalize").status_code == 409
        assert http.post("/v1/calls/t-ws-1/worksheet/draft").status_code == 409

        hist = http.get("/v1/calls/t-ws-1/worksheet/history").json()["versions"]
    assert [v["kind"] for v in hist] == ["draft", "correction", "redraft", "finalize"]
    assert [v["version"] for v in hist] == [1, 2, 3, 4]
    corr = hist[1]
    assert corr["by"] == "c-017" and corr["reason"] == "来电者说研二" and corr["at"]
    drafted = before["fields"]["caller_age_group"]["value"]
    expected = {} if drafted == "18-29" else {"caller_age_group": {"from": drafted, "to": "18-29"}}
    drafted = before["fields"]["problem_categories"]["value"]
    if drafted != ["学业压力"]:
        expected["problem_categories"] = {"from": drafted, "to": ["学业压力"]}
    assert corr["changes"] == expected  # only what actually changed, from → to
    assert hist[-1]["values"]["caller_age_group"] == "18-29"


def test_worksheet_auth_and_unknown_calls(srv, ended_call):
    with httpx.Client(base_url=srv.http) as http:
        assert http.get("/v1/calls/t-ws-1/worksheet").status_code == 401
        tel = {"Authorization": f"Bearer {TEL}"}
        assert http.get("/v1/calls/t-ws-1/worksheet", headers=tel).status_code == 403
        assert http.patch("/v1/calls/t-ws-1/worksheet", headers=tel, json={"fields": {}}).status_code == 403
    with client(srv, COUN) as http:
        assert http.get("/v1/calls/nope/worksheet").status_code == 404
        assert http.patch("/v1/calls/nope/worksheet", json={"fields": {"follow_up": True}}).status_code == 404
        assert http.get("/v1/calls/nope/worksheet/history").status_code == 404


async def test_watch_a_live_call_and_draft_during_it(srv):
    _, audio = load_fixture_call("dev-0008-head")
    uri = f"{srv.ws}/v1/calls/stream?token={TEL}"
    watched: list[dict] = []
    async with websockets.connect(uri) as tel:
        await tel.send(json.dumps(start("t-ws-live")))
        assert json.loads(await tel.recv())["type"] == "started"
        async with websockets.connect(f"{srv.ws}/v1/calls/t-ws-live/watch?token={COUN}") as watch:
            snap = json.loads(await watch.recv())
            assert snap["type"] == "snapshot" and snap["call"]["status"] == "streaming"
            half = len(audio) // 2
            for i in range(0, half, 1600):
                await tel.send(encode(audio[i : i + 1600], "mulaw"))
            while not any(m["type"] == "final" for m in watched):
                watched.append(json.loads(await asyncio.wait_for(watch.recv(), 60)))
            async with httpx.AsyncClient(base_url=srv.http, headers={"Authorization": f"Bearer {COUN}"}) as http:
                during = await http.post("/v1/calls/t-ws-live/worksheet/draft")  # on request, mid-call
                assert during.status_code == 200 and during.json()["status"] == "draft"
            for i in range(half, len(audio), 1600):
                await tel.send(encode(audio[i : i + 1600], "mulaw"))
            await tel.send(json.dumps({"type": "stop"}))
            sent = [json.loads(m) async for m in tel]
            async for raw in watch:
                watched.append(json.loads(raw))
            assert watch.close_code == 1000
    assert [m for m in watched if m["type"] in ("final", "ended")] == [m for m in sent if m["type"] in ("final", "ended")]
    assert watched[-1]["type"] == "ended"
    async with websockets.connect(f"{srv.ws}/v1/calls/t-ws-live/watch?token={SUP}") as late:  # an ended call
        msgs = [json.loads(m) async for m in late]
    assert [m["type"] for m in msgs] == ["snapshot", "ended"]
    assert [s["text"] for s in msgs[0]["segments"]] == [m["text"] for m in sorted(
        (m for m in sent if m["type"] == "final"), key=lambda m: (m["start"], m["segment_id"]))]
    with client(srv, COUN) as http:  # the end-of-call draft followed the one made during the call
        hist = http.get("/v1/calls/t-ws-live/worksheet/history").json()["versions"]
    assert [v["kind"] for v in hist] == ["draft", "redraft"]


async def test_watch_refuses_wrong_roles_and_unknown_calls(srv):
    for token in (TEL, "nobody"):
        async with websockets.connect(f"{srv.ws}/v1/calls/t-ws-1/watch?token={token}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
    async with websockets.connect(f"{srv.ws}/v1/calls/no-such-call/watch?token={COUN}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 1008


async def test_llm_engine_drafts_after_the_rules_draft_and_falls_back_field_by_field(runtime, tmp_path):
    """With engine=llm and the model's server unreachable, the call still gets the rules draft at once, then the
    LLM engine's draft, every field of it fallen back to the rules engine with the reason recorded."""
    call, _ = load_fixture_call("dev-0008-risk")
    store = Store(f"sqlite:///{tmp_path / 'llm.db'}")
    store.create_call(CallStart("t-llm", "c-017", "live", 8000, "mulaw", 2, ["caller", "counselor"], {}))
    segs = [FinalSegment("t-llm", s["id"], s["speaker"], s["start"], s["end"], s["text"]) for s in call["segments"]]
    settings = WorksheetSettings(engine="llm", llm_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="qwen-test",
                                 llm_timeout_s=2)
    drafting = Drafting(store, runtime.pipeline.risk, settings, Metrics())
    analysis = RiskAnalysis(runtime.pipeline.risk, "t-llm", "c-017")
    for seg in segs:
        analysis.analyze(seg)
    await drafting.at_call_end("t-llm", segs, analysis.risks, analysis.state.level)
    assert store.get_worksheet("t-llm").engine == "rules"  # at once, before the model answers
    for _ in range(200):
        if store.get_worksheet("t-llm").engine == "llm":
            break
        await asyncio.sleep(0.05)
    row = store.get_worksheet("t-llm")
    assert row.engine == "llm" and row.version == 2
    assert set(row.draft["fallbacks"]) == set(WORKSHEET_FIELDS)  # unreachable: every field from the rules engine
    assert row.engine_versions["llm_model"] == "qwen-test"
    assert [v.kind for v in store.worksheet_history("t-llm")] == ["draft", "redraft"]
    await drafting.close()
    store.close()
