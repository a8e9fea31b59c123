"""Train the risk classifier, report cross-validated held-out figures, export ONNX + vocab + model card.

    python -m service.risk.train --out models/risk/ [--folds 5] [--epochs N] [--members M] [--quick]

Data: PsyGUARD ``valid.json`` (Chinese labels mapped as /work/shared/data/README.md says) and the hand-written
``service/risk/data/train_extra.jsonl``. Cross-validation is stratified by label on the PsyGUARD rows only; the
extra rows are added to every training part and never scored. Inside each training part, an inner stratified
k-fold gives out-of-fold scores for every training row, and the ``any_suicide`` threshold is the highest one that
keeps recall ≥ INNER_TARGET_RECALL on them; the model trained on the whole training part is then scored on the held-out
fold with that threshold. The final model trains on all data and ships the median of the fold thresholds. Seeded:
the same command gives the same figures.

Model: an ensemble of ``--members`` character CNNs (the same vocabulary, different seeds), averaged; unless
``--no-encoder``, ``--members`` small MLP heads on the frozen sentence embeddings of a pretrained multilingual encoder
(:mod:`service.risk.encoder`), averaged; and, unless ``--no-ngram``, a logistic regression on the TF-IDF weighted
character 1–3-grams of the text; and, with ``--tuned`` (not in the shipped model: its model card says why), the same
encoder with its top TUNED_LAYERS layers fine-tuned and a linear head (:mod:`service.risk.e5`). The classifier's probability is the
weighted mean of the parts, the n-gram model counting twice as much as each other part. The embeddings, and the
frozen lower layers' states that the tuned part starts from, are computed once for all rows (they do not depend on
the fold).
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.risk import e5
from service.risk.classifier import (CONFIG_FILE, HEAD_FILE, MODEL_FILE, NGRAM_FILE, NGRAM_VOCAB_FILE, TUNED_GRAPH_FILE,
                                     TUNED_WEIGHTS_FILE, UNKNOWN_ID, VOCAB_FILE, NgramVocab, chars, encode, grams)
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
#: the recall the threshold aims at on the inner out-of-fold scores. Those come from models trained on 2/3 of the
#: training part, the scored model on all of it; aiming at exactly TARGET_RECALL there held out 0.894 (run of
#: 2026-11-24), so recall, which comes first, gets a margin
INNER_TARGET_RECALL = 0.92
TARGET_PRECISION = 0.80
SEED = 12356
EMBED_DIM = 64
#: filters per width; widths are character spans (2–4 characters: 想死, 不想活, 活着没意思 in pieces)
CHANNELS = 96
WIDTHS = (2, 3, 4)
DROPOUT = 0.3
LEARNING_RATE = 3e-3
BATCH = 32
MEMBERS = 3
EPOCHS = 12
INNER_FOLDS = 3
MIN_COUNT = 2
MAX_VOCAB = 8000
#: the heads on the encoder's embeddings: one hidden layer, trained full-batch (1,600 rows × 384 dimensions)
HEAD_HIDDEN = 256
HEAD_DROPOUT = 0.3
HEAD_EPOCHS = 100
HEAD_LEARNING_RATE = 3e-3
HEAD_WEIGHT_DECAY = 0.1
#: the n-gram model: character 1…NGRAM_N-grams seen in at least NGRAM_MIN_DF training texts, TF-IDF, a logistic
#: regression per output with L2 strength 1/NGRAM_C (full-batch L-BFGS from zero: no seed to set)
NGRAM_N = 3
NGRAM_MIN_DF = 2
NGRAM_C = 4.0
NGRAM_ITERATIONS = 300
#: the n-gram model counts twice as much as each other part (:func:`part_weights`). On the same 5 folds' out-of-fold
#: scores it was the best of the three parts alone (AUC 0.968 against 0.958 and 0.951), and on the 40 development
#: calls' caller turns too (0.859 against 0.819 for the CNNs and heads together): hence half, beside those two
#: the tuned part (:mod:`service.risk.e5`): top layers trained, their learning rate and the head's, epochs, batch.
#: Chosen on the first outer fold's held-out rows (so read its figures there as optimistic; 2026-12-07): 4 layers,
#: 100 s a fit on two threads (all 12 gave AUC 0.965 against 0.957, at three times the time and the weights)
TUNED_LAYERS = 4
TUNED_LEARNING_RATE = 5e-5
TUNED_HEAD_LEARNING_RATE = 1e-3
TUNED_WEIGHT_DECAY = 0.01
TUNED_EPOCHS = 4
TUNED_BATCH = 16
#: threads for the tuned part's training (the other parts train on one): the encoder's layers are most of the time
TUNED_THREADS = 2


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
    """Characters seen at least MIN_COUNT times; ids from 2 (0 is padding, 1 an unknown character)."""
    counts = Counter(ch for t in texts for ch in set(chars(t)))
    kept = sorted((g for g, c in counts.items() if c >= MIN_COUNT), key=lambda g: (-counts[g], g))[:MAX_VOCAB]
    return {g: i + UNKNOWN_ID + 1 for i, g in enumerate(kept)}


# --- model --------------------------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError as e:
        raise RuntimeError("training the risk classifier needs torch: pip install -e '.[train]'") from e
    torch.set_num_threads(1)
    return torch


def make_model(vocab_size: int, members: int = 1):
    """``members`` character CNNs over one vocabulary; forward() averages their probabilities."""
    torch = _torch()
    nn = torch.nn

    class CharCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size + UNKNOWN_ID + 1, EMBED_DIM, padding_idx=0)
            self.convs = nn.ModuleList(nn.Conv1d(EMBED_DIM, CHANNELS, w, padding=w - 1) for w in WIDTHS)
            self.drop = nn.Dropout(DROPOUT)
            self.out = nn.Linear(CHANNELS * len(WIDTHS), len(OUTPUTS))

        def logits(self, ids):
            x = self.embed(ids).transpose(1, 2)
            valid = (ids > 0).unsqueeze(1)
            n = ids.shape[1]
            # ReLU outputs are ≥ 0, so zeroing padded positions leaves the max over real characters unchanged
            pooled = [torch.relu(conv(x))[:, :, :n].masked_fill(~valid, 0.0).amax(2) for conv in self.convs]
            return self.out(self.drop(torch.cat(pooled, 1)))

    class Ensemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(CharCNN() for _ in range(members))

        def forward(self, ids):
            return torch.stack([torch.sigmoid(m.logits(ids)) for m in self.members]).mean(0)

    return Ensemble()


def train_model(texts: list[str], y: np.ndarray, epochs: int, seed: int, members: int = MEMBERS):
    """Train on texts/targets; returns (model, vocab). Member k is trained with seed ``seed + 1000 k``."""
    torch = _torch()
    vocab = build_vocab(texts)
    torch.manual_seed(seed)  # the members' initial weights
    model = make_model(len(vocab), members)
    x_all = [encode([t], vocab)[0] for t in texts]
    x_all = [x[x > 0] for x in x_all]
    pos = y.sum(0)
    pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, 8.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    yt = torch.tensor(y)
    for k, member in enumerate(model.members):
        torch.manual_seed(seed + 1000 * k)
        rng = np.random.default_rng(seed + 1000 * k)
        opt = torch.optim.AdamW(member.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
        member.train()
        for _ in range(epochs):
            order = rng.permutation(len(texts))
            for b in range(0, len(order), BATCH):
                idx = order[b:b + BATCH]
                width = max(max(len(x_all[i]) for i in idx), 4)
                ids = np.zeros((len(idx), width), dtype=np.int64)
                for j, i in enumerate(idx):
                    ids[j, : len(x_all[i])] = x_all[i]
                opt.zero_grad()
                loss = loss_fn(member.logits(torch.from_numpy(ids)), yt[idx])
                loss.backward()
                opt.step()
    model.eval()
    return model, vocab


def make_head(mean: np.ndarray, std: np.ndarray, members: int = 1):
    """``members`` MLPs on an embedding, standardised with the training part's ``mean``/``std`` (kept in the
    exported graph); forward() averages their probabilities."""
    torch = _torch()
    nn = torch.nn

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
            self.members = nn.ModuleList(
                nn.Sequential(nn.Linear(len(mean), HEAD_HIDDEN), nn.ReLU(), nn.Dropout(HEAD_DROPOUT),
                              nn.Linear(HEAD_HIDDEN, len(OUTPUTS)))
                for _ in range(members))

        def logits(self, member, emb):
            return member((emb - self.mean) / self.std)

        def forward(self, emb):
            return torch.stack([torch.sigmoid(self.logits(m, emb)) for m in self.members]).mean(0)

    return Head()


def train_head(x: np.ndarray, y: np.ndarray, seed: int, members: int = MEMBERS):
    """Heads on embeddings ``x`` [n, dim] for targets ``y``; member k is trained with seed ``seed + 1000 k``."""
    torch = _torch()
    torch.manual_seed(seed)
    head = make_head(x.mean(0), x.std(0) + 1e-6, members)
    pos = y.sum(0)
    pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, 8.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)
    for k, member in enumerate(head.members):
        torch.manual_seed(seed + 1000 * k)
        opt = torch.optim.AdamW(member.parameters(), lr=HEAD_LEARNING_RATE, weight_decay=HEAD_WEIGHT_DECAY)
        member.train()
        for _ in range(HEAD_EPOCHS):
            opt.zero_grad()
            loss_fn(head.logits(member, xt), yt).backward()
            opt.step()
    head.eval()
    return head


def build_ngram_vocab(texts: list[str], n: int = NGRAM_N) -> NgramVocab:
    """Grams seen in at least NGRAM_MIN_DF texts, in sorted order; smoothed idf = ln((1 + N) / (1 + df)) + 1."""
    df = Counter(g for t in texts for g in set(grams(t, n)))
    kept = sorted(g for g, c in df.items() if c >= NGRAM_MIN_DF)
    idf = np.array([np.log((1 + len(texts)) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float32)
    return NgramVocab(n, {g: j for j, g in enumerate(kept)}, idf)


def make_ngram(columns: int):
    """A logistic regression per output on TF-IDF rows; forward() gives probabilities."""
    torch = _torch()

    class NgramModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(columns, len(OUTPUTS))
            torch.nn.init.zeros_(self.linear.weight)
            torch.nn.init.zeros_(self.linear.bias)

        def forward(self, tfidf):
            return torch.sigmoid(self.linear(tfidf))

    return NgramModel()


def train_ngram(texts: list[str], y: np.ndarray) -> tuple[object, NgramVocab]:
    """The n-gram model for texts/targets: class-weighted BCE (as the other parts) summed over outputs, plus the L2
    penalty ‖W‖² / (2 NGRAM_C n), minimised by full-batch L-BFGS from zero weights (deterministic)."""
    torch = _torch()
    vocab = build_ngram_vocab(texts)
    model = make_ngram(len(vocab.index))
    x = torch.from_numpy(vocab.features(texts))
    yt = torch.from_numpy(y)
    pos = y.sum(0)
    pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, 8.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="sum")
    opt = torch.optim.LBFGS(model.parameters(), max_iter=NGRAM_ITERATIONS, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (loss_fn(model.linear(x), yt) + model.linear.weight.pow(2).sum() / (2 * NGRAM_C)) / len(y)
        loss.backward()
        return loss

    opt.step(closure)
    model.eval()
    return model, vocab


def part_weights(parts: list[str]) -> dict[str, float]:
    """Each part's share of the classifier's probability: the n-gram model counts twice as much as each other part
    (0.5 beside the CNNs and the heads, 0.4 with the tuned part too); without it, the plain mean."""
    if "ngram" not in parts:
        return {p: 1.0 / len(parts) for p in parts}
    rest = [p for p in parts if p != "ngram"]
    share = 1.0 / (len(rest) + 2)
    return {p: share for p in rest} | {"ngram": 2 * share}


@dataclass
class Trained:
    """One trained classifier: the character CNNs; the heads on the encoder's embeddings when the encoder is used; the
    n-gram model when it is used."""

    cnn: object
    vocab: dict[str, int]
    head: object | None = None
    ngram: object | None = None
    ngram_vocab: NgramVocab | None = None
    #: the encoder with its top layers tuned (:func:`train_tuned`)
    tuned: object | None = None

    @property
    def weights(self) -> dict[str, float]:
        return part_weights(["cnn"] + ["head"] * (self.head is not None) + ["ngram"] * (self.ngram is not None)
                            + ["tuned"] * (self.tuned is not None))

    def predict(self, texts: list[str], emb: np.ndarray | None = None,
                lower: list[np.ndarray] | None = None) -> np.ndarray:
        """Probabilities [len(texts), len(OUTPUTS)]: the parts' weighted mean (:func:`part_weights`). ``emb``: the
        texts' embeddings, ``lower``: their states after the frozen layers (with the head and the tuned part)."""
        torch = _torch()
        parts = {"cnn": predict(self.cnn, self.vocab, texts)}
        with torch.no_grad():
            if self.head is not None:
                parts["head"] = self.head(torch.from_numpy(emb)).numpy()
            if self.ngram is not None:
                parts["ngram"] = self.ngram(torch.from_numpy(self.ngram_vocab.features(texts))).numpy()
        if self.tuned is not None:
            parts["tuned"] = predict_tuned(self.tuned, lower)
        weights = self.weights
        return sum(weights[p] * probs for p, probs in parts.items())


def fit(texts: list[str], emb: np.ndarray | None, y: np.ndarray, epochs: int, seed: int,
        members: int = MEMBERS, ngram: bool = True, lower: list[np.ndarray] | None = None,
        tuned_epochs: int = TUNED_EPOCHS) -> Trained:
    model, vocab = train_model(texts, y, epochs, seed, members)
    trained = Trained(model, vocab, None if emb is None else train_head(emb, y, seed, members))
    if ngram:
        trained.ngram, trained.ngram_vocab = train_ngram(texts, y)
    if lower is not None:
        trained.tuned = train_tuned(lower, y, seed, tuned_epochs)
    return trained


# --- the tuned part ----------------------------------------------------------------------------------------
_BASE: dict[str, object] = {}


def base_encoder():
    """The encoder with the file's weights (:func:`service.risk.e5.torch_encoder`), built once per process: each fit
    copies it."""
    if "encoder" not in _BASE:
        _BASE["file"] = e5.load_file()
        _BASE["encoder"] = e5.torch_encoder(_BASE["file"], len(OUTPUTS)).eval()
    return _BASE["encoder"]


def lower_states(texts: list[str]) -> list[np.ndarray]:
    """Each text's token states after the frozen layers [0, layers − TUNED_LAYERS): float32 [tokens, hidden]. The
    same for every fold, so computed once per run."""
    torch = _torch()
    enc = base_encoder()
    f = _BASE["file"]
    out = []
    with torch.no_grad():
        for t in texts:
            x, mask = f.embedded([e5.prepare(t)])
            out.append(enc.lower(torch.from_numpy(x), torch.from_numpy(mask), f.layers - TUNED_LAYERS)[0].numpy())
    return out


def _padded(states: list[np.ndarray]):
    torch = _torch()
    width = max(s.shape[0] for s in states)
    x = np.zeros((len(states), width, states[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(states), width), dtype=np.float32)
    for i, s in enumerate(states):
        x[i, :len(s)] = s
        mask[i, :len(s)] = 1.0
    return torch.from_numpy(x), torch.from_numpy(mask)


def train_tuned(states: list[np.ndarray], y: np.ndarray, seed: int, epochs: int = TUNED_EPOCHS):
    """A copy of the encoder whose top TUNED_LAYERS layers and a new linear head are trained on the texts' lower
    states: AdamW, one-cycle schedule (10 % warm-up, linear decay), class-weighted BCE as the other parts. The tuned
    weights are rounded through float16, as they ship, before the model is used."""
    import copy

    torch = _torch()
    enc = base_encoder()
    f = _BASE["file"]
    start = f.layers - TUNED_LAYERS
    torch.manual_seed(seed)
    model = copy.deepcopy(enc)
    model.head = torch.nn.Linear(f.hidden, y.shape[1])
    params = [p for layer in model.layers[start:] for p in layer.parameters()]
    opt = torch.optim.AdamW([{"params": params, "lr": TUNED_LEARNING_RATE},
                             {"params": model.head.parameters(), "lr": TUNED_HEAD_LEARNING_RATE}],
                            weight_decay=TUNED_WEIGHT_DECAY)
    steps = max(1, epochs * ((len(states) + TUNED_BATCH - 1) // TUNED_BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[TUNED_LEARNING_RATE, TUNED_HEAD_LEARNING_RATE],
                                                total_steps=steps, pct_start=0.1, anneal_strategy="linear")
    pos = y.sum(0)
    pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, 8.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    rng = np.random.default_rng(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(TUNED_THREADS)
    try:
        model.train()
        for _ in range(epochs):
            order = rng.permutation(len(states))
            for b in range(0, len(order), TUNED_BATCH):
                idx = order[b:b + TUNED_BATCH]
                x, mask = _padded([states[i] for i in idx])
                loss = loss_fn(model.upper(x, mask, start), torch.from_numpy(y[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    e5.load_tuned_weights(model, e5.tuned_weights(model, f, TUNED_LAYERS), start)
    return model


def predict_tuned(model, states: list[np.ndarray]) -> np.ndarray:
    """The tuned part's probabilities [len(states), outputs]."""
    torch = _torch()
    start = len(model.layers) - TUNED_LAYERS
    out = []
    with torch.no_grad():
        for b in range(0, len(states), 32):
            x, mask = _padded(states[b:b + 32])
            out.append(torch.sigmoid(model.upper(x, mask, start)).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(OUTPUTS)), dtype=np.float32)


def embed_rows(rows: list[dict]) -> np.ndarray:
    from service.risk.encoder import ENCODER_ID, get_encoder

    encoder = get_encoder(ENCODER_ID)
    return np.concatenate([encoder.embed([r["text"] for r in rows[b:b + 64]]) for b in range(0, len(rows), 64)]
                          or [encoder.embed([])])


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


def choose_precision_threshold(scores: np.ndarray, gold: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest threshold whose precision on (scores, gold) is still ≥ target (1.0 + ε when none reaches it)."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(gold[order].astype(bool))
    precision = hits / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= target)[0]
    if len(ok) == 0:
        return 1.000001
    k = int(ok[-1])
    return float(scores[order][k])


def inner_threshold(train_idx: list[int], rows: list[dict], y: np.ndarray, extra: list[dict], y_extra: np.ndarray,
                    cfg: "Config", seed: int, emb: "Embeddings | None" = None) -> tuple[float, float]:
    """The any_suicide thresholds for one outer fold, from out-of-fold scores inside its training part only:
    (recall ≥ TARGET_RECALL, precision ≥ TARGET_PRECISION)."""
    sub = [rows[i] for i in train_idx]
    inner = stratified_folds(sub, cfg.inner_folds, seed + 1)
    scores = np.zeros(len(train_idx), dtype=np.float32)
    for j in range(cfg.inner_folds):
        fit = [i for i, f in zip(train_idx, inner) if f != j]
        held = [q for q, f in enumerate(inner) if f == j]
        trained = fit_part(fit, rows, y, extra, y_extra, cfg, seed + 100 + j, emb)
        held_rows = [train_idx[q] for q in held]
        scores[held] = trained.predict([sub[q]["text"] for q in held], None if emb is None else emb.rows[held_rows],
                                       None if emb is None else emb.lower_of(held_rows))[:, -1]
    gold = y[train_idx, -1]
    return choose_threshold(scores, gold, INNER_TARGET_RECALL), choose_precision_threshold(scores, gold)


@dataclass(frozen=True)
class Embeddings:
    """The encoder's embeddings of the PsyGUARD rows and of the extra rows, in their order; with the tuned part, the
    rows' states after the encoder's frozen layers too (:func:`lower_states`)."""

    rows: np.ndarray
    extra: np.ndarray
    lower_rows: list | None = None
    lower_extra: list | None = None

    def lower_of(self, idx) -> list[np.ndarray] | None:
        return None if self.lower_rows is None else [self.lower_rows[i] for i in idx]


def fit_part(idx: list[int], rows: list[dict], y: np.ndarray, extra: list[dict], y_extra: np.ndarray, cfg: "Config",
             seed: int, emb: Embeddings | None) -> Trained:
    """A classifier trained on the rows ``idx`` plus every extra row."""
    texts = [rows[i]["text"] for i in idx] + [r["text"] for r in extra]
    x = None if emb is None else np.concatenate([emb.rows[idx], emb.extra])
    lower = None if emb is None or emb.lower_rows is None else emb.lower_of(idx) + list(emb.lower_extra)
    return fit(texts, x, np.concatenate([y[idx], y_extra]), cfg.epochs, seed, cfg.members, cfg.ngram, lower,
               cfg.tuned_epochs)


@dataclass(frozen=True)
class Config:
    folds: int = 5
    inner_folds: int = INNER_FOLDS
    epochs: int = EPOCHS
    members: int = MEMBERS
    seed: int = SEED
    ngram: bool = True
    tuned_epochs: int = TUNED_EPOCHS


def segment_latency_ms(model_dir: Path, repeats: int = 30) -> dict:
    """What the exported classifier costs per caller segment, one at a time as the live path asks (median ms over
    ``repeats`` runs of a 20- and an 80-character turn): a measurement for the model card, not a test."""
    from service.risk.classifier import Classifier

    clf = Classifier.load(model_dir)
    out = {}
    for name, text in (("20_chars", "我最近压力特别大，有时候觉得活着没意思。"),
                       ("80_chars", "我最近压力特别大，晚上睡不着，白天也没有精神上班，有时候觉得活着没什么意思，"
                                    "也不知道该跟谁说，家里人都不理解我，朋友也很少联系了，我真的好累。")):
        clf.predict([text])
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            clf.predict([text])
            times.append(time.perf_counter() - t0)
        out[name] = round(1000 * statistics.median(times), 2)
    return out


# --- main ---------------------------------------------------------------------------------------------------
def cross_validate(rows: list[dict], extra: list[dict], cfg: Config, emb: Embeddings | None = None) -> dict:
    y = targets(rows)
    y_extra = targets(extra)
    fold_of = stratified_folds(rows, cfg.folds, cfg.seed)
    oof = np.zeros_like(y)
    thresholds, confirm, per_fold = [], [], []
    for k in range(cfg.folds):
        t0 = time.perf_counter()
        train_idx = [i for i in range(len(rows)) if fold_of[i] != k]
        test_idx = [i for i in range(len(rows)) if fold_of[i] == k]
        thr, thr_p = inner_threshold(train_idx, rows, y, extra, y_extra, cfg, cfg.seed + k, emb)
        trained = fit_part(train_idx, rows, y, extra, y_extra, cfg, cfg.seed + k, emb)
        oof[test_idx] = trained.predict([rows[i]["text"] for i in test_idx], None if emb is None else emb.rows[test_idx],
                                        None if emb is None else emb.lower_of(test_idx))
        tp, fp, fn = counts(oof[test_idx, -1] >= thr, y[test_idx, -1])
        per_fold.append({"fold": k, "n": len(test_idx), "threshold": round(thr, 4), "any_suicide": prf(tp, fp, fn),
                         "confirm_threshold": round(thr_p, 4),
                         "any_suicide_at_confirm": prf(*counts(oof[test_idx, -1] >= thr_p, y[test_idx, -1]))})
        thresholds.append(thr)
        confirm.append(thr_p)
        logger.info("fold %d/%d: n=%d thr=%.3f tp=%d fp=%d fn=%d (%.1fs)", k + 1, cfg.folds, len(test_idx), thr, tp, fp, fn,
                    time.perf_counter() - t0)
    thr_of = np.array([thresholds[fold_of[i]] for i in range(len(rows))])
    pooled = prf(*counts(oof[:, -1] >= thr_of, y[:, -1]))
    confirm_of = np.array([confirm[fold_of[i]] for i in range(len(rows))])
    per_label = {lb: prf(*counts(oof[:, j] >= 0.5, y[:, j])) | {"support": int(y[:, j].sum())} for j, lb in enumerate(RISK_LABELS)}
    by_source = {}
    for src in sorted({r["source"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["source"] == src]
        by_source[src] = prf(*counts(oof[idx, -1] >= thr_of[idx], y[idx, -1]))
    return {
        "folds": cfg.folds,
        "fold_of": fold_of,
        "oof": oof,
        "thresholds": thresholds,
        "confirm_thresholds": confirm,
        "any_suicide": pooled,
        "any_suicide_at_confirm": prf(*counts(oof[:, -1] >= confirm_of, y[:, -1])),
        "any_suicide_per_fold": per_fold,
        "any_suicide_by_source": by_source,
        "per_label_at_0.5": per_label,
        "engine": engine_on_folds(rows, oof, thr_of, np.maximum(thr_of, confirm_of)),
        "engine_at_recall_point": engine_on_folds(rows, oof, thr_of, thr_of),
    }


def engine_on_folds(rows: list[dict], oof: np.ndarray, thr_of: np.ndarray, label_thr_of: np.ndarray) -> dict:
    """The risk engine (lexicon, context rules, this classifier's held-out scores; classifier-only labels at
    ``label_thr_of``, the fold's confirm point as shipped) per row, each row taken as one caller segment: what the
    service would label, not the classifier alone."""
    from service.risk import RiskEngine
    from service.risk.lexicon import load_lexicon
    from service.types import FinalSegment

    lex = load_lexicon()
    y = targets(rows)[:, -1]
    pred = np.zeros(len(rows), dtype=bool)
    for i, r in enumerate(rows):
        probs = dict(zip(OUTPUTS, map(float, oof[i])))
        engine = RiskEngine(lex, lambda texts, p=probs: [p for _ in texts], float(thr_of[i]), "cv",
                            label_threshold=float(label_thr_of[i]))
        labels = engine.analyze(FinalSegment("cv", i, "caller", 0.0, 1.0, r["text"])).labels
        pred[i] = any(lb in SUICIDE_LABELS for lb in labels)
    return prf(*counts(pred, y))


def export(trained: Trained, out: Path, config: dict) -> None:
    torch = _torch()
    model, vocab = trained.cnn, trained.vocab
    out.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(encode(["我不想活了"], vocab))
    torch.onnx.export(
        model, (example,), str(out / MODEL_FILE), input_names=["ids"], output_names=["probs"],
        dynamic_axes={"ids": {0: "batch", 1: "n"}, "probs": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    if trained.head is not None:
        from service.risk.encoder import DIM

        torch.onnx.export(
            trained.head, (torch.zeros(1, DIM),), str(out / HEAD_FILE), input_names=["emb"], output_names=["probs"],
            dynamic_axes={"emb": {0: "batch"}, "probs": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    elif (out / HEAD_FILE).exists():
        (out / HEAD_FILE).unlink()  # a model without the encoder must not be read with an older head
    if trained.ngram is not None:
        columns = len(trained.ngram_vocab.index)
        torch.onnx.export(
            trained.ngram, (torch.zeros(1, columns),), str(out / NGRAM_FILE), input_names=["tfidf"],
            output_names=["probs"], dynamic_axes={"tfidf": {0: "batch"}, "probs": {0: "batch"}}, opset_version=17,
            dynamo=False,
        )
        (out / NGRAM_VOCAB_FILE).write_text(json.dumps(trained.ngram_vocab.to_json(), ensure_ascii=False,
                                                       separators=(",", ":")), encoding="utf-8")
    else:
        for name in (NGRAM_FILE, NGRAM_VOCAB_FILE):  # nor with an older n-gram model
            if (out / name).exists():
                (out / name).unlink()
    if trained.tuned is not None:
        import onnx

        f = _BASE["file"]
        onnx.save(e5.encoder_graph(f, TUNED_LAYERS, len(OUTPUTS)), str(out / TUNED_GRAPH_FILE))
        np.savez(out / TUNED_WEIGHTS_FILE, **e5.tuned_weights(trained.tuned, f, TUNED_LAYERS))
    else:
        for name in (TUNED_GRAPH_FILE, TUNED_WEIGHTS_FILE):  # nor with an older tuned part
            if (out / name).exists():
                (out / name).unlink()
    (out / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    (out / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m service.risk.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="model directory to write (e.g. models/risk/)")
    ap.add_argument("--data", type=Path, default=DEFAULT_PSYGUARD, help="PsyGUARD valid.json")
    ap.add_argument("--extra", default=str(DEFAULT_EXTRA), help="hand-written rows (JSONL); '' for none")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--members", type=int, default=MEMBERS, help="CNNs in the ensemble")
    ap.add_argument("--inner-folds", type=int, default=INNER_FOLDS, help="inner folds that choose each fold's threshold")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--date", default=None, help="model date (YYYY-MM-DD), default today")
    ap.add_argument("--id", default=None, help="model id, default clf-DATE")
    ap.add_argument("--no-encoder", action="store_true",
                    help="the character CNNs alone, without the heads on the pretrained encoder's embeddings")
    ap.add_argument("--no-ngram", action="store_true",
                    help="without the logistic regression on character n-grams (the model of 2026-11-25)")
    ap.add_argument("--tuned", action="store_true",
                    help="add the encoder with its top layers fine-tuned (a fourth part; not in the shipped model: "
                         "models/risk/MODEL_CARD.md says why); needs the encoder")
    ap.add_argument("--save-oof", type=Path, default=None,
                    help="also write the held-out scores (npz: oof, fold_of, thresholds) for analysis")
    ap.add_argument("--quick", action="store_true",
                    help="2 folds, 2 inner folds, 3 epochs, 1 member, 1 tuned epoch: a smoke run for CI")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tuned_epochs = TUNED_EPOCHS
    if args.quick:
        args.folds, args.inner_folds, args.epochs, args.members = 2, 2, 3, 1
        tuned_epochs = 1
    tuned = args.tuned and not args.no_encoder
    cfg = Config(folds=args.folds, inner_folds=args.inner_folds, epochs=args.epochs, members=args.members, seed=args.seed,
                 ngram=not args.no_ngram, tuned_epochs=tuned_epochs)
    t0 = time.perf_counter()
    rows = load_psyguard(args.data)
    extra = load_extra(Path(args.extra) if args.extra else None)
    logger.info("data: %d psyguard rows, %d extra rows", len(rows), len(extra))
    emb = None
    if not args.no_encoder:
        from service.risk.encoder import ENCODER_ID

        t1 = time.perf_counter()
        emb = Embeddings(embed_rows(rows), embed_rows(extra))
        logger.info("encoder %s: %d rows embedded in %.1fs", ENCODER_ID, len(rows) + len(extra), time.perf_counter() - t1)
        if tuned:
            t1 = time.perf_counter()
            emb = Embeddings(emb.rows, emb.extra, lower_states([r["text"] for r in rows]),
                             lower_states([r["text"] for r in extra]))
            logger.info("encoder's frozen layers: %d rows in %.1fs", len(rows) + len(extra), time.perf_counter() - t1)
    cv = cross_validate(rows, extra, cfg, emb)
    if args.save_oof:
        np.savez(args.save_oof, oof=cv["oof"], fold_of=np.array(cv["fold_of"]), thresholds=np.array(cv["thresholds"]),
                 confirm_thresholds=np.array(cv["confirm_thresholds"]))
    final_thr = float(statistics.median(cv["thresholds"]))
    final_confirm = float(statistics.median(cv["confirm_thresholds"]))
    trained = fit([r["text"] for r in rows + extra], None if emb is None else np.concatenate([emb.rows, emb.extra]),
                  targets(rows + extra), cfg.epochs, cfg.seed, cfg.members, cfg.ngram,
                  None if emb is None or emb.lower_rows is None else list(emb.lower_rows) + list(emb.lower_extra),
                  cfg.tuned_epochs)
    date = args.date or dt.date.today().isoformat()
    model_id = args.id or f"clf-{date}"
    config = {"model_id": model_id, "outputs": OUTPUTS, "threshold_any_suicide": round(final_thr, 4),
              "confirm_threshold_any_suicide": round(final_confirm, 4),
              "features": "characters (letters and digits of the normalised text)", "embed_dim": EMBED_DIM,
              "channels": CHANNELS, "widths": list(WIDTHS), "members": cfg.members}
    if emb is not None:
        from service.risk.encoder import ENCODER_ID

        config |= {"encoder": ENCODER_ID, "head": HEAD_FILE,
                   "combine": "mean of the character CNNs' and the encoder heads' probabilities"}
    if cfg.ngram:
        config |= {"ngram": NGRAM_FILE, "ngram_vocab": NGRAM_VOCAB_FILE,
                   "combine": "weighted mean of the parts' probabilities"}
    if trained.tuned is not None:
        config |= {"tuned": {"graph": TUNED_GRAPH_FILE, "weights": TUNED_WEIGHTS_FILE, "layers": TUNED_LAYERS,
                             "base": e5.BASE_ID, "base_sha256": _BASE["file"].sha256},
                   "combine": "weighted mean of the parts' probabilities"}
    config["weights"] = {p: round(w, 6) for p, w in trained.weights.items()}
    export(trained, args.out, config)
    metrics = {
        "model_id": model_id,
        "date": date,
        "command": "python -m service.risk.train " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "data": {"psyguard": str(args.data), "psyguard_rows": len(rows), "extra": str(args.extra), "extra_rows": len(extra),
                 "label_support": {lb: int(sum(lb in r["labels"] for r in rows)) for lb in RISK_LABELS}},
        "split": {"folds": args.folds, "seed": args.seed, "stratified_by": "rarest suicide label, else first label, else none",
                  "threshold_selection": f"per fold: {cfg.inner_folds}-fold out-of-fold scores inside the training part, "
                                         f"highest threshold with recall >= {INNER_TARGET_RECALL} on them (the "
                                         f"recall-first operating point) and lowest with precision >= "
                                         f"{TARGET_PRECISION} (the confirm point)"},
        "epochs": cfg.epochs,
        "held_out": {k: cv[k] for k in ("any_suicide", "any_suicide_at_confirm", "any_suicide_per_fold",
                                        "any_suicide_by_source", "per_label_at_0.5", "engine", "engine_at_recall_point")},
        "model": {"members": cfg.members, "embed_dim": EMBED_DIM, "channels": CHANNELS, "widths": list(WIDTHS),
                  "dropout": DROPOUT, "learning_rate": LEARNING_RATE,
                  "encoder": None if emb is None else config["encoder"],
                  "head": None if emb is None else {"hidden": HEAD_HIDDEN, "dropout": HEAD_DROPOUT, "epochs": HEAD_EPOCHS,
                                                    "learning_rate": HEAD_LEARNING_RATE,
                                                    "weight_decay": HEAD_WEIGHT_DECAY},
                  "ngram": None if not cfg.ngram else {"n": NGRAM_N, "min_df": NGRAM_MIN_DF, "C": NGRAM_C,
                                                       "iterations": NGRAM_ITERATIONS,
                                                       "columns": len(trained.ngram_vocab.index)},
                  "tuned": None if trained.tuned is None else {
                      "layers": TUNED_LAYERS, "epochs": cfg.tuned_epochs, "batch": TUNED_BATCH,
                      "learning_rate": TUNED_LEARNING_RATE, "head_learning_rate": TUNED_HEAD_LEARNING_RATE,
                      "weight_decay": TUNED_WEIGHT_DECAY, "max_tokens": e5.MAX_TOKENS,
                      "weights_dtype": "float16"},
                  "weights": config["weights"]},
        "fold_thresholds": [round(t, 4) for t in cv["thresholds"]],
        "shipped_threshold": round(final_thr, 4),
        "confirm_thresholds": [round(t, 4) for t in cv["confirm_thresholds"]],
        "shipped_confirm_threshold": round(final_confirm, 4),
        "targets": {"any_suicide_recall": TARGET_RECALL, "any_suicide_precision": TARGET_PRECISION},
        "vocab_size": len(trained.vocab),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    metrics["latency_ms_per_segment"] = segment_latency_ms(args.out)
    (args.out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    from service.risk.model_card import write_model_card

    write_model_card(args.out, metrics)
    a = cv["any_suicide"]
    logger.info("held-out any_suicide: P=%.3f R=%.3f F1=%.3f; shipped threshold %.3f; %.1fs",
                a["precision"], a["recall"], a["f1"], final_thr, metrics["train_seconds"])
    return metrics


if __name__ == "__main__":
    main()
