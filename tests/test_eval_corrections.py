"""`python -m eval corrections`: drafts made by the real rules engine, corrected and finalized through the real
Store, in a real SQLite database (and PostgreSQL when SCRIBE_TEST_POSTGRES_URL is set; CI always sets it)."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from sqlalchemy.engine import make_url

from eval.__main__ import main
from eval.corrections import changed_fields, data_sha256, load_finalized, redact_url
from eval.data import load_calls
from eval.scoring import FIELD_KINDS
from service.store.db import CallStart, Store
from service.types import FinalSegment, SegmentRisk
from service.worksheet import RulesDrafter
from tests.conftest import FIXTURES

POSTGRES_URL = os.environ.get("SCRIBE_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("CI"), reason="set SCRIBE_TEST_POSTGRES_URL (CI always does)")
SCORED = [f for f, kind in FIELD_KINDS.items() if kind != "unscored"]
OLD_VERSION = "0.9.0+old-lexicon"


def _draft(call, drafter: RulesDrafter) -> dict:
    """The rules engine's draft over a fixture call's reference segments and labels (as the service drafts)."""
    segs = [FinalSegment(call.call_id, s.id, s.speaker, s.start, s.end, s.text) for s in call.segments]
    risks = [SegmentRisk(s.id, list(s.risk), engine_version="reference") for s in call.segments]
    return drafter.draft(segs, risks, call.risk_level).to_json()


def fill(store: Store, tag: str) -> dict[str, str]:
    """Four worksheets: ``changed`` (the counselor changed caller_gender), ``confirmed`` (caller_age_group saved
    through a correction with the drafted value), ``old`` (an older engine version's draft, finalized untouched)
    and ``open`` (drafted, never finalized). Returns role → call id."""
    calls = {c.call_id: c for c in load_calls(FIXTURES / "calls" / "calls.jsonl")}
    drafter = RulesDrafter()
    ids = {}
    for role, fixture in (("changed", "dev-0008-risk"), ("confirmed", "dev-0008-head"), ("old", "dev-0008-risk"),
                          ("open", "dev-0008-head")):
        cid = ids[role] = f"corr-{tag}-{role}"
        store.create_call(CallStart(cid, "coun-1", "live", 8000, "mulaw", 2, ["caller", "counselor"],
                                    {"model": "base"}))
        draft = _draft(calls[fixture], drafter)
        if role == "old":
            draft["version"] = OLD_VERSION
        store.save_draft(cid, draft, by="engine")
        if role == "changed":
            drafted = draft["fields"]["caller_gender"]["value"]
            store.correct_worksheet(cid, {"caller_gender": "女" if drafted != "女" else "男"}, "coun-1", "heard")
        if role == "confirmed":
            store.correct_worksheet(cid, {"caller_age_group": draft["fields"]["caller_age_group"]["value"]},
                                    "coun-1", None)
        if role != "open":
            store.finalize_worksheet(cid, "coun-1")
    return ids


def run(url: str, out, capsys) -> tuple[int, dict | None, str, str]:
    rc = main(["corrections", "--database-url", url, "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    report = json.loads(out.read_text(encoding="utf-8")) if rc == 0 else None
    return rc, report, captured.out, captured.err


def check_report(report: dict, ids: dict[str, str], url: str) -> None:
    c = report["corrections"]
    assert report["kind"] == "corrections"
    assert c["worksheets"] == 3 and {r["call_id"] for r in c["rows"]} == {ids["changed"], ids["confirmed"],
                                                                          ids["old"]}
    # hand-checked: one worksheet of three changed one field; the untouched fields score 1 (draft = final)
    assert c["fields"]["caller_gender"] == {"changed": 1, "changed_share": pytest.approx(1 / 3),
                                            "marked_corrected": 1}
    assert c["fields"]["caller_age_group"] == {"changed": 0, "changed_share": 0.0, "marked_corrected": 1}
    assert c["worksheets_changed"] == 1
    assert [r["changed"] for r in c["rows"] if r["call_id"] == ids["changed"]] == [["caller_gender"]]
    ws = report["worksheet"]
    assert ws["fields"]["caller_gender"] == pytest.approx(2 / 3)
    assert all(ws["fields"][f] == 1.0 for f in SCORED if f != "caller_gender")
    assert ws["mean"] == pytest.approx((len(SCORED) - 1 + 2 / 3) / len(SCORED))
    assert "summary" not in ws["fields"] and "summary" in c["fields"]
    # two engine versions: each scored on its own
    versions = {e["version"]: e["worksheets"] for e in c["engines"]}
    assert versions == {RulesDrafter().version: 2, OLD_VERSION: 1}
    groups = {g["version"]: g for g in c["by_engine"]}
    assert groups[RulesDrafter().version]["worksheet"]["fields"]["caller_gender"] == 0.5
    assert groups[OLD_VERSION]["worksheet"]["mean"] == 1.0
    meta = report["meta"]
    assert meta["data_file"] == meta["settings"]["database"] == redact_url(url)
    assert meta["data_sha256"] == data_sha256(load_finalized(url, show_progress=False))
    assert meta["engine_versions"]["worksheet"] == f"rules {RulesDrafter().version}; rules {OLD_VERSION}"
    assert meta["settings"]["reference"] == "finalized worksheet values"


def test_corrections_on_sqlite(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'scribe.db'}"
    store = Store(url)
    ids = fill(store, "lite")
    store.close()
    out = tmp_path / "reports" / "corrections.json"
    rc, report, stdout, _ = run(url, out, capsys)
    assert rc == 0
    check_report(report, ids, url)
    assert "Counselor changes (3 finalized worksheets)" in stdout and "Draft engines" in stdout
    html = out.with_suffix(".html").read_text(encoding="utf-8")
    assert "Finalized worksheets" in html and ids["changed"] in html
    text = out.read_text(encoding="utf-8") + html + stdout
    calls = load_calls(FIXTURES / "calls" / "calls.jsonl")
    assert not any(s.text in text for c in calls for s in c.segments if len(s.text) >= 6), "transcript text leaked"


def test_corrections_default_database_is_the_services(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCRIBE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SCRIBE_DATABASE_URL", raising=False)
    store = Store(f"sqlite:///{(tmp_path / 'scribe.db').resolve()}")
    fill(store, "default")
    store.close()
    rc = main(["corrections", "--out", str(tmp_path / "c.json"), "--no-progress"])
    assert rc == 0 and json.loads((tmp_path / "c.json").read_text())["corrections"]["worksheets"] == 3


def test_changed_means_a_different_value_sets_compared_as_sets():
    from eval.corrections import FinalizedPair

    pair = FinalizedPair("c", "rules", "1", {},
                         draft={"emotions": ["孤独", "愤怒"], "summary": "a", "follow_up": False},
                         final={"emotions": ["愤怒", "孤独"], "summary": "b", "follow_up": False},
                         marked_corrected=frozenset(), finalized_at=None, finalized_by=None)
    assert changed_fields(pair) == ["summary"]


@pytest.mark.parametrize("case", ["missing file", "no finalized worksheet", "unreachable server"])
def test_corrections_refuses_what_it_cannot_score(tmp_path, capsys, case):
    if case == "missing file":
        url = f"sqlite:///{tmp_path / 'nothing.db'}"
    elif case == "no finalized worksheet":
        url = f"sqlite:///{tmp_path / 'open.db'}"
        store = Store(url)
        store.create_call(CallStart("c-open", None, "live", 8000, "mulaw", 1, ["mixed"], {}))
        store.close()
    else:
        url = "postgresql://eval:s3cret-pw@127.0.0.1:1/none"
    out = tmp_path / "c.json"
    rc, _, _, err = run(url, out, capsys)
    assert rc == 2 and not out.exists()
    assert {"missing file": "no such file", "no finalized worksheet": "no finalized worksheet",
            "unreachable server": "cannot open database"}[case] in err
    assert "s3cret-pw" not in err
    if case == "missing file":
        assert not (tmp_path / "nothing.db").exists(), "eval must not create a database"


@pytest.fixture
def postgres_schema_url():
    """A fresh schema in the test PostgreSQL database (the command scores every finalized worksheet it sees, so
    it gets tables of its own), dropped afterwards."""
    from sqlalchemy import create_engine, text

    base = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"eval_corr_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@needs_postgres
def test_corrections_on_postgres(postgres_schema_url, tmp_path, capsys):
    store = Store(postgres_schema_url)
    ids = fill(store, f"pg-{time.time_ns()}")
    store.close()
    rc, report, _, _ = run(postgres_schema_url, tmp_path / "pg.json", capsys)
    assert rc == 0
    check_report(report, ids, postgres_schema_url)
    password = make_url(postgres_schema_url).password
    assert not password or password not in json.dumps(report["meta"])


def test_compare_says_when_counselors_change_more(tmp_path, capsys):
    from eval.compare import diff_reports

    url = f"sqlite:///{tmp_path / 'scribe.db'}"
    store = Store(url)
    ids = fill(store, "cmp")
    _, before, _, _ = run(url, tmp_path / "a.json", capsys)
    cid = ids["open"]  # the counselor now changes caller_gender on the open worksheet too, and finalizes it
    drafted = store.get_worksheet(cid).fields["caller_gender"]["value"]
    store.correct_worksheet(cid, {"caller_gender": "女" if drafted != "女" else "男"}, "coun-2", None)
    store.finalize_worksheet(cid, "coun-2")
    store.close()
    _, after, _, _ = run(url, tmp_path / "b.json", capsys)
    verdicts = {c.path: c.verdict for c in diff_reports(before, after)}
    assert after["corrections"]["fields"]["caller_gender"]["changed_share"] == 0.5  # 2 of 4
    assert verdicts["corrections.fields.caller_gender.changed_share"] == "regressed"
    assert verdicts["worksheet.fields.caller_gender"] == "regressed"
    assert before["meta"]["data_sha256"] != after["meta"]["data_sha256"]
