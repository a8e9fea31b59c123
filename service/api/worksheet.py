"""A call's worksheet: read the draft, correct fields, finalize, and every version with who, when and what."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from service.alerts.hub import iso_time
from service.auth import Principal
from service.deps import ReaderRole, RuntimeDep
from service.store.db import NoWorksheet, WorksheetLocked
from service.worksheet import WORKSHEET_FIELDS, validate_correction

router = APIRouter(prefix="/v1/calls")


class Correction(BaseModel):
    fields: dict[str, Any] = Field(description="field name → corrected value (any subset of the worksheet)")
    reason: str | None = Field(None, max_length=2000)


def worksheet_json(row) -> dict:
    return {
        "call_id": row.call_id, "status": row.status, "version": row.version, "engine": row.engine,
        "engine_versions": row.engine_versions,
        "fields": {name: row.fields[name] for name in WORKSHEET_FIELDS if name in row.fields},
        "fallbacks": row.draft.get("fallbacks", {}),
        "created_at": iso_time(row.created_at), "updated_at": iso_time(row.updated_at), "updated_by": row.updated_by,
        "finalized_at": iso_time(row.finalized_at), "finalized_by": row.finalized_by,
    }


async def _call_or_404(runtime, call_id: str, who: Principal):
    """The call, or 404: also for a call a counselor's named token may not read (another counselor's)."""
    call = await asyncio.to_thread(runtime.pipeline.store.get_call, call_id)
    if call is None or not who.may_read(call.counselor_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
    return call


@router.get("/{call_id}/worksheet")
async def get_worksheet(call_id: str, runtime: RuntimeDep, who: ReaderRole) -> dict:
    await _call_or_404(runtime, call_id, who)
    row = await asyncio.to_thread(runtime.pipeline.store.get_worksheet, call_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"call {call_id} has no worksheet yet (POST /v1/calls/{call_id}/worksheet/draft)")
    return worksheet_json(row)


@router.post("/{call_id}/worksheet/draft")
async def draft_worksheet(call_id: str, runtime: RuntimeDep, who: ReaderRole) -> dict:
    """Draft now from the transcript so far (during a call, or again after it); corrected fields are kept."""
    await _call_or_404(runtime, call_id, who)
    return await _change(call_id, runtime.drafting.on_request(call_id, who.name))


@router.patch("/{call_id}/worksheet")
async def correct_worksheet(call_id: str, body: Correction, runtime: RuntimeDep, who: ReaderRole) -> dict:
    await _call_or_404(runtime, call_id, who)
    problems = _field_problems(body.fields)
    if problems:  # nothing is saved unless every field is valid
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    values = validate_correction(body.fields)
    store = runtime.pipeline.store
    return await _change(call_id, asyncio.to_thread(store.correct_worksheet, call_id, values, who.name, body.reason))


@router.post("/{call_id}/worksheet/finalize")
async def finalize_worksheet(call_id: str, runtime: RuntimeDep, who: ReaderRole) -> dict:
    await _call_or_404(runtime, call_id, who)
    return await _change(call_id, asyncio.to_thread(runtime.pipeline.store.finalize_worksheet, call_id, who.name))


@router.get("/{call_id}/worksheet/history")
async def worksheet_history(call_id: str, runtime: RuntimeDep, who: ReaderRole) -> dict:
    await _call_or_404(runtime, call_id, who)
    rows = await asyncio.to_thread(runtime.pipeline.store.worksheet_history, call_id)
    return {"call_id": call_id, "versions": [
        {"version": r.version, "kind": r.kind, "by": r.by, "at": iso_time(r.at), "changes": r.changes,
         "reason": r.reason, "values": r.values} for r in rows]}


async def _change(call_id: str, change: Awaitable) -> dict:
    """Await a change of the worksheet; a missing worksheet is 404, a finalized one 409."""
    try:
        return worksheet_json(await change)
    except NoWorksheet:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"call {call_id} has no worksheet yet") from None
    except WorksheetLocked:
        raise HTTPException(status.HTTP_409_CONFLICT, "the worksheet is finalized") from None


def _field_problems(fields: dict[str, Any]) -> list[dict]:
    if not fields:
        return [{"field": None, "message": "the correction names no field"}]
    out = []
    for name, value in fields.items():
        try:
            validate_correction({name: value})
        except ValueError as e:
            out.append({"field": name, "message": str(e).removeprefix("invalid correction: ")})
    return out
