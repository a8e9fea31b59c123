"""The one Chinese text normaliser that eval applies to both sides before counting characters.

``normalize_zh`` runs these steps, in this order, and ``NORMALISER_NAME`` names exactly this sequence (bump the
``/N`` suffix whenever a step changes, so reports made with different normalisers are never compared unknowingly):

1. Traditional → Simplified (OpenCC ``t2s``).
2. Unicode NFKC: full-width → half-width (``１２０`` → ``120``, ``ＡＢ`` → ``AB``, ideographic space → space).
3. Latin letters lower-cased (``OK`` = ``ok``).
4. All whitespace removed (so ``一 二 零`` still reads as one number).
5. Chinese numerals → Arabic digits with cn2an ``transform(text, "cn2an")``: ``幺二零``, ``一二零`` and ``120`` all
   become ``120``; ``十二点`` → ``12点``; also ``一个`` → ``1个`` (harmless: the same on both sides).
6. Punctuation, symbols and other non-letter, non-digit characters removed (Unicode categories P*, S*, Z*, C*),
   except a ``.`` between two digits (``1.5`` stays ``1.5``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings

NORMALISER_NAME = "zh-t2s-fw2hw-lower-cn2an-nopunct/1"

_SPACE = re.compile(r"\s+")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_KEEP_DOT = "\uE000"  # private-use stand-in for a decimal point while punctuation is stripped


@functools.cache
def _t2s():
    try:
        import opencc
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise RuntimeError("eval's normaliser needs OpenCC: pip install OpenCC") from e
    return opencc.OpenCC("t2s")


def _cn2an(text: str) -> str:
    import cn2an

    with warnings.catch_warnings():
        # cn2an warns on words such as 万一 that look numeric but are not; it leaves them unchanged.
        warnings.simplefilter("ignore")
        try:
            return cn2an.transform(text, "cn2an")
        except Exception:  # noqa: BLE001 - cn2an raises bare ValueErrors on odd input; keep the text as is
            return text


def _strip_punct(text: str) -> str:
    text = _DECIMAL_POINT.sub(_KEEP_DOT, text)
    kept = [ch for ch in text if ch == _KEEP_DOT or unicodedata.category(ch)[0] not in "PSZC"]
    return "".join(kept).replace(_KEEP_DOT, ".")


def normalize_zh(text: str) -> str:
    """Normalise Chinese text for CER (see the module docstring for the exact steps). Idempotent."""
    if not text:
        return ""
    text = _t2s().convert(text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPACE.sub("", text)
    text = _cn2an(text)
    return _strip_punct(text)
