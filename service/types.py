"""Typed records shared by the pipeline stages (ASR → risk → alerts → worksheet).

Everything after ASR consumes :class:`FinalSegment`; risk produces :class:`SegmentRisk`;
the call-level tracker produces :class:`AlertEvent` when a call's level crosses the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Speaker = Literal["caller", "counselor", "mixed"]

RISK_LABELS: tuple[str, ...] = (
    "passive_ideation",
    "active_ideation",
    "suicide_plan",
    "suicide_preparation",
    "suicide_attempt",
    "self_harm_ideation",
    "self_harm_behavior",
    "aggression_to_others",
    "victimization",
    "suicide_exploration",
)
SUICIDE_LABELS: tuple[str, ...] = RISK_LABELS[:5]

RISK_LEVELS: tuple[str, ...] = ("无", "低", "中", "高", "紧急")


def level_rank(level: str) -> int:
    """Position of a risk level in the ordered scale (无=0 … 紧急=4)."""
    return RISK_LEVELS.index(level)


@dataclass(frozen=True, slots=True)
class FinalSegment:
    """One finished utterance, as the live path emits it (and as eval feeds reference segments)."""

    call_id: str
    segment_id: int
    speaker: Speaker
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A risk keyword found in a segment: its characters and their approximate call times."""

    text: str
    label: str
    char_start: int
    char_end: int
    start: float
    end: float


@dataclass(slots=True)
class SegmentRisk:
    """Risk found in one segment: labels, the keyword evidence, a score and the engine that decided it."""

    segment_id: int
    labels: list[str] = field(default_factory=list)
    keywords: list[KeywordHit] = field(default_factory=list)
    score: float = 0.0
    engine_version: str = ""


@dataclass(slots=True)
class AlertEvent:
    """Raised once per call and level when the call's risk level reaches the alert threshold."""

    call_id: str
    risk_level: str
    labels: list[str]
    evidence: list[FinalSegment]
    engine_version: str
    counselor_id: str | None = None
