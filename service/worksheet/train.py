"""Would a trained classifier beat the rules on problem categories and emotions? Cross-validated check.

    python -m service.worksheet.train [--calls calls.jsonl] [--cpsycoun dialogues.jsonl]

Trains a small multi-label classifier (binary character 1–3-grams, one L2 logistic regression per label, numpy) on
the caller's words and scores it by leave-one-call-out cross-validation on the annotated calls: every call is scored
by a model that never saw it. CPsyCoun dialogues (their topic mapped to one problem category) are added to every
training fold for problem categories. The rules engine's scores on the same calls are printed beside it; the rules
need no training, but they were written by people who had read these calls, so their figure is optimistic.
Nothing is saved: the engine ships rules only unless this check says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the machines are shared; one core is plenty here
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from service.worksheet.devscore import jaccard, load_calls, reference_inputs
from service.worksheet.rules import RulesDrafter
from service.worksheet.schema import worksheet_schema

SHARED = Path("/work/shared/data")
TOPIC_TO_CATEGORY = {
    "Career": "职场压力", "Education": "学业压力", "Family Relationship": "婚姻家庭", "Love&Marriage": "恋爱情感",
    "Mental Disease": "精神心理症状", "Social Relationship": "人际关系", "Sex": "性与性别",
}
# categories that follow from the call type, not from the words, are left out of the comparison
DERIVED = ("信息咨询", "其他")
MIN_DF = 2
L2 = 1.0
STEPS = 300
LEARNING_RATE = 0.5


def caller_text(call: dict) -> str:
    return "".join(s["text"] for s in call["segments"] if s["speaker"] == "caller")


def ngrams(text: str) -> set[str]:
    return {text[i:i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)}


def featurize(texts: list[str], vocab: dict[str, int] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    grams = [ngrams(t) for t in texts]
    if vocab is None:
        df = Counter(g for gs in grams for g in gs)
        vocab = {g: i for i, g in enumerate(sorted(g for g, c in df.items() if c >= MIN_DF))}
    x = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for row, gs in enumerate(grams):
        cols = [vocab[g] for g in gs if g in vocab]
        x[row, cols] = 1.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-6), vocab


def fit_logreg(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights (with bias last) of an L2 logistic regression, by full-batch gradient descent."""
    xb = np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])
    w = np.zeros(xb.shape[1], dtype=np.float32)
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / len(y) + L2 * w / len(y)
        w -= LEARNING_RATE * grad
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    xb = np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])
    return 1.0 / (1.0 + np.exp(-(xb @ w)))


def cross_validate(calls: list[dict], field: str, labels: list[str], extra: list[tuple[str, set[str]]]) -> float:
    """Mean Jaccard of leave-one-call-out predictions of ``field`` (restricted to ``labels``)."""
    texts = [caller_text(c) for c in calls]
    gold = [set(c["worksheet"][field]) & set(labels) for c in calls]
    total = 0.0
    for held in range(len(calls)):
        train_idx = [i for i in range(len(calls)) if i != held]
        train_texts = [texts[i] for i in train_idx] + [t for t, _ in extra]
        train_gold = [gold[i] for i in train_idx] + [g for _, g in extra]
        x, vocab = featurize(train_texts)
        xt, _ = featurize([texts[held]], vocab)
        prob = {}
        for label in labels:
            y = np.array([label in g for g in train_gold], dtype=np.float32)
            if y.sum() == 0:
                continue
            prob[label] = predict(fit_logreg(x, y), xt)[0]
        # as many labels as a training call has on average, the most probable ones
        k = max(1, round(sum(len(gold[i]) for i in train_idx) / len(train_idx)))
        pred = set(sorted(prob, key=lambda lab: -prob[lab])[:k])
        total += jaccard(pred, gold[held])
    return total / max(1, len(calls))


def rules_score(calls: list[dict], field: str, labels: list[str]) -> float:
    drafter = RulesDrafter()
    total = 0.0
    for call in calls:
        pred = set(drafter.draft(*reference_inputs(call)).values()[field]) & set(labels)
        total += jaccard(pred, set(call["worksheet"][field]) & set(labels))
    return total / max(1, len(calls))


def load_cpsycoun(path: Path | None) -> list[tuple[str, set[str]]]:
    if path is None or not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            category = TOPIC_TO_CATEGORY.get(row["topic"])
            if category:
                words = "".join(t.split("：", 1)[-1] for t in row["turns"] if t.startswith("求助者"))
                out.append((words, {category}))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=Path, default=SHARED / "calls" / "calls.jsonl")
    ap.add_argument("--cpsycoun", type=Path, default=SHARED / "cpsycoune" / "dialogues.jsonl")
    args = ap.parse_args(argv)
    calls = load_calls(args.calls)
    props = worksheet_schema()["properties"]
    categories = [c for c in props["problem_categories"]["items"]["enum"] if c not in DERIVED]
    emotions = list(props["emotions"]["items"]["enum"])
    extra = load_cpsycoun(args.cpsycoun)
    print(f"{len(calls)} calls from {args.calls}, {len(extra)} CPsyCoun dialogues for problem categories; "
          f"leave-one-call-out, char 1-3-gram logistic regression (min_df={MIN_DF}, l2={L2}), "
          "top-k most probable labels, k = mean labels per training call")
    for field, labels, more in (("problem_categories", categories, extra), ("emotions", emotions, [])):
        trained = cross_validate(calls, field, labels, more)
        rules = rules_score(calls, field, labels)
        print(f"  {field:20s} trained (cross-validated) {trained:.3f}   rules (not trained, written on these calls) "
              f"{rules:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
