"""The shipped ONNX classifier, the engine built on it, and a smoke run of the training script on a tiny fixture."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from service.risk import RiskEngine
from service.risk.classifier import DEFAULT_MODEL_DIR, MIN_WIDTH, UNKNOWN_ID, Classifier, chars, encode
from service.types import RISK_LABELS, FinalSegment

FIXTURES = Path(__file__).parent / "fixtures" / "risk"


@pytest.fixture(scope="module")
def clf():
    return Classifier.load()


def test_shipped_files_are_small_and_complete():
    for name in ("risk_clf.onnx", "vocab.json", "classifier.json", "metrics.json", "MODEL_CARD.md"):
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


def test_a_few_ms_per_segment_on_cpu(clf):
    text = "我最近压力特别大，晚上睡不着，有时候觉得活着没什么意思，也不知道该跟谁说。"
    clf.predict([text])
    t0 = time.perf_counter()
    for _ in range(50):
        clf.predict([text])
    assert (time.perf_counter() - t0) / 50 < 0.01


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
    # same seed → same held-out counts
    m2 = train.main(["--out", str(tmp_path / "again"), "--data", str(FIXTURES / "psyguard_tiny.json"), "--extra", "", "--quick", "--date", "2000-01-01"])
    assert m2["held_out"] == m["held_out"]
