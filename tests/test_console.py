"""The web console in a real headless Chromium, against the real service with the real model and real calls.

A counselor watches a call stream in live, checks the drafted worksheet against its evidence, corrects it,
sees a refused value explained beside its field, and finalizes it; a supervisor sees a risky call's alert with
its evidence and acknowledges it; a counselor's token does not open the supervisor view, a wrong token is refused.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from service.app import create_app
from service.runtime import Runtime
from service.store.db import CallStart
from service.store.tables import AlertRow
from service.types import FinalSegment
from service.worksheet import WORKSHEET_FIELDS
from tests.conftest import COUN, SUP, TEL, Server, load_fixture_call, make_settings, serve_with
from tests.streaming import stream

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = Path("/tmp")
WAIT_S = 30


def mulaw_start(call_id: str) -> dict:
    return {"type": "start", "call_id": call_id, "sample_rate": 8000, "encoding": "mulaw", "channels": 2,
            "channel_roles": ["caller", "counselor"], "counselor_id": "c-017"}


class Streamer(threading.Thread):
    """Streams a fixture call over WS /v1/calls/stream from a thread while the browser watches."""

    def __init__(self, srv, call_id: str, fixture: str, speed: float) -> None:
        super().__init__(daemon=True)
        self.srv, self.call_id, self.fixture, self.speed = srv, call_id, fixture, speed
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _, audio = load_fixture_call(self.fixture)
            self.result = asyncio.run(stream(self.srv.ws, TEL, mulaw_start(self.call_id), audio, frame_s=0.1,
                                             speed=self.speed))
        except BaseException as e:  # reported by the test
            self.error = e

    def finish(self) -> None:
        self.join(timeout=300)
        assert self.error is None, self.error
        assert self.result.messages[-1]["type"] == "ended"


@pytest.fixture(scope="module")
def console(runtime, tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("console"), risk={"alert_threshold": "中"})
    with serve_with(runtime, settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def driver():
    if not CHROMEDRIVER or not Path(CHROMIUM).exists():
        pytest.skip("needs Debian chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                "--lang=zh-CN", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.get("about:blank")  # the page itself gets 1366×768, the size of a counselor's desk screen
    chrome = drv.execute_script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
    drv.set_window_size(1366 + chrome[0], 768 + chrome[1])
    yield drv
    drv.quit()


# ---------------------------------------------------------------- page helpers
def css(drv, selector: str):
    return drv.find_elements(By.CSS_SELECTOR, selector)


def wait(drv, condition, timeout: float = WAIT_S, message: str = ""):
    """Poll until ``condition`` is truthy. The page re-renders as messages arrive (more often on a loaded
    machine), so an element found a moment ago may be gone: that is retried, not a failure."""
    return WebDriverWait(drv, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d), message)


def visible(drv, selector: str, timeout: float = WAIT_S):
    return wait(drv, lambda d: next((e for e in css(d, selector) if e.is_displayed()), None), timeout,
                f"nothing visible matches {selector}")


def press(drv, find) -> None:
    """Scroll the element ``find(drv)`` returns to the middle of its pane and click it, re-finding it if the
    page re-rendered in between."""
    def attempt(d):
        el = find(d)
        d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()
        return True

    wait(drv, attempt, message="click")


def js_errors(drv) -> list[str]:
    """Script errors in the page (failed requests, such as the 401 of a wrong token, are the test's own doing)."""
    return [e["message"] for e in drv.get_log("browser")
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


def open_console(drv, srv, token: str | None) -> None:
    drv.get(f"{srv.http}/console/")
    drv.execute_script("sessionStorage.clear(); localStorage.clear();")
    drv.get("about:blank")  # a new document: a hash change alone would keep the page (and its login)
    drv.get(f"{srv.http}/console/#/calls")
    field = visible(drv, "#token")
    if token is None:
        return
    field.send_keys(token)
    css(drv, "form.login button[type=submit]")[0].click()
    visible(drv, "header.topbar")


def login_error(drv, srv, token: str) -> str:
    open_console(drv, srv, None)
    visible(drv, "#token").send_keys(token)
    css(drv, "form.login button[type=submit]")[0].click()
    return visible(drv, ".login-error").text


def api(srv, token: str = SUP) -> httpx.Client:
    return httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def field_row(drv, name: str):
    return css(drv, f".field[data-field='{name}']")[0]


SCROLL_GAP = """const s = document.querySelector('.transcript-scroll');
                return s.scrollHeight - s.scrollTop - s.clientHeight;"""


def check_auto_scroll(drv) -> None:
    """The live transcript follows new text until the reader scrolls up, then offers a way back."""
    drv.execute_script("""
      const s = document.querySelector('.transcript-scroll');
      s.style.flex = 'none'; s.style.height = '140px';  // a short panel, so that this call overflows it
      window.__changes = 0;
      new MutationObserver(() => { window.__changes += 1; })
        .observe(document.querySelector('.segments'), {subtree: true, childList: true, characterData: true});""")
    wait(drv, lambda d: d.execute_script("const s = document.querySelector('.transcript-scroll');"
                                         "return s.scrollHeight > s.clientHeight + 40"), 60, "the transcript grew")
    wait(drv, lambda d: d.execute_script("return window.__changes") > 0 and d.execute_script(SCROLL_GAP) < 48, 60,
         "new text keeps the view at the end")
    drv.execute_script("document.querySelector('.transcript-scroll').scrollTop = 0; window.__changes = 0;")
    wait(drv, lambda d: d.execute_script("return window.__changes") > 0, 60, "more text arrived")
    assert drv.execute_script("return document.querySelector('.transcript-scroll').scrollTop") == 0, \
        "the view stays where the reader scrolled to"
    visible(drv, ".jump-latest").click()
    assert drv.execute_script(SCROLL_GAP) < 48
    wait(drv, lambda d: not css(d, ".jump-latest") or not css(d, ".jump-latest")[0].is_displayed())
    drv.execute_script("Object.assign(document.querySelector('.transcript-scroll').style, {flex: '', height: ''})")


# ---------------------------------------------------------------- tests
def test_console_files_are_served_without_call_data(console):
    with httpx.Client(base_url=console.http) as http:
        page = http.get("/console/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/console", follow_redirects=False).headers["location"] == "/console/"
        assert http.get("/console/app.js").headers["content-type"].startswith("text/javascript")
        for bad in ("/console/nope.js", "/console/..%2F__init__.py", "/console/%2e%2e/__init__.py"):
            assert http.get(bad).status_code == 404, bad
        schema = http.get("/console/schema.json").json()
        assert schema["worksheet"]["required"] == list(WORKSHEET_FIELDS)
        assert schema["risk_levels"] == ["无", "低", "中", "高", "紧急"]


def test_login_errors_and_roles(console, driver):
    assert "令牌无效" in login_error(driver, console, "not-a-token")
    assert driver.execute_script("return sessionStorage.length + localStorage.length") == 0
    assert "没有使用控制台的权限" in login_error(driver, console, TEL)

    open_console(driver, console, COUN)
    assert "咨询员" in css(driver, ".topbar .who")[0].text
    assert not css(driver, "#nav-alerts"), "a counselor sees no supervisor view in the navigation"
    driver.get(f"{console.http}/console/#/alerts")
    assert "仅供督导" in visible(driver, ".notice").text
    assert not css(driver, ".alerts-view")
    assert COUN not in driver.current_url
    assert driver.execute_script("return localStorage.length") == 0
    css(driver, ".topbar .logout")[0].click()
    visible(driver, "#token")
    assert driver.execute_script("return sessionStorage.length") == 0
    assert js_errors(driver) == []


def test_transcript_text_is_never_markup(console, driver):
    store = console.config.app.state.runtime.pipeline.store
    call_id = "console-escape"
    store.create_call(CallStart(call_id, "c-099", "live", 8000, "pcm_s16le", 1, ["mixed"], {}))
    hostile = '<img src=x onerror="window.__owned=1"><b>粗体</b>'
    texts = [hostile] + [f"第{i}句：我最近睡不好。" for i in range(1, 60)]
    for i, text in enumerate(texts):
        store.add_segment(FinalSegment(call_id, i, "caller" if i % 2 else "counselor", i * 3.0, i * 3.0 + 2.5, text))
    store.finish_call(call_id, "ended", 180.0)

    open_console(driver, console, COUN)
    driver.get(f"{console.http}/console/#/calls/{call_id}")
    wait(driver, lambda d: len(css(d, ".seg.final")) == 60)
    wait(driver, lambda d: css(d, ".seg[data-seg='0'] .seg-text")[0].text == hostile, message="escaped text")
    assert not css(driver, ".segments img, .segments b")
    assert driver.execute_script("return window.__owned") is None
    # a long stored transcript opens at its end
    at_end = driver.execute_script(
        "const s = document.querySelector('.transcript-scroll'); return s.scrollHeight - s.scrollTop - s.clientHeight")
    assert at_end < 50
    assert "还没有工单" in visible(driver, ".ws-note").text
    assert js_errors(driver) == []


def test_counselor_watches_corrects_and_finalizes(console, driver):
    call_id = "console-live"
    open_console(driver, console, COUN)
    # remember every partial the page ever shows: they are short-lived
    driver.execute_script("""
      window.__partials = 0;
      new MutationObserver(() => { window.__partials += document.querySelectorAll('.seg.partial').length; })
        .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});""")
    streamer = Streamer(console, call_id, "dev-0008-head", speed=1.5)
    streamer.start()
    try:
        row = visible(driver, f"tr.call-row.live[data-call-id='{call_id}']", timeout=20)
        assert css(driver, "tr.call-row")[0].get_attribute("data-call-id") == call_id, "live calls come first"
        assert "通话中" in row.text
        row.find_element(By.CSS_SELECTOR, "a.call-link").click()

        visible(driver, ".call-view.is-live")
        wait(driver, lambda d: len(css(d, ".seg.final")) >= 1 and css(d, ".call-view.is-live"), 120,
             "finals shown while the call is live")
        assert "通话进行中" in css(driver, ".ws-note")[0].text
        driver.save_screenshot(str(SHOTS / "console-live.png"))
        css(driver, ".ws-note button")[0].click()  # a draft from the transcript so far
        visible(driver, ".worksheet .ws-form")
        assert "草稿" in css(driver, ".ws-status")[0].text
        check_auto_scroll(driver)
        visible(driver, ".call-head .st-ended", timeout=180)
    finally:
        streamer.finish()
    with api(console, COUN) as http:
        kinds = [v["kind"] for v in http.get(f"/v1/calls/{call_id}/worksheet/history").json()["versions"]]
        latest = http.get(f"/v1/calls/{call_id}/worksheet").json()["version"]
    assert kinds[0] == "draft" and len(kinds) == latest
    wait(driver, lambda d: f"第 {latest} 版" in css(d, ".ws-status")[0].text, 30, "the worksheet after the call")
    assert driver.execute_script("return window.__partials") > 0, "partials were shown greyed before their finals"
    assert not css(driver, ".seg.partial"), "every partial was replaced by its final"
    assert css(driver, ".seg.caller") and css(driver, ".seg.counselor")
    assert "已结束" in css(driver, ".call-head .status")[0].text

    with api(console, COUN) as http:
        stored = http.get(f"/v1/calls/{call_id}").json()["segments"]
        sheet = http.get(f"/v1/calls/{call_id}/worksheet").json()
    shown = {int(e.get_attribute("data-seg")): e.find_element(By.CSS_SELECTOR, ".seg-text").text
             for e in css(driver, ".seg.final")}
    assert shown == {s["segment_id"]: s["text"] for s in stored}

    # every field is rendered, by type
    assert [e.get_attribute("data-field") for e in css(driver, ".field")] == list(WORKSHEET_FIELDS)
    assert field_row(driver, "call_type").find_elements(By.CSS_SELECTOR, "select")
    assert len(field_row(driver, "emotions").find_elements(By.CSS_SELECTOR, "input[type=checkbox]")) == 9
    assert field_row(driver, "hopelessness").find_elements(By.CSS_SELECTOR, "input[type=number]")
    assert field_row(driver, "summary").find_elements(By.CSS_SELECTOR, "textarea")
    assert "置信度" in field_row(driver, "call_type").text

    # evidence: one click highlights the cited lines and brings them into view
    cited = next(n for n in WORKSHEET_FIELDS if sheet["fields"][n]["evidence"])
    press(driver, lambda d: field_row(d, cited).find_element(By.CSS_SELECTOR, ".evidence-btn"))
    want = set(sheet["fields"][cited]["evidence"]) & set(shown)
    wait(driver, lambda d: {int(e.get_attribute("data-seg")) for e in css(d, ".seg.evidence")} == want)
    assert want
    wait(driver, lambda d: field_row(d, cited).find_element(By.CSS_SELECTOR, ".evidence-btn")
         .get_attribute("aria-pressed") == "true")
    wait(driver, lambda d: d.execute_script("""
      const s = document.querySelector('.transcript-scroll').getBoundingClientRect();
      const e = document.querySelector('.seg.evidence').getBoundingClientRect();
      return e.top >= s.top - 1 && e.bottom <= s.bottom + 1;"""), 10, "the first evidence line is in view")
    assert "依据" in visible(driver, ".highlight-bar").text
    press(driver, lambda d: field_row(d, cited).find_element(By.CSS_SELECTOR, ".evidence-btn"))
    wait(driver, lambda d: not css(d, ".seg.evidence"))

    # a correction is saved and shows in the history
    before = sheet["fields"]["call_type"]["value"]
    after = "精神卫生知识咨询" if before != "精神卫生知识咨询" else "一般心理问题"
    Select(field_row(driver, "call_type").find_element(By.CSS_SELECTOR, "select")).select_by_visible_text(after)
    assert "dirty" in field_row(driver, "call_type").get_attribute("class")
    css(driver, "#ws-reason")[0].send_keys("来电者主要在询问如何求助")
    css(driver, ".ws-actions button[type=submit]")[0].click()
    assert "已保存更正" in wait(driver, lambda d: next((e.text for e in css(d, ".form-message.ok")), None))
    assert "已更正" in field_row(driver, "call_type").text
    with api(console, COUN) as http:
        saved = http.get(f"/v1/calls/{call_id}/worksheet").json()
    assert saved["fields"]["call_type"] == {**saved["fields"]["call_type"], "value": after, "corrected": True}
    version = saved["version"]
    css(driver, ".ws-actions button[aria-expanded]")[0].click()
    entry = visible(driver, ".history-list .kind-correction")
    assert "来电类型" in entry.text and after in entry.text and "来电者主要在询问如何求助" in entry.text
    assert (before or "（空）") in entry.text

    # refused values are explained beside their field and nothing is saved
    rating = field_row(driver, "hopelessness").find_element(By.CSS_SELECTOR, "input")
    rating.send_keys(Keys.CONTROL, "a")
    rating.send_keys("11")
    css(driver, ".ws-actions button[type=submit]")[0].click()
    error = visible(driver, ".field[data-field='hopelessness'] .field-error")
    assert "不能大于 10" in error.text  # the service's 422, in Chinese
    assert rating.get_attribute("aria-invalid") == "true"
    rating.send_keys(Keys.CONTROL, "a")
    rating.send_keys("3.5")
    css(driver, ".ws-actions button[type=submit]")[0].click()
    wait(driver, lambda d: "整数" in css(d, ".field[data-field='hopelessness'] .field-error")[0].text)
    with api(console, COUN) as http:
        assert http.get(f"/v1/calls/{call_id}/worksheet").json()["version"] == version
    driver.save_screenshot(str(SHOTS / "console-call.png"))
    css(driver, ".ws-actions button.secondary")[0].click()  # 撤销修改
    wait(driver, lambda d: not css(d, ".field.dirty, .field.invalid"))

    # finalize, after a confirmation; the form is then read-only but the evidence stays one click away
    css(driver, ".ws-actions button.finalize")[0].click()
    dialog = visible(driver, "dialog.confirm")
    assert "锁定" in dialog.text
    css(driver, "#confirm-finalize")[0].click()
    visible(driver, ".ws-status .chip.done")
    assert not css(driver, ".ws-actions button[type=submit]")
    controls = css(driver, ".ws-fields select, .ws-fields input, .ws-fields textarea")
    assert controls and all(not c.is_enabled() or c.get_attribute("readonly") is not None for c in controls)
    assert any(b.is_enabled() for b in css(driver, ".evidence-btn"))
    with api(console, COUN) as http:
        final = http.get(f"/v1/calls/{call_id}/worksheet").json()
    assert final["status"] == "finalized" and final["fields"]["call_type"]["value"] == after
    assert js_errors(driver) == []


def test_supervisor_sees_and_acknowledges_alerts(console, driver):
    call_id = "console-risk"
    open_console(driver, console, SUP)
    assert "督导" in css(driver, ".topbar .who")[0].text
    css(driver, "#nav-alerts")[0].click()
    visible(driver, ".alerts-view")
    wait(driver, lambda d: "实时接收中" in css(d, ".alerts-view .list-state")[0].text)
    streamer = Streamer(console, call_id, "dev-0008-risk", speed=0)
    streamer.start()
    try:
        card = visible(driver, f".alert-card[data-call-id='{call_id}']", timeout=240)
    finally:
        streamer.finish()
    with api(console) as http:
        open_alerts = http.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    ours = [a for a in open_alerts if a["call_id"] == call_id]
    rank = ["中", "高", "紧急"].index
    newest_first = sorted(open_alerts, key=lambda a: a["raised_at"], reverse=True)
    expected = [a["alert_id"] for a in sorted(newest_first, key=lambda a: rank(a["risk_level"]), reverse=True)]
    wait(driver, lambda d: [e.get_attribute("data-alert-id") for e in css(d, ".alert-card")] == expected, 10,
         "every open alert, highest level first, then newest")
    top = max(ours, key=lambda a: rank(a["risk_level"]))
    card = css(driver, f".alert-card[data-alert-id='{top['alert_id']}']")[0]
    assert f"风险 {top['risk_level']}" in card.text
    assert "c-017" in card.text and call_id in card.text
    quotes = [q.text for q in card.find_elements(By.CSS_SELECTOR, "ul.evidence q")]
    assert quotes and quotes == [e["text"] for e in top["evidence"]]
    names = {"passive_ideation": "被动自杀意图", "active_ideation": "主动自杀意图",
             "suicide_plan": "自杀计划", "suicide_preparation": "自杀准备行为", "suicide_attempt": "自杀未遂"}
    assert all(names[x] in card.text for x in top["labels"] if x in names)
    assert "fresh" in card.get_attribute("class"), "a new alert is highlighted"
    assert css(driver, "#nav-alerts .count")[0].text == str(len(open_alerts))
    assert f"【{len(open_alerts)} 条警报】" in driver.title
    driver.save_screenshot(str(SHOTS / "console-alerts.png"))

    card.find_element(By.CSS_SELECTOR, ".ack").click()
    wait(driver, lambda d: not css(d, f".alert-card[data-alert-id='{top['alert_id']}']"))
    for _ in range(len(open_alerts) - 1):
        css(driver, ".alert-card .ack")[0].click()
        time.sleep(0.2)
    wait(driver, lambda d: not css(d, ".alert-card"))
    assert "没有未处理的警报" in visible(driver, ".no-alerts").text
    assert not css(driver, "#nav-alerts .count")[0].is_displayed()
    with api(console) as http:
        assert http.get("/v1/alerts", params={"state": "open"}).json()["alerts"] == []
        acked = http.get("/v1/alerts", params={"state": "all", "call_id": call_id}).json()["alerts"]
    assert acked and all(a["state"] == "acked" and a["acked_by"] for a in acked)

    # the risky call's transcript marks its risk segments with their Chinese labels
    driver.get(f"{console.http}/console/#/calls/{call_id}")
    wait(driver, lambda d: any(e.is_displayed() and e.find_elements(By.CSS_SELECTOR, ".risk-tag")
                               for e in css(d, ".seg.risk")), message="a risk segment with its label")
    assert js_errors(driver) == []


def test_alerts_view_reconnects_after_a_restart(runtime, driver, tmp_path):
    """The alert socket comes back after the service restarts, and the replay brings the open alerts."""
    settings = make_settings(tmp_path)
    first = serve_with(runtime, settings)
    with first:
        open_console(driver, first, SUP)
        driver.get(f"{first.http}/console/#/alerts")
        wait(driver, lambda d: "实时接收中" in css(d, ".alerts-view .list-state")[0].text)
    wait(driver, lambda d: "重连" in css(d, ".alerts-view .list-state")[0].text, 30, "the page saw the drop")

    rt = Runtime.build(settings, share=runtime)
    rt.pipeline.store.create_call(CallStart("console-restart", "c-021", "live", 8000, "mulaw", 2,
                                            ["caller", "counselor"], {}))
    rt.pipeline.store.add_alert(AlertRow(
        alert_id="a-restart-1", call_id="console-restart", counselor_id="c-021", risk_level="紧急",
        labels=["suicide_attempt"], evidence=[{"segment_id": 3, "speaker": "caller", "start": 12.0, "end": 15.5,
                                               "text": "药我已经吃下去了"}],
        engine_version="test", raised_at=datetime.now(timezone.utc), state="open"), [])
    with Server(create_app(settings, runtime=rt), first.port):
        card = visible(driver, ".alert-card[data-alert-id='a-restart-1']", timeout=60)
        assert "风险 紧急" in card.text and "药我已经吃下去了" in card.text and "自杀未遂" in card.text
        assert "实时接收中" in css(driver, ".alerts-view .list-state")[0].text
        card.find_element(By.CSS_SELECTOR, ".ack").click()
        wait(driver, lambda d: not css(d, ".alert-card"))
    rt.close()
    assert js_errors(driver) == []


def test_hostile_ids_names_evidence_and_reasons_are_never_markup(console, driver):
    """What the telephony side, a token's holder or a caller can put into a call (its id, the counselor id, the
    transcript, alert evidence and labels, worksheet values and a correction's reason) shows as text everywhere
    in the console, under its Content-Security-Policy (Trusted Types: a script writing HTML would be an error)."""
    def bomb(tag: str) -> str:
        return f"<img src=x onerror=\"window.__owned='{tag}'\"><b>{tag}</b>"

    store = console.config.app.state.runtime.pipeline.store
    call_id = "sec\"'<img src=x onerror=window.__owned=1>"
    store.create_call(CallStart(call_id, bomb("counselor"), "live", 8000, "pcm_s16le", 2, ["caller", "counselor"], {}))
    texts = [bomb("segment"), "您好，这里是心理援助热线。", "我最近睡不好，压力很大。"]
    for i, text in enumerate(texts):
        store.add_segment(FinalSegment(call_id, i, "caller" if i != 1 else "counselor", i * 3.0, i * 3.0 + 2.5, text))
    store.finish_call(call_id, "ended", 9.0)
    path = f"/v1/calls/{quote(call_id, safe='')}/worksheet"
    with api(console, COUN) as http:
        assert http.post(f"{path}/draft").status_code == 200
        r = http.patch(path, json={"fields": {"summary": bomb("summary"), "location_disclosed": bomb("location"),
                                              "protective_factors": [bomb("factor")],
                                              "suicide_method": bomb("method")},
                                   "reason": bomb("reason")})
        assert r.status_code == 200, r.text
    store.add_alert(AlertRow(
        alert_id="a-hostile-1", call_id=call_id, counselor_id=bomb("alert-counselor"), risk_level="高",
        labels=["suicide_plan", bomb("label")], evidence=[{"segment_id": 0, "speaker": "caller", "start": 0.0,
                                                          "end": 2.5, "text": bomb("evidence")}],
        engine_version="test", raised_at=datetime.now(timezone.utc), state="open"), [])

    open_console(driver, console, SUP)
    driver.get(f"{console.http}/console/#/alerts")
    card = visible(driver, ".alert-card[data-alert-id='a-hostile-1']")
    assert [q.text for q in card.find_elements(By.CSS_SELECTOR, "ul.evidence q")] == [bomb("evidence")]
    assert call_id in card.text and bomb("alert-counselor") in card.text and bomb("label") in card.text

    driver.get(f"{console.http}/console/#/calls")
    row = wait(driver, lambda d: next((r for r in css(d, "tr.call-row") if r.get_attribute("data-call-id") == call_id),
                                      None), message="the call in the list")
    assert call_id in row.text and bomb("counselor") in row.text

    driver.get(f"{console.http}/console/#/calls/{quote(call_id, safe='')}")
    wait(driver, lambda d: css(d, ".call-title") and css(d, ".call-title")[0].text == f"通话 {call_id}")
    assert bomb("counselor") in css(driver, ".call-head")[0].text
    wait(driver, lambda d: len(css(d, ".seg.final")) == 3)
    assert css(driver, ".seg[data-seg='0'] .seg-text")[0].text == bomb("segment")
    visible(driver, ".worksheet .ws-form")
    value = "return arguments[0].querySelector('textarea, input').value"
    assert driver.execute_script(value, field_row(driver, "summary")) == bomb("summary")
    assert driver.execute_script(value, field_row(driver, "location_disclosed")) == bomb("location")
    assert driver.execute_script(value, field_row(driver, "protective_factors")) == bomb("factor")
    css(driver, ".ws-actions button[aria-expanded]")[0].click()
    entry = visible(driver, ".history-list .kind-correction")
    assert f"原因：{bomb('reason')}" in entry.text and bomb("method") in entry.text and bomb("summary") in entry.text

    # a link whose call id a browser would resolve into another API path opens nothing
    driver.get(f"{console.http}/console/#/calls/..")
    assert "通话编号无效" in visible(driver, "#main .notice").text

    assert driver.execute_script("return document.querySelectorAll('img, b, svg, script:not([src])').length") == 0
    assert driver.execute_script("return window.__owned") is None
    assert js_errors(driver) == []
    with api(console, SUP) as http:
        assert http.post("/v1/alerts/a-hostile-1/ack").status_code == 200
