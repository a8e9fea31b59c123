"""Score the rules engine on annotated calls, reference segments and labels as its input.

    python -m service.worksheet.devscore /path/calls.jsonl [--show FIELD]

Per field, by the spec's scoring conventions: exact match for enums and bools, Jaccard for sets, ±1 for 0–10
ratings; ``summary`` is not scored. The free-text fields (``suicide_method``, ``location_disclosed``,
``protective_factors``) have no rule in the spec; they are scored here as: both null → 1, one null → 0, else
1 when one contains the other or their character-bag F1 is ≥ 0.5 (``protective_factors``: Jaccard of the lists).
The risk engine is not involved: reference segment labels stand in for it and the reference level for the call's.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from service.types import FinalSegment, SegmentRisk
from service.worksheet.rules import RulesDrafter
from service.worksheet.schema import WORKSHEET_FIELDS

SET_FIELDS = ("problem_categories", "emotions", "referral", "protective_factors")
RATING_FIELDS = ("ideation_intensity", "hopelessness")
TEXT_FIELDS = ("suicide_method", "location_disclosed")
UNSCORED = ("summary",)
SCORED = tuple(f for f in WORKSHEET_FIELDS if f not in UNSCORED)
TEXT_F1 = 0.5
_PUNCT = re.compile(r"[\s，。、；：！？,.;:!?（）()“”\"'…·-]+")


def jaccard(a, b) -> float:
    a, b = set(a or []), set(b or [])
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def text_match(pred: str | None, ref: str | None) -> float:
    if pred is None or ref is None:
        return float(pred is None and ref is None)
    p, r = _PUNCT.sub("", pred), _PUNCT.sub("", ref)
    if not p or not r:
        return float(p == r)
    if p in r or r in p:
        return 1.0
    common = sum((Counter(p) & Counter(r)).values())
    f1 = 2 * common / (len(p) + len(r))
    return float(f1 >= TEXT_F1)


def score_field(name: str, pred, ref) -> float:
    if name in SET_FIELDS:
        return jaccard(pred, ref)
    if name in RATING_FIELDS:
        if pred is None or ref is None:
            return float(pred is None and ref is None)
        return float(abs(pred - ref) <= 1)
    if name in TEXT_FIELDS:
        return text_match(pred, ref)
    return float(pred == ref)


def reference_inputs(call: dict) -> tuple[list[FinalSegment], list[SegmentRisk], str]:
    segs = [FinalSegment(call["call_id"], s["id"], s["speaker"], s["start"], s["end"], s["text"])
            for s in call["segments"]]
    risks = [SegmentRisk(s["id"], list(s["risk"]), engine_version="reference") for s in call["segments"]]
    return segs, risks, call["worksheet"]["risk_level"]


def score_calls(calls: list[dict], drafter: RulesDrafter | None = None) -> tuple[dict[str, float], list[dict]]:
    """Mean score per scored field and the per-call predictions (call_id, pred, ref)."""
    drafter = drafter or RulesDrafter()
    totals = {f: 0.0 for f in SCORED}
    rows = []
    for call in calls:
        pred = drafter.draft(*reference_inputs(call)).values()
        ref = call["worksheet"]
        for f in SCORED:
            totals[f] += score_field(f, pred[f], ref[f])
        rows.append({"call_id": call["call_id"], "pred": pred, "ref": ref})
    n = max(1, len(calls))
    return {f: totals[f] / n for f in SCORED}, rows


def load_calls(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", type=Path, help="annotated calls (JSONL, annotated-call/1)")
    ap.add_argument("--show", action="append", default=[], help="print pred vs ref of this field for misses")
    args = ap.parse_args(argv)
    calls = load_calls(args.calls)
    drafter = RulesDrafter()
    scores, rows = score_calls(calls, drafter)
    print(f"worksheet engine {drafter.engine} {drafter.version}; {len(calls)} calls from {args.calls.name}; "
          "input: reference segments + reference risk labels + reference risk_level")
    for f in SCORED:
        print(f"  {f:20s} {scores[f]:.3f}")
    print(f"  {'MEAN':20s} {sum(scores.values()) / len(scores):.3f}")
    for f in args.show:
        for row in rows:
            if score_field(f, row["pred"][f], row["ref"][f]) < 1:
                print(f"    {row['call_id']} {f}: pred={row['pred'][f]!r} ref={row['ref'][f]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
