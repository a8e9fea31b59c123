"""A read-only view of one call for the rules: segments by speaker and the risk engine's labels by segment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from service.types import SUICIDE_LABELS, FinalSegment, SegmentRisk

CALLER_SIDES = ("caller", "mixed")
COUNSELOR_SIDES = ("counselor", "mixed")


@dataclass(slots=True)
class CallView:
    """Segments in time order; ``labels`` maps segment id → risk labels of caller-side segments."""

    segments: list[FinalSegment]
    labels: dict[int, list[str]] = field(default_factory=dict)
    risk_versions: list[str] = field(default_factory=list)
    #: segment id → position in ``segments`` (time order)
    positions: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.positions = {}
        for i, s in enumerate(self.segments):
            self.positions.setdefault(s.segment_id, i)

    @classmethod
    def build(cls, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk]) -> CallView:
        segs = sorted(segments, key=lambda s: (s.start, s.segment_id))
        caller_ids = {s.segment_id for s in segs if s.speaker in CALLER_SIDES}
        labels: dict[int, list[str]] = {}
        versions: list[str] = []
        for r in risks:
            if r.engine_version and r.engine_version not in versions:
                versions.append(r.engine_version)
            if r.segment_id in caller_ids and r.labels:
                labels.setdefault(r.segment_id, []).extend(x for x in r.labels if x not in labels.get(r.segment_id, []))
        return cls(segments=segs, labels=labels, risk_versions=versions)

    @property
    def ids(self) -> set[int]:
        return {s.segment_id for s in self.segments}

    def caller(self) -> list[FinalSegment]:
        return [s for s in self.segments if s.speaker in CALLER_SIDES]

    def counselor(self) -> list[FinalSegment]:
        return [s for s in self.segments if s.speaker in COUNSELOR_SIDES]

    def index_of(self, segment_id: int) -> int:
        return self.positions[segment_id]

    def order(self, segment_id: int) -> int:
        """Sort key: the segment's place in the call (unknown ids last)."""
        return self.positions.get(segment_id, len(self.segments))

    def with_label(self, *names: str) -> list[FinalSegment]:
        """Caller-side segments carrying any of the given labels, in time order."""
        return [s for s in self.caller() if any(x in names for x in self.labels.get(s.segment_id, []))]

    def has_label(self, *names: str) -> bool:
        return bool(self.with_label(*names))

    def own_suicide_segments(self) -> list[FinalSegment]:
        return self.with_label(*SUICIDE_LABELS)
