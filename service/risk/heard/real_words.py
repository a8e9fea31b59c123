"""Words in their own right that fuzzy pinyin would take for a key word: ``python -m service.risk.heard.real_words``
prints the list that ``lexicon.json`` keeps as ``fuzzy_pinyin.real_words``.

Fuzzy pinyin rewrites 安眠要 to 安眠药, and just as readily 上调 ("工资上调了") to 上吊, 身子 to 绳子, 烟台 to 阳台.
Those are words a caller says meaning what they say. Every word of jieba's dictionary (frequency
``learn.DICT_MIN_FREQ`` or more, 2–8 Chinese characters) is run through the lexicon's own pinyin matcher, and each
stretch it would rewrite is listed. The lexicon still rewrites a listed stretch, since the recognizer writes 上吊 as
上调 too ("卫生间上调，挂钩断了"), but counts it only inside a longer match: a pattern around it, never the bare term. ``tests/test_risk_heard.py`` checks that the shipped list is what this prints for the shipped
lexicon: edit the lexicon's terms or fuzzy rules, run this, and paste the list.
"""

from __future__ import annotations

import json

from service.risk.heard.learn import CJK, DICT_MIN_FREQ, load_dictionary
from service.risk.lexicon import Lexicon


def real_words(lex: Lexicon, dictionary: dict[str, int]) -> list[str]:
    """Sorted stretches of dictionary words that ``lex``'s pinyin matcher rewrites to another spelling."""
    out = set()
    for word, freq in dictionary.items():
        if freq < DICT_MIN_FREQ or not 2 <= len(word) <= 8 or not CJK.match(word):
            continue
        for start, end, term, _ in lex.pinyin_matches(word, real_words=False):
            if word[start:end] != term:
                out.add(word[start:end])
    return sorted(out)


if __name__ == "__main__":
    print(json.dumps(real_words(Lexicon.load(heard_forms=False), load_dictionary()), ensure_ascii=False))
