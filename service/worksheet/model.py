"""The worksheet draft records: one :class:`FieldDraft` per field, gathered in a :class:`WorksheetDraft`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.worksheet.schema import WORKSHEET_FIELDS, validate_worksheet


@dataclass(slots=True)
class FieldDraft:
    """A drafted field: its value, how sure the engine is (0–1) and the segment ids that support it.

    The rules engine's confidences are fixed per rule path (cue found, weak cue, default), not calibrated
    probabilities; an empty ``evidence`` means the value is a default (nothing in the call said otherwise).
    """

    value: Any
    confidence: float
    evidence: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"value": self.value, "confidence": round(float(self.confidence), 3), "evidence": list(self.evidence)}


@dataclass(slots=True)
class WorksheetDraft:
    """Every worksheet field, drafted, plus the engine and versions that made the draft.

    ``fallbacks`` maps each field the engine could not draft itself (an LLM answer missing, invalid or below the
    risk engine's level) to why, so that a reviewer knows which values came from the rules engine instead.
    """

    fields: dict[str, FieldDraft]
    engine: str
    version: str
    engine_versions: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """The plain worksheet dict (spec field order); it validates against the annotation schema's worksheet."""
        out = {name: self.fields[name].value for name in WORKSHEET_FIELDS}
        validate_worksheet(out)
        return out

    def to_json(self) -> dict:
        return {
            "engine": self.engine,
            "version": self.version,
            "engine_versions": dict(self.engine_versions),
            "fields": {name: self.fields[name].to_json() for name in WORKSHEET_FIELDS},
            "fallbacks": dict(self.fallbacks),
        }
