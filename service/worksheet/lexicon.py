"""Loading of the versioned rule data (``data/lexicon.json``) and small text helpers shared by the rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import cn2an

LEXICON_FILE = "lexicon.json"


@dataclass(frozen=True)
class Lexicon:
    """The rule data, with every pattern string already compiled (see :func:`load_lexicon`)."""

    version: str
    data: dict[str, Any]


def _expand(obj: Any, macros: dict[str, str]) -> Any:
    if isinstance(obj, str):
        for name, value in macros.items():
            obj = obj.replace("{" + name + "}", value)
        return obj
    if isinstance(obj, list):
        return [_expand(x, macros) for x in obj]
    if isinstance(obj, dict):
        return {k: _expand(v, macros) for k, v in obj.items()}
    return obj


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The packaged lexicon, macros expanded, loaded once."""
    text = resources.files("service.worksheet").joinpath("data", LEXICON_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)
    data = _expand(raw, raw.get("macros", {}))
    return Lexicon(version=raw["version"], data=data)


@lru_cache(maxsize=4096)
def rx(pattern: str) -> re.Pattern[str]:
    """A compiled pattern (cached; the lexicon holds a few hundred)."""
    return re.compile(pattern)


_DIGITS = re.compile(r"^[0-9]+$")


def parse_number(token: str) -> int | None:
    """An integer from '7', '七', '二十五' or '两'; None when it is not a number."""
    token = token.strip()
    if not token:
        return None
    if _DIGITS.match(token):
        return int(token)
    try:
        value = cn2an.cn2an(token.replace("两", "二"), "normal")
    except (ValueError, KeyError, IndexError):
        return None
    return int(value) if float(value).is_integer() else None
