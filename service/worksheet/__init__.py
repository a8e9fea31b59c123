"""Worksheet (工单) drafting: the default offline rules engine, the draft records, and worksheet validation."""

from service.worksheet.engines import make_drafter
from service.worksheet.model import FieldDraft, WorksheetDraft
from service.worksheet.rules import RulesDrafter
from service.worksheet.schema import WORKSHEET_FIELDS, validate_correction, validate_worksheet

__all__ = [
    "WORKSHEET_FIELDS",
    "FieldDraft",
    "RulesDrafter",
    "WorksheetDraft",
    "make_drafter",
    "validate_correction",
    "validate_worksheet",
]
