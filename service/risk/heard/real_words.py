"""Words in their own right that fuzzy pinyin would take for a key word: ``python -m service.risk.heard.real_words
[--negatives FILE ...]`` prints the list that ``lexicon.json`` keeps as ``fuzzy_pinyin.real_words``.

Fuzzy pinyin rewrites 安眠要 to 安眠药, and just as readily 上调 ("工资上调了") to 上吊, 身子 to 绳子, 烟台 to 阳台,
了解自己 to 了结自己, 自己的想法 to 自杀的想法. Those are words a caller says meaning what they say. Every word of
jieba's dictionary (frequency ``learn.DICT_MIN_FREQ`` or more, 2–8 Chinese characters) and every text of the
negative files (text with no risk in it: the CPsyCoun dialogues; not PsyGUARD's rows labelled none, which hold
statements a hotline counts as risk, "人活着没意义"), and the everyday sentences of ``reviewed.tsv`` ("我也不知道我做了
啥事": 啥/傻 are one toneless syllable), is run through the lexicon's own pinyin matcher, and each
stretch it would rewrite is listed. The lexicon still rewrites a listed stretch, since the recognizer writes 上吊 as
上调 too ("卫生间上调，挂钩断了"), but counts it only inside a longer match: a pattern around it, never the bare term. ``tests/test_risk_heard.py`` checks that the shipped list is what this prints for the shipped
lexicon: edit the lexicon's terms or fuzzy rules, run this, and paste the list.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.risk.heard.learn import DICT_MIN_FREQ, load_dictionary, read_negatives, reviewed_sentences
from service.risk.lexicon import Lexicon, all_chinese, normalize


def real_words(lex: Lexicon, dictionary: dict[str, int], negatives: list[str] = ()) -> list[str]:
    """Sorted stretches of dictionary words and negative texts that ``lex``'s pinyin matcher rewrites to another
    spelling."""
    out = set()
    texts = [w for w, f in dictionary.items() if f >= DICT_MIN_FREQ and 2 <= len(w) <= 8 and all_chinese(w)]
    for text in [*texts, *(normalize(t) for t in negatives)]:
        for start, end, term, _ in lex.pinyin_matches(text, real_words=False):
            if text[start:end] != term:
                out.add(text[start:end])
    return sorted(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m service.risk.heard.real_words", description=__doc__.split("\n\n")[0])
    ap.add_argument("--negatives", type=Path, nargs="*", default=[])
    args = ap.parse_args(argv)
    negatives = [*read_negatives(args.negatives), *reviewed_sentences()]
    found = real_words(Lexicon.load(heard_forms=False), load_dictionary(), negatives)
    print(json.dumps(found, ensure_ascii=False))


if __name__ == "__main__":
    main()
