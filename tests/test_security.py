"""Security of the service's edges, over real HTTP and WebSockets against a real service: every endpoint admits
exactly the roles the README names (and a new endpoint cannot be added without saying which), tokens are read from
the Authorization header (``?token=`` on WebSockets only), errors do not echo tokens, API responses are never cached
nor sniffed, the console's pages carry a Content-Security-Policy without inline script or foreign hosts, the
Swagger/ReDoc pages (third-party script) are gone, and the eval HTML report escapes whatever data it shows."""

from __future__ import annotations

import asyncio
import hashlib
from html.parser import HTMLParser

import httpx
import pytest
import websockets

from eval.report import render_html
from service.auth import Authenticator
from service.settings import Settings
from tests.conftest import ADM, COUN, SUP, TEL, make_settings, serve_with

ROLE_TOKENS = {"telephony": TEL, "counselor": COUN, "supervisor": SUP, "admin": ADM}
PUBLIC = None
ANY = frozenset({"telephony", "counselor", "supervisor"})
READERS = frozenset({"counselor", "supervisor"})
TELEPHONY = frozenset({"telephony"})
SUPERVISOR = frozenset({"supervisor"})

# Every endpoint and the roles it admits (admin is admitted everywhere), as README.md's table and the protocol say.
ENDPOINTS: dict[tuple[str, str], frozenset | None] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,  # the API's description, no data
    ("GET", "/console"): PUBLIC,  # the console's static files: no call data
    ("GET", "/console/"): PUBLIC,
    ("GET", "/console/schema.json"): PUBLIC,
    ("GET", "/console/{asset}"): PUBLIC,
    ("GET", "/v1/me"): ANY,
    ("GET", "/metrics"): ANY,
    ("WS", "/v1/calls/stream"): TELEPHONY,
    ("GET", "/v1/calls"): READERS,
    ("POST", "/v1/calls"): TELEPHONY,
    ("GET", "/v1/calls/{call_id}"): READERS,
    ("WS", "/v1/calls/{call_id}/watch"): READERS,
    ("GET", "/v1/calls/{call_id}/worksheet"): READERS,
    ("POST", "/v1/calls/{call_id}/worksheet/draft"): READERS,
    ("PATCH", "/v1/calls/{call_id}/worksheet"): READERS,
    ("POST", "/v1/calls/{call_id}/worksheet/finalize"): READERS,
    ("GET", "/v1/calls/{call_id}/worksheet/history"): READERS,
    ("GET", "/v1/alerts"): SUPERVISOR,
    ("POST", "/v1/alerts/{alert_id}/ack"): SUPERVISOR,
    ("WS", "/v1/alerts"): SUPERVISOR,
}
PATH_PARAMS = {"call_id": "sec-no-such-call", "alert_id": "sec-no-such-alert", "asset": "app.js"}
BODIES = {"PATCH": {"fields": {"summary": "x"}}, "POST": None}


@pytest.fixture(scope="module")
def srv(runtime, tmp_path_factory):
    """A service of its own (own database): nothing here changes what other test files see."""
    with serve_with(runtime, make_settings(tmp_path_factory.mktemp("security"))) as s:
        yield s


def app_routes(app) -> set[tuple[str, str]]:
    """(method or "WS", path) of every route of the app, whichever way this FastAPI nests included routers."""
    out: set[tuple[str, str]] = set()

    def walk(routes, prefix: str) -> None:
        for r in routes:
            if hasattr(r, "original_router"):  # FastAPI ≥ 0.16x keeps included routers nested
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif hasattr(r, "path"):
                methods = getattr(r, "methods", None)
                if methods is None:
                    out.add(("WS", prefix + r.path))
                else:
                    out.update((m, prefix + r.path) for m in methods if m != "HEAD")

    walk(app.router.routes, "")
    return out


def concrete(path: str) -> str:
    return path.format(**PATH_PARAMS)


def test_every_endpoint_names_its_roles(srv):
    """A new endpoint fails this test until it is added to ENDPOINTS with the roles it admits (and checked below)."""
    assert app_routes(srv.config.app) == set(ENDPOINTS)


@pytest.mark.parametrize("method,path", [k for k, v in ENDPOINTS.items() if k[0] != "WS"])
def test_http_endpoints_admit_only_their_roles(srv, method, path):
    roles = ENDPOINTS[(method, path)]
    url = concrete(path)
    body = BODIES.get(method)

    def call(token: str | None, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, srv.http + url, headers=headers, json=body, timeout=30, **kw)

    if roles is PUBLIC:
        assert call(None).status_code < 400, (method, path)
        return
    for token in (None, "not-a-known-token-0001", TEL + "x", TEL[:-1], ""):
        r = call(token)
        assert r.status_code == 401, (method, path, token)
        assert r.headers["www-authenticate"] == "Bearer"
    for role, token in ROLE_TOKENS.items():
        r = call(token)
        if role == "admin" or role in roles:
            assert r.status_code not in (401, 403), (method, path, role, r.text)
        else:
            assert r.status_code == 403, (method, path, role, r.status_code)
            assert token not in r.text
    # HTTP reads its token from the Authorization header only: ?token= is for WebSockets (the protocol's words)
    admitted = ROLE_TOKENS["admin"]
    r = httpx.request(method, srv.http + url, params={"token": admitted}, json=body, timeout=30)
    assert r.status_code == 401, (method, path)


async def _ws_outcome(uri: str, headers: dict | None) -> tuple[str, int | None, str]:
    """("refused", code, reason) when the socket is closed before any data; ("open", …) when it stays open for a
    moment or sends data, or closes for a reason of its own (e.g. an unknown call)."""
    try:
        async with websockets.connect(uri, additional_headers=headers, open_timeout=10) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                return "open", None, ""
            return "open", None, "data"
    except websockets.ConnectionClosed as e:
        code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (None, "")
        if reason in ("unauthorized", "forbidden"):
            return "refused", code, reason
        return "open", code, reason


@pytest.mark.parametrize("path", [k[1] for k in ENDPOINTS if k[0] == "WS"])
def test_websockets_admit_only_their_roles(srv, path):
    roles = ENDPOINTS[("WS", path)]
    base = srv.ws + concrete(path)

    async def run():
        for way in ("query", "header"):
            for token in (None, "not-a-known-token-0001", SUP + "x"):
                uri = base if token is None or way == "header" else f"{base}?token={token}"
                hdr = {"Authorization": f"Bearer {token}"} if token and way == "header" else None
                state, code, reason = await _ws_outcome(uri, hdr)
                assert (state, code, reason) == ("refused", 1008, "unauthorized"), (path, way, token)
            for role, token in ROLE_TOKENS.items():
                uri = f"{base}?token={token}" if way == "query" else base
                hdr = {"Authorization": f"Bearer {token}"} if way == "header" else None
                state, code, reason = await _ws_outcome(uri, hdr)
                if role == "admin" or role in roles:
                    assert state == "open", (path, way, role, code, reason)
                else:
                    assert (state, code, reason) == ("refused", 1008, "forbidden"), (path, way, role)

    asyncio.run(run())


def test_api_responses_are_not_cached_sniffed_or_framed(srv):
    store = srv.config.app.state.runtime.pipeline.store
    from service.store.db import CallStart
    from service.types import FinalSegment

    store.create_call(CallStart("sec-headers", "<b>c-1</b>", "live", 8000, "pcm_s16le", 1, ["mixed"], {}))
    store.add_segment(FinalSegment("sec-headers", 0, "mixed", 0.0, 2.0, "<script>alert(1)</script>我不想活了"))
    store.finish_call("sec-headers", "ended", 2.0)
    with httpx.Client(base_url=srv.http, timeout=30) as http:
        auth = {"Authorization": f"Bearer {COUN}"}
        responses = {
            "call": http.get("/v1/calls/sec-headers", headers=auth),
            "list": http.get("/v1/calls", headers=auth),
            "metrics": http.get("/metrics", headers=auth),
            "401": http.get("/v1/calls/sec-headers"),
            "403": http.get("/v1/alerts", headers=auth),
            "404": http.get("/v1/calls/nope", headers=auth),
            "no route": http.get("/v1/nothing-here"),
            "health": http.get("/healthz"),
        }
    assert responses["call"].json()["segments"][0]["text"].startswith("<script>")
    assert responses["call"].headers["content-type"] == "application/json"
    for name, r in responses.items():
        h = r.headers
        assert h["cache-control"] == "no-store", name
        assert h["x-content-type-options"] == "nosniff", name
        assert h["x-frame-options"] == "DENY", name
        assert h["referrer-policy"] == "no-referrer", name
        assert h["content-security-policy"].startswith("default-src 'none'"), name
        assert "frame-ancestors 'none'" in h["content-security-policy"], name


def test_console_pages_forbid_inline_script_and_foreign_hosts(srv):
    with httpx.Client(base_url=srv.http, timeout=30) as http:
        for path in ("/console/", "/console/app.js", "/console/console.css", "/console/schema.json"):
            r = http.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
            assert directives["default-src"] == ["'self'"]
            assert directives["script-src"] == ["'self'"], "no inline or eval'd script, no other host"
            assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
            assert directives["base-uri"] == ["'none'"]
            host = srv.http.removeprefix("http://")
            assert set(directives["connect-src"]) <= {"'self'", f"ws://{host}", f"wss://{host}"}, \
                "WebSockets to this host only, never ws:/wss: to any host"
            assert directives["require-trusted-types-for"] == ["'script'"]
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer", "the console's WebSocket URLs carry ?token="
        page = http.get("/console/").text
        assert "<script" in page and "<script type=\"module\" src=\"./app.js\"></script>" in page
        assert page.count("<script") == 1, "no inline script in the page"
        # a forged Host header cannot add a directive (or a host) to the policy
        forged = http.get("/console/", headers={"Host": "evil.example;script-src https://evil.example"})
        csp = forged.headers["content-security-policy"]
        assert "evil" not in csp and "connect-src 'self';" in csp


def test_no_third_party_script_pages_and_no_data_in_public_files(srv):
    with httpx.Client(base_url=srv.http, timeout=30) as http:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            assert http.get(path).status_code == 404, path
        spec = http.get("/openapi.json")
        assert spec.status_code == 200 and "sec-headers" not in spec.text
        for path in ("/console/..%2Fstatic%2Fapp.js", "/console/%2e%2e%2f__init__.py", "/console/index.html%00",
                     "/console/.%2F..%2F..%2Fsettings.py", "/console/__init__.py"):
            assert http.get(path).status_code == 404, path
        ready = http.get("/readyz").json()
        assert ready == {"status": "ready"}, "no token is asked: it says nothing about the calls"


def test_errors_do_not_echo_tokens(srv):
    secret = "leak-canary-token-0123456789"
    with httpx.Client(base_url=srv.http, timeout=30) as http:
        for r in (http.get("/v1/calls", headers={"Authorization": f"Bearer {secret}"}),
                  http.get("/v1/alerts", headers={"Authorization": f"Bearer {COUN}"}),
                  http.post("/v1/calls", headers={"Authorization": f"Bearer {COUN}"})):
            assert r.status_code in (401, 403)
            assert secret not in r.text and COUN not in r.text and secret not in str(r.headers)


def test_tokens_compare_as_digests():
    auth = Authenticator(Settings(tokens="alpha-token-0001:counselor,beta-token-00002:supervisor@s-9"))
    assert auth.principal_of("alpha-token-0001").role == "counselor"
    assert auth.principal_of("alpha-token-0001").name == \
        "counselor:" + hashlib.sha256(b"alpha-token-0001").hexdigest()[:8]
    assert auth.principal_of("beta-token-00002").name == "s-9"
    for wrong in (None, "", "alpha-token-000", "alpha-token-00011", "ALPHA-TOKEN-0001", " alpha-token-0001",
                  "alpha-token-0001\x00", "\ud800"):
        assert auth.principal_of(wrong) is None, wrong
    # what is kept are fixed-length digests, not the tokens
    assert all(len(t) == 32 and b"alpha" not in t and b"beta" not in t for t, _ in auth._tokens)


HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'&"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_eval_html_report_escapes_data():
    report = {
        "kind": HOSTILE,
        "risk": {"call": {"level_accuracy": 1.0, "high_recall": 1.0, "false_alerts_per_nonrisk_call": 0.0,
                          "rows": [{"call_id": HOSTILE, "ref_level": "高", "hyp_level": HOSTILE, "alerts": 1}]}},
        "worksheet": {"fields": {"summary": 0.5}, "mean": 0.5, "rows": [{"call_id": HOSTILE, "summary": 0.5}]},
        "corrections": {
            "worksheets": 1, "changed_share_mean": 1.0, "changed_rule": HOSTILE,
            "fields": {HOSTILE: {"changed": 1, "changed_share": 1.0, "marked_corrected": 1}},
            "engines": [{"engine": HOSTILE, "version": None, "worksheets": 1}],
            "rows": [{"call_id": HOSTILE, "engine": HOSTILE, "version": "1", "finalized_at": HOSTILE,
                      "finalized_by": HOSTILE, "changed": [HOSTILE, "summary"]}]},
        "latency": {"final_p50_s": 1.0, "final_p95_s": 2.0, "alert_p95_s": None,
                    "alert_rows": [{"call_id": HOSTILE, "level": "高", "arrived_s": 1.0}]},
        "meta": {"data_file": HOSTILE, "data_sha256": HOSTILE, "model": HOSTILE, "created_utc": HOSTILE,
                 "settings": {"x": HOSTILE}},
    }
    page = render_html(report)
    assert HOSTILE not in page and "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in page
    parser = _Tags()
    parser.feed(page)
    tags = parser.tags
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "svg", "base", "form")]
    assert all(a.get("src", "").startswith("data:image/png;base64,") for t, a in tags if t == "img")
    assert all(not k.startswith("on") for _, a in tags for k in a)
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src" not in csp
