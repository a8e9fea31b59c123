"""Development report: the risk engine on the reference segments of annotated calls.

    python -m service.risk.devreport /work/shared/data/calls/calls.jsonl [--threshold 0.2]

Feeds every reference segment (both speakers, in order) through RiskEngine + CallRiskState and compares the final
call level with ``worksheet.risk_level``. Prints per-call level accuracy, the level confusion (reference->predicted),
high_recall (高/紧急 calls that reached 高 or above), false alerts per 无/低 call, segment-level any_suicide
precision/recall on caller segments, and the classifier alone on the same caller segments (AUC, and counts at its
recall and confirm points). These calls were read while writing the lexicon and its context rules: the figures are
development figures, not held-out ones.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from service.risk import CallRiskState, RiskEngine
from service.types import SUICIDE_LABELS, FinalSegment, level_rank


def evaluate(calls: list[dict], engine: RiskEngine) -> dict:
    rows, alerts_low, n_low, n_high, high_hit, correct = [], 0, 0, 0, 0, 0
    seg_counts = Counter()
    confusion = Counter()
    clf_scores: list[tuple[float, bool]] = []
    for call in calls:
        state = CallRiskState(call["call_id"], None, engine.version)
        context: list[FinalSegment] = []
        alerts = []
        for s in call["segments"]:
            seg = FinalSegment(call["call_id"], s["id"], s["speaker"], s["start"], s["end"], s["text"])
            risk = engine.analyze(seg, context)
            alerts += state.update(seg, risk)
            context.append(seg)
            if s["speaker"] != "counselor":
                gold = any(lb in SUICIDE_LABELS for lb in s["risk"])
                pred = any(lb in SUICIDE_LABELS for lb in risk.labels)
                seg_counts["tp" if gold and pred else "fp" if pred else "fn" if gold else "tn"] += 1
                if engine._predict is not None:
                    clf_scores.append((engine._predict([s["text"]])[0]["any_suicide"], gold))
        ref = call["worksheet"]["risk_level"]
        confusion[(ref, state.level)] += 1
        correct += ref == state.level
        if level_rank(ref) >= level_rank("高"):
            n_high += 1
            high_hit += level_rank(state.level) >= level_rank("高")
        elif level_rank(ref) <= level_rank("低"):
            n_low += 1
            alerts_low += len(alerts)
        rows.append({"call_id": call["call_id"], "reference": ref, "predicted": state.level, "alerts": [a.risk_level for a in alerts]})
    tp, fp, fn = seg_counts["tp"], seg_counts["fp"], seg_counts["fn"]
    return {
        "engine": engine.version,
        "calls": len(calls),
        "level_accuracy": round(correct / len(calls), 4) if calls else 0.0,
        "high_recall": round(high_hit / n_high, 4) if n_high else None,
        "false_alerts_per_low_call": round(alerts_low / n_low, 4) if n_low else None,
        "segment_any_suicide": {"tp": tp, "fp": fp, "fn": fn,
                                "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                                "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0},
        "confusion": {f"{r}->{p}": n for (r, p), n in sorted(confusion.items())},
        "classifier_alone": _classifier_alone(clf_scores, engine) if clf_scores else None,
        "per_call": rows,
    }


def _classifier_alone(scores: list[tuple[float, bool]], engine: RiskEngine) -> dict:
    pos = [p for p, g in scores if g]
    neg = [p for p, g in scores if not g]
    auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg)) if pos and neg else None
    out = {"caller_segments": len(scores), "positives": len(pos), "auc": round(auc, 4) if auc is not None else None}
    for name, thr in (("recall_point", engine.threshold), ("confirm_point", engine.label_threshold)):
        out[name] = {"threshold": round(thr, 4), "tp": sum(p >= thr for p in pos), "fp": sum(p >= thr for p in neg)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m service.risk.devreport", description=__doc__.split("\n\n")[0])
    ap.add_argument("calls", type=Path)
    ap.add_argument("--model", type=Path, default=None, help="model directory (default models/risk/)")
    ap.add_argument("--threshold", type=float, default=None, help="any_suicide threshold (default: the model's)")
    ap.add_argument("--per-call", action="store_true", help="also print each call's reference and predicted level")
    args = ap.parse_args(argv)
    calls = [json.loads(line) for line in args.calls.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = evaluate(calls, RiskEngine.load(model_path=args.model, threshold=args.threshold))
    shown = dict(report) if args.per_call else {k: v for k, v in report.items() if k != "per_call"}
    print(json.dumps(shown, ensure_ascii=False, indent=1))
    return report


if __name__ == "__main__":
    main()
