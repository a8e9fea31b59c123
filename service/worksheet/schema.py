"""Validation of worksheets and counselor corrections against the annotation format's worksheet schema.

The schema is ``data/worksheet.schema.json``, a copy of ``$defs.worksheet`` in spec/annotation-format.schema.json.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = "worksheet.schema.json"


@lru_cache(maxsize=1)
def worksheet_schema() -> dict:
    """The worksheet JSON Schema (draft 2020-12), loaded once."""
    text = resources.files("service.worksheet").joinpath("data", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


WORKSHEET_FIELDS: tuple[str, ...] = tuple(worksheet_schema()["required"])


@lru_cache(maxsize=None)
def _field_validator(name: str) -> Draft202012Validator:
    schema = worksheet_schema()
    sub = dict(schema["properties"][name])
    sub["$defs"] = schema.get("$defs", {})
    return Draft202012Validator(sub)


def _field_errors(name: str, value: Any) -> list[str]:
    return [f"{name}: {e.message}" for e in _field_validator(name).iter_errors(value)]


def validate_worksheet(values: dict) -> None:
    """Raise ``ValueError`` naming every missing, unknown or invalid field (enum, type, range); None when valid."""
    if not isinstance(values, dict):
        raise ValueError(f"worksheet must be an object, not {type(values).__name__}")
    errors = [f"{name}: missing" for name in WORKSHEET_FIELDS if name not in values]
    errors += [f"{name}: unknown field" for name in values if name not in WORKSHEET_FIELDS]
    for name in WORKSHEET_FIELDS:
        if name in values:
            errors += _field_errors(name, values[name])
    if errors:
        raise ValueError("invalid worksheet: " + "; ".join(errors))


def validate_correction(partial: dict) -> dict:
    """Validate a correction (a PATCH body): a non-empty subset of the fields, each valid on its own.

    Returns a copy of the correction in spec field order; raises ``ValueError`` naming each bad or unknown field.
    """
    if not isinstance(partial, dict):
        raise ValueError(f"correction must be an object, not {type(partial).__name__}")
    if not partial:
        raise ValueError("correction names no field")
    errors = [f"{name}: unknown field" for name in partial if name not in WORKSHEET_FIELDS]
    for name in WORKSHEET_FIELDS:
        if name in partial:
            errors += _field_errors(name, partial[name])
    if errors:
        raise ValueError("invalid correction: " + "; ".join(errors))
    return {name: partial[name] for name in WORKSHEET_FIELDS if name in partial}
