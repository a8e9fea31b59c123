"""Risk engine: per-segment labels, keywords and score; per-call level and alerts.

Two layers that agree or escalate: the lexicon (:mod:`.lexicon`, with the context rules of :mod:`.context`) and
the trained classifier (:mod:`.classifier`). The call level follows the Beijing criteria (:mod:`.level`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from service.risk.classifier import Classifier
from service.risk.context import answered_question, judge
from service.risk.level import CallRiskState, segment_level
from service.risk.lexicon import Lexicon, load_lexicon
from service.types import SUICIDE_LABELS, FinalSegment, KeywordHit, SegmentRisk

__all__ = ["RiskEngine", "CallRiskState", "segment_level"]

#: labels the classifier may add on its own; plan/preparation/attempt have 2–15 training examples, so only the
#: lexicon gives those
CLASSIFIER_LABELS = ("passive_ideation", "active_ideation", "self_harm_behavior", "victimization", "aggression_to_others")
#: probability a non-suicide classifier label needs (these have no recall target; keep them conservative)
OTHER_LABEL_MIN_P = 0.8
#: score of a segment whose suicide label came from the lexicon or a question/answer
LEXICON_SCORE = 0.9

Predict = Callable[[list[str]], list[dict[str, float]]]


class RiskEngine:
    """Loaded once, shared by all calls; :meth:`analyze` keeps no per-call state."""

    def __init__(self, lexicon: Lexicon, predict: Predict | None, threshold: float, model_id: str) -> None:
        self.lexicon = lexicon
        self._predict = predict
        self.threshold = threshold
        self.model_id = model_id
        self.version = f"lexicon-{lexicon.version}+{model_id}"

    @classmethod
    def load(cls, lexicon_path: str | Path | None = None, model_path: str | Path | None = None,
             threshold: float | None = None) -> "RiskEngine":
        """The shipped lexicon and ONNX model unless paths are given; ``threshold`` overrides the any_suicide one."""
        lexicon = Lexicon.load(lexicon_path) if lexicon_path else load_lexicon()
        clf = Classifier.load(model_path, threshold=threshold)
        return cls(lexicon, clf.predict, clf.threshold, clf.model_id)

    def analyze(self, seg: FinalSegment, context: Sequence[FinalSegment] = ()) -> SegmentRisk:
        """Labels, keywords (char spans mapped linearly onto the segment's times) and score of one segment.

        ``context``: earlier segments of the same call, both speakers, most recent last. Counselor speech gets no
        labels of its own; it is context for the caller's answers.
        """
        risk = SegmentRisk(segment_id=seg.segment_id, engine_version=self.version)
        if seg.speaker == "counselor" or not seg.text.strip():
            return risk
        lex = self.lexicon
        judged = judge(lex, seg.text, lex.find(seg.text))
        labels: list[str] = []
        for j in judged:
            if j.label is None:
                continue
            if j.label not in labels:
                labels.append(j.label)
            risk.keywords.append(self._hit(seg, j.match.text, j.label, j.match.char_start, j.match.char_end))
        qa = answered_question(lex, seg, context)
        if qa is not None:
            label, (a, b) = qa
            if label not in labels:
                labels.append(label)
            risk.keywords.append(self._hit(seg, seg.text[a:b], label, a, b))
        vetoed = any(j.rule != "kept" for j in judged) and not any(lb in SUICIDE_LABELS for lb in labels)
        p_any = 0.0
        if self._predict is not None:
            probs = self._predict([seg.text])[0]
            p_any = probs["any_suicide"]
            if not vetoed:
                labels.extend(self._classifier_labels(probs, labels))
        has_suicide = any(lb in SUICIDE_LABELS for lb in labels)
        risk.labels = labels
        risk.score = round(max(p_any, LEXICON_SCORE) if has_suicide else (min(p_any, 0.1) if vetoed else p_any), 4)
        return risk

    def _classifier_labels(self, probs: dict[str, float], have: list[str]) -> list[str]:
        add = []
        if probs["any_suicide"] >= self.threshold and not any(lb in SUICIDE_LABELS for lb in have):
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
