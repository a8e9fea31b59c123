"""A call's risk level by the Beijing criteria (spec/annotation-format.md), and the alerts it raises.

- 紧急: a suicidal act in progress or just done (pills taken, at the edge, "跟你说完就下去"; "我在楼顶。" from a
  caller who spoke of suicidal intent);
- 高: a plan or preparation plus a time within about 72 h (今晚, 明天, 后天, 这周末), or an attempt within two weeks; a
  decision to die with a near date ("……是。我想好了，这周六") is such a plan, no method named (the engine labels it
  ``suicide_plan``: ``RiskEngine._dated_plan``), and so is a near time given in answer to the counselor's "什么时候"
  in a call whose caller spoke of suicidal intent. A time that is not the plan's (an errand for help, "但是明天还得
  上班": :func:`near_time`) and a plan told as history ("我之前查过怎么割腕", "遗书我去年写过": :func:`current_plan`)
  do not count. An attempt narrated or past without a time ("我用美工刀割了手腕", "我割过腕") is 中 until dated;
- 紧急 too: an attempt told without a time but as the present state of things ("我把药全吃了", "我割腕了":
  :func:`attempt_current`; a yes to "你是不是已经吃了药？": :func:`~service.risk.context.confirms_act`);
- 中: active ideation, a plan without a near date, an earlier attempt;
- 低: passive ideation only, or self-harm without suicidal intent;
- 无: none of these.

Only the caller's own labels count (the engine gives counselor segments none); the counselor's words only date an
attempt the caller told without saying when (``counselor_dates_recent``: "你五天前刚经历过一次很危险的自杀尝试"), and
the counselor starting the emergency plan for a caller who spoke of suicidal intent makes the call 紧急
(``counselor_dispatches``: "我同事已经在联系120和110"; lexicon 1.7), and the counselor naming a recent event as one
that nearly cost the life of a caller who spoke of suicidal intent in words makes it 高
(``counselor_names_recent_danger``: "八天前那次真的很危险"; lexicon 1.9). A near time counts towards 高 when
it is said in the same caller turn (consecutive caller segments) as suicidal words, and every cue is read on the
lexicon's corrected text (what pinyin matching heard: 门风…风好了 → 门缝…封好了), since the recognizer on 8 kHz
audio misspells exactly these words. A label that no keyword carries came
from the classifier alone: it flags the segment for the counselor, but the Beijing grades rest on what was said
(passive or active intent, a plan, an attempt), and on hotline turns the classifier alone is wrong more often than
right (`python -m service.risk.devreport`), so such labels do not move the call level. The level never goes down
during a call. Alerts: once when the level first reaches the threshold, once more at 紧急; never twice for one level.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.risk.context import (INTENT_LABELS, NEAR_MISS_REACH, clause_bounds, confirmed_question, confirms_act,
                                  counselor_pieces, counselor_turn, last_counselor, question_labels, risk_question,
                                  sentence_start)
from service.risk.lexicon import Lexicon, load_lexicon, normalize, unpaused
from service.risk.pieces import JoinedReading
from service.types import RISK_LEVELS, SUICIDE_LABELS, AlertEvent, FinalSegment, SegmentRisk, level_rank

#: earlier segments searched for when an attempt happened ("上周五做了一件事" two turns before "我割了手腕")
ATTEMPT_TIME_LOOKBACK = 6
#: what makes an attempt told without a date old, or not one, for a wound told after it (``_wound_dates_attempt``)
WOUND_OLD_CUES = ("attempt_told_as_history", "distant_past", "past_frame", "accident")
#: the longest pause between two caller segments of one turn (the recognizer cuts an answer after 0.6 s of silence)
TURN_GAP_S = 1.5
#: recent segments (both speakers) kept in call-time order for the lookback and the caller's turn
HISTORY_SEGMENTS = 64
#: evidence segments an alert carries: the ones that decided the level (the last KEY_EVIDENCE of them), then the
#: most recent ones
MAX_EVIDENCE = 5
KEY_EVIDENCE = 3
#: a plan and a near time count together (Beijing 高) when said within this much call time of each other: one stretch
#: of the risk assessment. A 90-minute call says "明天" in many senses; "一想到明天还得去上班，我就真想死" at the
#: start and "我之前查过怎么上吊" an hour later are no plan to act within 72 h. (The 40 annotated calls are 3–4
#: minutes long, so they cannot tell 20 minutes from 10 or 60; the bound is a judgment, erring towards recall.)
PLAN_TIME_WINDOW_S = 1200.0
#: segments (both speakers) before the counselor's "什么时候" in which the caller's own words of risk must be for the
#: answer's near time to date their plan ("嗯。" to 想过结束自己的生命, then the method, the pills, then 什么时候)
WHEN_CONTEXT_SEGMENTS = 6
#: the longest piece that can be just the time of an attempt told without one ("大概半小时前", "就昨天晚上"), and the
#: longest answer to the counselor's question when that dates it ("就上周六，十来天前吧")
DATING_PIECE_CHARS = 8
DATING_ANSWER_CHARS = 16
#: caller pieces this short between the counselor's question and the answer are false starts ("就" | "就" | "10天
#:前"), up to this many of them
FALSE_START_CHARS = 2
MAX_FALSE_STARTS = 4
#: most counselor pieces read together for the emergency plan (CallRiskState._counselor_run)
COUNSELOR_RUN_PIECES = 8
#: a counselor's when-question that names the act (CallRiskState._asks_about_the_act)
ACT_WORDS = re.compile(r"自杀|尝试|轻生|傻事|割|(吃|吞|喝)(的|了|过)?(药|农药)|(吃|吞|喝)的(?=[？?吗呢]|$)|跳|上吊|烧炭")
#: a when-question about the caller's own plan (CallRiskState._asks_plan_time)
PLAN_TIME_WORDS = re.compile(r"打算|准备|计划|想好|想过|定|选|动手|去做|做这件事|结束|自杀|走")
#: words that point back to what was just told without naming it: the act only when the caller had just told it
ACT_REFERENCE = re.compile(r"那次|这件事|这事|那件事|那事|做的")
#: what a bare when-question may hold besides the when
WHEN_REST = re.compile(r"[\s，,。.？?！!…]|你说的|您说的|说的|那一天|那天|那|是|的|事|呢|大概|具体|到底|你|您|这|还记得|记得|吗|发生")
#: what an answer dating an act told as history may hold besides its time ("就三天前吧"; _dates_attempt)
HISTORY_DATE_REST = re.compile(r"[\s，,。.…]|大概|差不多|就|吧|了|的|事|左右|那天|时候|是|嗯|啊")


def _without_times(lex: Lexicon, said: str) -> str:
    """``said`` with its times taken out (recent, just now, distant, near)."""
    for cue in ("recent_past", "just_now", "distant_past", "time_near"):
        said = lex.cue_re(cue).sub("", said)
    return said


#: a plan that waits for an occasion: its last verb before 完 ("跑完我就…", "等我把房租交了，我就…"; _occasion_told)
OCCASION_DONE = re.compile(r"(?:等我?把?[^，,。！？!?]{0,6}?)?(?P<act>[\u4e00-\u9fff])(完|好)了?[，,]?(我)?就")
#: the occasion a plan waits for, up to its 就 ("等发了工资，把钱给我妈，我就", "他结婚那天我就", "考完我就")
OCCASION_SPAN = re.compile(r"(等|趁)[^。！？!?]{1,16}?[，,]?我?就|[^。！？!?，,]{1,10}(那天|那一天|完|以后|之后)[^。！？!?，,]{0,3}?我?就")
#: a decision's words in the counselor's restatement of the caller's intent with a day (confirms_dated_plan)
DECISION_WORDS = re.compile(r"打算|准备|计划|决定|定了|定在")
#: a counselor's question about a time gone by, which the caller's answer tells of (over_the_edge is then no edge now)
EDGE_THEN = re.compile(r"当时|那时|那天|那次|那一次|上次|之前|以前|那会")
#: a denial or a wish just before the place ("我没站在窗台上", "我不想坐在边上"): no one at the edge (over_the_edge)
EDGE_NOT_SO = re.compile(r"(没|没有|不|别|不想|不敢|不会|不要)$")
#: what the place is for, anywhere in the words ("我站在窗台上擦玻璃", "为了挂窗帘，我站到窗台上了"; over_the_edge)
EDGE_ERRAND = re.compile(r"擦|挂|装|修|晾|晒|收|贴|拍|钓|乘凉|看风景|看日出|看日落|看雪|看书|玩|吃|喝|抽烟|烟灰|干活|施工|上班|加班|"
                         r"工作|打扫|刷|拍照|自拍|等|散步|遛|巡|检修|浇|换|拆|扔|打胶|烧烤|弹|唱|睡午觉|午休|写作业|打游戏|"
                         r"摆摊|聊|喊|枕木|调车|螺丝|轨距|缆车|被子|吹风|凉快|锻炼|跑步|跳舞|蹦极|风筝|花|猫|狗|鸽子|鸟")
#: the counselor asking where the caller is now, or how near the drop ("你现在在哪儿？", "你离铁轨多远？")
EDGE_WHERE = re.compile(r"在哪|哪里|哪儿|什么地方|什么位置|多远|离.{0,6}(远|近)")
#: heights and tracks people work on, and the work (at_work)
WORK_PLACE = re.compile(r"吊篮|脚手架|塔吊|铁轨|轨道|铁道")
WORK_ERRAND = re.compile(r"干活|刷|擦|施工|上班|工作|修|装|墙|漆|焊|检修|巡|换枕木|拧螺丝")
#: a wish or a dream before the place in its sentence ("我想爬上窗台看看雪", "梦里我站在铁轨上"; over_the_edge)
EDGE_WISH = re.compile(r"想|梦|打算|准备|要是|如果|假如|万一")
#: what a counselor's when-question holds besides the matter it asks about (CallRiskState._asks_occasion)
OCCASION_REST = re.compile(r"我|他|她|们|了|吗|吧|会|要|想|打算|准备|大概|具体|到底|一般|个")
#: near times that name today rather than a time to come ("今天是周四，对吧？" restates no plan's time)
TODAY = re.compile(r"今天|周[一二三四五六日]|礼拜[一二三四五六日天]|星期[一二三四五六日天]")
#: what a counselor's question that only restates a time may hold besides the time (CallRiskState._confirms_time)
TIME_QUESTION_REST = re.compile(r"[\s，,。.？?！!…]|也就是|就是|是说|是指|指的是|你说的|您说的|的|是|吗|吧|呢|对|那|就|晚上|早上|中午|下午|夜里"
                                r"|你的意思是|意思是|你|您|已经|决定|打算|准备|去做|动手|做")
#: call time within which a caller's "我现在在楼顶" and the intent voiced after it make the call 紧急
EDGE_WINDOW_S = 600.0
#: the highest level a segment reaches on classifier-only labels (no keyword in the caller's words carries them)
UNWORDED_MAX_LEVEL = "无"
_CN_DIGITS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_DAYS_AGO = re.compile(r"([一两二三四五六七八九十\d]{1,3})\s*天(之)?前")
#: an attempt this many days ago or fewer is recent (Beijing 高)
RECENT_ATTEMPT_DAYS = 14


def _cn_number(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CN_DIGITS.get(s[1:], 0)
    if s.endswith("十"):
        return _CN_DIGITS.get(s[0], 0) * 10
    if "十" in s:
        a, b = s.split("十", 1)
        return _CN_DIGITS.get(a, 0) * 10 + _CN_DIGITS.get(b, 0)
    return _CN_DIGITS.get(s)


def _days_ago(text: str) -> list[int]:
    """Every "N 天前" in ``text`` that reads as a number, in order."""
    return [n for m in _DAYS_AGO.finditer(text) if (n := _cn_number(m.group(1))) is not None]


def attempt_when(lex: Lexicon, texts: Sequence[str]) -> str:
    """'now', 'recent' (≤ 2 weeks), 'earlier' or 'unknown', from the first text that says (most relevant first)."""
    for text in texts:
        # "我刚才没说实话", "你刚才问我…": the conversation just now, not when the act happened
        text = lex.cue_re("talk_reference").sub("", text)
        if lex.cue_re("just_now").search(text):
            return "now"
        days = _days_ago(text)
        if days:
            return "recent" if days[0] <= RECENT_ATTEMPT_DAYS else "earlier"
        if lex.cue_re("recent_past").search(text):
            return "recent"
        if lex.cue_re("distant_past").search(text):
            return "earlier"
    return "unknown"


def _dated_recent(lex: Lexicon, clause: str) -> bool:
    """A date within the last two weeks in ``clause``: 前几天, 上周五, or N 天前 with N ≤ RECENT_ATTEMPT_DAYS."""
    return bool(lex.cue_re("recent_date").search(clause)) or any(n <= RECENT_ATTEMPT_DAYS for n in _days_ago(clause))


def counselor_dates_recent(lex: Lexicon, text: str) -> bool:
    """A counselor's clause that puts an event within the last two weeks ("你五天前刚经历过一次很危险的自杀尝试",
    "十二天前的事离现在很近", "在上周五以前，有过类似的事吗？"): a date (N 天前 with N ≤ 14, 前几天, 上周五) and a
    reference to what happened (那次, 这件事, …的事, 自杀, 尝试) in one clause. Counselors restate what they heard;
    through 8 kHz ASR the caller's own "我上周五做了一件事" is often what was garbled ("从我向周五做的一件事情")."""
    for a, b in clause_bounds(text, lex.cues["clause_breaks"]):
        clause = text[a:b]
        if lex.cue_re("event_reference").search(clause) and _dated_recent(lex, clause):
            return True
    return False


def counselor_names_recent_danger(lex: Lexicon, text: str) -> bool:
    """A counselor's clause that names an event of the last two weeks as one that nearly cost the caller's life
    ("八天前那次真的很危险，我很担心您", "前几天那件事差点要了你的命"): a date (as :func:`counselor_dates_recent`), a
    reference to what happened (那次, 那件事) and its danger (危险, 差点, 后怕) in one clause that is not a question
    and names neither someone else as its cause nor another kind of event ("三天前他打你那次真的很危险",
    "上周那次车祸真的很危险": ``event_not_attempt``).
    A counselor says this of an attempt the caller has just told, and through 8 kHz ASR that account is what gets
    garbled ("拿皮带上吊" heard as "拿提带上标") while the counselor's clearer restatement survives. It counts only
    in a call whose caller spoke of suicidal intent in words (``CallRiskState.update``)."""
    for a, b in clause_bounds(text, lex.cues["clause_breaks"]):
        clause = text[a:b]
        if (b < len(text) and text[b] in "？?") or "吗" in clause or lex.cue_re("event_not_attempt").search(clause):
            continue
        if (lex.cue_re("event_reference").search(clause) and lex.cue_re("event_danger").search(clause)
                and _dated_recent(lex, clause)):
            return True
    return False


def counselor_dispatches(lex: Lexicon, text: str) -> bool:
    """A counselor's clause that starts emergency services or says they are coming ("我同事已经在联系120和110",
    "我们马上叫救护车", "救护车在路上了"): the hotline's emergency plan, started for a caller in danger now. Advice
    to call them some other time ("念头变强就打120", "紧急的时候也可以直接打110"), an offer or a question ("要不要
    帮你叫救护车？") is none (``dispatch_not``)."""
    for a, b in clause_bounds(text, lex.cues["clause_breaks"]):
        clause = text[a:b]
        asked = b < len(text) and text[b] in "？?"
        if asked or lex.cue_re("dispatch_not").search(clause):
            continue
        if lex.cue_re("emergency_dispatch").search(clause):
            return True
    return False


def attempt_when_said(lex: Lexicon, text: str, context: Sequence[FinalSegment]) -> str:
    """:func:`attempt_when` for an attempt told in ``text`` (corrected), else in the caller's segments before it."""
    earlier = [_not_habitual(lex, lex.corrected(s.text))
               for s in list(context)[-ATTEMPT_TIME_LOOKBACK:][::-1] if s.speaker != "counselor"]
    return attempt_when(lex, [text, *earlier])


def _false_start(text: str) -> bool:
    """A caller piece no longer than FALSE_START_CHARS once its pauses and marks are taken out ("就", "嗯")."""
    return len(unpaused(text, None)[0].strip("，,。.！!？? ")) <= FALSE_START_CHARS


def _not_habitual(lex: Lexicon, text: str) -> str:
    """``text`` without its clauses that tell what used to happen again and again ("以前每年她生日，我都给她煮一碗长寿
    面": its 以前 dates no act told after it)."""
    habitual = lex.cue_re("habitual")
    if not habitual.search(text):
        return text
    return "，".join(text[a:b] for a, b in clause_bounds(text, lex.cues["clause_breaks"])
                    if not habitual.search(text[a:b]) or _dates_its_own(lex, text[a:b]))


def _dates_its_own(lex: Lexicon, clause: str) -> bool:
    """A habit's clause that still dates: a date of its own (前年, 小时候; not the bare 以前 of "以前每年…"), or the act
    itself ("以前每次吵完架都会吃安眠药")."""
    dates = [m.group(0) for m in lex.cue_re("distant_past").finditer(clause)]
    return (any(d != "以前" for d in dates) or any(m.label in SUICIDE_LABELS for m in lex.find(clause))
            or bool(lex.cue_re("lethal_means").search(clause)))


#: how far after an act's words its aftermath may start and still be those words ("送医院洗胃了": 送 at 0, 洗胃 at 3
#: is the aftermath cue's own start), and how far around it a refusal ("不要给我…") is looked for
AFTERMATH_LEAD = 2
AFTERMATH_REACH = 6


def stopped_short(lex: Lexicon, text: str, starts: Sequence[int]) -> bool:
    """A near miss ("差点", "险些") right before an act's words (``near_miss_before``: "我刚才差点跳下去", "我差点就把
    药全吃了"; not "我差点就没打这个电话。我把药全吃了。", "差点就挺过去了，可我还是把药全吃了")."""
    for start in starts:
        begin = sentence_start(lex, text, start)
        if lex.cue_re("near_miss_before").search(text, max(begin, start - NEAR_MISS_REACH), start):
            return True
    return False


def attempt_treated(lex: Lexicon, text: str, act_at: int, a: int = 0, b: int | None = None) -> bool:
    """What was done about the act since is told in ``text[a:b]``, ending after the act's words at ``act_at``
    (``attempt_treated``: "在医院洗的胃", "被一个钓鱼的大爷拉上来了"; not "我出院以后，又…" before it), and not refused
    (``aftermath_refused``: "这次不想再被救回来了")."""
    refused = lex.cue_re("aftermath_refused")
    return any(m.end() > act_at and not refused.search(text[max(a, m.start() - AFTERMATH_REACH):m.start()])
               for m in lex.cue_re("attempt_treated").finditer(text, a, len(text) if b is None else b))


def attempt_current(lex: Lexicon, text: str, starts: Sequence[int] = (0,)) -> bool:
    """An act told as the present state of things (``attempt_current``): all of it taken ("把药全吃了"), or a clause
    that ends on the 了 of a changed situation ("我割腕了。", "是的，吃了"), read from the clause of the act's words
    (``starts``) to the end of its sentence (a pause, "……", ends none), with nothing there that makes it history
    (``plan_not_current``: 过, 之前, 去年, 那次, 当时, 读高中那会儿; "读高中那会儿我吃了一瓶安眠药，被我妈发现送医院了" is
    history), no near miss in the act's own clause before it (``near_miss``: "我差点把药全吃了"), and no course of
    medicine taken as prescribed nor what was done about the act after it there (``attempt_not_current``: "药我全吃了，
    医生开的感冒药", "抗抑郁的药我全吃了，这个疗程结束了"; ``attempt_aftermath``: "…被送去洗胃了", unless refused: "我不
    想被送医院"; neither with an amount or where the act's own clause names lethal means: "我把安眠药全吃了，家里的感冒
    药也吃了")."""
    current = lex.cue_re("attempt_current")
    # a pause written inside the words is no sentence end: "我……把药……全吃了。" reads as "我把药全吃了。"
    text, kept = unpaused(text, 0, keep_end=True)
    starts = [next((i for i, k in enumerate(kept) if k >= s), len(text)) for s in starts]
    bounds = clause_bounds(text, lex.cues["clause_breaks"]) or [(0, len(text))]
    ends = lex.cues["sentence_ends"]
    for start in starts:
        a = next((a for a, b in bounds if a <= start < b), 0)
        b = next((i for i in range(start, len(text)) if text[i] in ends), len(text))
        if lex.cue_re("plan_not_current").search(text[:b]) or attempt_treated(lex, text, start, a, b):
            continue  # history ("那次", "当时"), or treated or rescued since ("吃了一整瓶，在医院洗的胃", "跳下去了，被
            # 一个钓鱼的大爷拉上来了"), whatever the amount; not what came before the act ("我出院以后又把药全吃了")
        if lex.cue_re("near_miss").search(text[a:start]):
            continue  # "我差点把药全吃了": a near miss in the act's own clause, nothing taken
        own = next((text[x:y] for x, y in bounds if x <= start < y), text[a:b])
        refused = lex.cue_re("aftermath_refused")
        told = lex.cue_re("attempt_aftermath").search(text, start, min(b, start + AFTERMATH_REACH))
        if (told is not None and told.start() - start <= AFTERMATH_LEAD
                and not refused.search(text[max(a, start - AFTERMATH_REACH):start])):
            continue  # the words are the aftermath itself ("安定" | "…送医院洗胃了"): what was done after the act
        aftermath = any(not refused.search(text[max(a, m.start() - AFTERMATH_REACH):m.start()])
                        for m in lex.cue_re("attempt_aftermath").finditer(text, a, b))
        if ((aftermath or lex.cue_re("attempt_not_current").search(text[a:b]))
                and not lex.cue_re("attempt_amount").search(text[a:b]) and not lex.cue_re("lethal_means").search(own)):
            # medicine as prescribed, or what was done about the act after it ("洗胃了", "被送到医院缝了五针"; not
            # refused: "我不想被送医院", "不要给我洗胃")
            continue
        # clauses never run past a sentence end (its marks are clause breaks too)
        if any(current.search(text[x:y]) for x, y in bounds if a <= x < b):
            return True
    return False


def at_the_edge(lex: Lexicon, text: str, bare: bool = False) -> bool:
    """At the edge now ("我在楼顶。", "我现在站在桥上"): ``at_the_edge`` in a clause that says no habit or past
    ("我每天早上坐在湖边看书": ``not_now``). ``bare``: the place alone says it (no other words of risk in the
    segment), so it must end its clause and be the speaker's own: "我在楼顶晒被子呢", "我妈在楼顶收衣服" are not."""
    for a, b in clause_bounds(text, lex.cues["clause_breaks"]):
        clause = text[a:b]
        if lex.cue_re("not_now").search(clause):
            continue
        # a day gone by in the sentence, the clause not saying now: "去年冬天，我在江边那座桥上站了很久", "我前两天差点
        # 就跳河了，站在桥上站了好久" (not "我现在在楼顶，昨天就想跳了")
        if _gone_by(lex, text, sentence_start(lex, text, a), b, clause):
            continue
        if not bare:
            if lex.cue_re("at_the_edge").search(clause):
                return True
            continue
        # each pattern on its own, for the readings overlap: "我在天台" leaves "边上坐着呢", "在天台边上坐着呢" nothing
        for pattern in lex.cue_patterns("at_the_edge"):
            for m in pattern.finditer(clause):
                if len(clause) - m.end() <= 2 and not lex.cue_re("third_party").search(clause[:m.end()]):
                    return True
    return False


def _gone_by(lex: Lexicon, text: str, a: int, b: int, now_words: str) -> bool:
    """A day gone by in ``text[a:b]`` (the sentence, up to where the place is told) with ``now_words`` not saying now:
    "去年冬天，我在江边那座桥上站了很久", "那天我站在窗台上" (not "我现在在楼顶，昨天就想跳了")."""
    return bool(lex.cue_re("distant_past").search(text, a, b)
                or (lex.cue_re("recent_told").search(text, a, b) and not lex.cue_re("edge_now").search(now_words)))


def asks_about_then(lex: Lexicon, question: FinalSegment | None) -> bool:
    """The counselor's question is about a time gone by ("你当时站在那里是想跳下去吗？"): the caller's answer tells of
    then, and puts no one at the edge now."""
    return question is not None and bool(EDGE_THEN.search(lex.corrected(question.text)))


def at_work(text: str) -> bool:
    """A height or a track that is the caller's workplace, said with the work ("我在脚手架上，刷墙呢", "我在吊篮上，外墙
    刷漆"): no edge, whatever else the caller said."""
    return bool(WORK_PLACE.search(text) and WORK_ERRAND.search(text))


def over_the_edge(lex: Lexicon, text: str, asked_where: bool = False, about_risk: bool = False) -> bool:
    """The caller's own body at the drop now, which is the act under way whatever words come with it (Beijing 紧急:
    "standing at the edge"): legs over the side, standing on the window sill, on the edge of the roof, on the track
    (``edge_over``: "我在我们家楼顶，坐在边上", "腿在外面", "我已经站到窗台上了", "就站在轨道上").

    Said as now: with 现在/已经/正 (``edge_now``) in its sentence, in answer to the counselor's question where the caller
    is (``asked_where``: "你现在在哪儿？" → "我在我们家楼顶，坐在边上"), or in a call about risk (``about_risk``). The
    caller's own: "我" before it in its sentence, or no one else named there in an answer to where ("就站在轨道上"); not
    someone or something else ("我妈站在窗台上", "小猫爬上窗台"). Not a habit or a day gone by ("那天我站在窗台上"), a
    question, a wish, a dream or a denial ("我想爬上窗台看看雪", "梦里我站在铁轨上", "我没站在窗台上"), nor an errand
    there, said anywhere in the words ("我站在窗台上擦玻璃", "为了挂窗帘，我站到窗台上了", "在铁轨上换枕木")."""
    if EDGE_ERRAND.search(text):
        return False
    ends = lex.cues["sentence_ends"]
    for m in lex.cue_re("edge_over").finditer(text):
        a = sentence_start(lex, text, m.start())
        b = next((i for i in range(m.end(), len(text)) if text[i] in ends), len(text))
        sentence, before = text[a:b], text[a:m.start()]
        if (lex.cue_re("not_now").search(sentence) or _gone_by(lex, sentence, 0, len(sentence), sentence)
                or lex.cue_re("third_party").search(before) or lex.cue_re("hypothetical").search(before)
                or EDGE_WISH.search(before) or EDGE_NOT_SO.search(before[-3:]) or (b < len(text) and text[b] in "？?")
                or text[b - 1:b] == "吗"):
            continue
        own = "我" in before.replace("我们", "") or asked_where
        if own and (about_risk or asked_where or lex.cue_re("edge_now").search(sentence)):
            return True
    return False


def near_time(lex: Lexicon, text: str) -> bool:
    """A near time (今晚, 明天, 这周六) that can be a plan's: not in a clause that is an errand for help ("明天我打算
    去看心理医生") or the obligations set against the wish ("我想过跳楼，但是明天还得送孩子上学": ``time_not_plan``)."""
    return near_time_clause(lex, text) is not None


def near_time_clause(lex: Lexicon, text: str) -> str | None:
    """The first clause of ``text`` that says a near time as :func:`near_time` reads it, else None."""
    for a, b in clause_bounds(text, lex.cues["clause_breaks"]):
        clause = text[a:b]
        if (lex.cue_re("time_near").search(clause) and not lex.cue_re("safety_action").search(clause)
                and not lex.cue_re("time_not_plan").search(clause)):
            return clause
    return None


def confirms_dated_plan(lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]) -> tuple[int, int] | None:
    """The span of a caller's yes to the counselor's restatement of a plan with a near time ("你是说你打算这周六去
    跳楼，是吗？" → "嗯。"; "你刚才说打算今天晚上把药吃了，对吗？" → "对。"): the caller's own plan to act within 72 h.
    The question must name the method or the preparation as the caller's (``risk_question``: not negated, not
    someone else's: "你是说你爸打算今晚跳楼" is not) and a near time that can be a plan's (:func:`near_time`: not
    "明天要把攒的药扔掉"), as the present plan ("你原来打算今晚跳楼，后来打消了这个念头" is none); "你今晚还会有想死的念
    头吗？" names neither and stays ideation. None otherwise."""
    found = confirmed_question(lex, seg, context)
    if found is None:
        return None
    asked = set(risk_question(lex, context))
    # or the decision itself, restated with its day: "所以你是打算这个礼拜六，在你生日那天，结束自己的生命？" → "对。"
    decided = bool(asked & {"active_ideation"}) and bool(DECISION_WORDS.search(lex.corrected(found[0].text)))
    if not ({"suicide_plan", "suicide_preparation"} & asked or decided):
        return None
    question, span = found
    if not decided and not {"suicide_plan", "suicide_preparation"} & set(question_labels(lex, question, context)):
        question = counselor_turn(context, question)  # the question in pieces: "你是打算" | "明天用炭" | "…对吗"
    said = lex.corrected(question.text)
    if lex.cue_re("plan_not_current").search(said) or lex.cue_re("resolved").search(said):
        return None  # "你是说你原来打算今晚跳楼，后来打消了这个念头，是吗？": a plan given up is none
    return span if near_time(lex, said) else None


def current_plan(lex: Lexicon, text: str, risk: SegmentRisk) -> bool:
    """A plan or preparation in ``risk``'s keywords told as the caller's present intent, not as something once
    thought, looked up or done ("我之前还查过怎么割腕", "遗书我去年就写过一封": ``plan_not_current`` in its clause);
    a plan the classifier alone found counts as told."""
    keys = [k for k in risk.keywords if k.label in ("suicide_plan", "suicide_preparation")]
    if not keys:
        return True
    bounds = clause_bounds(text, lex.cues["clause_breaks"]) or [(0, len(text))]
    for k in keys:
        a, b = next(((a, b) for a, b in bounds if a <= k.char_start < b), (0, len(text)))
        if not lex.cue_re("plan_not_current").search(text[a:b]):
            return True
    return False


def segment_level(lex: Lexicon, seg: FinalSegment, labels: Sequence[str], context: Sequence[FinalSegment] = (),
                  keywords: Sequence = (), voiced_intent: bool = True, reading: JoinedReading | None = None) -> str:
    """The level this one segment shows on its own (the call-level rules in CallRiskState add plan + near time).
    ``reading``: the segment read with the caller's unfinished pieces before it (:func:`~service.risk.pieces.joined_reading`):
    when the act happened and where the caller is are read there too ("我刚" | "割了手腕", "我在" | "楼顶")."""
    labels = set(labels)
    suicidal = labels & set(SUICIDE_LABELS)
    text = lex.corrected(seg.text)
    whole = lex.corrected(reading.text) if reading else text
    level = "无"

    def raise_to(lv: str) -> None:
        nonlocal level
        if level_rank(lv) > level_rank(level):
            level = lv

    if labels & {"passive_ideation", "self_harm_ideation", "self_harm_behavior"}:
        raise_to("低")
    if labels & {"active_ideation", "suicide_plan", "suicide_preparation"}:
        raise_to("中")
    if "suicide_attempt" in labels:
        when = attempt_when_said(lex, whole, context)
        starts = [k.char_start for k in keywords if k.label == "suicide_attempt"] or [0]
        asked = confirms_act(lex, seg, context)
        if when == "unknown" and asked is not None:
            # a yes to "你是说你上周六吃了一瓶安眠药，是吗？" is dated by the question; to "你是不是已经吃了药？", now; to
            # an undated restatement ("你刚才说你割过腕，对吗？"), undated
            # (its own "你刚才说" is when it was said, not when it was done)
            said = lex.cue_re("restatement").sub("", lex.corrected(asked.text))
            when = attempt_when(lex, [said])
            if when == "unknown" and lex.cue_re("attempt_yes_question").search(said):
                when = "now"
            elif when == "unknown" and lex.cue_re("attempt_ever_question").search(said):
                when = "earlier"  # "你以前有没有自杀过？" → "有过一次": an earlier attempt until a date comes
        # the caller's pieces before this segment ("我上次" | "把药全吃了")
        prior = lex.corrected(reading.before) if reading else ""
        current = attempt_current(lex, text, starts) or (prior and attempt_current(lex, whole, [len(prior)]))
        treated = attempt_treated(lex, whole, len(prior) + min(starts))
        if when == "unknown" and treated and not any(
                lex.cue_re(cue).search(t)
                for cue in ("attempt_told_as_history", "plan_not_current", "distant_past", "past_frame", "accident")
                for t in [whole, *(s.text for s in list(context)[-ATTEMPT_TIME_LOOKBACK:])]):
            # rescued or treated, told without a date and not as history ("我跳下去了，被保安拉上来了"): what brought
            # the caller to the phone, recent until dated (高, not in progress); "我吃过一次药" … "吃了一整瓶，在医院洗
            # 的胃" stays history (中 until dated)
            when = "recent"
        if (when == "unknown" and current and not treated and not lex.cue_re("plan_not_current").search(prior)
                and not lex.cue_re("near_miss").search(prior[-4:])):  # "差点" | "把药全吃了": nothing taken
            # (nor an act rescued or treated since, in the pieces before: "跳下去了" | "被一个钓鱼的大爷" | "拉上来了")
            # told without a time but as the state things are in now: "我把药全吃了", "我割腕了" (the sentence-final
            # 了 of a changed situation): the act has just happened (the spec's 紧急: "pills taken"), until the caller
            # or the counselor says when; "我用美工刀割了手腕" narrates, "我割过腕" and "我上次" | "把药全吃了" are
            # history (中 until dated)
            when = "now"
        if when == "now" and stopped_short(lex, text, starts):
            when = "recent"  # "我刚才差点跳下去": stopped short, nothing under way
        raise_to({"now": "紧急", "recent": "高"}.get(when, "中"))
    # at the edge is an emergency from a caller who voiced suicidal intent, before or here ("我现在就坐在江边上" alone
    # is preparation, 中, until the words of intent come)
    intent = voiced_intent or bool(labels & {"active_ideation", "suicide_plan", "suicide_attempt"})
    # on the stool under a rope the caller hung in the same words, from a caller who voiced intent or hung it from
    # where one hangs ("绳子挂在门框上了，我已经站在凳子上了"; not "挂窗帘呢，绳子系好了，我站在椅子上")
    on_the_stool = ("suicide_preparation" in {k.label for k in keywords}
                    and bool(lex.cue_re("rope_words").search(whole))
                    and bool(lex.cue_re("on_the_stool").search(whole))
                    and (intent or bool(lex.cue_re("hanging_point").search(whole))))
    then = asks_about_then(lex, last_counselor(context))
    # not the answer to a question about then ("你当时站在那里是想跳下去吗？" → "是，腿都跨出去了")
    edge = (at_the_edge(lex, whole) and intent and not then and not at_work(whole)) or on_the_stool
    if suicidal and (edge or lex.cue_re("time_imminent").search(whole)):
        raise_to("紧急")
    return level


@dataclass
class CallRiskState:
    """All risk state of one call: its level (never lowered), the evidence, the alerts already raised."""

    call_id: str
    counselor_id: str | None
    engine_version: str
    alert_threshold: str = "高"
    lexicon: Lexicon | None = None
    level: str = "无"
    labels: set[str] = field(default_factory=set)
    evidence: list[FinalSegment] = field(default_factory=list)
    alerted: set[str] = field(default_factory=set)
    #: the caller's labels that words carry (a keyword), not the classifier alone
    worded: set[str] = field(default_factory=set)
    #: the latest caller segments with a plan or preparation, and with a near time that counts (see update)
    _plan_seg: FinalSegment | None = None
    _near_seg: FinalSegment | None = None
    #: segments that decided the level (each rise, and what a plan's 高 rests on), in the order they did
    _keys: list[FinalSegment] = field(default_factory=list)
    #: recent segments of both speakers in call-time order, each with (suicidal words, near time) for a caller's
    _history: list[tuple[FinalSegment, bool, bool]] = field(default_factory=list)
    #: the caller told an attempt in words and did not say when (a counselor's restatement may date it)
    _undated_attempt: bool = False
    #: the caller told an attempt and when (their date stands against a counselor's: "去年我割了手腕")
    _dated_attempt: bool = False
    #: when the attempt the caller told happened (attempt_when: now, recent, earlier, unknown)
    _attempt_when: str = "unknown"
    #: the caller said they are at the edge now before voicing any intent ("我现在在楼顶")
    _edge_seg: FinalSegment | None = None
    #: the undated attempt the caller told was a near miss ("我差点就跳下去了"): dated by a time after it, never now
    _near_miss: bool = False
    #: the caller told of a rope hung or tied ("绳子已经挂好了"): "我现在站在凳子上" is then the act under way, from a
    #: caller who voiced intent
    _rope: bool = False
    #: …and where it hangs ("在门框上"): then the stool is the act under way whatever else was said
    _rope_hung: bool = False
    #: the undated attempt was told as old ("我割过腕", "那几年", an accident): a wound told after it is not recent
    _attempt_old: bool = False
    #: the undated attempt was told as history ("我割过腕", "我之前吃过一瓶安眠药"): a time said after it is not its
    _attempt_history: bool = False

    def __post_init__(self) -> None:
        if self.alert_threshold not in RISK_LEVELS or self.alert_threshold == "无":
            raise ValueError(f"alert_threshold must be one of {RISK_LEVELS[1:]}, not {self.alert_threshold!r}")
        if self.lexicon is None:
            self.lexicon = load_lexicon()

    def update(self, seg: FinalSegment, risk: SegmentRisk, risk_context: bool = False,
               reading: JoinedReading | None = None) -> list[AlertEvent]:
        """Take one segment and its risk; return the alerts to raise now (0, 1 or 2). ``risk_context``: as the
        engine analysed the segment (the call was already about risk), so the cues see the same corrected text.
        ``reading``: the caller's segment read with the unfinished pieces before it (``joined_reading``), where the
        cues of time and place are read too."""
        try:
            return self._update(seg, risk, risk_context, reading)
        finally:
            # trimmed only once the segment's turn is read: trimming on insertion shifted the new segment's index
            # and, past HISTORY_SEGMENTS, every caller segment raised IndexError (a call's risk stopped there)
            del self._history[:-HISTORY_SEGMENTS]

    def _update(self, seg: FinalSegment, risk: SegmentRisk, risk_context: bool,
                reading: JoinedReading | None) -> list[AlertEvent]:
        lex = self.lexicon.in_risk_context() if risk_context else self.lexicon
        # finals of the two channels arrive in decoding order; what came before is decided by call time
        at = bisect.bisect_left(self._history, seg.start, key=lambda h: h[0].start)
        context = [h[0] for h in self._history[max(0, at - ATTEMPT_TIME_LOOKBACK):at]]
        if seg.speaker == "counselor":
            self._remember(at, seg, False, False)
            said = lex.corrected(seg.text)
            raised = None
            # the caller's labels that make a dispatch 紧急: intent in words, not passive ideation alone ("活着太累了"
            # in a call where police are sent to a violent husband is no act in progress)
            if (self.worded & INTENT_LABELS and level_rank(self.level) < level_rank("紧急")
                    and self._dispatched(lex, said, at)):
                # the counselor started the emergency plan for a caller who spoke of suicidal intent in words: "我同事
                # 已经在联系120" (a classifier-only label anywhere in a long call, "最近真的累死了", is not that intent)
                raised = "紧急"
            elif (self._undated_attempt and level_rank(self.level) < level_rank("高")
                    and counselor_dates_recent(lex, said)):
                # the counselor's restatement dates the attempt the caller told: "你五天前刚经历过一次很危险的自杀尝试"
                raised = "高"
                self._attempt_when = "recent"
            elif (self.worded & INTENT_LABELS and not self._dated_attempt
                    and level_rank(self.level) < level_rank("高") and counselor_names_recent_danger(lex, said)):
                # the counselor names a recent attempt that the recognizer lost from the caller's own account:
                # "八天前那次真的很危险" after "我在宿舍厕所拿皮带上吊" was heard as "拿提带上标"
                raised = "高"
            return [] if raised is None else self._raise_on(seg, raised)
        labels = list(risk.labels)
        voiced = bool(self.worded & INTENT_LABELS)  # the caller voiced suicidal intent in words before this
        # a near time counts where the caller's own words carry the risk (a keyword, not the classifier alone)
        # in the same turn (the caller's segments with no counselor segment between them in call time: the
        # recognizer cuts one answer into several, "明天晚上。" | "信我都写好了"), or with "我想好了/决定了" once the
        # call has suicidal content ("我已经决定了，这周六")
        own_words = any(k.label in SUICIDE_LABELS for k in risk.keywords)
        text = lex.corrected(seg.text)
        whole = lex.corrected(reading.text) if reading else text
        decided = bool(self.labels & set(SUICIDE_LABELS)) and lex.cue_re("plan_intent").search(text)
        # a yes to the counselor's restated plan and its time ("你是说你打算这周六去跳楼，是吗？" → "嗯。") says both
        # (the question read as the engine read it: from a caller who voiced intent, "买了炭" is preparation)
        asked = self.lexicon.view(heard=risk_context, acts=True) if voiced or own_words else lex
        near = near_time(lex, text) or (own_words and confirms_dated_plan(asked, seg, context) is not None)
        self._remember(at, seg, own_words, near)
        turn = self._turn(at)
        if (decided and near) or (any(w for w, _ in turn) and any(t for _, t in turn)):
            self._near_seg = seg
        if (near and not own_words and self.has_plan
                and lex.cue_re("time_go").search(near_time_clause(lex, text) or "")
                and not self._go_was_asked(lex, context)):
            # "明天下班就去。" from a caller who told the plan or its preparation before: the plan's time (not an
            # answer to the counselor's suggestion: "你明天能去医院看看吗？" → "好，明天就去。")
            self._near_seg = seg
        if self._near_seg is not seg and (voiced or self.has_plan) and self._confirms_time(lex, seg, context):
            # "今天是周四，也就是后天是吗？" → "对": the counselor's restated time of the plan the caller told
            near = True
            self._history[at] = (seg, own_words, True)
            self._near_seg = seg
        question = self._when_question(at) if near and voiced else None
        # a caller who told a plan tied to an occasion ("她结婚那天，我就…", "等我把工资结了，我就…") is dated by the
        # answer to when the occasion is; one who told only the wish, by an answer to when they mean to act, not to
        # when an errand is ("你老板什么时候找你谈？" → "明天")
        if question is not None and (self._asks_plan_time(lex, question) or self._asks_occasion(lex, question)) and (
                not lex.cue_re("third_party").search(near_time_clause(lex, text) or text)
                or lex.cue_re("time_is_mine").search(text)):
            # "就这个周末。" answering the counselor's "你想过什么时候吗？" about the death the caller spoke of: a plan
            # to act within 72 h, the answer its evidence; whose time it is, is read in the time's own clause
            # ("今天晚上，等他们睡了": the caller's; "明天我爸要来": not; "明天晚上他出差，家里没人，就那天": the
            # caller's, told by someone else's absence, time_is_mine)
            self._plan_seg = self._near_seg = seg
        # the rope hung or tied, in the words that carry the preparation (or the pieces they end: "绳子" | "已经挂好了");
        # from where one hangs ("在门框上"), the stool after it is the act under way whatever else was said
        if (any(k.label == "suicide_preparation" for k in risk.keywords)
                and lex.cue_re("rope_words").search(whole)):
            self._rope = True
        if self._rope and lex.cue_re("hanging_point").search(whole):
            self._rope_hung = True
        # the counselor's last words before the caller's turn, however many pieces the turn is in
        last_q = next((p for p in reversed(context) if p.speaker == "counselor"), None)
        then = asks_about_then(lex, last_q)
        edge = ((at_the_edge(lex, whole, bare=True) and not then and not at_work(whole))
                or self._confirms_edge(lex, seg, context)
                # on the stool, from a caller who told of a rope hung or tied: "绳子已经挂好了" … "我现在踩在凳子上"
                or (self._rope and (voiced or self._rope_hung)
                    and bool(lex.cue_re("on_the_stool").search(lex.corrected(seg.text)))))
        # not the answer to a question about then: "你当时站在那里是想跳下去吗？" → "是，腿都跨出去了"
        asked_where = last_q is not None and bool(EDGE_WHERE.search(lex.corrected(last_q.text)))
        over = (level_rank(self.level) < level_rank("紧急") and not then
                and over_the_edge(lex, whole, asked_where, risk_context or voiced))
        if over and not labels:
            # "我在我们家楼顶，坐在边上" … "嗯，腿在外面": at the drop now, with or without words of intent
            return self._raise_on(seg, "紧急")
        if (edge and self._rope_hung and level_rank(self.level) < level_rank("紧急")
                and lex.cue_re("on_the_stool").search(lex.corrected(seg.text))):
            # "绳子" | "已经挂好了" | "在门框上" | "我现在" | "踩在凳子上": the act under way, words of intent or not
            return self._raise_on(seg, "紧急")
        if edge and not voiced:
            self._edge_seg = seg  # "我现在在楼顶": 紧急 once the caller voices intent (below)
        elif (self._edge_seg is not None and reading and at_the_edge(lex, whole)
                and lex.cue_re("edge_errand").search(lex.corrected(reading.own))):
            self._edge_seg = None  # the piece after it says what the place was for: "我在楼顶" | "晒被子呢"
        if (self._edge_seg is not None and lex.cue_re("jump_wish").search(text)
                and seg.start - self._edge_seg.start <= EDGE_WINDOW_S and level_rank(self.level) < level_rank("紧急")):
            # "想跳" from a caller who said they are at the edge ("你现在在哪里？" → "楼顶" … "想跳")
            self._key(self._edge_seg)
            return self._raise_on(seg, "紧急")
        if (not own_words and voiced and level_rank(self.level) < level_rank("紧急")
                and (edge or self._symptom_after_attempt(lex, whole))):
            # "我在楼顶。" (or "是" to "你现在是在楼顶吗？") from a caller who spoke of suicidal intent: at the edge now;
            # "头好晕……想睡觉" after the caller said the pills are taken: the act is working now
            return self._raise_on(seg, "紧急")
        if not own_words and self._wound_dates_attempt(lex, whole, context, seg):
            # "我用美工刀割了手腕" … "伤口现在怎么样了？" … "用纱布缠着，穿长袖就看不出来": a wound still dressed or
            # healing is days old (高), not the history an undated account might be
            self._date_attempt("recent")
            return self._raise_on(seg, "高")
        if not own_words and self._dates_attempt(lex, text, at):
            # "我吃了一整瓶安眠药" | "大概半小时前": the caller dates, in the same turn, the attempt told without a time
            self._date_attempt(self._attempt_when)
            return self._raise_on(seg, "紧急" if self._attempt_when == "now" else "高")
        if not labels:
            return self._raise_plan_level()
        seg_level = segment_level(lex, seg, labels, context, risk.keywords, voiced, reading)
        if over:
            seg_level = "紧急"  # "我现在站在窗台上，不想活了": at the drop, whatever the words say besides
        worded = {k.label for k in risk.keywords}
        if (self._edge_seg is not None and worded & INTENT_LABELS
                and seg.start - self._edge_seg.start <= EDGE_WINDOW_S and level_rank(seg_level) < level_rank("紧急")):
            # "我现在在楼顶" … "我不想活了": at the edge, and now the intent
            seg_level = "紧急"
            self._key(self._edge_seg)
        self.worded.update(lb for lb in labels if lb in worded)
        if "suicide_attempt" in worded and not self._undated_attempt:
            when = attempt_when_said(lex, text, context)
            self._undated_attempt = when == "unknown"
            self._attempt_history = bool(lex.cue_re("attempt_told_as_history").search(text)
                                         or lex.cue_re("plan_not_current").search(whole))
            self._attempt_old = any(lex.cue_re(cue).search(whole) for cue in WOUND_OLD_CUES)
            # "我差点就跳下去了" | "昨天晚上": a time after a near miss dates it, but nothing was taken or done now
            self._near_miss = stopped_short(lex, text, [k.char_start for k in risk.keywords
                                                        if k.label == "suicide_attempt"])
            self._dated_attempt = self._dated_attempt or when != "unknown"
            self._attempt_when = when
            starts = [k.char_start for k in risk.keywords if k.label == "suicide_attempt"]
            if self._wound_dates_attempt(lex, text[min(starts):], context) and level_rank(seg_level) < level_rank("高"):
                # "我割了手腕，现在还缠着纱布": the wound, told in the same words, dates the act as recent
                self._date_attempt("recent")
                seg_level = "高"
        if level_rank(seg_level) > level_rank(UNWORDED_MAX_LEVEL) and set(labels) - worded:
            # the classifier-only labels count up to UNWORDED_MAX_LEVEL; what the words carry counts in full
            seg_level = max(segment_level(lex, seg, [lb for lb in labels if lb in worded], context, risk.keywords,
                                          voiced, reading),
                            UNWORDED_MAX_LEVEL,
                            key=level_rank)
        if set(labels) & {"suicide_plan", "suicide_preparation"} and current_plan(lex, text, risk):
            self._plan_seg = seg
            told = self._occasion_told(lex, text, context)
            if told is not None:
                # "我明天要跑全马。" … "跑完我就从酒店楼上跳下去": the occasion the plan waits for, and its day, told
                # before
                self._near_seg = told
        planned = self._plan_and_time()
        if planned and level_rank(seg_level) < level_rank("高"):
            seg_level = "高"
        self.labels.update(labels)
        if level_rank(seg_level) > level_rank("无"):
            self._add_evidence(seg)
        before = self.level
        if level_rank(seg_level) > level_rank(self.level):
            self.level = seg_level
            if planned and seg_level == "高":
                self._key(self._plan_seg)
                self._key(self._near_seg)
            self._key(seg)
        return self._alerts(before)

    @property
    def has_plan(self) -> bool:
        return self._plan_seg is not None

    @property
    def near_time(self) -> bool:
        return self._near_seg is not None

    def _plan_and_time(self) -> bool:
        """A plan or preparation and a near time, said within PLAN_TIME_WINDOW_S of each other."""
        return (self.has_plan and self.near_time
                and abs(self._plan_seg.start - self._near_seg.start) <= PLAN_TIME_WINDOW_S)

    def _add_evidence(self, seg: FinalSegment) -> None:
        self.evidence.append(seg)
        del self.evidence[:-MAX_EVIDENCE]

    def _key(self, seg: FinalSegment) -> None:
        if all(k is not seg for k in self._keys):
            self._keys.append(seg)

    def _alert_evidence(self) -> list[FinalSegment]:
        """What an alert shows the supervisor, in call time: the segments that decided the level (the last
        KEY_EVIDENCE of them: in a long call the preparation that made it 高 may lie many turns back), then the most
        recent ones."""
        keys = self._keys[-KEY_EVIDENCE:]
        recent = [s for s in self.evidence if all(s is not k for k in keys)]
        chosen = keys + recent[len(recent) - max(0, MAX_EVIDENCE - len(keys)):]
        return sorted(chosen, key=lambda s: (s.start, s.speaker))

    def _raise_on(self, seg: FinalSegment, level: str) -> list[AlertEvent]:
        """The call is now at ``level`` on ``seg`` alone (a segment that carries no label of its own, or a
        counselor's): its evidence, and the alerts that raises."""
        before = self.level
        self.level = level
        self._add_evidence(seg)
        self._key(seg)
        return self._alerts(before)

    def _when_question(self, at: int, act: bool = False) -> FinalSegment | None:
        """The counselor's segment just before ``_history[at]`` when it asks when the caller means to act: a
        ``when_question`` within WHEN_CONTEXT_SEGMENTS of the caller's own words of risk, not one about when the
        thoughts began, an appointment or an errand (``when_not_plan``: "这个念头是什么时候开始有的？", "下次复诊是什么
        时候？"); else None. ``act``: when an act told was done instead, where "这是什么时候发生的？", "多久以前的事？"
        and "是最近吗？" ask it too (``when_act_question``; ``when_not_act`` keeps the thoughts and errands out)."""
        lex = self.lexicon
        asks, not_this = ("when_act_question", "when_not_act") if act else ("when_question", "when_not_plan")
        other, k = 0, at - 1  # one caller segment may come between, and false starts ("就" | "就" | "10天前")
        while k >= 0 and k >= at - 2 - MAX_FALSE_STARTS:
            prev = self._history[k][0]
            if prev.speaker != "counselor":
                k -= 1
                if not _false_start(prev.text):
                    other += 1
                if other > 1:
                    return None
                continue
            said = lex.corrected(prev.text)
            if not lex.cue_re(asks).search(said) or lex.cue_re(not_this).search(said):
                return None
            words = any(words for h, words, _ in self._history[max(0, k - WHEN_CONTEXT_SEGMENTS):k]
                        if h.speaker != "counselor")
            return prev if words else None
        return None

    def _confirms_edge(self, lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]) -> bool:
        """A caller's answer that puts them at the edge now: a yes to the counselor's question whether they are, the
        place the question's point ("你现在是在楼顶吗？" → "是"; not "你现在是在天台上晾衣服吗？"), or the place
        alone answering where they are ("你现在在哪里？" → "楼顶")."""
        question = last_counselor(context)
        if (question is not None and lex.cue_re("where_question").search(lex.corrected(question.text))
                and lex.cue_re("edge_place_answer").search(lex.corrected(seg.text))):
            return True
        found = confirmed_question(lex, seg, context)
        # asked of "你/您", said as the caller would: "你现在是在江边吗？" → "现在在江边吗？"
        asked = re.sub(r"^[，,]*(你|您)(现在|已经)?是?", r"\2", lex.corrected(found[0].text)) if found else ""
        return found is not None and at_the_edge(lex, asked, bare=True)

    def _dispatched(self, lex: Lexicon, said: str, at: int) -> bool:
        """:func:`counselor_dispatches` in the counselor's segment ``said`` (corrected), or in the counselor's words
        cut into pieces and read together, read only when the segment alone says none: "我们" | "同事" | "已经" |
        "在联系" | "一一零" | "和" | "一二零"."""
        if counselor_dispatches(lex, said):
            return True
        pieces = self._counselor_run(at)
        return len(pieces) > 1 and counselor_dispatches(lex, lex.corrected("".join(p.text for p in pieces)))

    def _counselor_run(self, at: int) -> list[FinalSegment]:
        """The counselor's pieces ending with ``_history[at]``: the ones right before it with no caller segment and
        at most FRAGMENT_GAP_S of silence between them, up to COUNSELOR_RUN_PIECES, in call order."""
        first = max(0, at - COUNSELOR_RUN_PIECES + 1)
        return counselor_pieces([h[0] for h in self._history[first:at + 1]], at - first, COUNSELOR_RUN_PIECES)

    @staticmethod
    def _asks_about_the_act(lex: Lexicon, question: FinalSegment) -> str | None:
        """How the counselor's when-question (:meth:`_when_question`) is about the act: "named" when it names it
        ("自杀", "割", "吃的药"), "bare" when it holds nothing but the when or words that point back ("什么时候？", "那
        是哪天的事？", "这事是什么时候？": about whatever the caller just told); None when it is about something else
        or someone else ("你说你妈妈也自杀过。那是哪天的事？")."""
        said = lex.corrected(question.text)
        asked = lex.cue_re("when_act_question").search(said)
        if asked is None or lex.cue_re("third_party").search(said):
            return None
        # the sentence that asks ("谢谢您告诉我。您说的那天，是哪天？": the second)
        ends = lex.cues["sentence_ends"]
        start = sentence_start(lex, said, asked.start())
        stop = next((i + 1 for i in range(asked.end(), len(said)) if said[i] in ends), len(said))
        said = said[start:stop]
        if ACT_WORDS.search(said):
            return "named"
        rest = ACT_REFERENCE.sub("", lex.cue_re("when_act_question").sub("", said))
        return None if WHEN_REST.sub("", rest) else "bare"

    @staticmethod
    def _asks_plan_time(lex: Lexicon, question: FinalSegment) -> bool:
        """The counselor's when-question asks when the caller means to act ("打算什么时候？", "你想过什么时候吗？",
        "什么时候？"), not when someone else comes or goes or an errand is ("你女儿什么时候到家？", "你老板什么时候找你
        谈？", "同学聚会是哪天？")."""
        said = lex.corrected(question.text)
        if lex.cue_re("third_party").search(said):
            return False
        return bool(PLAN_TIME_WORDS.search(said)) or not WHEN_REST.sub(
            "", OCCASION_REST.sub("", lex.cue_re("when_question").sub("", said)))  # "具体是哪天？", "那你想哪天？"

    @staticmethod
    def _occasion_told(lex: Lexicon, text: str, context: Sequence[FinalSegment]) -> FinalSegment | None:
        """The caller's earlier segment that told, with a near time, the occasion a plan here waits for ("跑完我就…",
        "考完了我就…", "等我把房租交了，我就…"): one of the caller's last ATTEMPT_TIME_LOOKBACK segments whose near-time
        clause holds the occasion's verb ("我明天要跑全马"); else None."""
        m = OCCASION_DONE.search(text)
        if m is None:
            return None
        action = m.group("act")
        for prev in reversed(list(context)[-ATTEMPT_TIME_LOOKBACK:]):
            if prev.speaker != "caller":
                continue
            clause = near_time_clause(lex, lex.corrected(prev.text))
            if clause is not None and action in clause and not lex.cue_re("third_party").search(clause):
                return prev
        return None

    def _asks_occasion(self, lex: Lexicon, question: FinalSegment) -> bool:
        """The counselor's when-question asks when the occasion is that the caller tied the plan to: it names a
        matter the plan's words name ("等我把这个月房租交了，我就去跳河" … "房租什么时候交？", "她结婚那天我就…" … "她哪天
        结婚？"). A plan told without one is not dated by an errand's day ("我想跳楼" … "你老板什么时候找你谈？")."""
        if self._plan_seg is None:
            return False
        asked = OCCASION_REST.sub(" ", WHEN_REST.sub(" ", lex.cue_re("when_question").sub(" ", lex.corrected(question.text))))
        plan = lex.corrected(self._plan_seg.text)
        if any(w[i:i + 2] in plan for w in asked.split() for i in range(len(w) - 1)):
            return True
        # one word is enough inside the occasion itself ("等考完试我就去跳楼" … "那你哪天考？", "他结婚那天我就…" …
        # "婚礼是哪天？")
        span = OCCASION_SPAN.search(plan)
        return span is not None and any(ch in span.group(0) for w in asked.split() for ch in w)

    def _told_just_before(self, question: FinalSegment) -> bool:
        """The caller's last segment before ``question`` (false starts aside) carries their own words of risk: a bare
        "这是什么时候发生的？" asks about that, not about the breakup told after the attempt."""
        at = next((i for i, (h, _, _) in enumerate(self._history) if h is question), None)
        for seg, words, _ in reversed(self._history[:at] if at is not None else []):
            if seg.speaker == "counselor":
                continue
            if not _false_start(seg.text) or words:
                return words
        return False

    @staticmethod
    def _go_was_asked(lex: Lexicon, context: Sequence[FinalSegment]) -> bool:
        """The counselor's segment just before asks or suggests where to go or what to do (``time_go_asked``: "你明天
        能去医院看看吗？", "你愿意试试放松练习吗？"): a "就去" answers that, not the plan."""
        question = last_counselor(context)
        return question is not None and bool(lex.cue_re("time_go_asked").search(lex.corrected(question.text)))

    def _confirms_time(self, lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment]) -> bool:
        """A caller's bare yes to a counselor's question that only restates a near time ("这周末，是后天吗？", "也就是
        后天，是吗？", "是明天晚上吗？"): the whole question holds nothing but times, 是/就是/吗 and the like, and a time
        to come (not "今天是周四，对吧？", a statement of today); the answer is the yes alone ("对，要送孩子上学" answers
        something else). "明天你会去上班吗？", "那明天呢？明天有什么安排？" confirm no time of a plan."""
        found = confirmed_question(lex, seg, context)
        if found is None:
            return False
        question, span = found
        answer = normalize(seg.text)
        if TIME_QUESTION_REST.sub("", lex.cue_re("time_near").sub("", answer[span[1]:])):
            return False  # the yes alone, or with the time again ("对，周六。")
        said = lex.corrected(question.text)
        if (near_time_clause(lex, said) is None or lex.cue_re("third_party").search(said)
                or lex.cue_re("safety_action").search(said)):
            return False
        times = [m.group(0) for m in lex.cue_re("time_near").finditer(said)]
        to_come = [t for t in times if not TODAY.fullmatch(t)]
        return bool(to_come) and not TIME_QUESTION_REST.sub("", lex.cue_re("time_near").sub("", said))

    def _dates_attempt(self, lex: Lexicon, text: str, at: int) -> bool:
        """The caller's next piece of the turn that told an attempt without a time, and not as history, is that
        time ("我用美工刀割了手腕" | "就刚才", "大概半小时前", "昨天晚上"): a short piece that opens with it. A time
        further into a longer piece is another matter's ("刚刚我妈又骂我了" after "我割过腕"). So is a short answer to
        the counselor's question when (:meth:`_when_question`: "你以前有没有尝试过自杀？" → "有过。", "什么时候？" →
        "上个礼拜六。"); "这个念头是什么时候开始有的？" asks about the thoughts, not the act."""
        if not self._undated_attempt and not (self._attempt_when == "earlier" and "suicide_attempt" in self.worded):
            return False
        # or the answer to "什么时候？" asked after it ("有过。" … "上个礼拜六。"), a question about the act, not
        # another event ("你男朋友是什么时候跟你提分手的？"); that answer dates an attempt told as history too ("我割
        # 过腕" … "什么时候的事？" … "三天前")
        question = self._when_question(at, act=True)
        how = self._asks_about_the_act(lex, question) if question is not None else None
        bare_after_act = how == "bare" and self._told_just_before(question)
        asked = how == "named" or bare_after_act
        if self._attempt_history and not asked:
            return False
        if not self._undated_attempt and (self._attempt_history or not bare_after_act):
            # a date said roughly ("我上个月吃了药" … "具体是哪一天呢？" … "十天前吧") is made exact only by the answer to
            # a bare question when, put right after it (not "你什么时候跳槽的？", "你上次吃药是几号？"), and not for an
            # act told as history ("我小时候喝过农药" … "具体是什么时候？" … "前两天我妈还提起这事")
            return False
        if not asked and not any(words for words, _ in self._turn(at)):
            return False
        said = unpaused(text, None)[0].strip("，,。.！!？? ")
        if self._attempt_history and asked and len(HISTORY_DATE_REST.sub("", _without_times(lex, said))) > 2:
            return False  # an act told as history is dated by a time alone ("三天前"), not "昨天我还梦见了"
        # an answer may say more ("就上周六，十来天前吧"); a piece no one asked for is only the time
        longest = DATING_ANSWER_CHARS if asked else DATING_PIECE_CHARS
        when = attempt_when(lex, [said]) if len(said) <= longest else "unknown"
        rest = said[re.match(r"(就|大概|大约|差不多|是)?", said).end():]
        if when not in ("now", "recent") or not (asked or lex.cue_re("just_now").match(rest)
                                                 or lex.cue_re("recent_past").match(rest)):
            return False
        if self._near_miss:
            when = "recent"  # "我差点就跳下去了" | "就刚才": stopped short, no act under way
        self._attempt_when = when
        return level_rank(self.level) < level_rank("紧急" if when == "now" else "高")

    def _date_attempt(self, when: str) -> None:
        """The attempt the caller told without a date is dated now, as ``when`` (attempt_when's values)."""
        self._undated_attempt = False
        self._dated_attempt = True
        self._attempt_when = when

    def _wound_dates_attempt(self, lex: Lexicon, text: str, context: list[FinalSegment],
                             seg: FinalSegment | None = None) -> bool:
        """The caller tells the wound of the attempt they told without a date as it is now, dressed or healing
        (``wound_tended``: "用纱布缠着", "伤口还没好", "还没拆线"): a wound still tended is days old, so the attempt is
        recent (Beijing 高: within two weeks). Not after an attempt told as history ("我割过腕") or in a past frame
        or as an accident, in the caller's words here or just before ("那几年…"), nor a scar ("疤") or someone else's
        wound: those are old or not the caller's. ("我当时是真的想死" tells the act, not its age.) A yes to the
        counselor's question that tells it ("伤口还包着纱布吗？" → "嗯。") tells it too."""
        found = confirmed_question(lex, seg, context) if seg is not None else None
        if found is not None and not lex.cue_re("wound_tended").search(text):
            text = lex.corrected(found[0].text)
        if (not self._undated_attempt or self._near_miss or level_rank(self.level) >= level_rank("高")
                or not lex.cue_re("wound_tended").search(text)
                or any(lex.cue_re(cue).search(text) for cue in ("wound_old", "third_party"))):
            return False  # "早就好了，就剩个疤"; "我女儿膝盖上贴着创可贴" is someone else's wound
        said = [text, *(s.text for s in context[-ATTEMPT_TIME_LOOKBACK:] if s.speaker == "caller")]
        return not self._attempt_old and not any(lex.cue_re(cue).search(lex.corrected(t))
                                                 for cue in (*WOUND_OLD_CUES, "wound_old") for t in said)

    def _symptom_after_attempt(self, lex: Lexicon, text: str) -> bool:
        """A symptom now ("头好晕……想睡觉") from a caller who told an attempt without a date, or as just now: after
        one dated days ago, "头疼、吐，在医院吸了两天氧" is what it did then."""
        return ("suicide_attempt" in self.worded and self._attempt_when in ("unknown", "now")
                and bool(lex.cue_re("symptom_now").search(text)))

    def _remember(self, at: int, seg: FinalSegment, words: bool, near: bool) -> None:
        self._history.insert(at, (seg, words, near))

    def _turn(self, at: int) -> list[tuple[bool, bool]]:
        """(suicidal words, near time) of each caller segment in the turn around ``_history[at]``: neighbours in
        call time with no counselor segment and at most TURN_GAP_S of silence between them (the gap also keeps
        two turns apart when the counselor's short reply between them has not arrived yet)."""
        h = self._history

        def joined(a: int, b: int) -> bool:
            return ("counselor" not in (h[a][0].speaker, h[b][0].speaker)
                    and h[b][0].start - h[a][0].end <= TURN_GAP_S)

        lo = at
        while lo > 0 and joined(lo - 1, lo):
            lo -= 1
        hi = at + 1
        while hi < len(h) and joined(hi - 1, hi):
            hi += 1
        return [(w, t) for _, w, t in h[lo:hi]]

    def _raise_plan_level(self) -> list[AlertEvent]:
        before = self.level
        if self._plan_and_time() and level_rank(self.level) < level_rank("高"):
            self.level = "高"
            self._key(self._plan_seg)
            self._key(self._near_seg)
        return self._alerts(before)

    def _alerts(self, before: str) -> list[AlertEvent]:
        out = []
        for lv in (self.alert_threshold, "紧急"):
            if lv in self.alerted or level_rank(self.level) < level_rank(lv) or level_rank(before) >= level_rank(lv):
                continue
            self.alerted.add(lv)
            out.append(
                AlertEvent(
                    call_id=self.call_id,
                    risk_level=lv,
                    labels=sorted(self.labels, key=lambda x: (x not in SUICIDE_LABELS, x)),
                    evidence=self._alert_evidence(),
                    engine_version=self.engine_version,
                    counselor_id=self.counselor_id,
                )
            )
        return out
