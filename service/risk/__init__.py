"""Risk engine: per-segment labels, keywords and score; per-call level and alerts.

Two layers: the lexicon (:mod:`.lexicon`, with the context rules of :mod:`.context`) and the trained classifier
(:mod:`.classifier`). The classifier speaks only where the words leave room: on a caller segment with at least
MIN_CLASSIFIER_CHARS letters, that the context rules did not already judge (negated, hyperbole, third party,
hypothetical; unless it is very sure, VETO_OVERRIDE_P) and that does not open by denying the counselor's risk
question. It adds a suicide label alone at
its confirm point (precision ≥ 0.8 in cross-validation), not at its recall point: on hotline turns the recall point
flagged about one caller turn in five, most of them wrongly (`python -m service.risk.devreport` counts them). Its labels carry no keyword,
and the call level (:mod:`.level`, Beijing criteria) does not count them: they flag the segment. At the recall point it only gives a
spoken decision its topic ("我已经决定了" in a flagged segment is active ideation, carried by those words).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from service.risk.classifier import Classifier
from service.risk.context import (INTENT_LABELS, answered_attempt_question, answered_method, answered_question,
                                  clause_bounds, denied_question, judge, referred_ideation, revealed_self,
                                  speaker_mentions)
from service.risk.level import CallRiskState, confirms_dated_plan, segment_level
from service.risk.lexicon import Lexicon, load_lexicon, normalize
from service.risk.pieces import (FRAGMENT_GAP_S, MAX_FRAGMENT_CHARS, MAX_FRAGMENTS, JoinedReading,
                                 joined_reading)
from service.types import SUICIDE_LABELS, FinalSegment, KeywordHit, SegmentRisk

__all__ = ["RiskEngine", "CallRiskState", "JoinedReading", "joined_reading", "segment_level", "FRAGMENT_GAP_S",
           "MAX_FRAGMENTS", "MAX_FRAGMENT_CHARS"]

#: labels the classifier may add on its own; plan/preparation/attempt have 2–15 training examples, so only the
#: lexicon gives those
CLASSIFIER_LABELS = ("passive_ideation", "active_ideation", "self_harm_behavior", "victimization", "aggression_to_others")
#: probability a non-suicide classifier label needs (these have no recall target; keep them conservative)
OTHER_LABEL_MIN_P = 0.8
#: score of a segment whose suicide label came from the lexicon, a question/answer or a reference back
LEXICON_SCORE = 0.9
#: the highest score of a segment whose words a context rule judged to be no risk of the caller's own
VETOED_SCORE = 0.1
#: letters and digits a segment needs before the classifier is asked: a bag of n-grams over "好。", "嗯，对" or "……"
#: has nothing to weigh (the shipped model gave "好，我接。" 0.99), and short explicit phrases are the lexicon's
MIN_CLASSIFIER_CHARS = 6
#: most characters between a decision ("我想好了") and the near time it names ("，这周六") for a dated plan
DECISION_TO_TIME_CHARS = 4
#: the piece right before a segment, when this short (letters after its pauses are taken out), is the head of the
#: segment's own clause: "我同学" | "割腕了", "如果" | "我把药全吃了" (RiskEngine._rejudge)
HEAD_PIECE_CHARS = 6
#: a piece that ends on a verb of saying: what follows is what was said (``_add_joined``)
REPORTED = re.compile(r"(说|讲|告诉我|问我|跟我说|跟我讲|写着|写道)[，,：:]?$")
#: the classifier's any_suicide probability at which it speaks on words the context rules judged (negated,
#: hypothetical, third party, hyperbole) all the same; above 1: never. A denial of the counselor's question stays a
#: veto. Set before the tuned part's held-out scores were seen, from clf-2026-12-06's: on PsyGUARD's folds, 0.7
#: adds 10 right and 5 wrong rows; on the 40 calls' texts in all three modes it changes no level and one segment
#: label (right); 0.5 added 13 right and 8 wrong rows, and on the calls 7 labels, 5 of them wrong
VETO_OVERRIDE_P = 0.7

Predict = Callable[[list[str]], list[dict[str, float]]]


class RiskEngine:
    """Loaded once, shared by all calls; :meth:`analyze` keeps no per-call state."""

    def __init__(self, lexicon: Lexicon, predict: Predict | None, threshold: float, model_id: str,
                 label_threshold: float | None = None, veto_override: float | None = None) -> None:
        self.lexicon = lexicon
        self._predict = predict
        self.threshold = threshold
        #: the probability a suicide label from the classifier alone needs (default: ``threshold``; the shipped
        #: engine uses the model's confirm point)
        self.label_threshold = threshold if label_threshold is None else label_threshold
        #: the classifier probability that outweighs the context rules' judgment (VETO_OVERRIDE_P by default)
        self.veto_override = VETO_OVERRIDE_P if veto_override is None else veto_override
        self.model_id = model_id
        self.version = f"lexicon-{lexicon.full_version}+{model_id}"

    @classmethod
    def load(cls, lexicon_path: str | Path | None = None, model_path: str | Path | None = None,
             threshold: float | None = None, heard_forms: str | Path | bool = True) -> "RiskEngine":
        """The shipped lexicon and ONNX model unless paths are given; ``threshold`` overrides the any_suicide one;
        ``heard_forms``: the shipped table of how the ASR model hears key words (True), another's path, or none."""
        if lexicon_path or heard_forms is not True:
            lexicon = Lexicon.load(lexicon_path, heard_forms=heard_forms)
        else:
            lexicon = load_lexicon()
        clf = Classifier.load(model_path, threshold=threshold)
        return cls(lexicon, clf.predict, clf.threshold, clf.model_id,
                   label_threshold=threshold if threshold is not None else max(clf.threshold, clf.confirm_threshold))

    def analyze(self, seg: FinalSegment, context: Sequence[FinalSegment] = (),
                risk_context: bool = False, acts_context: bool = False,
                reading: "JoinedReading | None | bool" = True) -> SegmentRisk:
        """Labels, keywords (char spans mapped linearly onto the segment's times) and score of one segment.

        A caller's words the recognizer cut into pieces are read whole too (:func:`joined_reading`: "我……" | "把药……"
        | "全吃了。", "我不想……活了。"): what that reading finds in this segment's words and the segment's own reading
        lacks is added, carried by the part of the words in this segment; short pieces right before are the head of
        its clause and judge its words (:meth:`_rejudge`). ``reading``: the joined reading if the caller has it
        already (True: make it here). See :meth:`_read` for the other arguments."""
        risk = self._read(seg, context, risk_context, acts_context)
        if reading is True:
            reading = joined_reading(seg, context)
        if reading:
            self._add_joined(risk, seg, reading, context, risk_context, acts_context)
        return risk

    def _add_joined(self, risk: SegmentRisk, seg: FinalSegment, reading: "JoinedReading",
                    context: Sequence[FinalSegment], risk_context: bool, acts_context: bool) -> None:
        """Add to ``risk`` the worded labels the joined reading finds in ``seg``'s own characters where its own
        reading found none. The classifier is not asked again (it read the segment already; its labels carry no
        words)."""
        head = joined_reading(seg, context, max_piece_chars=HEAD_PIECE_CHARS) if reading.fragments else None
        if (head is None or not head.fragments) and reading.fragments and (
                REPORTED.search(context[-1].text.strip()) or self._ends_on_someone(context[-1].text)):
            # a piece that ends on a verb of saying, however long, heads what follows: "我朋友最近老说" | "不想活了"
            # is the friend's words; so does one that ends on who it is about: "电影里的那个女孩" | "吞了安眠药"
            head = joined_reading(seg, list(context)[-1:])
        if head is not None and head.fragments:
            self._rejudge(risk, seg, head, risk_context, acts_context)
        earlier = list(context)[:len(context) - reading.fragments]  # what came before the first piece
        whole = FinalSegment(seg.call_id, seg.segment_id, seg.speaker, reading.start, seg.end, reading.text)
        joined = self._read(whole, earlier, risk_context, acts_context, classify=False)
        have = {k.label for k in risk.keywords}
        spans = [(k.char_start, k.char_end) for k in risk.keywords]
        trigger = next((k for k in risk.keywords if k.label in SUICIDE_LABELS), None)
        before: set[str] | None = None  # what the pieces before say on their own
        for k in joined.keywords:
            own = reading.own_span(k.char_start, k.char_end)
            if own is None and k.label in SUICIDE_LABELS and trigger is not None and k.label not in have:
                if before is None:
                    alone = FinalSegment(seg.call_id, seg.segment_id, seg.speaker, reading.start, seg.start,
                                         reading.before)
                    before = {x.label for x in self._read(alone, earlier, risk_context, acts_context,
                                                          classify=False).keywords}
                if k.label not in before:
                    # what the pieces before say only in the light of this segment's words: a dated decision is a
                    # plan ("我已经" | "想好了" | "这周六" | "一了百了"), an everyday act is the act ("我已经" | "把煤气"
                    # | "打开了" | "不想活了"); carried by those words
                    have.add(k.label)
                    risk.labels.append(k.label)
                    risk.keywords.append(self._hit(seg, trigger.text, k.label, trigger.char_start, trigger.char_end))
                continue
            if own is None or k.label in have:
                continue  # all of it in earlier pieces (read there), or this segment's words already carry it
            a, b = own
            if any(x < b and a < y for x, y in spans):
                continue  # words the segment's own reading already judged ("存折…转到他那里了" after "给我老婆写的信")
            have.add(k.label)
            if k.label not in risk.labels:
                risk.labels.append(k.label)
            risk.keywords.append(self._hit(seg, seg.text[a:b], k.label, a, b))
            if k.label in SUICIDE_LABELS:
                risk.score = round(max(risk.score, LEXICON_SCORE), 4)

    def _rejudge(self, risk: SegmentRisk, seg: FinalSegment, head: "JoinedReading", risk_context: bool,
                 acts_context: bool) -> None:
        """The pieces right before ``seg`` are short enough to be the head of its clause (each HEAD_PIECE_CHARS at
        most: a subject, a connective, a wish, a time: "我同学" | "割腕了", "如果" | "我把药全吃了", "我想" | "把药全吃了",
        "我不会" | "把药全吃了的", "我朋友" | "昨天" | "把药全吃了"): the words of risk in ``seg`` are judged as the
        whole clause judges them. A keyword whose words
        the clause reads otherwise is replaced by that reading (someone else's act: exploration; a wish: ideation or
        a plan) or dropped (negated); keywords the lexicon did not match (a yes, a decision) stay as they are."""
        acts = acts_context or any(k.label in INTENT_LABELS for k in risk.keywords)
        lex = self.lexicon.view(heard=risk_context, acts=acts)
        # the clause's judgements of matches that reach into this segment, on its own characters
        judged = [(*own, j.label) for j in judge(lex, head.text, lex.find(head.text))
                  if (own := head.own_span(j.match.char_start, j.match.char_end)) is not None]
        removed: list[str] = []
        for k in list(risk.keywords):
            over = [(a, b, lb) for a, b, lb in judged if a < k.char_end and k.char_start < b]
            if (k.label not in SUICIDE_LABELS and k.label != "suicide_exploration") or not over \
                    or any(lb == k.label for _, _, lb in over):
                continue
            risk.keywords.remove(k)
            removed.append(k.label)
            for a, b, lb in over:
                if lb is not None and not any(x.label == lb and x.char_start == a for x in risk.keywords):
                    risk.keywords.append(self._hit(seg, seg.text[a:b], lb, a, b))
        worded = [k.label for k in risk.keywords]
        # only the labels whose words were read otherwise go (a classifier-only label stays as it was)
        risk.labels = [lb for lb in risk.labels if lb in worded or lb not in removed]
        risk.labels += [lb for lb in dict.fromkeys(worded) if lb not in risk.labels]
        if removed and not any(lb in SUICIDE_LABELS for lb in worded):
            risk.score = min(risk.score, VETOED_SCORE)  # the words were judged, as a rule's veto scores them

    def _read(self, seg: FinalSegment, context: Sequence[FinalSegment] = (), risk_context: bool = False,
              acts_context: bool = False, classify: bool = True) -> SegmentRisk:
        """Labels, keywords and score of ``seg``'s text as it stands (``classify``: ask the classifier too).

        ``context``: earlier segments of the same call, both speakers, most recent last. Counselor speech gets no
        labels of its own; it is context for the caller's answers. ``risk_context``: the call is already about risk
        (a label in the caller's words, or the counselor naming suicide or self-harm), so the recognizer's short
        spellings of key words count too (:meth:`Lexicon.in_risk_context`). ``acts_context``: the caller has voiced
        suicidal intent in words (``INTENT_LABELS``) earlier in the call, so everyday words that are acts from such a
        caller count too (the lexicon's ``context_only`` entries: "炭我买好了", "鞋脱了").
        """
        risk = SegmentRisk(segment_id=seg.segment_id, engine_version=self.version)
        if seg.speaker == "counselor" or not seg.text.strip():
            return risk
        lex = self.lexicon.view(heard=risk_context, acts=acts_context)
        mixed = seg.speaker == "mixed"
        judged = judge(lex, seg.text, lex.find(seg.text), mixed=mixed)
        if not acts_context and any(j.label in INTENT_LABELS for j in judged):
            # the segment's own words voice suicidal intent: its everyday words count as acts too ("我不想活了，
            # 我都吃下去了"), as they would in any later segment
            lex = self.lexicon.view(heard=True, acts=True)
            judged = judge(lex, seg.text, lex.find(seg.text), mixed=mixed)
        labels: list[str] = []
        for j in judged:
            if j.label is None:
                continue
            if j.label not in labels:
                labels.append(j.label)
            risk.keywords.append(self._hit(seg, j.match.text, j.label, j.match.char_start, j.match.char_end))
        for found in (answered_question(lex, seg, context), referred_ideation(lex, seg, context),
                      answered_attempt_question(lex, seg, context), answered_method(lex, seg, context)):
            if found is None:
                continue
            label, (a, b) = found
            if label not in labels:
                labels.append(label)
            risk.keywords.append(self._hit(seg, seg.text[a:b], label, a, b))
        for label, (a, b) in revealed_self(lex, seg, context):
            # "其实没有朋友，就是我": what the caller told of "a friend" is the caller's own
            if label not in labels:
                labels.append(label)
            risk.keywords.append(self._hit(seg, seg.text[a:b], label, a, b))
        # the classifier has no say where the words were already judged (a negated or third-party phrase, a denial
        # of the counselor's question) or where there are too few of them
        suicidal_words = any(lb in SUICIDE_LABELS for lb in labels)
        # a question put to the listener (one-channel speech: the counselor's) is not the speaker's state, however
        # sure the classifier is about its words
        denied = denied_question(lex, seg, context) or any(j.rule == "question" for j in judged)
        vetoed = (any(j.rule != "kept" for j in judged) or denied) and not suicidal_words
        p_any = 0.0
        if classify and self._predict is not None and content_chars(seg.text) >= MIN_CLASSIFIER_CHARS:
            probs = self._predict([seg.text])[0]
            p_any = probs["any_suicide"]
            if vetoed and not denied and p_any >= self.veto_override:
                # the classifier, very sure, outweighs a rule's reading: "要是没有家人我就自杀了" is no hypothetical,
                # "如果我之后又想自杀了怎么办" no question about someone else
                vetoed = False
            if not vetoed:
                worded = list(labels)
                labels.extend(self._classifier_labels(probs, labels))
                # a classifier label does not stand in for the spoken decision: the words are what the level counts
                decided = self._decided(seg, probs, worded)
                if decided is not None:
                    if "active_ideation" not in labels:
                        labels.append("active_ideation")
                    risk.keywords.append(decided)
        dated = self._dated_plan(lex, seg, context, risk_context, risk.keywords, labels)
        if dated is not None:
            labels.append("suicide_plan")
            risk.keywords.append(dated)
        worded_suicide = any(k.label in SUICIDE_LABELS for k in risk.keywords)
        risk.labels = labels
        # the classifier's own probability where it alone speaks; words count as LEXICON_SCORE at least
        score = max(p_any, LEXICON_SCORE) if worded_suicide else (min(p_any, VETOED_SCORE) if vetoed else p_any)
        risk.score = round(score, 4)
        return risk

    def _ends_on_someone(self, text: str) -> bool:
        """A piece that ends on someone else as the subject of what follows ("电影里的那个女孩", "我们班有个男生"): a
        third-party word at its very end, not the object of a verb or preposition right before it ("我跟我妈"), in a
        piece where the caller is no subject."""
        lex = self.lexicon
        text = normalize(text).rstrip("，,、…. ")
        last = None
        for m in lex.cue_re("third_party").finditer(text):
            last = m
        if last is None or last.end() != len(text) or (
                last.start() > 0 and text[last.start() - 1] in lex.cues["third_party_not_subject_before"]):
            return False
        # the caller as the subject anywhere in the piece makes the person at its end an object: "我再也不想见到他",
        # "我昨天写了封信给我女儿", "我就像电影里的那个女孩" (我们, 我妈, 我同学 are no such subject)
        return not speaker_mentions(lex, text, plural=False)

    def _decided(self, seg: FinalSegment, probs: dict[str, float], have: list[str]) -> KeywordHit | None:
        """"我已经决定了" where the classifier suspects suicidal content (its recall point): the words give the intent
        the classifier cannot, so the segment is active ideation carried by those words. ASR that garbles the method
        ("攒了四十多片" heard as "散了40多天") leaves the decision audible."""
        if probs["any_suicide"] < self.threshold or any(lb in SUICIDE_LABELS for lb in have):
            return None
        m = self.lexicon.cue_re("plan_intent").search(seg.text)
        if m is None or self.lexicon.cue_re("safety_action").search(seg.text):
            return None
        # the decision's own clause and its neighbours name something else decided: "我想结束这段婚姻，我已经决定
        # 了", "我决定了，下个月就辞职" (not a cause told before: "分手以后我想了很久，我已经决定了，这周六")
        text = normalize(seg.text)
        bounds = clause_bounds(text, self.lexicon.cues["clause_breaks"]) or [(0, len(text))]
        k = next((i for i, (a, b) in enumerate(bounds) if a <= m.start() < b), 0)
        window = text[bounds[max(0, k - 1)][0]:bounds[min(len(bounds) - 1, k + 1)][1]]
        if self.lexicon.cue_re("decision_not_death").search(window):
            return None
        return self._hit(seg, m.group(0), "active_ideation", m.start(), m.end())

    def _dated_plan(self, lex: Lexicon, seg: FinalSegment, context: Sequence[FinalSegment], risk_context: bool,
                    keywords: Sequence[KeywordHit], labels: Sequence[str]) -> KeywordHit | None:
        """A decision to die with a near date is a plan to act within 72 h (Beijing 高), with no method named:
        "……是。我想好了，这周六，就是后天" answering "您是不是在打算结束自己的生命？". The caller's own suicidal words
        (a keyword: a yes to the counselor's question, "想死", a decision the classifier put in that topic) must be
        in this segment, with a near time (今晚, 后天, 这周六) and a decision (想好了, 决定了) in it or, once the call is
        about risk, in the caller's last segment before it ("我已经想好了" | "后天礼拜五……一了百了"). In one segment
        the time must follow the decision closely (DECISION_TO_TIME_CHARS): "想死……明天还得上班，我决定了辞职" is no
        plan. A decision for help ("我决定了，明天去看医生", "周六不做了") is none. The keyword: the decision and its
        time, or the time alone."""
        if "suicide_plan" in labels or not any(k.label in SUICIDE_LABELS for k in keywords):
            return None
        confirmed = confirms_dated_plan(lex, seg, context)
        if confirmed is not None:
            # "嗯。" to "你是说你打算这周六去跳楼，是吗？": the caller's assent to the plan and its time
            a, b = confirmed
            return self._hit(seg, seg.text[a:b], "suicide_plan", a, b)
        text = lex.corrected(seg.text)
        times = list(lex.cue_re("time_near").finditer(text))
        if not times or lex.cue_re("safety_action").search(text):
            return None
        decision = lex.cue_re("plan_intent")
        for m in decision.finditer(text):
            for t in times:
                if 0 <= t.start() - m.end() <= DECISION_TO_TIME_CHARS:
                    return self._hit(seg, seg.text[m.start():t.end()], "suicide_plan", m.start(), t.end())
        before = [s for s in context if s.speaker == "caller"][-1:]
        if not (risk_context and before and decision.search(lex.corrected(before[0].text))):
            return None
        t = times[0]
        return self._hit(seg, seg.text[t.start():t.end()], "suicide_plan", t.start(), t.end())

    def _classifier_labels(self, probs: dict[str, float], have: list[str]) -> list[str]:
        add = []
        if probs["any_suicide"] >= self.label_threshold and not any(lb in SUICIDE_LABELS for lb in have):
            add.append(max(("passive_ideation", "active_ideation"), key=lambda lb: probs[lb]))
        for lb in CLASSIFIER_LABELS[2:]:
            if probs[lb] >= OTHER_LABEL_MIN_P and lb not in have:
                add.append(lb)
        return add

    @staticmethod
    def _hit(seg: FinalSegment, text: str, label: str, a: int, b: int) -> KeywordHit:
        n = max(len(seg.text), 1)
        dur = seg.end - seg.start
        return KeywordHit(text=text, label=label, char_start=a, char_end=b,
                          start=round(seg.start + dur * a / n, 3), end=round(seg.start + dur * b / n, 3))


def content_chars(text: str) -> int:
    """Letters and digits in a segment (what the classifier's featurizer keeps)."""
    return sum(ch.isalnum() for ch in text)
