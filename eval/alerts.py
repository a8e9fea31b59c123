"""Alert latency for ``calls --audio``: when the reference first justifies each risk level, and how long after
that each alert the service raised arrived.

The reference trajectory is the service's own call-level rules (:class:`service.risk.CallRiskState`) run over the
reference segments with their reference labels, so that "justifies 高" means the same thing for the reference as for
the service. Reference labels are by the annotation rules said in the caller's own words, so each one is given to
the state as a keyword hit of that label (what the rules need to count a near time such as 今晚 towards 高).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eval.data import RISK_LEVELS, AnnotatedCall
from eval.scoring import alert_latency

SPEED0_NOTE = ("alert latency is not measured at --speed 0: audio is fed as fast as the recognizer allows, so the "
               "wall time between a segment's end and an alert means nothing")


def reference_justified_at(call: AnnotatedCall) -> dict[str, float]:
    """Level → call time (s) at which the reference trajectory first reaches it: the end of that segment. Levels
    it never reaches are absent; a jump (无 → 高) justifies every level on the way at once."""
    from service.risk import CallRiskState
    from service.types import FinalSegment, KeywordHit, SegmentRisk, level_rank

    state = CallRiskState(call.call_id, None, "reference")
    out: dict[str, float] = {}
    for s in call.segments:
        seg = FinalSegment(call.call_id, s.id, s.speaker, s.start, s.end, s.text)
        hits = [KeywordHit("", label, 0, 0, s.start, s.end) for label in s.risk]
        state.update(seg, SegmentRisk(s.id, list(s.risk), hits, 1.0 if s.risk else 0.0, "reference"))
        for level in RISK_LEVELS[1:level_rank(state.level) + 1]:
            out.setdefault(level, s.end)
    return out


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """One alert of one streamed call: its level, when it arrived, seconds after the stream started (wall), and
    the end (call time, s) of the service's own segment that raised it (the last of its evidence)."""

    level: str
    arrived_s: float | None
    trigger_end_s: float | None = None


def alert_rows(call: AnnotatedCall, alerts: Sequence[RaisedAlert], speed: float) -> list[dict[str, Any]]:
    """One row per alert: level, arrival (s after stream start), the reference time that justifies it (s of audio,
    or None) and the latency = arrival − justifying segment's end / speed (None at speed 0, when unjustified, or
    when the alert has no arrival time).

    ``pipeline_s`` = arrival − the end of the service's own triggering segment / speed: how long the service took
    once it had heard what raised the alert (final, risk, persist, publish). ``latency_s`` − ``pipeline_s`` is the
    detection delay: the reference's justifying sentence was misheard and a later one carried the risk."""
    justified = reference_justified_at(call)
    rows = []
    for a in alerts:
        times = [t for lvl, t in justified.items() if RISK_LEVELS.index(lvl) >= RISK_LEVELS.index(a.level)]
        ref_end = min(times) if times else None
        latency = None
        if speed and a.arrived_s is not None:
            latency = alert_latency(a.level, a.arrived_s, {lvl: t / speed for lvl, t in justified.items()})
        pipeline = None
        if speed and a.arrived_s is not None and a.trigger_end_s is not None:
            pipeline = a.arrived_s - a.trigger_end_s / speed
        rows.append({"call_id": call.call_id, "level": a.level, "arrived_s": a.arrived_s,
                     "justified_by_end_s": ref_end, "justified": ref_end is not None, "latency_s": latency,
                     "trigger_end_s": a.trigger_end_s, "pipeline_s": pipeline})
    return rows


def alert_summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts over alert rows: ``alerts``, ``alerts_unjustified`` (the reference never reaches the level; no
    latency) and ``alerts_timed`` (those with a latency)."""
    rows = list(rows)
    return {"alerts": len(rows), "alerts_unjustified": sum(not r["justified"] for r in rows),
            "alerts_timed": sum(r["latency_s"] is not None for r in rows)}
