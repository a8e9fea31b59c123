"""Lexicon + context rules, hand-checked (classifier off, so each case tests the lexicon layer alone)."""

import pytest

from service.risk import RiskEngine
from service.risk.lexicon import load_lexicon
from service.types import FinalSegment


@pytest.fixture(scope="module")
def engine():
    return RiskEngine(load_lexicon(), predict=None, threshold=0.5, model_id="clf-none")


def seg(text, speaker="caller", i=1, start=0.0, end=5.0):
    return FinalSegment("t-1", i, speaker, start, end, text)


CASES = [
    # direct words, methods, preparation, time-free euphemisms
    ("我真的撑不下去了，药我都已经买好了。", {"active_ideation", "suicide_preparation"}),
    ("我想结束自己的生命", {"active_ideation"}),
    ("我打算从我们家楼顶跳下去", {"suicide_plan"}),
    ("遗书我已经写好了", {"suicide_preparation"}),
    # the pills named first, as speech does (lexicon 1.10), and not where they are not pills or not saved
    ("安眠药我已经攒够了", {"suicide_preparation"}),
    ("其实药我已经攒了一瓶了，一直放在抽屉里。", {"suicide_preparation"}),
    ("医药费我都攒够了", set()),
    ("药我没攒", set()),
    ("我没有攒药，药都扔了", set()),
    ("我没有自杀的想法", set()),
    ("对生活没有希望，总想着自杀", {"active_ideation"}),
    ("我把猫送给朋友了", set()),  # everyday on its own; preparation in a call about risk (test below)
    ("活着没意思，死了算了", {"passive_ideation"}),
    ("就想一了百了", {"active_ideation"}),
    ("我去年吞过一瓶安眠药", {"suicide_attempt"}),
    ("我会用刀片划自己", {"self_harm_behavior"}),
    ("他喝醉了就打我", {"victimization"}),
    ("我真想杀了他", {"aggression_to_others"}),
    # ASR errors: pinyin with tolerance
    ("我想吃安眠要", {"suicide_plan"}),
    ("我真的成不下去了", {"active_ideation"}),
    ("我想自撒", {"active_ideation"}),
    ("我学不下去了", set()),  # one syllable off is not 撑不下去
    # what Whisper base wrote on the 8 kHz calls: exact pinyin with few or no characters of the word's own
    # (一聊拜聊 = 一了百了, 洋台 = 阳台, 神子 = 绳子), near syllables (东西 ≈ 都写), 的 for 了
    ("我就去长江边省，叫下去，一聊拜聊。", {"active_ideation"}),
    ("家里就我一个，我就从洋台下去。", {"suicide_plan"}),
    ("在家里，用神子，神子是在网上买的。", {"suicide_plan"}),
    ("宿舍就唯一个人，信我东西好了，压在整头底下。", {"suicide_preparation"}),
    ("我用微弓刀割的手腕。", {"suicide_attempt"}),
    # ... and what a near match must not turn into risk: 掉下去 is not 跳下去, wind is not a seal
    ("考试排名掉下去了，老师又要找我谈话。", set()),
    ("我手机从楼上掉下去了，屏幕碎了。", set()),  # a thing that fell is no plan (lexicon 1.4 said suicide_plan)
    ("窗户开了，外面的风好凉。", set()),
    # hyperbole
    ("今天累死了", set()),
    ("笑死我了", set()),
    ("气死我了", set()),
    ("热死了", set()),
    ("烦得要死", set()),
    ("我想死你了", set()),
    # negation
    ("我不会自杀的", set()),
    ("我没想过死", set()),
    # the bare word: talk about suicide unless the caller says it of themself; negated, nothing
    ("我就自杀给他们看", {"active_ideation"}),
    ("我不会自杀的，您放心", set()),
    ("自杀热线是这个号码吗", {"suicide_exploration"}),
    ("我不是想死，我就是想睡一觉", set()),
    # resolved past
    ("我以前想过死，现在不会了", set()),
    ("以前想过自杀，现在不想了", set()),
    # hypothetical → exploration; wish-shaped passive ideation stays
    ("那我要是说我不想活了呢", {"suicide_exploration"}),
    ("要是一觉睡过去再也不醒就好了", {"passive_ideation"}),
    # ... but not the act the caller says they will do once the condition holds (lexicon 1.15): their own intent
    ("要是考不上，我就去死", {"active_ideation"}),
    ("要是我跳楼了，爸妈会难过吗", {"suicide_exploration"}),
    # a condition ends with its sentence, and an "if only" (要是…就好了) is complete in itself
    ("会。晚上躺着就想，要是那天割得再深一点就好了。有时候还想再试一次。", {"active_ideation"}),
    ("晚上躺着就想，要是那天割得再深一点就好了，有时候还想再试一次", {"active_ideation"}),
    # third parties
    ("我同学说她想死", {"suicide_exploration"}),
    ("昨天他跟我说，他想死", {"suicide_exploration"}),
    ("我妈说她不想活了", {"suicide_exploration"}),
    ("我妈骂我，我想死", {"active_ideation", "victimization"}),
    # a third person as object is not who is speaking: "跟她", "和他", or a pronoun that ends its sentence
    ("我想和他一起去死", {"active_ideation"}),
    # "去死" as an order: told to the caller (victimization) or wished on someone else (aggression), not the caller's wish
    ("他喝多了就骂人，让我去死", {"victimization"}),
    ("她叫我赶紧去死", {"victimization"}),
    ("你们全部去死好不好", {"aggression_to_others"}),
    ("偷了我车的人你自己去死吧", {"aggression_to_others"}),
    ("我想让他们都去死", {"aggression_to_others"}),
    ("我跟他一起去死算了", {"active_ideation"}),
    ("活着没意思，我去死好了", {"passive_ideation", "active_ideation"}),
    ("躺下就想他。有时候想，要是一觉睡过去不醒了，也好", {"passive_ideation"}),
    ("我就怕她现在这样，又冒出不想活的念头", {"suicide_exploration"}),
    ("他不想活了", {"suicide_exploration"}),
    ("我就想，老天爷要是哪天把我也收走，倒也干净了", {"passive_ideation"}),
    # nothing there
    ("我最近睡不好，想问问能不能开点药", set()),
    ("医生给我开了安眠药，我一般吃半片", set()),
]


@pytest.mark.parametrize("text,labels", CASES)
def test_segment_labels(engine, text, labels):
    assert set(engine.analyze(seg(text)).labels) == labels


def test_counselor_speech_is_never_risk(engine):
    risk = engine.analyze(seg("你有没有想过自杀？", speaker="counselor"))
    assert risk.labels == [] and risk.keywords == []


@pytest.mark.parametrize(
    "question,answer,labels",
    [
        ("我想直接问你：你有没有想过结束自己的生命？", "嗯，想过。", {"active_ideation"}),
        ("你有没有想过自杀？", "……是。我已经决定了。", {"active_ideation"}),
        ("你有没有想过自杀？", "没有，从来没有。", set()),
        ("你有没有想过自杀？", "三分吧。", set()),
        ("你今天吃饭了吗？", "嗯，吃过了。", set()),
        ("你有没有想过伤害自己？", "想过。", {"self_harm_ideation"}),
        # a yes that the words after it deny: acknowledging the question (or a 不 the recognizer lost)
        ("你是不是有想过结束自己的生命？", "是，我没想死。", set()),
        ("你有没有想过自杀？", "是的，我不会自杀的。", set()),
        ("你有没有想过自杀？", "嗯，想过，但我不会去做。", {"active_ideation"}),
        # a yes that goes on without the stop the recognizer dropped ("想过。不光是想过") (lexicon 1.9)...
        ("您有没有想过结束自己的生命？", "想过不光是想过。", {"active_ideation"}),
        ("你有没有想过伤害自己？", "有过好几次。", {"self_harm_ideation"}),
        # ... but not a word that only starts like one
        ("你有没有想过自杀？", "想过去找份工作。", set()),
        ("你有没有想过自杀？", "有过不去的坎吧。", set()),
    ],
)
def test_answer_to_counselor_question(engine, question, answer, labels):
    q = seg(question, speaker="counselor", i=1)
    assert set(engine.analyze(seg(answer, i=2), context=[q]).labels) == labels


@pytest.mark.parametrize(
    "context,answer,labels",
    [
        # a reference back to suicidal thoughts named just before, by the caller or by the counselor
        ([("caller", "我想过好多回，就从阳台跳下去。"), ("counselor", "最近一次冒出这个念头是什么时候？")],
         "上个礼拜天，跟婆婆吵完架，那个念头又上来了。", {"active_ideation"}),
        ([("counselor", "现在，您还有想死的念头吗？"), ("caller", "有。"), ("counselor", "围巾呢？")],
         "还没想好，那条围巾我扔了。就是心里一直有这个念头。", {"active_ideation"}),
        ([("caller", "有时候觉得活着没意思。"), ("counselor", "这种时候多吗？")],
         "这个想法晚上多一些。", {"passive_ideation"}),
        # no antecedent, a negated reference, a third person's thoughts
        ([("counselor", "你最近工作上有什么打算？")], "我有个想法，想换个部门。", set()),
        ([("counselor", "有没有想过结束自己的生命？")], "累是真累，可那种念头没有。", set()),
        ([("counselor", "您想过自杀吗？")], "现在没有这个念头了。", set()),
        ([("counselor", "您想过自杀吗？")], "以前有过那个念头，现在不会了。", set()),
        ([("caller", "我真想死。"), ("counselor", "这种想法是什么时候开始的？")], "要是那个念头再来，我就给你们打电话。", set()),
        ([("caller", "我同学说她想死。"), ("counselor", "她这样说多久了？")], "她这个念头有半年了。", set()),
    ],
)
def test_reference_back_to_suicidal_thoughts(engine, context, answer, labels):
    ctx = [seg(text, speaker=who, i=i) for i, (who, text) in enumerate(context)]
    assert set(engine.analyze(seg(answer, i=len(ctx)), context=ctx).labels) == labels


@pytest.mark.parametrize(
    "context,answer,labels",
    [
        # the counselor asks how much / when after suicide was spoken of: a time or an amount answers for an attempt
        ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "是。"), ("counselor", "你吃了多少片，大概什么时候吃的？")],
         "时来见法，就刚才一两分钟前。", {"suicide_attempt"}),  # "十来片吧" misheard: the time still answers
        ([("caller", "我不想活了，桌上就放着药。"), ("counselor", "你已经吃了吗？吃了几片？")],
         "十来片吧。", {"suicide_attempt"}),
        # a denial, an answer with neither time nor amount, no suicide in the call, the question alone
        ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "是。"), ("counselor", "你吃了多少片？")],
         "没吃，还在桌上。", set()),
        ([("counselor", "你是不是在想结束自己的生命？"), ("caller", "是。"), ("counselor", "你吃了多少片？")],
         "我也说不清。", set()),
        ([("caller", "最近老失眠，医生给开了药。"), ("counselor", "你一次吃几片？什么时候吃的？")],
         "两片，刚才吃的。", set()),
    ],
)
def test_answer_to_a_counselor_question_about_an_ingestion(engine, context, answer, labels):
    ctx = [seg(text, speaker=who, i=i) for i, (who, text) in enumerate(context)]
    assert set(engine.analyze(seg(answer, i=len(ctx)), context=ctx).labels) == labels
    assert engine.analyze(ctx[-1], context=ctx[:-1]).labels == []  # the question itself is never risk


def test_keyword_times_are_linear_in_characters(engine):
    risk = engine.analyze(seg("我想自杀了啊啊啊啊啊", start=10.0, end=20.0))  # 10 chars over 10 s
    (hit,) = risk.keywords
    assert (hit.char_start, hit.char_end) == (1, 4)
    assert (hit.start, hit.end) == (11.0, 14.0)
    assert hit.label == "active_ideation"


def test_pinyin_hit_keeps_the_spoken_characters(engine):
    (hit,) = engine.analyze(seg("我真的成不下去了")).keywords
    assert hit.text == "成不下去"


def test_lexicon_is_versioned_data():
    lex = load_lexicon()
    assert lex.version
    assert {e.label for e in lex.entries} >= {"passive_ideation", "active_ideation", "suicide_plan"}


def test_empty_segment(engine):
    assert engine.analyze(seg("")).labels == []


@pytest.mark.parametrize("text", ["İ想死", "ﬁne，我想死", "ＡＢ，我想死"])
def test_keyword_spans_stay_on_the_raw_text_when_normalising_changes_a_length(text):
    """Lower case or NFKC that changes a character's length ("İ" lowers to two) must not shift keyword spans."""
    from service.risk import RiskEngine
    from service.types import FinalSegment

    engine = RiskEngine(load_lexicon(), predict=None, threshold=0.5, model_id="clf-none")
    risk = engine.analyze(FinalSegment("t", 0, "caller", 0.0, 4.0, text))
    assert [text[k.char_start:k.char_end] for k in risk.keywords] == ["想死"]
