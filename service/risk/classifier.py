"""The trained risk classifier: character 1–3-gram bag → small MLP, run with onnxruntime on the CPU.

The model files (``models/risk/``): ``risk_clf.onnx`` (input ``ids`` int64 [batch, n], 0 = padding; output ``probs``
float32 [batch, len(outputs)]), ``vocab.json`` (n-gram → id) and ``classifier.json`` (model id, outputs, the
``any_suicide`` threshold chosen in cross-validation). ``service.risk.train`` writes all three; the featurizer
below is shared by training and inference so they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.risk.lexicon import normalize

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "risk"
MODEL_FILE = "risk_clf.onnx"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "classifier.json"
NGRAM_RANGE = (1, 3)
#: n-gram ids per text; longer segments keep their first MAX_IDS n-grams
MAX_IDS = 1024


def ngrams(text: str, lo: int = NGRAM_RANGE[0], hi: int = NGRAM_RANGE[1]) -> list[str]:
    """Character n-grams of the normalised text, letters and digits only.

    Punctuation is dropped: ASR punctuation says little, and PsyGUARD's ("我要死了……") taught an earlier model that
    an ellipsis alone is suicidal.
    """
    s = "".join(ch for ch in normalize(text) if ch.isalnum())
    return [s[i:i + n] for n in range(lo, hi + 1) for i in range(len(s) - n + 1)]


def encode(texts: list[str], vocab: dict[str, int]) -> np.ndarray:
    """Padded int64 id matrix [batch, n]; unknown n-grams are dropped, id 0 is padding."""
    rows = [[vocab[g] for g in ngrams(t) if g in vocab][:MAX_IDS] for t in texts]
    width = max((len(r) for r in rows), default=0) or 1
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


@dataclass
class Classifier:
    model_id: str
    outputs: list[str]
    threshold: float
    vocab: dict[str, int]
    session: object

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
        return cls(
            model_id=config["model_id"],
            outputs=list(config["outputs"]),
            threshold=float(threshold if threshold is not None else config["threshold_any_suicide"]),
            vocab=vocab,
            session=session,
        )

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        """Per text, the probability of each output (the labels and ``any_suicide``)."""
        if not texts:
            return []
        probs = self.session.run(None, {"ids": encode(texts, self.vocab)})[0]
        return [dict(zip(self.outputs, map(float, row))) for row in probs]
