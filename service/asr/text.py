"""Text after recognition: Simplified Chinese always, Whisper's known hallucinations removed, repetition
loops collapsed, and the stable-prefix agreement that keeps partial results from flickering."""

from __future__ import annotations

import functools
import re
import zlib

# Phrases Whisper produces from silence or noise on Chinese audio (subtitle credits from its training data).
HALLUCINATION_PATTERNS: tuple[str, ...] = (
    r"字幕由\s*Amara\.org\s*社群提供",
    r"请不吝点赞\s*订阅\s*转发\s*打赏支持明镜与点点栏目",
    r"明镜与点点栏目",
    r"(中文)?字幕\s*(by|BY|提供|制作|志愿者)\s*[:：]?\s*\S*",
    r"由\s*Amara\.org\s*社群提供的字幕",
    r"优优独播剧场\s*[—-]*\s*YoYo Television Series Exclusive",
    r"YoYo Television Series Exclusive",
    r"请订阅我的频道",
    r"欢迎订阅.{0,10}频道",
    r"点赞\s*订阅\s*转发",
    r"小编字幕",
    r"本字幕仅供学习交流",
)
_HALLUCINATION_RE = re.compile("|".join(f"(?:{p})" for p in HALLUCINATION_PATTERNS), re.IGNORECASE)
# Whole-segment outputs that are hallucinations only when nothing else was said.
SILENCE_ONLY_PHRASES = frozenset({"谢谢观看", "感谢观看", "谢谢大家", "谢谢收看", "谢谢", "字幕", "请订阅"})
_PUNCT_ONLY = re.compile(r"^[\s\W_]*$")
_LOOP = re.compile(r"(.{2,12}?)\1{2,}")  # a unit of 2–12 characters said 3+ times in a row
_CHAR_RUN = re.compile(r"(.)\1{4,}")  # one character 5+ times


# Whisper writes Chinese in the Taiwan standard as often as in Mainland simplified. OpenCC's plain t2s keeps 著
# everywhere (a simplified character too: 著名, 显著), so "睡不著", "活著" would survive; the Taiwan profile turns
# the particle into 着 by phrase but also turns the 著 of words it lacks (显著, 原著) into 着, which the words
# below undo. Variants no profile maps are mapped here.
_ZHU_WORDS = ("显著", "卓著", "昭著", "原著", "名著", "土著", "编著", "专著", "论著", "巨著", "译著", "遗著", "合著",
              "拙著", "新著", "著名", "著作", "著称", "著述", "著录", "著者", "著书", "著有")
_ZHU_RE = re.compile("|".join(_ZHU_WORDS))
_VARIANTS = str.maketrans({"妳": "你", "衹": "只"})


@functools.lru_cache(maxsize=2)
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional (Taiwan or Hong Kong standard) → Mainland Simplified Chinese, the particle 着 included;
    text already simplified is unchanged."""
    out = _opencc("t2s").convert(text)  # 著 kept everywhere
    if "著" in out:
        tw = _opencc("tw2s").convert(text)  # 著 → 着 as a particle, and sometimes where it should not
        if len(tw) == len(out):
            keep = {i for m in _ZHU_RE.finditer(out) for i in range(m.start(), m.end()) if out[i] == "著"}
            out = "".join("著" if i in keep else c for i, c in enumerate(tw))
    return out.translate(_VARIANTS)


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))


def collapse_repetitions(text: str) -> str:
    """Collapse Whisper's repetition loops: a phrase said three or more times in a row, a character run,
    and a whole utterance emitted twice (a short-window decoding artefact)."""
    text = _CHAR_RUN.sub(lambda m: m.group(1) * 3, text)
    text = _LOOP.sub(r"\1", text)
    core = re.sub(r"[\s，。！？、,.!?]", "", text)
    half = len(core) // 2
    if len(core) >= 8 and len(core) % 2 == 0 and core[:half] == core[half:]:
        # keep the first occurrence, with its punctuation
        count = 0
        for i, ch in enumerate(text):
            if not re.match(r"[\s，。！？、,.!?]", ch):
                count += 1
            if count == half:
                return text[: i + 1].rstrip("，,、 ")
    return text


_CJK = r"[\u3400-\u9fff]"
_HALF_TO_FULL = {",": "，", "?": "？", "!": "！", ";": "；", ":": "："}


def full_width_punctuation(text: str) -> str:
    """Whisper often writes ASCII punctuation in Chinese; use the Chinese forms next to Chinese characters."""
    return re.sub(rf"(?<={_CJK})\s*([,?!;:])\s*|\s*([,?!;:])\s*(?={_CJK})",
                  lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], text)


def clean_text(text: str) -> str:
    """Simplified, hallucination phrases removed, loops collapsed, whitespace tidied. May return ''."""
    text = full_width_punctuation(to_simplified(text.strip()))
    text = _HALLUCINATION_RE.sub("", text)
    text = collapse_repetitions(text)
    text = re.sub(r"\s+", " ", text).strip()
    if _PUNCT_ONLY.match(text):
        return ""
    if re.sub(r"[\W_]", "", text) in SILENCE_ONLY_PHRASES:
        return ""
    return text


_CLAUSE = re.compile(r"[^。！？，；!?,;]+[。！？，；!?,;]*")


def strip_prompt_echo(text: str, prompt: str | None) -> str:
    """Drop each clause that is only a piece of the decoding prompt: on a short or unclear utterance Whisper may
    say its prompt back ("以下是普通话的句子。" after the prompt "以下是普通话的句子，使用简体中文。")."""
    if not prompt or not text:
        return text
    bare_prompt = re.sub(r"[\W_]", "", prompt)
    kept = [c for c in _CLAUSE.findall(text)
            if not (len(bare := re.sub(r"[\W_]", "", c)) >= 2 and bare in bare_prompt)]
    return "".join(kept).strip()


class StablePrefix:
    """LocalAgreement-2 over successive hypotheses of one utterance (ufal/whisper_streaming):
    the text two consecutive hypotheses agree on is committed and never retracted."""

    def __init__(self) -> None:
        self.committed = ""
        self._last = ""

    def update(self, hypothesis: str) -> tuple[str, str]:
        """Return (stable, unstable tail) after a new hypothesis."""
        agreed = _common_prefix(self._last, hypothesis)
        self._last = hypothesis
        if len(agreed) > len(self.committed) and agreed.startswith(self.committed):
            self.committed = agreed
        tail = hypothesis[len(self.committed) :] if hypothesis.startswith(self.committed) else ""
        return self.committed, tail


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]
