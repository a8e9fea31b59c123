"""Risk lexicon: the versioned data file and the matcher that finds its terms in a segment.

The data (``data/lexicon.json``) holds terms and regular-expression patterns per label, and the cue lists that
:mod:`service.risk.context` and :mod:`service.risk.level` use. Terms match on characters and, for ASR errors, on
toneless pinyin with fuzzy initials/finals (安眠要 → 安眠药, 成不下去 → 撑不下去) and near syllables within a budget
per word length (神子 → 绳子, 一聊拜聊 → 一了百了); what pinyin heard is rewritten to the lexicon's characters first, so
patterns (on characters) and the level rules' cues see it too.

Beyond what fuzzy pinyin covers, the recognizer has spellings of its own for some key words (液化气 heard as 夜话器,
上吊 as 上掉): ``data/heard_forms.json``, learnt by :mod:`service.risk.heard` from sentences synthesized, put on a
telephone line and decoded with the shipped model. A heard form is matched on its exact fuzzy syllables and rewritten
to its word, only in a call already about risk (:meth:`Lexicon.in_risk_context`). A stretch that fuzzy pinyin takes
for a key word but is a word in its own right (``real_words``: 上调 for 上吊, 了解自己 for 了结自己, 烟台 for 阳台)
counts only inside a longer match, and so does any two-character guess (上掉 for 上吊, a heard form 推药 for 吞药).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from service.types import RISK_LABELS

DEFAULT_LEXICON_PATH = Path(__file__).parent / "data" / "lexicon.json"
DEFAULT_HEARD_FORMS_PATH = Path(__file__).parent / "data" / "heard_forms.json"


@dataclass(frozen=True, slots=True)
class HeardForm:
    """How the recognizer heard a key word (learnt, :mod:`service.risk.heard`)."""

    word: str
    form: str
    syllables: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    label: str
    kind: str
    terms: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    wish: bool = False
    #: everyday words that are acts only from a caller who has voiced suicidal intent ("鞋脱了", "喝了一瓶",
    #: "把猫送人", "炭买好了"): matched only by a view with ``acts`` (:meth:`Lexicon.view`)
    context_only: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """A lexicon term or pattern found in a text, before any context rule."""

    text: str
    label: str
    kind: str
    char_start: int
    char_end: int
    wish: bool
    via: str  # "chars" or "pinyin"


def all_chinese(text: str) -> bool:
    """Every character of ``text`` is a (common-range) Chinese character; False for an empty text."""
    return bool(text) and all("\u4e00" <= c <= "\u9fff" for c in text)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case and Simplified characters (OpenCC, as the recognizer's output is:
    "活著好累" → "活着好累", from a transcript or an utterance typed in Traditional); keeps the length of Chinese text
    unchanged."""
    out = unicodedata.normalize("NFKC", text).lower()
    if len(out) == len(text):
        simplified = _simplified(out)
        return simplified if len(simplified) == len(out) else out
    # NFKC or lower case changed the length (a ligature; "İ" lowers to two characters): character by character
    # where that keeps it, else the character as it is, so keyword spans stay on the raw text
    return "".join(o if len(o := unicodedata.normalize("NFKC", ch).lower()) == 1 else ch for ch in text)


@lru_cache(maxsize=4096)
def _simplified(text: str) -> str:
    from service.asr.text import to_simplified

    return to_simplified(text)


#: a pause written inside the words ("我不想……活了"): ellipsis characters, two or more dots or full stops, or spaces
#: between Chinese characters (the recognizer's "我 不想 活 了")
_PAUSE = re.compile(r"(?:…|⋯|\.{2,}|。{2,})+|(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])")


def unpaused(text: str, offset: int | None, keep_end: bool = False) -> tuple[str, list[int | None]]:
    """``text`` without the pauses written inside its words, and the one at its end unless ``keep_end`` (a piece
    that trails off goes on in the next one; "嗯……" answering a question is a hesitation, not "嗯"), with each kept
    character's index (``offset`` + index, or None throughout when ``offset`` is None)."""
    out, pos, last = [], [], 0
    pauses = [m for m in _PAUSE.finditer(text) if not (keep_end and m.end() == len(text))]
    for m in [*pauses, None]:
        a = len(text) if m is None else m.start()
        out.append(text[last:a])
        pos.extend(None if offset is None else offset + i for i in range(last, a))
        if m is not None:
            last = m.end()
    return "".join(out), pos


@dataclass
class Lexicon:
    version: str
    entries: list[LexiconEntry]
    cues: dict
    initial_map: list[tuple[str, str]]
    final_map: list[tuple[str, str]]
    pinyin_min_chars: int
    one_mismatch_min_chars: int
    correction_words: tuple[str, ...] = ()
    near_initials: tuple[frozenset[str], ...] = ()
    near_finals: tuple[frozenset[str], ...] = ()
    budget: tuple[float, ...] = (0.0,)
    real_words: frozenset[str] = frozenset()
    heard_forms: tuple[HeardForm, ...] = ()
    heard_forms_id: str = ""  # the table's ASR model and date, part of the version
    heard_forms_model: str = ""  # the ASR model the heard forms were learnt with
    risk_context: bool = False  # this view also matches the heard forms (a call already about risk)
    acts: bool = False  # this view also matches the context_only entries (a caller who voiced suicidal intent)
    _pinyin_index: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    _heard_index: dict[tuple[str, str], list[HeardForm]] = field(default_factory=dict)
    _views: dict[tuple[bool, bool], "Lexicon"] = field(default_factory=dict)
    _base: "Lexicon | None" = None
    _cue_res: dict[str, re.Pattern[str]] = field(default_factory=dict)
    _cue_lists: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    _corrections: dict[str, tuple[str, list[tuple[int, int, bool]]]] = field(default_factory=dict)
    #: the corrections of the views with heard forms (they do not depend on ``acts``: one cache for both)
    _corrections_heard: dict[str, tuple[str, list[tuple[int, int, bool]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None, heard_forms: str | Path | None | bool = True) -> "Lexicon":
        """The lexicon at ``path`` (default: the shipped one) with the heard forms of ``heard_forms``: True for the
        shipped table, a path for another model's, False for none."""
        path = Path(path) if path else DEFAULT_LEXICON_PATH
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = []
        for e in data["entries"]:
            if e["label"] not in RISK_LABELS:
                raise ValueError(f"lexicon {path}: unknown label {e['label']!r}")
            entries.append(
                LexiconEntry(
                    label=e["label"],
                    kind=e["kind"],
                    terms=tuple(e.get("terms", ())),
                    patterns=tuple(re.compile(p) for p in e.get("patterns", ())),
                    wish=bool(e.get("wish", False)),
                    context_only=bool(e.get("context_only", False)),
                )
            )
        fz = data.get("fuzzy_pinyin", {})
        lex = cls(
            version=str(data["version"]),
            entries=entries,
            cues=data["cues"],
            initial_map=[tuple(x) for x in fz.get("initials", [])],
            final_map=[tuple(x) for x in fz.get("finals", [])],
            pinyin_min_chars=int(fz.get("min_chars", 3)),
            one_mismatch_min_chars=int(fz.get("one_mismatch_min_chars", 99)),
            correction_words=tuple(fz.get("correction_words", ())),
            near_initials=tuple(frozenset(g) for g in fz.get("near_initials", ())),
            near_finals=tuple(frozenset(g) for g in fz.get("near_finals", ())),
            budget=tuple(float(b) for b in fz.get("budget", (0.0,))),
            real_words=frozenset(fz.get("real_words", ())),
        )
        if heard_forms:
            lex._load_heard(DEFAULT_HEARD_FORMS_PATH if heard_forms is True else Path(heard_forms))
        lex._build_index()
        return lex

    def _load_heard(self, path: Path) -> None:
        table = json.loads(path.read_text(encoding="utf-8"))
        for f in table["forms"]:
            if len(f["form"]) != len(f["word"]) or not f["form"]:
                raise ValueError(f"heard forms {path}: {f['form']!r} for {f['word']!r} is not as long as the word")
        self.heard_forms = tuple(
            HeardForm(f["word"], f["form"], tuple(self.syllables(f["form"])))
            for f in table["forms"])
        asr = table.get("asr") or {}
        self.heard_forms_model = str(asr.get("model", "?"))
        self.heard_forms_id = f"heard-{self.heard_forms_model}-{table.get('date', '?')}"

    @property
    def full_version(self) -> str:
        """The lexicon's version and, where heard forms are used, their table's."""
        return f"{self.version}+{self.heard_forms_id}" if self.heard_forms else self.version

    def in_risk_context(self) -> "Lexicon":
        """This lexicon for a call already about risk: it also matches the heard forms (夜花去 for 液化气, 上票 for
        上吊). Elsewhere those are likelier to be what they say or to straddle two words (一个外卖)."""
        return self.view(heard=True, acts=self.acts)

    def view(self, heard: bool = False, acts: bool = False) -> "Lexicon":
        """This lexicon with the heard forms (``heard``: a call about risk) and the ``context_only`` entries
        (``acts``: a caller who has voiced suicidal intent, when "炭我买好了", "鞋脱了", "我都吃下去了" are acts, not
        a barbecue, coming home or a meal); one view per pair, built once."""
        base = self._base or self
        key = (heard and bool(base.heard_forms), acts)
        if key == (False, False):
            return base
        if key not in base._views:
            view = Lexicon(**{f: getattr(base, f) for f in base.__dataclass_fields__ if not f.startswith("_")})
            view.risk_context, view.acts = key
            view._pinyin_index = base._pinyin_index
            view._heard_index = base._heard_index
            view._cue_res = base._cue_res
            view._cue_lists = base._cue_lists
            view._corrections = base._corrections_heard if key[0] else base._corrections
            view._base = base
            base._views[key] = view
        return base._views[key]

    # --- pinyin -------------------------------------------------------------------------------------------
    def syllables(self, text: str) -> list[tuple[str, str]]:
        """(initial, final) per character, toneless, with the fuzzy maps applied to each part (zh → z, ang → an);
        a non-Chinese character is its own initial with an empty final."""
        inits = lazy_pinyin(text, style=Style.INITIALS, strict=False, errors=lambda s: list(s))
        finals = lazy_pinyin(text, style=Style.FINALS, strict=False, errors=lambda s: [""] * len(s))
        if len(inits) != len(text) or len(finals) != len(text):  # defensive: keep alignment with characters
            return [self.syllables(ch)[0] for ch in text] if len(text) > 1 else [(text, "")]
        out = []
        for ini, fin in zip(inits, finals):
            out.append((self._map(self.initial_map, ini, prefix=True), self._map(self.final_map, fin, prefix=False)))
        return out

    @staticmethod
    def _map(pairs: list[tuple[str, str]], part: str, prefix: bool) -> str:
        for a, b in pairs:
            if (part.startswith(a) if prefix else part.endswith(a)):
                return b + part[len(a):] if prefix else part[: -len(a)] + b
        return part

    def syllable_cost(self, a: tuple[str, str], b: tuple[str, str]) -> float:
        """0 for the same (fuzzy) syllable; 0.5 when one part is the same and the other is a near confusion on a
        telephone line (b/p, an/en…, the data file's ``near_initials``/``near_finals``); else 1."""
        if a == b:
            return 0.0
        (ia, fa), (ib, fb) = a, b
        if ia == ib and fa and fb and any(fa in g and fb in g for g in self.near_finals):
            return 0.5
        if fa == fb and fa and any(ia in g and ib in g for g in self.near_initials):
            return 0.5
        return 1.0

    def word_budget(self, k: int) -> float:
        """Total syllable cost a k-syllable word may have and still be heard as that word."""
        return self.budget[min(k, len(self.budget)) - 1]

    def _build_index(self) -> None:
        """Pinyin index of the terms (≥ min_chars) and of the correction words (any length ≥ 2), keyed by the
        first syllable's initial and by its final (a near match keeps one of the two; a wholly wrong syllable is
        never the first).

        Correction words are not labels themselves: they only rewrite an ASR spelling back (安眠要 → 安眠药) so that
        the patterns can see it.
        """
        words = {t for e in self.entries for t in e.terms if len(t) >= self.pinyin_min_chars}
        words |= {w for w in self.correction_words if len(w) >= 2}
        for term in sorted(words):
            syls = tuple(self.syllables(term))
            entry = (syls, term)
            for key in {"i:" + syls[0][0], "f:" + syls[0][1]}:
                self._pinyin_index.setdefault(key, []).append(entry)
        for heard in self.heard_forms:
            self._heard_index.setdefault(heard.syllables[0], []).append(heard)

    # --- cues ---------------------------------------------------------------------------------------------
    def cue_re(self, name: str) -> re.Pattern[str]:
        """One compiled alternation for a cue list of the data file (lists are literal words or regexes); a cue
        written as one string is one regex."""
        if name not in self._cue_res:
            cue = self.cues[name]
            self._cue_res[name] = re.compile(cue if isinstance(cue, str) else "|".join(f"(?:{p})" for p in cue))
        return self._cue_res[name]

    def cue_patterns(self, name: str) -> tuple[re.Pattern[str], ...]:
        """The cue list ``name`` compiled one pattern at a time, where readings overlap and each must be tried
        (:meth:`cue_re` finds one of them at each place)."""
        if name not in self._cue_lists:
            self._cue_lists[name] = tuple(re.compile(p) for p in self.cues[name])
        return self._cue_lists[name]

    # --- matching -----------------------------------------------------------------------------------------
    def find(self, text: str) -> list[Match]:
        """Every term/pattern occurrence; a match inside a strictly longer one is dropped.

        Pinyin matches first rewrite the text to the lexicon's own characters (安眠要 → 安眠药), so that the
        character terms and patterns also see them; a match touching a rewritten span says ``via="pinyin"``. A
        two-character guess (上掉 for 上吊, or a heard form) or a real word rewrites the text too, but a match that
        lies within it is dropped: "一个外卖" holds 个外, heard for 割腕, across two words, "手机从楼上掉下去" holds
        上掉, and "工资上调了" means what it says, while a pattern around the guess ("拿提带上票", "卫生间上调，
        挂钩断了") gives it the context two syllables lack.
        """
        corrected, fixed_spans = self._correct(text)
        found: dict[tuple[int, int, str], Match] = {}

        def add(start: int, end: int, entry: LexiconEntry, as_written: bool = False) -> None:
            if any(weak and a <= start and end <= b for a, b, weak in fixed_spans):
                return  # a two-character guess (上票 for 上吊) is no match on its own, only inside a longer one
            heard = not as_written and any(a < end and start < b for a, b, _ in fixed_spans)
            via = "pinyin" if heard else "chars"
            found.setdefault((start, end, entry.label), Match(text[start:end], entry.label, entry.kind, start, end, entry.wish, via))

        # the words as written too, where pinyin rewrote some: a guess adds a reading, it does not take one away
        # ("绳子已经挂在吊扇上了": 吊扇 is also how the recognizer hears 桥上, and the rope hung stays a rope hung)
        for source in (corrected, normalize(text)) if fixed_spans else (corrected,):
            for entry in self.entries:
                if entry.context_only and not self.acts:
                    continue
                for term in entry.terms:
                    start = source.find(term)
                    while start >= 0:
                        add(start, start + len(term), entry, source is not corrected)
                        start = source.find(term, start + 1)
                for pat in entry.patterns:
                    for m in pat.finditer(source):
                        if m.end() > m.start():
                            add(m.start(), m.end(), entry, source is not corrected)
        return _keep_longest(list(found.values()))

    def corrected(self, text: str) -> str:
        """``text`` normalised, with what the pinyin match heard rewritten to the lexicon's own characters (安眠要
        → 安眠药); the same length as ``text``, so a cue (a time, "封好了") is found where the recognizer
        misspelled it."""
        return self._correct(text)[0]

    def _correct(self, text: str) -> tuple[str, list[tuple[int, int, bool]]]:
        hit = self._corrections.get(text)
        if hit is None:
            norm = normalize(text)
            fixed = list(norm)
            spans = []
            found = self.pinyin_matches(norm)
            strong = [(a, b) for a, b, _, weak in found if not weak]
            for start, end, term, weak in found:
                # a guess that fuzzy pinyin also makes on its own (上掉 for 上吊) is no longer a guess
                weak = weak and not any(a <= start and end <= b for a, b in strong)
                if norm[start:end] != term:
                    fixed[start:end] = term
                    spans.append((start, end, weak))
            if len(self._corrections) >= 4096:
                self._corrections.clear()
            hit = self._corrections[text] = ("".join(fixed), spans)
        return hit

    def pinyin_matches(self, norm: str, real_words: bool = True) -> list[tuple[int, int, str, bool]]:
        """Where a word of the index is heard in ``norm``: (start, end, word, weak).

        Heard forms count only in a call already about risk. ``weak``: a two-character stretch that is not the
        word's own characters (上掉 for 上吊, a heard form 个外 for 割腕) or a stretch that is a word in its own right
        (``real_words`` of the data file: 上调, 了解自己; not with ``real_words=False``), which :meth:`find` counts
        only inside a longer match.

        A k-syllable stretch is the word when its summed :meth:`syllable_cost` is within :meth:`word_budget` (k), at
        most one syllable is wholly wrong (only in words of ``one_mismatch_min_chars`` or more, never the first or
        last), it is all Chinese characters, and at least half its characters are the word's own; a word heard
        exactly needs one character of its own at three syllables (叶化气 for 液化气) and none from four (一聊拜聊 for
        一了百了).
        """
        syls = self.syllables(norm)
        n = len(syls)
        out = []
        seen: set[tuple[int, str]] = set()
        for i in range(n):
            ini, fin = syls[i]
            tries = [(i, c) for key in ("i:" + ini, "f:" + fin) for c in self._pinyin_index.get(key, ())]
            for start, (term_syls, term) in tries:
                k = len(term_syls)
                if start + k > n or (start, term) in seen:
                    continue
                seen.add((start, term))
                costs = [self.syllable_cost(a, b) for a, b in zip(syls[start:start + k], term_syls)]
                cost = sum(costs)
                wrong = sum(c >= 1 for c in costs)
                if cost > self.word_budget(k) or wrong > (1 if k >= self.one_mismatch_min_chars else 0):
                    continue
                if costs[0] >= 1 or costs[-1] >= 1:
                    # a wholly wrong first or last syllable makes another phrase that shares the word's middle
                    # (到伤害自己 is not 想伤害自己, 想让自己的 not 想让自己疼), not the word misheard
                    continue
                chars = norm[start:start + k]
                if not all_chinese(chars):
                    continue
                # at least half the characters must be the term's own: homophones elsewhere are not the term
                own = sum(a == b for a, b in zip(chars, term))
                if own * 2 < k and not (cost == 0 and (k >= 4 or (k == 3 and own))):
                    continue
                guess = k <= 2 and chars != term  # 上掉 for 上吊: two syllables are little to go on
                out.append((start, start + k, term, guess or (real_words and chars in self.real_words)))
        for i, syl in enumerate(syls if self.risk_context else ()):
            for heard in self._heard_index.get(syl, ()):
                k = len(heard.syllables)
                if tuple(syls[i:i + k]) == heard.syllables and all_chinese(norm[i:i + k]):
                    out.append((i, i + k, heard.word, k <= 2))
        return out


def _keep_longest(matches: list[Match]) -> list[Match]:
    """Drop a match that lies inside a strictly longer one (安眠药 inside 吞过一瓶安眠药)."""
    keep = []
    for m in matches:
        inside = any(
            o is not m
            and o.char_start <= m.char_start
            and m.char_end <= o.char_end
            and (o.char_end - o.char_start) > (m.char_end - m.char_start)
            for o in matches
        )
        if not inside:
            keep.append(m)
    keep.sort(key=lambda m: (m.char_start, m.char_end, m.label))
    return keep


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """The lexicon, loaded once per path."""
    return Lexicon.load(path)
