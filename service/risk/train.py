"""Train the risk classifier, report cross-validated held-out figures, export ONNX + vocab + model card.

    python -m service.risk.train --out models/risk/ [--folds 5] [--epochs N] [--quick]

Data: PsyGUARD ``valid.json`` (Chinese labels mapped as /work/shared/data/README.md says) and the hand-written
``service/risk/data/train_extra.jsonl``. Cross-validation is stratified by label on the PsyGUARD rows only; the
extra rows are added to every training part and never scored. Inside each training part, 20% (stratified) is held
back to choose the ``any_suicide`` threshold (the highest one that keeps recall ≥ TARGET_RECALL there); the model
trained on the other 80% is then scored on the held-out fold with that threshold. The final model trains on all
data and ships the median of the fold thresholds. Seeded: the same command gives the same figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from service.risk.classifier import CONFIG_FILE, MODEL_FILE, NGRAM_RANGE, VOCAB_FILE, encode, ngrams
from service.types import RISK_LABELS, SUICIDE_LABELS

logger = logging.getLogger("service.risk.train")

DEFAULT_PSYGUARD = Path("/work/shared/data/psyguard/valid.json")
DEFAULT_EXTRA = Path(__file__).parent / "data" / "train_extra.jsonl"
OUTPUTS = [*RISK_LABELS, "any_suicide"]
PSYGUARD_LABELS = {
    "被动自杀意图": "passive_ideation",
    "主动自杀意图": "active_ideation",
    "自杀计划": "suicide_plan",
    "自杀准备行为": "suicide_preparation",
    "自杀未遂": "suicide_attempt",
    "自伤意图": "self_harm_ideation",
    "自伤行为": "self_harm_behavior",
    "用户攻击行为": "aggression_to_others",
    "他人攻击行为": "victimization",
    "关于自杀的探索": "suicide_exploration",
    "与自杀/自伤/攻击行为无关": None,
}
TARGET_RECALL = 0.90
TARGET_PRECISION = 0.80
SEED = 12356
EMBED_DIM = 64
HIDDEN = 64
MIN_COUNT = 2
MAX_VOCAB = 60000


# --- data ---------------------------------------------------------------------------------------------------
def load_psyguard(path: Path) -> list[dict]:
    rows = []
    for x in json.loads(path.read_text(encoding="utf-8")):
        labels = sorted({PSYGUARD_LABELS[lb] for lb in x["labels"]} - {None})
        rows.append({"text": x["text"], "labels": labels, "source": f"psyguard:{x.get('data_source', '?')}"})
    return rows


def load_extra(path: Path | None) -> list[dict]:
    if path is None or not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            x = json.loads(line)
            unknown = set(x["labels"]) - set(RISK_LABELS)
            if unknown:
                raise ValueError(f"{path}: unknown labels {sorted(unknown)}")
            rows.append({"text": x["text"], "labels": sorted(x["labels"]), "source": "extra"})
    return rows


def targets(rows: list[dict]) -> np.ndarray:
    y = np.zeros((len(rows), len(OUTPUTS)), dtype=np.float32)
    for i, r in enumerate(rows):
        for lb in r["labels"]:
            y[i, OUTPUTS.index(lb)] = 1.0
        y[i, -1] = float(any(lb in SUICIDE_LABELS for lb in r["labels"]))
    return y


def stratum(labels: list[str]) -> str:
    """Stratify by the rarest label of a row (so that the 2 preparation rows land in different folds)."""
    if not labels:
        return "none"
    return min(labels, key=lambda lb: RISK_LABELS.index(lb) if lb in SUICIDE_LABELS else 99)


def stratified_folds(rows: list[dict], k: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by.setdefault(stratum(r["labels"]), []).append(i)
    fold = [0] * len(rows)
    offset = 0
    for key in sorted(by):
        idx = by[key]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            fold[i] = (j + offset) % k
        offset += len(idx)
    return fold


def build_vocab(texts: list[str]) -> dict[str, int]:
    counts = Counter(g for t in texts for g in set(ngrams(t)))
    kept = sorted((g for g, c in counts.items() if c >= MIN_COUNT), key=lambda g: (-counts[g], g))[:MAX_VOCAB]
    return {g: i + 1 for i, g in enumerate(kept)}  # 0 is padding


# --- model --------------------------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError as e:
        raise RuntimeError("training the risk classifier needs torch: pip install -e '.[train]'") from e
    torch.set_num_threads(1)
    return torch


def make_model(vocab_size: int):
    torch = _torch()
    nn = torch.nn

    class NgramMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size + 1, EMBED_DIM, padding_idx=0)
            self.mlp = nn.Sequential(nn.Linear(EMBED_DIM, HIDDEN), nn.ReLU(), nn.Dropout(0.2), nn.Linear(HIDDEN, len(OUTPUTS)))

        def logits(self, ids):
            mask = (ids > 0).float().unsqueeze(-1)
            h = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.mlp(h)

        def forward(self, ids):
            return torch.sigmoid(self.logits(ids))

    return NgramMLP()


def train_model(texts: list[str], y: np.ndarray, epochs: int, seed: int):
    """Train on texts/targets; returns (model, vocab)."""
    torch = _torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = build_vocab(texts)
    model = make_model(len(vocab))
    x_all = [encode([t], vocab)[0] for t in texts]
    pos = y.sum(0)
    pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, 8.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    yt = torch.tensor(y)
    batch = 32
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            width = max(len(x_all[i]) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            for j, i in enumerate(idx):
                ids[j, : len(x_all[i])] = x_all[i]
            opt.zero_grad()
            loss = loss_fn(model.logits(torch.from_numpy(ids)), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model, vocab


def predict(model, vocab: dict[str, int], texts: list[str]) -> np.ndarray:
    torch = _torch()
    out = []
    with torch.no_grad():
        for b in range(0, len(texts), 256):
            out.append(model(torch.from_numpy(encode(texts[b:b + 256], vocab))).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(OUTPUTS)), dtype=np.float32)


# --- metrics ------------------------------------------------------------------------------------------------
def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def counts(pred: np.ndarray, gold: np.ndarray) -> tuple[int, int, int]:
    pred, gold = pred.astype(bool), gold.astype(bool)
    return int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())


def choose_threshold(scores: np.ndarray, gold: np.ndarray, target_recall: float = TARGET_RECALL) -> float:
    """The highest threshold whose recall on (scores, gold) is still ≥ target_recall."""
    pos = np.sort(scores[gold.astype(bool)])[::-1]
    if len(pos) == 0:
        return 0.5
    k = int(np.ceil(target_recall * len(pos)))  # need at least k positives at or above the threshold
    return float(pos[k - 1])


def split_inner(rows_idx: list[int], rows: list[dict], seed: int) -> tuple[list[int], list[int]]:
    """Stratified 80/20 split of a training part: (fit, calibrate)."""
    sub = [rows[i] for i in rows_idx]
    f = stratified_folds(sub, 5, seed + 1)
    fit = [i for i, k in zip(rows_idx, f) if k != 0]
    cal = [i for i, k in zip(rows_idx, f) if k == 0]
    return fit, cal


# --- main ---------------------------------------------------------------------------------------------------
def cross_validate(rows: list[dict], extra: list[dict], folds: int, epochs: int, seed: int) -> dict:
    y = targets(rows)
    y_extra = targets(extra)
    fold_of = stratified_folds(rows, folds, seed)
    oof = np.zeros_like(y)
    thresholds, per_fold = [], []
    for k in range(folds):
        t0 = time.perf_counter()
        train_idx = [i for i in range(len(rows)) if fold_of[i] != k]
        test_idx = [i for i in range(len(rows)) if fold_of[i] == k]
        fit_idx, cal_idx = split_inner(train_idx, rows, seed + k)
        texts = [rows[i]["text"] for i in fit_idx] + [r["text"] for r in extra]
        model, vocab = train_model(texts, np.concatenate([y[fit_idx], y_extra]), epochs, seed + k)
        cal_scores = predict(model, vocab, [rows[i]["text"] for i in cal_idx])[:, -1]
        thr = choose_threshold(cal_scores, y[cal_idx, -1])
        oof[test_idx] = predict(model, vocab, [rows[i]["text"] for i in test_idx])
        tp, fp, fn = counts(oof[test_idx, -1] >= thr, y[test_idx, -1])
        per_fold.append({"fold": k, "n": len(test_idx), "threshold": round(thr, 4), "any_suicide": prf(tp, fp, fn)})
        thresholds.append(thr)
        logger.info("fold %d/%d: n=%d thr=%.3f tp=%d fp=%d fn=%d (%.1fs)", k + 1, folds, len(test_idx), thr, tp, fp, fn, time.perf_counter() - t0)
    thr_of = np.array([thresholds[fold_of[i]] for i in range(len(rows))])
    pooled = prf(*counts(oof[:, -1] >= thr_of, y[:, -1]))
    per_label = {lb: prf(*counts(oof[:, j] >= 0.5, y[:, j])) | {"support": int(y[:, j].sum())} for j, lb in enumerate(RISK_LABELS)}
    by_source = {}
    for src in sorted({r["source"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["source"] == src]
        by_source[src] = prf(*counts(oof[idx, -1] >= thr_of[idx], y[idx, -1]))
    return {
        "folds": folds,
        "fold_of": fold_of,
        "oof": oof,
        "thresholds": thresholds,
        "any_suicide": pooled,
        "any_suicide_per_fold": per_fold,
        "any_suicide_by_source": by_source,
        "per_label_at_0.5": per_label,
    }


def export(model, vocab: dict[str, int], out: Path, config: dict) -> None:
    torch = _torch()
    out.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(encode(["我不想活了"], vocab))
    torch.onnx.export(
        model, (example,), str(out / MODEL_FILE), input_names=["ids"], output_names=["probs"],
        dynamic_axes={"ids": {0: "batch", 1: "n"}, "probs": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    (out / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    (out / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m service.risk.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="model directory to write (e.g. models/risk/)")
    ap.add_argument("--data", type=Path, default=DEFAULT_PSYGUARD, help="PsyGUARD valid.json")
    ap.add_argument("--extra", default=str(DEFAULT_EXTRA), help="hand-written rows (JSONL); '' for none")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--date", default=None, help="model date (YYYY-MM-DD), default today")
    ap.add_argument("--quick", action="store_true", help="2 folds, 3 epochs: a smoke run for CI")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.quick:
        args.folds, args.epochs = 2, 3
    t0 = time.perf_counter()
    rows = load_psyguard(args.data)
    extra = load_extra(Path(args.extra) if args.extra else None)
    logger.info("data: %d psyguard rows, %d extra rows", len(rows), len(extra))
    cv = cross_validate(rows, extra, args.folds, args.epochs, args.seed)
    final_thr = float(statistics.median(cv["thresholds"]))
    model, vocab = train_model([r["text"] for r in rows + extra], targets(rows + extra), args.epochs, args.seed)
    date = args.date or dt.date.today().isoformat()
    model_id = f"clf-{date}"
    config = {"model_id": model_id, "outputs": OUTPUTS, "threshold_any_suicide": round(final_thr, 4),
              "ngram_range": list(NGRAM_RANGE), "embed_dim": EMBED_DIM, "hidden": HIDDEN}
    export(model, vocab, args.out, config)
    metrics = {
        "model_id": model_id,
        "date": date,
        "command": "python -m service.risk.train " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "data": {"psyguard": str(args.data), "psyguard_rows": len(rows), "extra": str(args.extra), "extra_rows": len(extra),
                 "label_support": {lb: int(sum(lb in r["labels"] for r in rows)) for lb in RISK_LABELS}},
        "split": {"folds": args.folds, "seed": args.seed, "stratified_by": "rarest suicide label, else first label, else none",
                  "threshold_selection": f"per fold: 20% of the training part held back, highest threshold with recall >= {TARGET_RECALL}"},
        "epochs": args.epochs,
        "held_out": {k: cv[k] for k in ("any_suicide", "any_suicide_per_fold", "any_suicide_by_source", "per_label_at_0.5")},
        "fold_thresholds": [round(t, 4) for t in cv["thresholds"]],
        "shipped_threshold": round(final_thr, 4),
        "targets": {"any_suicide_recall": TARGET_RECALL, "any_suicide_precision": TARGET_PRECISION},
        "vocab_size": len(vocab),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    from service.risk.model_card import write_model_card

    write_model_card(args.out, metrics)
    a = cv["any_suicide"]
    logger.info("held-out any_suicide: P=%.3f R=%.3f F1=%.3f; shipped threshold %.3f; %.1fs",
                a["precision"], a["recall"], a["f1"], final_thr, metrics["train_seconds"])
    return metrics


if __name__ == "__main__":
    main()
