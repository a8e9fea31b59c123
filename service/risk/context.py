"""Context rules that real speech needs, applied to raw lexicon matches of one segment.

Each rule reads its cue words from the lexicon data file. In order, per match:

- hyperbole: the match lies in an everyday exaggeration (累死了, 笑死, 想死你了) → dropped;
- question (one-channel speech only, speaker ``mixed``): a question put to 你/您 about it (你有没有想过自杀？) is the
  counselor asking → dropped, and it is the question a "嗯，想过" after it answers;
- negation: a negator before it in the same clause (我不会自杀, 没想过死) → dropped;
- resolved past: a past cue in its clause and a resolution later in the segment (以前想过，现在不会了) → ideation dropped
  (an attempt stays: an earlier attempt is still history that counts);
- third party: the nearest subject before it is someone else (我同学说她想死) → ``suicide_exploration``;
- hypothetical: 如果/要是… in its clause or the one before (要是我说我不想活了呢) → ``suicide_exploration``,
  except wish-shaped passive ideation (要是睡过去再也不醒就好了), which is hypothetical by nature, and the act the
  caller says they will do once the condition holds (要是明天还这样，我就把一整瓶安眠药全吃了: the caller's own words).

And per segment, with the earlier segments of the call as context:

- question/answer: a caller's bare "嗯，想过" (or "嗯。" alone) right after a counselor's question about suicide or
  self-harm takes the question's label (the attempt for "你是不是已经吃了药？"; exploration when the question asks
  about someone else, "你朋友有没有说过想自杀？"); "没有" does not, and a segment that opens with such a denial is not left to the classifier
  either (:func:`denied_question`: "没有，从来没有过" is an answer, not a statement about dying);
- answer about an ingestion: after a counselor's question about how much or when (你吃了多少片？什么时候吃的？) in
  a call where the caller has spoken of suicide, a caller's reply that gives a time or an amount ("就刚才，一两分钟
  前", "十来片") is the attempt it answers for (:func:`answered_attempt_question`), never a reply that denies it;
  the question itself ("你吃了多少片？") is no sign that suicide was spoken of;
- reference back: "那个念头又上来了", "心里一直有这个想法" name no act, but point at suicidal thoughts the caller or the
  counselor spoke of in the last few turns; the segment takes the ideation label of that antecedent
  (:func:`referred_ideation`), never without one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.risk.lexicon import Lexicon, Match, normalize
from service.risk.pieces import FINISHED, FRAGMENT_GAP_S
from service.types import SUICIDE_LABELS, FinalSegment

SELF_LABELS = frozenset(SUICIDE_LABELS) | {"self_harm_ideation", "self_harm_behavior"}
#: what a question, a denial or a counselor's words can be about: harm to oneself, or suicide as a topic
RISK_TOPIC_LABELS = SELF_LABELS | {"suicide_exploration"}
#: suicidal intent, not passive ideation alone: from a caller who voiced it, everyday words can be acts ("炭我买好了"),
#: a counselor's dispatch makes the call 紧急, and "我在楼顶。" is at the edge
INTENT_LABELS = frozenset({"active_ideation", "suicide_plan", "suicide_preparation", "suicide_attempt"})
#: labels of an act (planned, prepared or done), whose means may be an everyday one
ACT_LABELS = frozenset({"suicide_plan", "suicide_preparation", "suicide_attempt"})
IDEATION_LABELS = frozenset({"passive_ideation", "active_ideation", "suicide_plan", "suicide_preparation", "self_harm_ideation"})
#: how many earlier segments a counselor question may be back (the caller may say "嗯" in between)
QA_LOOKBACK = 2
#: how many earlier segments (both speakers) "那个念头" may point back to
REFERENCE_LOOKBACK = 6
#: what may follow the means a caller names in answer to the question how, up to the clause's end
METHOD_ANSWER_END = re.compile(r"(吧|啊|呀|呗|了)?([，,。.！!？?…；;]|$)")
#: how many earlier segments the caller's own suicidal words may be back for an ingestion question to count
ATTEMPT_QA_LOOKBACK = 12
#: a reply that is only "嗯" (or "嗯嗯"), a full stop at most: assent to a yes/no question
BARE_YES = re.compile(r"\s*嗯(嗯)?\s*[。.!！]?\s*")
#: "是这样" as the whole reply is a yes; opening a reply ("是这样的，我最近工作压力很大") it begins a story
WHOLE_YES = re.compile(r"\s*(嗯[，,]?)?是这样(的)?(吧|啊)?\s*[。.!！]?\s*")
#: "嗯，" opening a reply that goes on to tell what the question asked: "你是不是已经割了？" → "嗯，流了好多血。" (a
#: comma after it, not a hesitant "嗯……"); what follows must not deny, hedge or turn it into medicine taken as told
YES_THEN = re.compile(r"\s*嗯{1,2}[，,]\s*")
YES_THEN_NOT = re.compile(r"不|没|别|未|怎么说|说不好|可能|也许|大概|想想|这个|那个|其实|但|可是|不过|医生|大夫|按时|每天|"
                          r"平时|饭[前后]|一[片粒颗]|[两俩][片粒颗]|睡个?觉|降压|维生素|感冒|退烧|吗|？|\?")
#: what must follow "嗯，" for it to be that yes: the act's state now (bleeding, dizzy: ``symptom_now``; "刚才",
#: "都吃了", an amount beyond one pill)
YES_THEN_ACT = re.compile(r"刚才|刚刚|全|都(吃|吞|喝|割)|一整|整[瓶板盒]|好多|很多|一大把|[一半][瓶板盒]|"
                          r"([二三四五六七八九十几两]|[1-9][0-9]?)[十几]?[片粒颗]|血")


#: how far before a method's words "差点" is looked for (``near_miss_before``: "我差点 就 跳下去了", pauses and all)
NEAR_MISS_REACH = 16

#: a counselor's piece that ends on one of these asked its own question ("今天晚上家里有人陪你吗" | "你说你打算…")
QUESTION_PARTICLES = "吗呢吧"

#: a count or a demonstrative before a person ("带两个孩子", "陪这个朋友"): the verb before it governs the person
QUANTIFIED = re.compile(r"[一二两三四五六七八九几这那]个$")
#: an animal named before a 它 that is then the subject (_third_party_subject)
ANIMAL = re.compile(r"猫|狗|鸟|鱼|兔|仓鼠|乌龟|鹦鹉|宠物|鸡|鸭|羊|牛|猪")


@dataclass(frozen=True, slots=True)
class Judged:
    """A lexicon match after the context rules: ``label`` is None when a rule dropped it."""

    match: Match
    label: str | None
    #: "kept", "hyperbole", "question", "negation", "resolved_past", "third_party", "hypothetical", "qa_answer",
    #: "death_ordered", "future", "past", "near_miss", "medicine"
    rule: str


def clause_bounds(text: str, breaks: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in breaks:
            if i > start:
                out.append((start, i))
            start = i + 1
    if start < len(text):
        out.append((start, len(text)))
    return out


def _clause_of(bounds: list[tuple[int, int]], pos: int) -> int:
    for k, (a, b) in enumerate(bounds):
        if a <= pos < b:
            return k
    return max(len(bounds) - 1, 0)


def _negated(lex: Lexicon, text: str, m: Match, clause_start: int) -> bool:
    if m.char_start > clause_start and text[m.char_start - 1] in lex.cues["negation_immediate"]:
        return True
    # "我不想跳楼", "我不要吃药": the word right before (further back it may deny something else: "不想让家人知道我想死")
    if any(text.endswith(p, clause_start, m.char_start) for p in lex.cues.get("negation_just_before", ())):
        return True
    # "没有" right before it (我没有攒药): not in the window, where it denies something else (没有希望，总想着自杀),
    # nor as a question (有没有自杀方法)
    if "negation_adjacent" in lex.cues and lex.cue_re("negation_adjacent").search(text[clause_start:m.char_start]):
        return True
    ws = max(clause_start, m.char_start - int(lex.cues["negation_window"]))
    # a negator that starts before the match, even one that runs into it (不是想 + 想死), but not the 没/不 of a
    # question's A-not-A ("你有没有想过自杀？", "会不会想不开")
    for p in lex.cues["negation_phrases"]:
        at = text.find(p, ws, m.char_end)
        while 0 <= at < m.char_start:
            if not _a_not_a(text, at):
                return True
            at = text.find(p, at + 1, m.char_end)
    return False


def _a_not_a(text: str, at: int) -> bool:
    """The 没/不 at ``at`` is the middle of an A-not-A question (有没有, 会不会, 是不是): no negation. Not when the
    first A is itself negated: "不是不是想死" says no twice (a stutter, or two pieces joined), it asks nothing."""
    return (text[at] in "没不" and 0 < at < len(text) - 1 and text[at - 1] == text[at + 1]
            and not (at > 1 and text[at - 2] == text[at]))


def speaker_mentions(lex: Lexicon, text: str, end: int | None = None, *, objects: bool = True,
                     plural: bool = True) -> list[int]:
    """Where the speaker (我) is mentioned in ``text[:end]``, not as a possessive (我妈, 我同学: the third-party list
    has those; what follows ``end`` is read to tell one). ``objects=False`` leaves out the speaker as an object (跟我
    说, 逼我): where the subject is looked for. ``plural=False`` leaves out 我们: where the speaker alone is looked
    for."""
    not_before = "" if objects else lex.cues["first_person_not_subject_before"]
    not_after = lex.cue_re("first_person_not_subject_after")
    return [i for i, ch in enumerate(text[:end])
            if ch == lex.cues["first_person"]
            and not (i > 0 and text[i - 1] in not_before)
            and not (not plural and text.startswith("们", i + 1))
            and not not_after.match(text, i + 1)]


def _third_party_subject(lex: Lexicon, text: str, pos: int) -> bool:
    """True when the nearest subject mention before ``pos`` is someone other than the speaker."""
    before = text[:pos]
    last_third = -1
    not_subject = lex.cues["third_party_not_subject_before"]
    place = lex.cue_re("third_party_place_after")
    # over the whole text, so that a mention's lookahead sees what is told of them ("其中一个" | "割腕了")
    for m in lex.cue_re("third_party").finditer(text):
        if m.end() > pos:
            break
        if m.group(0) == "它" and not ANIMAL.search(text, 0, m.start()):
            continue  # 它 is an animal named before it ("遛狗的时候没看住，它一口就吞下去了"); else often a misheard 他
        lead = m.start() - 2 if QUANTIFIED.match(before, max(m.start() - 2, 0), m.start()) else m.start()
        if lead > 0 and before[lead - 1] in not_subject:
            continue  # 陪她, 跟他说, 被他打, 拖累他们, 带两个孩子 — an object, not who is speaking of dying
        if m.group(0) in ("他", "她", "他们", "她们") and place.match(text, m.end()):
            continue  # 她家楼下, 他们酒店 — a place, not a person acting
        if "被" in before[max(0, m.start() - 2):m.start()]:
            continue  # 被我老公打了这么多年 — the agent of what the speaker suffered
        if lex.cue_re("speaker_is").search(before, 0, m.start()):
            continue  # "我是个大学生", "我作为一个母亲" — the speaker, said to be one
        if m.end() < len(before) and before[m.end()] in lex.cues["sentence_ends"]:
            continue  # "躺下就想他。" — a pronoun that ends its sentence is an object
        last_third = max(last_third, m.start())
    last_first = max(speaker_mentions(lex, text, pos, objects=False), default=-1)
    if last_third > last_first:
        # "我妈天天骂我，真想死": the speaker, who suffered what the clause before says, is who the next clause is
        # about (not after "她跟我说过一句，活着没意思", which reports her words)
        clause_start = max((i + 1 for i, ch in enumerate(before) if ch in lex.cues["clause_breaks"]), default=0)
        suffered = lex.cue_re("first_person_suffered")
        if last_third < clause_start and suffered.search(before, last_third, clause_start):
            return False
        # "我妈走了以后，活着没意思": the one left behind speaks of their own life after someone's death
        if last_third < clause_start and lex.cue_re("third_party_gone").search(before[last_third:clause_start]):
            return False
    return last_third > last_first


#: the day's medicine ("把今天的药都吃了再睡"; _when_told)
DAYS_MEDICINE = re.compile(r"(今天|今晚|每天|每晚|早上|晚上)的药|再睡|睡前|按时")
#: a question about someone else's or the usual intake ("它吃了多少？", "你平时吃的什么药？"; answered_attempt_question)
INTAKE_NOT_MINE = re.compile(r"它|平时|平常|一般|每天|每次|晚饭|午饭|早饭|饭")
#: an answer that opens by not knowing the amount, no denial ("不知道，四五十片吧"; answered_attempt_question)
UNSURE = re.compile(r"^[，,。\s]*(不知道|不清楚|不记得|记不清|不太清楚|没数)[了啊呢]?[，,。]")
#: 安定 that is calm, not the drug ("心里也安定了"; _overdose_named)
SETTLED = re.compile(r"安定(了|下来|多了)")
#: a dose as taken every night ("安眠药一晚上一片，一盒能吃半个月"; _overdose_named)
DOSE_ROUTINE = re.compile(r"一(晚上?|天|次|顿)[^，,。]{0,2}(一|两|半)(片|粒|颗)|能吃|医生开")
#: tens of pills ("20片", "四五十片", "几十粒"; _overdose_named)
OVERDOSE_COUNT = re.compile(r"([1-9][0-9]+|几十|[一二三四五六七八九两]{0,2}十[来多几]?)多?(片|粒|颗)")
#: words right before an act that make it one thought of, not done ("我想过把药全吃了", "本来想着把…"; _when_told)
ACT_THOUGHT_BEFORE = re.compile(r"(想过|想着|想要|本来想|还想|也想|曾经想|动过念头|打算过|梦见|梦到|梦里)(要|去|就|直接)?$")


def _when_told(lex: Lexicon, text: str, m: Match) -> Judged:
    """The caller's own act or plan as its words tell it: an act told as what the caller will do is a plan
    (:func:`_told_as_future`); an act stopped short is an attempt that nearly happened ("我差点就跳下去了", "我差点把攒
    的药全吃了": its level follows the date, never in progress); a "就把…吃了" told with a day gone by was done
    (:func:`_told_as_done`); the day's medicine is neither ("明天早上我要把降压药都吃了再出门")."""
    if m.label == "suicide_attempt" and (future := _told_as_future(lex, text, m)) is not None:
        return Judged(m, future or None, "future")
    if m.label not in ("suicide_plan", "suicide_attempt"):
        return Judged(m, m.label, "kept")
    start, stop = _sentence_of(lex, text, m)
    if m.label == "suicide_attempt" and ACT_THOUGHT_BEFORE.search(text, start, m.char_start):
        # "上礼拜我想过把家里的安眠药全吃了，最后没吃": the act thought of, a method in mind, not done ("我想着把今天的药
        # 都吃了再睡" is the day's medicine)
        if "药" in m.text and (_medicine_as_told(lex, text[start:stop]) or _routine_said(lex, text[start:stop])
                              or DAYS_MEDICINE.search(text, start, stop)):
            return Judged(m, None, "medicine")
        return Judged(m, "suicide_plan", "wished")
    if m.label == "suicide_attempt":
        # the routine said ("医生让我明天把那瓶药都吃了再去复诊"); a course ended or an everyday drug leaves the act
        # told as history ("抗抑郁的药我全吃了，这个疗程结束了": 中, :func:`~service.risk.level.attempt_current`)
        if "药" in m.text and _routine_said(lex, text[start:stop]):
            return Judged(m, None, "medicine")
        return Judged(m, m.label, "kept")
    if "药" in m.text and _medicine_as_told(lex, text[start:stop]):
        return Judged(m, None, "medicine")
    if m.kind == "method" and lex.cue_re("near_miss_before").search(text, max(0, m.char_start - NEAR_MISS_REACH),
                                                                   m.char_start):
        return Judged(m, "suicide_attempt", "near_miss")
    if _told_as_done(lex, text, m):
        return Judged(m, "suicide_attempt", "past")
    return Judged(m, m.label, "kept")


def _told_as_future(lex: Lexicon, text: str, m: Match) -> str | None:
    """The label of an act told in its sentence as what the speaker will do, None when it is not told so.

    Told so: a day to come and 就/要 before it ("明天我就把药全吃了", "等他们都睡了，我就…"), or a plan's words ("我已经
    想好了，…把攒的那些安眠药都吃了"): ``act_future`` on the sentence up to the act, with nothing between the two that
    tells it done (``act_future_undone``: "本来打算好好活下去的，可我还是把一整瓶安眠药都吃了", 已经, 刚才) and no day
    gone by in the sentence ("我打算跟我妈说，我昨天…"). Then it is a plan ("suicide_plan"), unless the sentence tells
    medicine as prescribed (:func:`_medicine_as_told`: "", no label)."""
    start, stop = _sentence_of(lex, text, m)
    marker = lex.cue_re("act_future").search(text, start, m.char_start)
    if marker is None:
        return None
    if any(lex.cue_re(cue).search(text, marker.start(), m.char_end) for cue in ("act_future_undone", "just_now")):
        return None
    if any(lex.cue_re(cue).search(text, start, m.char_end) for cue in ("recent_past", "distant_past")):
        return None  # "昨天晚上等我妈睡了，我就把一整瓶安眠药都吃了": a day gone by
    return "" if _medicine_as_told(lex, text[start:stop]) else "suicide_plan"


def _told_as_done(lex: Lexicon, text: str, m: Match) -> bool:
    """A "就把…吃了" the plan patterns take for what the caller will do, told with a day gone by or "刚才" before it in
    its sentence and no day to come between ("昨天晚上等我妈睡了，我就把一整瓶安眠药都吃了", "我刚才说完那些话，就把药全
    吃了"): done, not planned. Not a wish or an act not dared (``act_wished``: "刚才我想就把药全吃了算了", "昨天我本来想
    就把药全吃了，后来没敢")."""
    if not (m.text.startswith("就") and m.text.endswith("了")):
        return False
    start, _ = _sentence_of(lex, text, m)
    day = None
    for cue in ("recent_past", "distant_past", "just_now"):
        found = lex.cue_re(cue).search(text, start, m.char_start)
        if found is not None and (day is None or found.start() < day):
            day = found.start()
    return (day is not None and not lex.cue_re("time_near").search(text, day, m.char_start)
            and not lex.cue_re("act_wished").search(text, start, m.char_start))


def sentence_start(lex: Lexicon, text: str, pos: int) -> int:
    """Where the sentence holding ``text[pos]`` begins: after the last ``sentence_ends`` mark before ``pos``."""
    ends = lex.cues["sentence_ends"]
    return max((i + 1 for i, ch in enumerate(text[:pos]) if ch in ends), default=0)


def _sentence_of(lex: Lexicon, text: str, m: Match) -> tuple[int, int]:
    """The sentence holding the match: its start, and the position of the mark that ends it (or the text's end)."""
    ends = lex.cues["sentence_ends"]
    stop = next((i for i in range(m.char_end, len(text)) if text[i] in ends), len(text))
    return sentence_start(lex, text, m.char_start), stop


def _names_means(lex: Lexicon, sentence: str) -> bool:
    """Lethal means, an amount or a hoard named: no sentence holding one is about the day's medicine."""
    return any(lex.cue_re(cue).search(sentence) for cue in ("lethal_means", "attempt_amount", "hoard"))


def _routine_said(lex: Lexicon, sentence: str) -> bool:
    """The day's medicine in so many words (``medicine_routine``), no lethal means, amount or hoard named."""
    return not _names_means(lex, sentence) and bool(lex.cue_re("medicine_routine").search(sentence))


def _medicine_as_told(lex: Lexicon, sentence: str) -> bool:
    """A sentence about medicine taken as prescribed that names no lethal means, amount or hoard: the routine said
    (``attempt_not_current``, ``medicine_routine``: "明天我就把剩下的感冒药都吃了，省得浪费", "这周末我就把这盒药都吃了，
    疗程就结束了", "…再去体检"), or an everyday drug (``everyday_drugs``: 降压药, 感冒药) from a caller who voiced no
    suicidal intent before (``lex.acts``: after "我有时候会想死", "我把降压药都吃了" may be an overdose)."""
    if _names_means(lex, sentence):
        return False
    if _routine_said(lex, sentence) or lex.cue_re("attempt_not_current").search(sentence):
        return True  # "…再去体检", "按医嘱", "疗程": the day's medicine, whoever says it
    return not lex.acts and bool(lex.cue_re("everyday_drugs").search(sentence))


def _names_a_doer(lex: Lexicon, text: str, m: Match, c_start: int) -> bool:
    """The act names someone who did or means to do it, not the speaker's own: "我们昨天处置了一个跳河的", "那个跳楼
    的女孩" (a noun phrase: a measure word before, 的 and a person or the clause's end after). Not the speaker said to
    be one ("我也是一个想死的人", "我又变成那个想死的人了", "我就像一个想死的人": ``doer_is_speaker``), nor "一个想死的念头" (a thought is the
    speaker's)."""
    head = text[c_start:m.char_start]
    measure = lex.cue_re("doer_before").search(head)
    return bool(measure and lex.cue_re("doer_after").match(text, m.char_end)
                and not lex.cue_re("doer_is_speaker").search(head, 0, measure.start()))


def _death_ordered(lex: Lexicon, text: str, m: Match, c_start: int) -> str | None:
    """"去死" as an order, not the speaker's own wish: told to the speaker ("家人让我去死", "他叫我去死":
    victimization, whoever said it) or wished on someone else ("你们全部去死好不好", "偷车的人你自己去死吧", "我想让他
    们都去死": aggression_to_others). Read in the match's clause, just before it; None when neither. "我想去死" and
    "他说他想去死" are matched as 想去死 and judged by the other rules."""
    if not lex.cue_re("death_commands").fullmatch(text[m.char_start:m.char_end]):
        return None
    before = text[c_start:m.char_start]
    if lex.cue_re("death_told_to_me").search(before):
        return "victimization"
    if lex.cue_re("death_wished_on").search(before):
        return "aggression_to_others"
    return None


def judge(lex: Lexicon, text: str, matches: Sequence[Match], mixed: bool = False) -> list[Judged]:
    """Apply the per-match rules to the raw matches of one segment's text. ``mixed``: one-channel speech, whose
    speaker may be the counselor (:func:`addressed_question`)."""
    norm = normalize(text)
    bounds = clause_bounds(norm, lex.cues["clause_breaks"])
    hyper = [(m.start(), m.end()) for m in lex.cue_re("hyperbole").finditer(norm)]
    resolved_at = min((m.start() for m in lex.cue_re("resolved").finditer(norm)), default=None)
    out = []
    for m in matches:
        k = _clause_of(bounds, m.char_start)
        c_start, c_end = bounds[k] if bounds else (0, len(norm))
        if any(a < m.char_end and m.char_start < b for a, b in hyper):
            out.append(Judged(m, None, "hyperbole"))
        elif mixed and m.label in RISK_TOPIC_LABELS and addressed_question(lex, norm, m.char_start):
            out.append(Judged(m, None, "question"))
        elif m.label in RISK_TOPIC_LABELS and (said := _reported_question(lex, norm, m, c_start)) is not None:
            # "医生问我有没有想过自杀，我说没有": someone's question retold, and the caller's no to it
            out.append(Judged(m, m.label, "kept") if said else Judged(m, None, "question"))
        elif _negated(lex, norm, m, c_start):
            out.append(Judged(m, None, "negation"))
        elif (ordered := _death_ordered(lex, norm, m, c_start)) is not None:
            out.append(Judged(m, ordered, "death_ordered"))
        elif (
            resolved_at is not None
            and resolved_at >= m.char_end
            and m.label in IDEATION_LABELS
            and lex.cue_re("past").search(norm, _sentence_of(lex, norm, m)[0], c_end)
        ):
            out.append(Judged(m, None, "resolved_past"))
        elif m.label in SELF_LABELS and (_third_party_subject(lex, norm, m.char_start)
                                         or _names_a_doer(lex, norm, m, c_start)):
            out.append(Judged(m, "suicide_exploration" if m.label in SUICIDE_LABELS else None, "third_party"))
        elif m.label in SELF_LABELS and not m.wish and _hypothetical(lex, norm, bounds, k, m.char_start, m):
            out.append(Judged(m, "suicide_exploration" if m.label in SUICIDE_LABELS else None, "hypothetical"))
        else:
            # the caller's own words: when the act is, or was, told (after the rules above, so that someone else's
            # act, a dream or a hypothetical stays what those rules make it)
            out.append(_when_told(lex, norm, m))
    return out


def _reported_question(lex: Lexicon, text: str, m: Match, c_start: int) -> bool | None:
    """None when ``m`` is not in a question someone put to the caller and the caller retells ("医生问我有没有想过自
    杀"); else False when the caller retells a no after it ("…，我说没有", "…？我摇了摇头": the words are the question's,
    not the caller's state), True otherwise: a yes told ("我说想过") or no answer told in the segment (the next piece
    may give it: "医生问我有没有想过自杀" | "我说有"), as any words of risk count."""
    if lex.cue_re("reported_question").search(text[c_start:m.char_start]) is None:
        return None
    return not lex.cue_re("reported_answer_no").search(text, m.char_end)


def addressed_question(lex: Lexicon, text: str, pos: int) -> bool:
    """A question put to the listener about what ``pos`` names: "你有没有想过自杀？", "您是不是在打算结束自己的生命？".
    In a one-channel call (speaker ``mixed``) that is the counselor asking, not the speaker's own state. Its sentence
    asks (a question marker) and its nearest subject before ``pos`` is 你/您, not 我: "你知道我有多想死吗？" is the
    caller's own."""
    ends = lex.cues["sentence_ends"]
    start = sentence_start(lex, text, pos)
    end = next((i + 1 for i in range(pos, len(text)) if text[i] in ends), len(text))
    sentence = text[start:end]
    if not any(q in sentence for q in lex.cues["question_markers"]):
        return False
    before = text[start:pos]
    you = max(before.rfind("你"), before.rfind("您"))
    return you >= 0 and you > before.rfind(lex.cues["first_person"])


def _hypothetical(lex: Lexicon, text: str, bounds: list[tuple[int, int]], k: int, pos: int,
                  m: Match | None = None) -> bool:
    """A condition (如果, 要是, 万一) before the match in its clause, or in the clause before ("如果我说我想死呢",
    "要是我跳下去，你们会难过吗"), that leaves the match hypothetical (:func:`_condition_at`: not the act the caller
    says they will then do, "要是考不上，我就去死"). The clause before does not count across a sentence end, nor when
    it is complete in itself, an "if only" (``hypothetical_closed``: 要是…就好了): in "要是那天割得再深一点就好了。有时
    候还想再试一次" the second sentence is no hypothetical."""
    if not bounds:
        return _condition_at(lex, text, 0, pos, m)
    a = bounds[k][0]
    if lex.cue_re("hypothetical").search(text[a:pos]):
        return _condition_at(lex, text, a, pos, m)
    if k == 0:
        return False
    prev_start, prev_end = bounds[k - 1]
    between = text[prev_end:a]
    previous = text[prev_start:prev_end]
    if any(ch in lex.cues["sentence_ends"] for ch in between) or lex.cue_re("hypothetical_closed").search(previous):
        return False
    return bool(lex.cue_re("hypothetical").search(previous)) and _condition_at(lex, text, prev_start, pos, m)


def _condition_at(lex: Lexicon, text: str, start: int, pos: int, m: Match | None = None) -> bool:
    """A condition between ``start`` and the match at ``pos`` leaves the match hypothetical, unless the match is what
    the caller says they will then do: a condition (``condition_threat``: 如果, 要是, 万一) and then 就 before the act
    (``consequent``), in a sentence that does not ask ("要是明天还这样，我就把一整瓶安眠药全吃了", "他要是敢离婚，我就
    死给他看": a threat with its trigger is the caller's own intent, read as their own words). A condition that holds
    the act ("要是我死了，他们会难过吗"), one asked about ("如果我就这么跳下去，会怎么样？"), a dream, 就算 or an "if I
    said" stay hypothetical."""
    found = lex.cue_re("hypothetical").search(text, start, pos)
    if found is None:
        return False
    cond = None
    for cond in lex.cue_re("condition_threat").finditer(text, start, pos):
        pass
    if cond is None or lex.cue_re("hypothetical_only").search(text, start, pos):
        return True
    if not lex.cue_re("consequent").search(text, cond.end(), pos + 1):  # the match may open with it: 就把药全吃了
        return True
    end = next((i for i in range(pos, len(text)) if text[i] in lex.cues["sentence_ends"]), len(text))
    if any(q in text[pos:end + 1] for q in ("？", "?", "吗", "呢", "怎么样", "会怎样")):
        return True
    # an everyday means is the act only when the words make it one ("我就喝农药", "我就把药全吃了"), not "我就吃
    # 安眠药" after a night without sleep, "就用农药打一遍", "我明天就去换液化气"
    if m is not None and m.label in ACT_LABELS and lex.cue_re("everyday_means").search(m.text):
        return not lex.cue_re("means_unambiguous").search(text, sentence_start(lex, text, pos), end)
    return False


def answered_question(
    lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]
) -> tuple[str, tuple[int, int]] | None:
    """The label a caller's bare "yes" takes from the counselor's question just before it, and the answer's span.

    ``None`` when the segment is not a short affirmative answer, or no recent counselor question is about
    suicide or self-harm.
    """
    if seg.speaker == "counselor":
        return None
    q_labels = risk_question(lex, context)
    if not q_labels:
        return None
    kind, span = _answer(lex, seg.text)
    if kind != "yes" or span is None:
        return None
    # "是，我没想死": the yes acknowledges the question and the words after it deny it (heard that way, too,
    # where the recognizer lost a leading 不)
    judged = judge(lex, seg.text, lex.find(seg.text))
    if any(j.rule == "negation" and j.match.label in RISK_TOPIC_LABELS for j in judged):
        return None
    # "有过，但是现在没有了": a yes about the past that the rest of the answer says is over
    resolved = lex.cue_re("resolved").search(normalize(seg.text), span[1])
    if resolved is not None and "suicide_attempt" not in q_labels:
        return None
    return _question_label(q_labels), span


def denied_question(lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]) -> bool:
    """True when a caller's segment opens by denying a counselor's question about suicide or self-harm."""
    if seg.speaker == "counselor" or not risk_question(lex, context):
        return False
    return _answer(lex, seg.text)[0] == "no"


def risk_question(lex: Lexicon, context: Sequence[FinalSegment]) -> list[str]:
    """Labels named by the counselor's question just before (within QA_LOOKBACK segments); [] when none. A question
    whether the act is done ("你是不是已经把药吃了？") names the attempt once suicide was spoken of in the last
    ATTEMPT_QA_LOOKBACK segments. A question the recognizer cut into pieces ("你是打算明天用炭" | "结束自己的生命" |
    "对吗") is read whole (:func:`counselor_turn`) where its last piece alone names nothing."""
    question = None
    for prev in list(context)[-QA_LOOKBACK:][::-1]:
        # in a one-channel call, the counselor's question is the segment that asks the listener about it
        if prev.speaker == "counselor" or (prev.speaker == "mixed" and any(
                j.rule == "question" for j in judge(lex, prev.text, lex.find(prev.text), mixed=True))):
            question = prev
            break
    if question is None:
        return []
    labels = question_labels(lex, question, context)
    if not labels and question.speaker == "counselor":
        turn = counselor_turn(context, question)
        if turn is not question:
            labels = question_labels(lex, turn, context)
    return labels


def counselor_turn(context: Sequence[FinalSegment], question: FinalSegment,
                   max_pieces: int = 6) -> FinalSegment:
    """``question`` with the counselor's pieces right before it in ``context`` that run into it (no caller between,
    at most FRAGMENT_GAP_S of silence, no sentence end at a piece's end), up to ``max_pieces``, as one segment;
    ``question`` itself when there are none. The joined segment keeps the last piece's id and end: it stands for the
    question the caller answers."""
    items = list(context)
    at = next((k for k in range(len(items) - 1, -1, -1) if items[k] is question), None)
    if at is None:
        return question
    run = counselor_pieces(items, at, max_pieces, finished=FINISHED + QUESTION_PARTICLES)
    if len(run) == 1:
        return question
    return FinalSegment(question.call_id, question.segment_id, question.speaker, run[0].start, question.end,
                        "".join(p.text.strip() for p in run))


def counselor_pieces(items: Sequence[FinalSegment], at: int, max_pieces: int,
                     finished: str = "") -> list[FinalSegment]:
    """The counselor's pieces ending with ``items[at]``, in call order: the ones right before it with no caller
    segment between and at most FRAGMENT_GAP_S of silence, up to ``max_pieces``, stopping after a piece that ends on
    one of ``finished`` (a sentence end, a question particle)."""
    run = [items[at]]
    for k in range(at - 1, max(-1, at - max_pieces), -1):
        prev = items[k]
        if (prev.speaker != "counselor" or run[0].start - prev.end > FRAGMENT_GAP_S
                or (finished and prev.text.rstrip()[-1:] in finished)):
            break
        run.insert(0, prev)
    return run


def question_labels(lex: Lexicon, question: FinalSegment, context: Sequence[FinalSegment]) -> list[str]:
    """The labels the counselor's segment ``question`` asks about (see :func:`risk_question`)."""
    if not any(q in question.text for q in lex.cues["question_markers"]):
        return []
    asked = normalize(question.text)
    labels = []
    for j in judge(lex, question.text, lex.find(question.text)):
        m = j.match
        if m.label not in RISK_TOPIC_LABELS or j.rule == "negation":
            continue  # "你能答应我，今晚不会去跳楼吗？": a yes is a promise, not intent
        if m.label == "suicide_attempt" and not asks_after_act(lex, asked):
            # "你今天吃了药没有？" asks after prescribed medicine; "是不是已经吃了药" asks after the act, and "你是说你上周
            # 六吃了一瓶安眠药，是吗？" restates it
            continue
        # "你朋友有没有说过想自杀？" asks about someone else: a yes is about them (exploration), not the caller's own
        labels.append("suicide_exploration" if m.label in SELF_LABELS and _asks_about_someone_else(lex, asked, m.char_start)
                      else m.label)
    if (not labels and lex.cue_re("attempt_yes_question").search(asked)
            and lex.cue_re("act_question_object").search(asked) and not _asks_about_someone_else(lex, asked, len(asked))
            and any(_speaks_of_suicide(lex, p) for p in list(context)[-ATTEMPT_QA_LOOKBACK:] if p is not question)):
        # "你是不是已经把药吃了？", "你刚才是不是割了？", "你是不是已经做了什么？" after the caller spoke of suicide: whether
        # the act is done, though its words are no lexicon term ("你是不是已经吃了饭？" names no act: no label)
        labels.append("suicide_attempt")
    return labels


def last_counselor(context: Sequence[FinalSegment]) -> FinalSegment | None:
    """The counselor's segment within QA_LOOKBACK segments before (the question an answer answers), else None."""
    return next((p for p in list(context)[-QA_LOOKBACK:][::-1] if p.speaker == "counselor"), None)


def asks_after_act(lex: Lexicon, asked: str) -> bool:
    """A question (normalised) whether the act is done ("是不是已经吃了药", ``attempt_yes_question``), whether the
    caller ever tried ("你两周内有没有尝试过自杀", ``attempt_ever_question``) or that restates the act ("你是说你上周六
    吃了一瓶安眠药", ``restatement``), not after prescribed medicine ("你今天吃了药没有？")."""
    return any(lex.cue_re(cue).search(asked) for cue in ("attempt_yes_question", "attempt_ever_question", "restatement"))


def confirmed_question(lex: Lexicon, seg: FinalSegment,
                       context: Sequence[FinalSegment]) -> tuple[FinalSegment, tuple[int, int]] | None:
    """The counselor's segment (within QA_LOOKBACK before) that a caller's segment opens by saying yes to, and the
    span of the yes; None when the segment is no yes or no counselor spoke just before."""
    if seg.speaker == "counselor":
        return None
    kind, span = _answer(lex, seg.text)
    if kind != "yes" or span is None:
        return None
    question = last_counselor(context)
    return None if question is None else (question, span)


def confirms_act(lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]) -> FinalSegment | None:
    """The counselor's question a caller's yes ("嗯。", "是的，吃了") answers when it asks whether the act is done
    ("你是不是已经吃了药？", "你刚才是不是割了？": ``attempt_yes_question``) or restates it ("你是说你上周六吃了一瓶安眠
    药，是吗？": ``restatement``), else None. Asked only of a segment the engine gave ``suicide_attempt`` (it judged
    whose act and which medicine the question meant)."""
    found = confirmed_question(lex, seg, context)
    return found[0] if found is not None and asks_after_act(lex, normalize(found[0].text)) else None


def _asks_about_someone_else(lex: Lexicon, asked: str, pos: int) -> bool:
    """A question's subject before ``pos`` is a third party, read after its last 你/您: "你朋友有没有说过想自杀？"
    yes; "婚姻、工作、孩子……您有没有想过结束自己的生命？" no (孩子 is in the list of losses, 您 is asked)."""
    you = max(asked.rfind("你", 0, pos), asked.rfind("您", 0, pos))
    return _third_party_subject(lex, asked[you + 1:], pos - you - 1)


def _answer(lex: Lexicon, raw: str) -> tuple[str | None, tuple[int, int] | None]:
    """("yes", span of the answer), ("no", None) or (None, None) from the first clauses of a reply.

    A clause that is only an answer word ("想过", "有") is one; so is a clause that opens with an unambiguous one and
    goes on (``answer_affirmative_lead``: "想过不光是想过", as the recognizer writes "想过。不光是想过" without the
    stop), but not a word that merely starts with it ("想过去看看", "有过不去的坎"). "嗯，" with a comma opens a yes
    when what follows tells the act's state (``YES_THEN_ACT`` or ``symptom_now``: "嗯，流了好多血", "嗯，刚才全吃了")
    and neither denies, hedges nor names medicine taken as told ("嗯，不过没割深", "嗯，饭后吃的", "嗯，吃了一片"); an
    errand after it ("嗯，散步呢") is no yes."""
    text = normalize(raw)
    bounds = clause_bounds(text, lex.cues["clause_breaks"])
    fillers = lex.cue_re("answer_fillers")
    affirm = lex.cue_re("answer_affirmative")
    affirm_lead = lex.cue_re("answer_affirmative_lead")
    negative = lex.cue_re("answer_negative")
    if BARE_YES.fullmatch(text) or WHOLE_YES.fullmatch(text):
        # "嗯。" alone answering a yes/no question is assent (a hesitant "嗯……" is not taken for one)
        return "yes", (0, len(text.rstrip("。.!！ ")))
    for a, b in bounds[:3]:
        clause = text[a:b]
        lead = fillers.match(clause)
        core = clause[lead.end():] if lead else clause
        if not core:
            continue
        start = a + (lead.end() if lead else 0)
        if affirm.match(core):  # a whole clause of assent first: "不止一次" opens like a "不"
            return "yes", (start, b)
        if negative.match(core):
            return "no", None
        opening = affirm_lead.match(core)
        if opening:
            return "yes", (start, start + opening.end())
    then = YES_THEN.match(text)
    rest = text[then.end():] if then else ""
    if (then and bounds and not YES_THEN_NOT.search(rest)
            and (YES_THEN_ACT.search(rest) or lex.cue_re("symptom_now").search(rest))):
        return "yes", (0, re.match(r"\s*嗯+", text).end())
    return None, None


def answered_attempt_question(
    lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]
) -> tuple[str, tuple[int, int]] | None:
    """``suicide_attempt`` for a caller's reply that gives the time or the amount a counselor just asked about
    ("你吃了多少片，什么时候吃的？" → "十来片吧，就刚才"), when suicide was spoken of in the last ATTEMPT_QA_LOOKBACK
    segments (the caller's kept words, or the counselor naming it: "你是不是在想结束自己的生命？"); the span is
    the time or amount given. The counselor's question alone is not evidence (its words are never labelled), nor
    is a reply that denies it ("没吃，我骗你的")."""
    if seg.speaker == "counselor":
        return None
    recent = list(context)[-ATTEMPT_QA_LOOKBACK:]
    question = last_counselor(recent)
    if question is None or not lex.cue_re("attempt_question").search(normalize(question.text)):
        return None
    text = normalize(seg.text)
    asked = normalize(question.text)
    # or the answer says it: "我吃了药。" … "你吃了什么药？什么时候吃的？" … "安眠药，一整盒，就刚刚" (an answer about
    # the caller's own intake, not a dog's, a child's or the usual: "它吃了多少？", "你平时吃的什么药？")
    overdose = (_overdose_named(lex, UNSURE.sub("", text)) and not INTAKE_NOT_MINE.search(asked)
                and not lex.cue_re("third_party").search(asked))
    if not overdose and not any(_speaks_of_suicide(lex, p) for p in recent):
        return None
    if _answer(lex, text)[0] == "no" and not (overdose and not lex.cue_re("answer_negative").search(UNSURE.sub("", text))):
        return None  # "没吃，我骗你的"; "不知道，四五十片吧，阿普唑仑" opens by not knowing, no denial
    given = lex.cue_re("attempt_answer").search(text)
    if given is None:
        return None
    return "suicide_attempt", (given.start(), given.end())


def revealed_self(lex: Lexicon, seg: FinalSegment,
                  context: Sequence[FinalSegment]) -> list[tuple[str, tuple[int, int]]]:
    """The labels a caller's earlier words about "a friend" carry once the caller says the friend is themself
    ("我有个朋友，她说想跳楼" … "其实没有朋友，就是我"): each risk the context rules gave someone else in the
    caller's recent segments, now the caller's own; the span is the words that say so. Only after a friend,
    classmate or someone unnamed was the subject (``reveal_framed``), not a relative: "我妈说她不想活了" …
    "其实最累的是我" reveals nothing; nor does the answer to a question who ("是谁发现她的？" → "其实是我自己")."""
    if seg.speaker != "caller":
        return []
    text = normalize(seg.text)
    said = lex.cue_re("self_reveal").search(text)
    if said is None:
        return []
    question = last_counselor(context)
    if question is not None and lex.cue_re("who_question").search(normalize(question.text)):
        return []  # "是谁送她去医院的？" → "其实是我自己。": who helped, not who did it
    told = [p for p in context if p.speaker == "caller"]
    if not any(lex.cue_re("reveal_framed").search(normalize(p.text)) for p in told):
        return []  # "a friend" was never the subject ("我想替我一个朋友问问" … "她最近一直说想死")
    found: list[tuple[str, tuple[int, int]]] = []
    for prior in told:
        for j in judge(lex, prior.text, lex.find(prior.text)):
            if j.rule == "third_party" and j.match.label in SELF_LABELS:
                if all(label != j.match.label for label, _ in found):
                    found.append((j.match.label, (said.start(), said.end())))
    return found


def answered_method(
    lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]
) -> tuple[str, tuple[int, int]] | None:
    """``suicide_plan`` and its span when a caller names a means in answer to the counselor's question how
    (``method_question``: "有想过怎么做吗？", "想过用什么方法吗？") in a call that has spoken of suicide (a caller's kept
    suicidal words or a counselor naming it, within REFERENCE_LOOKBACK segments): "吃药，药我还没买。", "跳楼吧。". The
    means may be an everyday word (``method_answer``: 吃药, 割, 煤气) that the question makes a method; read in the
    answer's first two clauses, as the caller's own (not negated, not someone else's: "还没想好", "我没想过吃药").
    The question is about the act: it names it, or the caller's own words of intent (not the counselor's, not a
    denial) came within REFERENCE_LOOKBACK segments, and it names no other matter (``method_question_other``: 睡,
    疼, 好受, 放松…); an answer that tells medicine as prescribed is none (``medicine_routine``,
    ``method_answer_not``). ``None`` otherwise."""
    if seg.speaker != "caller":
        return None
    question = last_counselor(list(context)[-QA_LOOKBACK:])
    if question is None:
        return None
    asked = lex.corrected(question.text)
    if not lex.cue_re("method_question").search(asked) or lex.cue_re("method_question_other").search(asked):
        return None  # "睡不着的时候你怎么做？", "用什么办法让自己好受点？": coping, not the act
    text = normalize(seg.text)
    if lex.cue_re("medicine_routine").search(text) or lex.cue_re("method_answer_not").search(text):
        return None  # "吃药吧，抗抑郁的，今晚还得吃", "今晚吃药，早点睡"
    bounds = clause_bounds(text, lex.cues["clause_breaks"]) or [(0, len(text))]
    reach = bounds[min(1, len(bounds) - 1)][1]
    # the means ends its clause ("吃药，", "跳楼吧", "割"): not the head of other words ("煤气体响" for 没具体想)
    found = next((m for m in lex.cue_re("method_answer").finditer(text, 0, reach)
                  if METHOD_ANSWER_END.match(text, m.end())), None)
    if found is None or _answer(lex, seg.text)[0] == "no":
        return None
    probe = Match(seg.text[found.start():found.end()], "suicide_plan", "method", found.start(), found.end(), False,
                  "chars")
    if judge(lex, seg.text, [probe])[0].rule != "kept":
        return None
    if any(j.label == "suicide_plan" for j in judge(lex, seg.text, lex.find(seg.text))):
        return None  # "跳楼吧": the words say it already
    # the question names the act ("你想过用什么方法自杀吗？"), or the caller voiced their own intent just before
    if any(m.label in INTENT_LABELS for m in lex.find(asked)):
        return "suicide_plan", (found.start(), found.end())
    recent = list(context)[-REFERENCE_LOOKBACK:]
    for i, prev in enumerate(recent):
        if prev.speaker != "caller":
            continue
        said = [j.label for j in judge(lex, prev.text, lex.find(prev.text))]
        yes = answered_question(lex, prev, list(context)[:len(context) - len(recent) + i])  # "有" to "想过自杀吗？"
        if INTENT_LABELS & {*said, *([yes[0]] if yes else [])}:
            return "suicide_plan", (found.start(), found.end())
    return None


def referred_ideation(
    lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]
) -> tuple[str, tuple[int, int]] | None:
    """The ideation label of "那个念头又上来了" when the recent context says which thoughts those are.

    The antecedent is the nearest of: a caller segment with kept suicidal words, or a counselor segment that
    names suicide (a question or a reflection: "您还有想死的念头吗"). Active unless the antecedent is only passive.
    ``None`` without an antecedent, or when the reference is negated ("现在没有这个念头了").
    """
    if seg.speaker == "counselor":
        return None
    text = normalize(seg.text)
    ref = lex.cue_re("ideation_reference").search(text)
    if ref is None:
        return None
    bounds = clause_bounds(text, lex.cues["clause_breaks"])
    c_start = bounds[_clause_of(bounds, ref.start())][0] if bounds else 0
    # the per-match rules apply as to a word: negated, resolved past, third party, hypothetical → no reference
    probe = Match(seg.text[ref.start():ref.end()], "active_ideation", "reference", ref.start(), ref.end(), False, "chars")
    if judge(lex, seg.text, [probe])[0].rule != "kept" or lex.cue_re("reference_negated").search(text[c_start:]):
        return None
    for prev in list(context)[-REFERENCE_LOOKBACK:][::-1]:
        if prev.speaker == "counselor":
            found = [m.label for m in lex.find(prev.text) if m.label in SUICIDE_LABELS]
        else:
            found = [j.label for j in judge(lex, prev.text, lex.find(prev.text)) if j.label in SUICIDE_LABELS]
        if found:
            label = "passive_ideation" if all(lb == "passive_ideation" for lb in found) else "active_ideation"
            return label, (ref.start(), ref.end())
    return None


def _overdose_named(lex: Lexicon, text: str) -> bool:
    """A caller's answer that names a lethal medicine and an overdose of it ("安眠药，一整盒", "四五十片吧，阿普唑仑"):
    ``lethal_means`` and ``attempt_amount`` or tens of pills, not negated."""
    return (bool(lex.cue_re("lethal_means").search(SETTLED.sub("", text)))
            and not lex.cue_re("answer_negative").search(UNSURE.sub("", text))
            and not lex.cue_re("medicine_routine").search(text) and not DOSE_ROUTINE.search(text)
            and bool(lex.cue_re("attempt_amount").search(text) or OVERDOSE_COUNT.search(text)))


def _speaks_of_suicide(lex: Lexicon, seg: FinalSegment) -> bool:
    """A counselor segment that names suicide, or a caller segment with suicidal words the context rules kept."""
    if seg.speaker == "counselor":
        # its own "你吃了多少片？" (an ingestion question) names no suicide: the rest of its words must
        text = lex.cue_re("attempt_question").sub(lambda m: "，" * len(m.group(0)), normalize(seg.text))
        return any(m.label in SUICIDE_LABELS for m in lex.find(text))
    return any(j.label in SUICIDE_LABELS for j in judge(lex, seg.text, lex.find(seg.text)))


def _question_label(q_labels: list[str]) -> str:
    """What "yes" means: to a question whether the act is done ("你是不是已经吃了药？") → the attempt; to a question
    about dying → active ideation unless the question was only passive."""
    if "suicide_attempt" in q_labels:
        return "suicide_attempt"
    if q_labels and all(lb == "suicide_exploration" for lb in q_labels):
        return "suicide_exploration"
    suicide = [lb for lb in q_labels if lb in SUICIDE_LABELS or lb == "suicide_exploration"]
    if suicide:
        return "passive_ideation" if all(lb == "passive_ideation" for lb in suicide) else "active_ideation"
    return "self_harm_behavior" if "self_harm_behavior" in q_labels else "self_harm_ideation"
