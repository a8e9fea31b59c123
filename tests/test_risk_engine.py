"""How the engine lets the classifier speak: only on a caller's own words, enough of them, and not where the words
were already judged (negated, third party, a denial of the counselor's question). A stand-in classifier that always
says "suicidal" makes the gates visible; the real model is tested in test_risk_classifier.py."""

import pytest

from service.risk import MIN_CLASSIFIER_CHARS, VETO_OVERRIDE_P, RiskEngine, content_chars
from service.risk.classifier import Classifier
from service.risk.lexicon import load_lexicon
from service.types import FinalSegment


def always_suicidal(texts):
    outputs = Classifier.load().outputs
    return [{o: (0.99 if o in ("any_suicide", "passive_ideation") else 0.01) for o in outputs} for _ in texts]


@pytest.fixture(scope="module")
def engine():
    return RiskEngine(load_lexicon(), predict=always_suicidal, threshold=0.5, model_id="clf-stub")


def seg(text, speaker="caller", i=1):
    return FinalSegment("t-1", i, speaker, float(i), float(i) + 1.0, text)


@pytest.mark.parametrize("text", ["……", "好。", "嗯，对。", "好，我接。", "7分。"])
def test_too_few_words_for_the_classifier(engine, text):
    assert content_chars(text) < MIN_CLASSIFIER_CHARS
    risk = engine.analyze(seg(text))
    assert risk.labels == [] and risk.score == 0.0


def test_enough_words_reach_the_classifier(engine):
    risk = engine.analyze(seg("最近一直睡不着，也不想出门见人"))
    assert risk.labels == ["passive_ideation"] and risk.keywords == []


@pytest.mark.parametrize(
    "question,answer",
    [
        ("以前有没有真的伤害过自己？", "没有，从来没有过，一次都没有。"),
        ("您有没有想过自杀？", "那倒没有，就是心里特别烦，睡不着觉。"),
        ("有没有想过结束自己的生命？", "没想过，我还有孩子要养活呢。"),
        ("您有没有想过结束自己的生命？", "那没有，我想不开干啥，又不是我理亏。"),
        ("您想过用什么方式、哪天去死吗？", "那倒不会，怎么弄我没想过，也没定哪天。"),
    ],
)
def test_a_denial_of_the_counselors_question_is_not_left_to_the_classifier(engine, question, answer):
    risk = engine.analyze(seg(answer, i=2), context=[seg(question, speaker="counselor", i=1)])
    assert risk.labels == []


def test_a_denial_of_an_unrelated_question_still_reaches_the_classifier(engine):
    risk = engine.analyze(seg("没有，从来没有人关心过我这些", i=2), context=[seg("家里有人陪着您吗？", "counselor", 1)])
    assert risk.labels == ["passive_ideation"]


def fairly_suspicious(texts):
    """Above the label threshold (0.5), below the veto override (VETO_OVERRIDE_P)."""
    outputs = Classifier.load().outputs
    return [{o: (0.6 if o in ("any_suicide", "passive_ideation") else 0.01) for o in outputs} for _ in texts]


JUDGED = ["我不会自杀的，您放心吧，我就是想找人说说", "我同学说她想死，我不知道该怎么办才好", "我老公喝多了就骂我，让我去死"]


@pytest.mark.parametrize("text", JUDGED)
def test_words_already_judged_veto_the_classifier(text):
    assert VETO_OVERRIDE_P > 0.6
    engine = RiskEngine(load_lexicon(), predict=fairly_suspicious, threshold=0.5, model_id="clf-stub")
    assert not {"passive_ideation", "active_ideation"} & set(engine.analyze(seg(text)).labels)


@pytest.mark.parametrize("text", JUDGED)
def test_a_classifier_very_sure_outweighs_the_judgment(engine, text):
    # 0.99 ≥ VETO_OVERRIDE_P: "要是没有家人我就自杀了" is ideation that a hypothetical rule would drop
    risk = engine.analyze(seg(text))
    assert "passive_ideation" in risk.labels and risk.score == 0.99
    assert all(k.label != "passive_ideation" for k in risk.keywords)  # the classifier's label carries no keyword


def test_a_denial_of_the_counselors_question_stays_a_veto_however_sure(engine):
    assert always_suicidal(["x"])[0]["any_suicide"] >= VETO_OVERRIDE_P
    risk = engine.analyze(seg("没想过，我还有孩子要养活呢。", i=2), context=[seg("有没有想过结束自己的生命？", "counselor", 1)])
    assert risk.labels == []


def test_the_classifier_alone_needs_its_label_threshold():
    lex = load_lexicon()
    text = "最近一直睡不着，也不想出门见人"
    assert RiskEngine(lex, always_suicidal, threshold=0.5, model_id="x", label_threshold=0.999).analyze(seg(text)).labels == []
    assert RiskEngine(lex, always_suicidal, threshold=0.5, model_id="x", label_threshold=0.9).analyze(seg(text)).labels


def test_shipped_engine_labels_at_the_confirm_point():
    engine = RiskEngine.load()
    clf = Classifier.load()
    assert clf.threshold <= clf.confirm_threshold <= 1.0
    assert engine.threshold == clf.threshold and engine.label_threshold == clf.confirm_threshold


def low_suspicion(texts):
    outputs = Classifier.load().outputs
    return [{o: (0.3 if o == "any_suicide" else 0.01) for o in outputs} for _ in texts]


@pytest.mark.parametrize("text,labels", [
    ("……是。我已经决定了。", ["active_ideation"]),   # the decision is audible where ASR garbled the rest
    ("我已经想好了，不用劝我", ["active_ideation"]),
    ("我还在想，没有决定", []),                       # no decision said
])
def test_a_decision_where_the_classifier_suspects_suicide_is_active_ideation(text, labels):
    engine = RiskEngine(load_lexicon(), predict=low_suspicion, threshold=0.2, model_id="x", label_threshold=0.5)
    risk = engine.analyze(seg(text))
    assert risk.labels == labels
    assert [k.label for k in risk.keywords] == labels


def test_a_decision_without_suspicion_is_nothing():
    engine = RiskEngine(load_lexicon(), predict=low_suspicion, threshold=0.4, model_id="x", label_threshold=0.5)
    assert engine.analyze(seg("我已经决定了，下个月就换工作")).labels == []


def high_suspicion(texts):
    outputs = Classifier.load().outputs
    return [{o: (0.95 if o in ("any_suicide", "active_ideation") else 0.01) for o in outputs} for _ in texts]


def test_a_classifier_label_does_not_hide_the_spoken_decision():
    """At the confirm point the classifier labels the segment itself; the words "我想好了" must still be there as
    the keyword the call level counts, and with the near time right after it they are a dated plan (lexicon 1.6:
    高 on this sentence, not 13 s later when the method is named)."""
    from service.risk import CallRiskState

    engine = RiskEngine(load_lexicon(), predict=high_suspicion, threshold=0.5, model_id="x", label_threshold=0.9)
    first = seg("但是我想好了，这周六就是后天。")  # "是，我想好了" as Whisper base wrote it on an 8 kHz call
    risk = engine.analyze(first)
    assert risk.labels == ["active_ideation", "suicide_plan"]
    assert [(k.text, k.label) for k in risk.keywords] == [("想好了", "active_ideation"),
                                                          ("想好了，这周六", "suicide_plan")]
    state = CallRiskState("t-1", None, engine.version)
    assert [a.risk_level for a in state.update(first, risk)] == ["高"]
