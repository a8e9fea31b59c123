"""Counts → metrics. Pure functions: no I/O, no models. Each metric is derived from counts taken once.

ASR
    CER = (S + D + I) / N over the whole corpus, S/D/I/N summed over all (reference, hypothesis) pairs after
    :func:`eval.normalize.normalize_zh` on both sides (character Levenshtein alignment by jiwer). ``None`` when N = 0.

Risk, per segment (one label at a time, and ``any_suicide`` as if it were one more label carried by every segment
that has at least one of :data:`eval.data.SUICIDE_LABELS`; ``micro`` pools the counts of the ten labels)
    Two spans *overlap* when ``max(starts) < min(ends)``; if either span has zero length, ``max(starts) <= min(ends)``.
    Matching stays within one call. For label L:
    - a *detection* is a hypothesis segment carrying L; it is correct when it overlaps at least one reference segment
      carrying L; precision = correct detections / detections;
    - the *support* is the reference segments carrying L; one is found when at least one detection of L overlaps it;
      recall = found / support;
    - F1 = 2PR / (P + R) (0 when P + R = 0).
    When the hypothesis segments are the reference segments (text-only runs, utterances) this is ordinary
    per-segment classification. P is ``None`` when there are no detections, R when the support is 0; F1 is ``None``
    only when both are, else 0 if either is ``None``.

Risk, per call: see :func:`score_calls`. Worksheet: see :func:`score_worksheets` and :data:`FIELD_KINDS`.
Latency: see :func:`latency_summary`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import AbstractSet, Any, Protocol

import numpy as np

from eval.data import RISK_LABELS, RISK_LEVELS, SUICIDE_LABELS
from eval.normalize import NORMALISER_NAME, normalize_zh

HIGH_LEVELS = ("高", "紧急")
NONRISK_LEVELS = ("无", "低")
ANY_SUICIDE = "any_suicide"


# ---------------------------------------------------------------------------------------------------------- ASR


@dataclass(frozen=True, slots=True)
class EditCounts:
    """Character edit counts of an alignment: N = hits + substitutions + deletions."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def ref_chars(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(self.hits + other.hits, self.substitutions + other.substitutions,
                          self.deletions + other.deletions, self.insertions + other.insertions)


def char_edit_counts(pairs: Iterable[tuple[str, str]], *, normalise: bool = True) -> EditCounts:
    """Summed character S/D/I/hits over (reference, hypothesis) pairs, each side normalised by ``normalize_zh``."""
    import jiwer

    refs, hyps = [], []
    for ref, hyp in pairs:
        ref, hyp = (normalize_zh(ref), normalize_zh(hyp)) if normalise else (ref, hyp)
        if ref or hyp:
            refs.append(ref)
            hyps.append(hyp)
    if not refs:
        return EditCounts()
    out = jiwer.process_characters(refs, hyps)
    return EditCounts(out.hits, out.substitutions, out.deletions, out.insertions)


def score_asr(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Corpus-level CER = (S + D + I) / N over all pairs (see the module docstring), with the counts behind it."""
    pairs = list(pairs)
    c = char_edit_counts(pairs)
    return {
        "cer": c.errors / c.ref_chars if c.ref_chars else None,
        "ref_chars": c.ref_chars,
        "hits": c.hits, "substitutions": c.substitutions, "deletions": c.deletions, "insertions": c.insertions,
        "pairs": len(pairs),
        "normaliser": NORMALISER_NAME,
    }


def transcript_pairs(ref_segments: Sequence, hyp_segments: Sequence) -> list[tuple[str, str]]:
    """(reference, hypothesis) texts of one call for CER, each side joined in start-time order.

    When every hypothesis segment names ``caller`` or ``counselor`` (stereo), one pair per speaker; otherwise
    (mono, ``mixed``) one pair for the whole call. Segments need ``start``, ``text`` and ``speaker``.
    """
    def joined(segs) -> str:
        return "".join(s.text for s in sorted(segs, key=lambda s: s.start))

    speakers = {getattr(s, "speaker", None) for s in hyp_segments}
    if hyp_segments and speakers <= {"caller", "counselor"}:
        return [(joined([s for s in ref_segments if s.speaker == who]),
                 joined([s for s in hyp_segments if s.speaker == who])) for who in ("caller", "counselor")]
    return [(joined(ref_segments), joined(hyp_segments))]


# ------------------------------------------------------------------------------------------------ segment risk


class LabelledSpan(Protocol):
    """Anything with a time span and a set of risk labels (``eval.data.Segment``, :class:`Span`)."""

    start: float
    end: float

    @property
    def labels(self) -> AbstractSet[str]: ...


@dataclass(frozen=True, slots=True)
class Span:
    """A hypothesis (or reference) segment for risk matching: seconds from call start and its labels."""

    start: float
    end: float
    labels: frozenset[str] = frozenset()


def overlaps(a: LabelledSpan, b: LabelledSpan) -> bool:
    """Time overlap as defined in the module docstring (positive length; touching counts for zero-length spans)."""
    lo, hi = max(a.start, b.start), min(a.end, b.end)
    if a.end == a.start or b.end == b.start:
        return lo <= hi
    return lo < hi


@dataclass(slots=True)
class MatchCounts:
    """Counts behind one label's P/R/F1 (see the module docstring)."""

    detections: int = 0
    correct_detections: int = 0
    support: int = 0
    found: int = 0

    def __iadd__(self, other: MatchCounts) -> MatchCounts:
        self.detections += other.detections
        self.correct_detections += other.correct_detections
        self.support += other.support
        self.found += other.found
        return self

    @property
    def precision(self) -> float | None:
        return self.correct_detections / self.detections if self.detections else None

    @property
    def recall(self) -> float | None:
        return self.found / self.support if self.support else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None and r is None:
            return None
        if p is None or r is None or p + r == 0:
            return 0.0
        return 2 * p * r / (p + r)

    def as_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support,
                "detections": self.detections, "correct_detections": self.correct_detections, "found": self.found}


def _has(label: str, span: LabelledSpan) -> bool:
    if label == ANY_SUICIDE:
        return not span.labels.isdisjoint(SUICIDE_LABELS)
    return label in span.labels


def _check_labels(spans: Sequence[LabelledSpan], side: str) -> None:
    for span in spans:
        unknown = set(span.labels) - set(RISK_LABELS)
        if unknown:
            raise ValueError(f"{side} segment has unknown risk labels {sorted(unknown)}")


def count_segment_risk(ref: Sequence[LabelledSpan], hyp: Sequence[LabelledSpan]) -> dict[str, MatchCounts]:
    """Match counts of one call for every label and ``any_suicide``."""
    _check_labels(ref, "reference")
    _check_labels(hyp, "hypothesis")
    out = {}
    for label in (*RISK_LABELS, ANY_SUICIDE):
        r = [s for s in ref if _has(label, s)]
        h = [s for s in hyp if _has(label, s)]
        out[label] = MatchCounts(
            detections=len(h),
            correct_detections=sum(any(overlaps(x, y) for y in r) for x in h),
            support=len(r),
            found=sum(any(overlaps(y, x) for x in h) for y in r),
        )
    return out


def score_segment_risk(ref_calls: Sequence[Sequence[LabelledSpan]],
                       hyp_calls: Sequence[Sequence[LabelledSpan]]) -> dict[str, Any]:
    """Per-label and pooled segment risk P/R/F1 over calls; ``ref_calls[i]`` and ``hyp_calls[i]`` are one call's
    segments. For utterances pass one single-segment "call" per utterance (any equal span, e.g. 0–1 s)."""
    if len(ref_calls) != len(hyp_calls):
        raise ValueError(f"{len(ref_calls)} reference calls but {len(hyp_calls)} hypothesis calls")
    totals = {label: MatchCounts() for label in (*RISK_LABELS, ANY_SUICIDE)}
    for ref, hyp in zip(ref_calls, hyp_calls):
        for label, counts in count_segment_risk(ref, hyp).items():
            totals[label] += counts
    micro = MatchCounts()
    for label in RISK_LABELS:
        micro += totals[label]
    return {
        "any_suicide": totals[ANY_SUICIDE].as_dict(),
        "labels": {label: totals[label].as_dict() for label in RISK_LABELS},
        "micro": micro.as_dict(),
        "matching": "time-overlap/1",
    }


# -------------------------------------------------------------------------------------------------- call level


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one call produced: the reference level, the highest level the service reached, alerts it raised."""

    call_id: str
    ref_level: str
    hyp_level: str
    alerts: int = 0


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score_calls(outcomes: Sequence[CallOutcome]) -> dict[str, Any]:
    """Call-level risk metrics.

    - ``level_accuracy`` = calls with hyp_level == ref_level / calls;
    - ``high_recall`` = calls with ref in {高, 紧急} whose hyp_level is 高 or above / calls with ref in {高, 紧急};
    - ``false_alerts_per_nonrisk_call`` = alerts summed over calls with ref in {无, 低} / number of such calls;
    - extras: ``high_precision`` (calls with hyp ≥ 高 whose ref ≥ 高 / calls with hyp ≥ 高), ``level_within_one``
      (|rank difference| ≤ 1), ``confusion`` (rows = reference, columns = hypothesis, in ``levels`` order), ``rows``.
    Ratios with an empty denominator are ``None``.
    """
    rank = {level: i for i, level in enumerate(RISK_LEVELS)}
    for o in outcomes:
        for level in (o.ref_level, o.hyp_level):
            if level not in rank:
                raise ValueError(f"call {o.call_id}: unknown risk level {level!r}")
    high = rank["高"]
    matrix = [[0] * len(RISK_LEVELS) for _ in RISK_LEVELS]
    for o in outcomes:
        matrix[rank[o.ref_level]][rank[o.hyp_level]] += 1
    ref_high = [o for o in outcomes if o.ref_level in HIGH_LEVELS]
    hyp_high = [o for o in outcomes if rank[o.hyp_level] >= high]
    nonrisk = [o for o in outcomes if o.ref_level in NONRISK_LEVELS]
    return {
        "level_accuracy": _ratio(sum(o.ref_level == o.hyp_level for o in outcomes), len(outcomes)),
        "high_recall": _ratio(sum(rank[o.hyp_level] >= high for o in ref_high), len(ref_high)),
        "false_alerts_per_nonrisk_call": _ratio(sum(o.alerts for o in nonrisk), len(nonrisk)),
        "high_precision": _ratio(sum(o.ref_level in HIGH_LEVELS for o in hyp_high), len(hyp_high)),
        "level_within_one": _ratio(sum(abs(rank[o.ref_level] - rank[o.hyp_level]) <= 1 for o in outcomes),
                                   len(outcomes)),
        "calls": len(outcomes), "high_calls": len(ref_high), "nonrisk_calls": len(nonrisk),
        "confusion": {"levels": list(RISK_LEVELS), "matrix": matrix},
        "rows": [{"call_id": o.call_id, "ref_level": o.ref_level, "hyp_level": o.hyp_level, "alerts": o.alerts}
                 for o in outcomes],
    }


# --------------------------------------------------------------------------------------------------- worksheet

FIELD_KINDS: dict[str, str] = {
    "caller_gender": "exact", "caller_age_group": "exact", "call_type": "exact", "risk_level": "exact",
    "suicidal_ideation": "exact", "prior_attempt": "exact",
    "suicide_plan": "exact", "self_harm": "exact", "police_linkage": "exact", "follow_up": "exact",
    "problem_categories": "jaccard", "emotions": "jaccard", "referral": "jaccard",
    "ideation_intensity": "rating", "hopelessness": "rating",
    "suicide_method": "text_either_contains", "location_disclosed": "text_ref_in_hyp",
    "protective_factors": "soft_jaccard",
    "summary": "unscored",
}
"""How each worksheet field is scored, per call, in [0, 1]:

- ``exact`` (enums, bools): 1 if equal.
- ``jaccard`` (sets of enums): |R ∩ H| / |R ∪ H|; 1 when both are empty.
- ``rating`` (0–10 or null): both null → 1; one null → 0; else 1 if |R − H| ≤ 1.
- ``text_either_contains`` (``suicide_method``): both null → 1; one null → 0; else, after ``normalize_zh``, 1 if
  either string contains the other ("上吊" matches "在家用绳子上吊").
- ``text_ref_in_hyp`` (``location_disclosed``): as above, but the hypothesis must contain all of the reference:
  a less specific place ("阳光小区" for "…阳光小区5号楼2单元301") scores 0, because police need what was said.
- ``soft_jaccard`` (``protective_factors``, free strings): items are normalised and matched one-to-one, greedily,
  when either contains the other; score = matches / (|R| + |H| − matches); 1 when both are empty.
- ``unscored``: ``summary``.
Empty or whitespace-only strings count as null. A field missing from a hypothesis scores 0 (and is counted).
"""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = normalize_zh(str(value))
    return text or None


def _soft_jaccard(ref: Iterable[str], hyp: Iterable[str]) -> float:
    r = list(dict.fromkeys(t for t in map(_text, ref) if t))
    h = list(dict.fromkeys(t for t in map(_text, hyp) if t))
    if not r and not h:
        return 1.0
    unused = list(h)
    matches = 0
    for item in r:
        partner = next((x for x in unused if x == item), None) or next(
            (x for x in unused if item in x or x in item), None)
        if partner is not None:
            unused.remove(partner)
            matches += 1
    return matches / (len(r) + len(h) - matches)


def field_score(field: str, ref: Any, hyp: Any) -> float | None:
    """Score of one worksheet field of one call, in [0, 1] (``None`` for ``summary``); rules in :data:`FIELD_KINDS`."""
    kind = FIELD_KINDS[field]
    if kind == "unscored":
        return None
    if kind == "exact":
        return float(ref == hyp)
    if kind == "jaccard":
        r, h = set(ref or ()), set(hyp or ())
        return 1.0 if not r and not h else len(r & h) / len(r | h)
    if kind == "soft_jaccard":
        return _soft_jaccard(ref or (), hyp or ())
    if kind == "rating":
        if ref is None or hyp is None:
            return float(ref is None and hyp is None)
        return float(abs(ref - hyp) <= 1)
    r, h = _text(ref), _text(hyp)
    if r is None or h is None:
        return float(r is None and h is None)
    if kind == "text_either_contains":
        return float(r in h or h in r)
    return float(r in h)  # text_ref_in_hyp


def score_worksheets(refs: Sequence[Mapping[str, Any]], hyps: Sequence[Mapping[str, Any]],
                     call_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-field worksheet scores: ``fields[f]`` = mean over calls of :func:`field_score`; ``mean`` = mean of the
    scored fields (macro, every field weighs the same). Extras: ``calls``, ``missing`` (per field, hypotheses
    without it), ``rows`` (per call scores)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} reference worksheets but {len(hyps)} hypotheses")
    call_ids = list(call_ids) if call_ids is not None else [str(i) for i in range(len(refs))]
    scored = [f for f, kind in FIELD_KINDS.items() if kind != "unscored"]
    missing = dict.fromkeys(scored, 0)
    rows = []
    for call_id, ref, hyp in zip(call_ids, refs, hyps):
        row: dict[str, Any] = {"call_id": call_id}
        for f in scored:
            if f not in hyp:
                missing[f] += 1
                row[f] = 0.0
            else:
                row[f] = field_score(f, ref[f], hyp[f])
        rows.append(row)
    fields = {f: (sum(r[f] for r in rows) / len(rows) if rows else None) for f in scored}
    values = [v for v in fields.values() if v is not None]
    return {"fields": fields, "mean": sum(values) / len(values) if values else None,
            "calls": len(rows), "missing": missing, "rows": rows}


# ----------------------------------------------------------------------------------------------------- latency


def latency_summary(values: Iterable[float]) -> dict[str, Any]:
    """n, p50, p95, mean and max of latencies in seconds. Percentiles are numpy's default (linear interpolation
    between closest ranks, like Excel's PERCENTILE.INC). Statistics are ``None`` when there are no values."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    return {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
            "mean": float(v.mean()), "max": float(v.max())}


def alert_latency(level: str, arrived_s: float, justified_at: Mapping[str, float]) -> float | None:
    """Seconds from the end of the first reference segment that justifies ``level`` to the alert's arrival.

    ``justified_at[L]`` is the call time (s) at which the reference first justifies level L, i.e. the end of that
    segment; a level is justified by that segment or by any higher level's. ``None`` when the reference never
    justifies the level (a false alert: it has no latency; it is counted by ``false_alerts_per_nonrisk_call``).
    Both times are on the call's own clock (seconds of audio from call start, divide by ``--speed`` yourself).
    """
    rank = RISK_LEVELS.index(level)
    times = [t for lvl, t in justified_at.items() if RISK_LEVELS.index(lvl) >= rank]
    return arrived_s - min(times) if times else None


def latency_block(final_s: Iterable[float], alert_s: Iterable[float]) -> dict[str, Any]:
    """The report's ``latency`` section: contract keys ``final_p50_s``, ``final_p95_s``, ``alert_p95_s`` plus full
    summaries and the raw values (for histograms)."""
    final_s, alert_s = [float(x) for x in final_s], [float(x) for x in alert_s]
    final, alert = latency_summary(final_s), latency_summary(alert_s)
    return {"final_p50_s": final["p50"], "final_p95_s": final["p95"], "alert_p95_s": alert["p95"],
            "final": final, "alert": alert, "final_values_s": final_s, "alert_values_s": alert_s}
