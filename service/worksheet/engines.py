"""The worksheet engine the service runs, chosen by settings: the offline rules engine unless the LLM is configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from service.settings import WorksheetSettings
from service.types import FinalSegment, SegmentRisk
from service.worksheet.llm import LLMBackend, LLMDrafter, OpenAIBackend, TransformersBackend
from service.worksheet.model import WorksheetDraft
from service.worksheet.rules import RulesDrafter


class Drafter(Protocol):
    """What the service needs of an engine: one draft per finished call, and the versions it records."""

    engine: str
    version: str

    def draft(self, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk],
              call_level: str) -> WorksheetDraft: ...


def make_drafter(settings: WorksheetSettings) -> Drafter:
    """Build the configured engine once (a transformers model loads here); raise on a configuration that cannot work.

    The rules engine is built in every case: the LLM engine falls back to it field by field.
    """
    rules = RulesDrafter()
    if settings.engine == "rules":
        return rules
    if not settings.llm_model:
        raise ValueError("SCRIBE_WORKSHEET__LLM_MODEL is empty: the llm engine needs a model name (openai backend) "
                         "or a local model directory (transformers backend)")
    backend: LLMBackend
    if settings.llm_backend == "openai":
        backend = OpenAIBackend(settings.llm_url, settings.llm_model, settings.llm_api_key.get_secret_value(),
                                settings.llm_timeout_s, max_tokens=settings.llm_max_new_tokens)
    else:
        backend = TransformersBackend(settings.llm_model, settings.llm_max_new_tokens)
    return LLMDrafter(backend, settings.prompt, fallback=rules, max_prompt_chars=settings.llm_prompt_max_chars)
