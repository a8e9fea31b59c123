"""`python -m eval corrections`: the service's worksheet drafts scored against what counselors finalized.

Every finalized worksheet in the service's database is one pair: the engine's draft as it was made
(``WorksheetRow.draft["fields"][name]["value"]``) is the hypothesis, the finalized values (``WorksheetRow.fields``)
are the reference, scored with :func:`eval.scoring.score_worksheets`, exactly as ``calls`` scores drafts against
annotations. Per field it also counts how often the counselor changed the draft: a field is *changed* when its
finalized value differs from the draft's (sets and lists compared as sets, so reordering is no change);
``marked_corrected`` counts fields a counselor saved through a correction, changed or not. Drafts are grouped by
the engine and version that made them; with more than one group each group is scored on its own as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eval.report import progress
from eval.scoring import FIELD_KINDS, score_worksheets

SET_KINDS = ("jaccard", "soft_jaccard")
MAX_REASON = 200
CHANGED_RULE = ("a field is changed when its finalized value differs from the engine's draft value "
                "(sets and lists compared as sets)")


class CorrectionsError(Exception):
    """The database cannot be read or holds nothing to score; the message says which."""


@dataclass(frozen=True, slots=True)
class FinalizedPair:
    """One finalized worksheet: the engine's draft values, the finalized values and who made what."""

    call_id: str
    engine: str
    version: str
    engine_versions: dict[str, str]
    draft: dict[str, Any]
    final: dict[str, Any]
    marked_corrected: frozenset[str]
    finalized_at: str | None
    finalized_by: str | None

    @property
    def engine_key(self) -> tuple[str, str]:
        return self.engine, self.version


def redact_url(url: str) -> str:
    """A database URL without its password (what reports and messages may show)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite gives naive datetimes; they were stored as UTC
        t = t.replace(tzinfo=timezone.utc)
    return t.isoformat(timespec="seconds")


def _reason(e: Exception) -> str:
    """The driver's first line (libpq and SQLite name the problem, never the password), else the error's type."""
    first = str(getattr(e, "orig", None) or e).strip().splitlines()
    reason = first[0][:MAX_REASON] if first else ""
    return f"{type(e).__name__}: {reason}" if reason else type(e).__name__


def load_finalized(url: str, show_progress: bool = True) -> list[FinalizedPair]:
    """Every finalized worksheet in the database at ``url`` (oldest first), through ``Store.finalized_worksheets``.

    Raises :class:`CorrectionsError` when the database cannot be opened (a SQLite file that does not exist is not
    created) or has no finalized worksheet."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.store.db import Store

    shown = redact_url(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            raise CorrectionsError(f"cannot open database {shown}: no such file")
    try:
        store = Store(url)
    except (SQLAlchemyError, ImportError, ValueError) as e:
        raise CorrectionsError(f"cannot open database {shown}: {_reason(e)}") from e
    try:
        rows = store.finalized_worksheets()
    except SQLAlchemyError as e:
        raise CorrectionsError(f"cannot read worksheets from {shown}: {_reason(e)}") from e
    finally:
        store.close()
    scored = [f for f, kind in FIELD_KINDS.items() if kind != "unscored"]
    pairs = []
    for row in progress(rows, "worksheets", unit="worksheet", enabled=show_progress):
        lacking = [f for f in scored if f not in row.fields]
        if lacking:
            raise CorrectionsError(f"finalized worksheet of call {row.call_id} has no {', '.join(lacking)}: "
                                   "not a worksheet this version of eval can score")
        draft = row.draft or {}
        pairs.append(FinalizedPair(
            call_id=row.call_id, engine=str(draft.get("engine", row.engine)),
            version=str(draft.get("version", "")), engine_versions=dict(draft.get("engine_versions") or {}),
            draft={name: f.get("value") for name, f in (draft.get("fields") or {}).items()},
            final={name: f.get("value") for name, f in row.fields.items()},
            marked_corrected=frozenset(name for name, f in row.fields.items() if f.get("corrected")),
            finalized_at=_iso(row.finalized_at), finalized_by=row.finalized_by))
    if not pairs:
        raise CorrectionsError(f"no finalized worksheet in {shown}: nothing to score")
    return pairs


def data_sha256(pairs: Iterable[FinalizedPair]) -> str:
    """sha256 of what was scored (call id, draft, finalized values, engine), canonical JSON sorted by call id: two
    reports with the same hash scored the same worksheets."""
    digest = hashlib.sha256()
    for p in sorted(pairs, key=lambda p: p.call_id):
        digest.update(json.dumps([p.call_id, p.engine, p.version, p.draft, p.final], ensure_ascii=False,
                                 sort_keys=True, separators=(",", ":")).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _same(field: str, a: Any, b: Any) -> bool:
    if FIELD_KINDS.get(field) in SET_KINDS and isinstance(a, list) and isinstance(b, list):
        return set(map(str, a)) == set(map(str, b))
    return a == b


def changed_fields(pair: FinalizedPair) -> list[str]:
    """Fields whose finalized value differs from the draft's (a field the draft lacks counts as changed)."""
    return [f for f in pair.final if f not in pair.draft or not _same(f, pair.draft[f], pair.final[f])]


def _changes(pairs: Sequence[FinalizedPair], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    changed = [set(changed_fields(p)) for p in pairs]
    n = len(pairs)
    return {f: {"changed": sum(f in c for c in changed), "changed_share": sum(f in c for c in changed) / n,
                "marked_corrected": sum(f in p.marked_corrected for p in pairs)} for f in fields}


def _engines(pairs: Sequence[FinalizedPair]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[FinalizedPair]] = {}
    for p in pairs:
        groups.setdefault(p.engine_key, []).append(p)
    return [{"engine": engine, "version": version, "engine_versions": group[0].engine_versions,
             "worksheets": len(group)} for (engine, version), group in groups.items()]


def score_corrections(pairs: Sequence[FinalizedPair]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``worksheet`` section (drafts scored against finalized values) and its ``corrections``
    section (per-field change shares, engines, per-engine scores when drafts came from more than one)."""
    worksheet = score_worksheets([p.final for p in pairs], [p.draft for p in pairs], [p.call_id for p in pairs])
    fields = list(dict.fromkeys(f for p in pairs for f in p.final))
    per_field = _changes(pairs, fields)
    shares = [v["changed_share"] for v in per_field.values()]
    engines = _engines(pairs)
    corrections: dict[str, Any] = {
        "worksheets": len(pairs),
        "worksheets_changed": sum(bool(changed_fields(p)) for p in pairs),
        "changed_share_mean": sum(shares) / len(shares) if shares else None,
        "fields": per_field,
        "changed_rule": CHANGED_RULE,
        "engines": engines,
        "rows": [{"call_id": p.call_id, "engine": p.engine, "version": p.version, "finalized_at": p.finalized_at,
                  "finalized_by": p.finalized_by, "changed": changed_fields(p)} for p in pairs],
    }
    if len(engines) > 1:
        corrections["by_engine"] = []
        for e in engines:
            group = [p for p in pairs if p.engine_key == (e["engine"], e["version"])]
            ws = score_worksheets([p.final for p in group], [p.draft for p in group], [p.call_id for p in group])
            corrections["by_engine"].append({
                "engine": e["engine"], "version": e["version"], "worksheets": len(group),
                "worksheet": {"fields": ws["fields"], "mean": ws["mean"]},
                "changed_share": {f: v["changed_share"] for f, v in _changes(group, fields).items()}})
    return worksheet, corrections


def engine_versions(corrections: Mapping[str, Any]) -> dict[str, str]:
    """``meta.engine_versions`` of a corrections report: the draft engine(s) as ``engine version``, and the
    component versions (lexicons, prompt, model) when one engine made every draft."""
    engines = corrections["engines"]
    out = {"worksheet": "; ".join(f"{e['engine']} {e['version']}" for e in engines)}
    if len(engines) == 1:
        out.update({f"worksheet.{k}": str(v) for k, v in engines[0]["engine_versions"].items()})
    return out
