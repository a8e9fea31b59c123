"""Learn how the recognizer hears the lexicon's key words: ``python -m service.risk.heard.learn PAIRS.jsonl OUT.json
[--negatives FILE ...]``.

``PAIRS.jsonl`` is what :mod:`service.risk.heard.decode` wrote: each synthesized sentence (``ref``) with what the
recognizer heard (``hyp``). Each pair is aligned character by character (a substitution costs less between
characters of the same or a near syllable, so 液化气 lines up with 夜话器 rather than with a shifted stretch), and
the characters the key word's own characters landed on are what it was *heard as*. A spelling that is not the
word's own becomes a *heard form* of it when:

- it was heard at least ``MIN_COUNT`` times (a systematic confusion, not one voice's accident);
- it is all Chinese characters, as long as the word, and its toneless syllables differ from the word's or its
  characters do (a homophone spelling of a two-character word: the lexicon matches words under three characters on
  characters only);
- it is not itself a word of the general dictionary (jieba's, ``DICT_MIN_FREQ``): 皮袋 and 离开 are words a caller
  says;
- jieba's cut of it holds no common word that is not the key word's own (弟弟为 for 敌敌畏, 不想起来 for 不想醒来,
  突然没有 for 吞安眠药: 弟弟, 起来, 突然 are said meaning what they say);
- its syllables never occur as other characters in the negative texts (``--negatives``: text with no risk in it;
  this project uses the CPsyCoun dialogues and PsyGUARD's rows labelled none).
- a person reading the kept forms did not mark it as an everyday phrase (``reviewed.tsv`` beside this file: 没付成
  for 没死成, "钱没付成"; 推下去了 for 吞下去了): the screen knows words, not phrases.

Even so a heard form is a guess: a stretch of two or three syllables recurs across word boundaries (上掉 in
楼上掉下来), and a caller may say the very words the recognizer wrote. So the engine uses heard forms only once the
call is about risk (a label in the caller's words, or the counselor naming suicide or self-harm), where the key
word is far likelier than its look-alike (:meth:`service.risk.lexicon.Lexicon.in_risk_context`).

The table (``service/risk/data/heard_forms.json``) keeps the accepted forms and the rejected ones with the reason,
and the ASR description the pairs came from: another model hears differently, so it decodes and learns again.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter, defaultdict
from pathlib import Path

from service.risk.lexicon import Lexicon, all_chinese, normalize

MIN_COUNT = 2
#: forms a person rejected on reading them (word, form, an everyday sentence holding it, reason), for any model
REVIEWED_PATH = Path(__file__).parent / "reviewed.tsv"
DICT_MIN_FREQ = 5
PHRASE_MIN_FREQ = 100


def strip(text: str) -> str:
    """Letters, digits and Chinese characters of ``text``, normalised (what the alignment compares)."""
    return "".join(ch for ch in normalize(text) if ch.isalnum())


def align(ref: str, hyp: str, lex: Lexicon) -> list[int | None]:
    """For each character of ``ref``, the index of the ``hyp`` character it was heard as (None where it was lost):
    an edit-distance alignment whose substitution cost is lower for the same or a near syllable."""
    rs, hs = lex.syllables(ref), lex.syllables(hyp)
    n, m = len(ref), len(hyp)
    gap = 1.0
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]  # 0 diagonal, 1 up (ref char lost), 2 left (hyp char inserted)
    for i in range(1, n + 1):
        cost[i][0], back[i][0] = i * gap, 1
    for j in range(1, m + 1):
        cost[0][j], back[0][j] = j * gap, 2
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                sub = 0.0
            else:
                sub = 0.4 + 0.5 * lex.syllable_cost(rs[i - 1], hs[j - 1])  # 0.4 same syllable … 0.9 unrelated
            best = (cost[i - 1][j - 1] + sub, 0)
            best = min(best, (cost[i - 1][j] + gap, 1), (cost[i][j - 1] + gap, 2))
            cost[i][j], back[i][j] = best
    out: list[int | None] = [None] * n
    i, j = n, m
    while i > 0 or j > 0:
        step = back[i][j]
        if i > 0 and j > 0 and step == 0:
            out[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif i > 0 and (j == 0 or step == 1):
            i -= 1
        else:
            j -= 1
    return out


def heard_as(word: str, ref: str, hyp: str, lex: Lexicon) -> str | None:
    """The characters of ``hyp`` that ``word`` (in ``ref``) was heard as, when each of its characters landed on one
    character and they are contiguous; None when the word was lost, split or heard longer or shorter."""
    r, h = strip(ref), strip(hyp)
    w = strip(word)
    at = r.find(w)
    if at < 0 or not h:
        return None
    where = align(r, h, lex)[at:at + len(w)]
    if any(x is None for x in where) or where != list(range(where[0], where[0] + len(w))):
        return None
    return h[where[0]:where[0] + len(w)]


def candidates(pairs: list[dict], lex: Lexicon) -> dict[str, dict]:
    """Per key word: trials, how often it was heard as itself, and every other spelling with its count."""
    out: dict[str, dict] = {}
    for p in pairs:
        word = p["word"]
        entry = out.setdefault(word, {"trials": 0, "as_itself": 0, "lost": 0, "spellings": Counter()})
        entry["trials"] += 1
        got = heard_as(word, p["ref"], p["hyp"], lex)
        if got is None:
            entry["lost"] += 1
        elif got == strip(word):
            entry["as_itself"] += 1
        else:
            entry["spellings"][got] += 1
    return out


def load_dictionary() -> dict[str, int]:
    """jieba's general dictionary: word → frequency."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    words = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                words[parts[0]] = int(parts[1])
    return words


def foreign_word(form: str, word: str, dictionary: dict[str, int]) -> str | None:
    """A common word (two or more characters, frequency ``PHRASE_MIN_FREQ`` or more) in jieba's cut of ``form``
    that is not the key word's own characters at that place (弟弟 in 弟弟为, heard for 敌敌畏): a caller says it
    meaning what it says ("我弟弟为这事……"). None if there is none."""
    import jieba

    at = 0
    for piece in jieba.lcut(form, HMM=False):
        if len(piece) >= 2 and dictionary.get(piece, 0) >= PHRASE_MIN_FREQ and word[at:at + len(piece)] != piece:
            return piece
        at += len(piece)
    return None


class Negatives:
    """Where each run of fuzzy syllables occurs in the negative texts, and as which characters."""

    def __init__(self, lex: Lexicon, texts: list[str], longest: int = 8) -> None:
        self.lex = lex
        self.spellings: dict[tuple[tuple[str, str], ...], set[str]] = defaultdict(set)
        for text in texts:
            t = strip(text)
            syls = lex.syllables(t)
            for k in range(2, longest + 1):
                for i in range(len(t) - k + 1):
                    self.spellings[tuple(syls[i:i + k])].add(t[i:i + k])

    def heard_elsewhere(self, form: str, word: str) -> bool:
        """The negative texts have ``form``'s syllables as characters other than ``word``: a caller says them
        without meaning the word (a homophone spelling of the word itself, 洋台 for 阳台, matches only the word)."""
        return bool(self.spellings.get(tuple(self.lex.syllables(form)), set()) - {word})


def _reviewed_rows(path: Path) -> list[list[str]]:
    """Rows of the tab-separated review file (word, form, an everyday sentence, reason); ``#`` starts a comment."""
    return [line.split("\t", 3) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def read_reviewed(path: Path = REVIEWED_PATH) -> dict[tuple[str, str], str]:
    """(word, form) → reason."""
    return {(word, form): reason for word, form, _, reason in _reviewed_rows(path)}


def reviewed_sentences(path: Path = REVIEWED_PATH) -> list[str]:
    """The everyday sentences of the review file (``real_words`` runs them through the matcher too)."""
    return [sentence for _, _, sentence, _ in _reviewed_rows(path)]


def screen(cands: dict[str, dict], lex: Lexicon, dictionary: dict[str, int],
           negatives: list[str], reviewed: dict[tuple[str, str], str] | None = None) -> tuple[list[dict], list[dict]]:
    """(accepted, rejected) heard forms, each ``{"word", "form", "count", "trials"}`` (+ ``reason`` if rejected),
    sorted by word then form. ``reviewed``: forms a person rejected, with the reason (default none)."""
    reviewed = reviewed or {}
    neg = Negatives(lex, negatives)
    accepted, rejected = [], []
    for word in sorted(cands):
        c = cands[word]
        w = strip(word)
        for form, count in sorted(c["spellings"].items()):
            if count < MIN_COUNT:
                continue  # heard so once: not a confusion to learn, and not worth listing
            row = {"word": word, "form": form, "count": count, "trials": c["trials"]}
            reason = None
            if not all_chinese(form) or len(form) != len(w):
                reason = "not Chinese characters"
            elif dictionary.get(form, 0) >= DICT_MIN_FREQ:
                reason = f"a dictionary word (frequency {dictionary[form]})"
            elif (common := foreign_word(form, w, dictionary)) is not None:
                reason = f"holds the common word {common}"
            elif neg.heard_elsewhere(form, w):
                reason = "its syllables occur in the negative texts as other words"
            elif (word, form) in reviewed:
                reason = f"reviewed: {reviewed[(word, form)]}"
            if reason:
                rejected.append({**row, "reason": reason})
            else:
                accepted.append(row)
    return accepted, rejected


def read_pairs(path: Path) -> tuple[dict, list[dict]]:
    """(header, pairs) of a decode output."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[0], lines[1:]


def read_negatives(paths: list[Path]) -> list[str]:
    """Texts from ``.txt`` (a line each), ``.jsonl`` CPsyCoun dialogues (every turn) or PsyGUARD ``.json`` (rows
    with no label)."""
    out: list[str] = []
    for path in paths:
        if path.suffix == ".txt":
            out += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    out += _texts(json.loads(line))
        else:
            for row in json.loads(path.read_text(encoding="utf-8")):
                labels = row.get("labels") or []
                if not labels or set(labels) <= {"与自杀/自伤/攻击行为无关"}:
                    out.append(row.get("text") or row.get("content") or "")
    return [t for t in out if t]


def _texts(obj) -> list[str]:
    """Every string inside a JSON value (a dialogue's turns, whatever their keys)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _texts(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in _texts(v)]
    return []


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m service.risk.heard.learn", description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--negatives", type=Path, nargs="*", default=[])
    ap.add_argument("--date", default=None, help="the table's date (default: today)")
    args = ap.parse_args(argv)
    lex = Lexicon.load(heard_forms=False)
    header, pairs = read_pairs(args.pairs)
    cands = candidates(pairs, lex)
    accepted, rejected = screen(cands, lex, load_dictionary(), read_negatives(args.negatives), read_reviewed())
    table = {
        "date": args.date or datetime.date.today().isoformat(),
        "asr": header.get("asr"), "line": header.get("line"), "pairs": len(pairs),
        "min_count": MIN_COUNT, "dict_min_freq": DICT_MIN_FREQ,
        "negatives": [p.name for p in args.negatives],
        "words": {w: {k: c[k] for k in ("trials", "as_itself", "lost")} for w, c in sorted(cands.items())},
        "forms": accepted, "rejected": rejected,
    }
    args.out.write_text(json.dumps(table, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(pairs)} pairs, {len(cands)} words: {len(accepted)} heard forms kept, {len(rejected)} rejected")


if __name__ == "__main__":
    main()
