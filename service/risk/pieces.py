"""A caller's words the recognizer cut into pieces, read as one utterance (:func:`joined_reading`): the live path
cuts a sentence wherever the caller pauses and mostly writes no stop ("我……" | "把药……" | "全吃了。"). Used by the
engine (:meth:`service.risk.RiskEngine.analyze`) for what the pieces say together, and by the call level
(:mod:`service.risk.level`) for when and where the act happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.risk.lexicon import unpaused
from service.types import FinalSegment

#: a caller's pieces of one utterance: the gap between them (the recognizer cuts after about 0.6 s of silence) and
#: how many pieces, and characters before the segment, are read with it
FRAGMENT_GAP_S = 1.5
MAX_FRAGMENTS = 8
MAX_FRAGMENT_CHARS = 40
#: what ends an utterance: a piece that ends otherwise (no mark, a comma, a trailing-off "……") goes on in the next
FINISHED = "。！？!?；;"


@dataclass(frozen=True)
class JoinedReading:
    """A caller segment read with the unfinished pieces before it and its own pauses taken out: ``text``;
    ``positions[i]``, the index in the segment's own text of ``text[i]`` (None for an earlier piece's character:
    they all come first); ``fragments``, how many earlier segments it takes in; ``start``, when the first of them
    starts."""

    text: str
    positions: tuple[int | None, ...]
    fragments: int
    start: float

    @property
    def before(self) -> str:
        """The earlier pieces' words ("我上次" of "我上次" | "把药全吃了")."""
        return self.text[:self.positions.count(None)]

    @property
    def own(self) -> str:
        """The segment's own words, its pauses taken out."""
        return self.text[self.positions.count(None):]

    def own_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The span in the segment's own text of the reading's ``text[start:end]``, as far as it reaches into the
        segment; None when it lies wholly in the earlier pieces."""
        own = [i for i in self.positions[start:end] if i is not None]
        return (min(own), max(own) + 1) if own else None


def joined_reading(seg: FinalSegment, context: Sequence[FinalSegment],
                   max_piece_chars: int = MAX_FRAGMENT_CHARS) -> JoinedReading | None:
    """The caller's words as one utterance where the recognizer cut it into pieces or wrote a pause inside it:
    the caller's segments right before ``seg`` in call time (``context``, most recent last) that end unfinished
    (no full stop, question or exclamation mark) with at most FRAGMENT_GAP_S of silence between them and no
    counselor segment, up to MAX_FRAGMENTS of them and MAX_FRAGMENT_CHARS characters, then ``seg``; the pauses
    inside ("……") taken out; ``max_piece_chars``: only pieces this short (the run of short heads before ``seg``:
    "我朋友" | "昨天" | "把药全吃了"). None when there is nothing to join: no such piece and no pause inside ``seg``.
    Only a caller's segments: one-channel speech ("mixed") has both speakers in it."""
    if seg.speaker != "caller":
        return None
    pieces: list[FinalSegment] = []
    after = seg
    for prev in reversed(list(context)):
        text = prev.text.strip()
        if (prev.speaker != "caller" or not text or text[-1] in FINISHED or after.start - prev.end > FRAGMENT_GAP_S
                or len(pieces) == MAX_FRAGMENTS or len(unpaused(text, None)[0]) > max_piece_chars
                or sum(len(p.text) for p in pieces) + len(text) > MAX_FRAGMENT_CHARS):
            break
        pieces.insert(0, prev)
        after = prev
    own, own_pos = unpaused(seg.text, 0, keep_end=True)
    if not pieces and own == seg.text:
        return None
    text, positions = [], []
    for i, p in enumerate(pieces):
        t, pos = unpaused(p.text.strip(), None)
        following = pieces[i + 1].text.strip() if i + 1 < len(pieces) else own
        if following.startswith(t) and len(following) > len(t):
            continue  # a false start the next piece says again whole: "我想" | "自" | "自杀" reads "我想自杀"
        text.append(t)
        positions.extend(pos)
    text.append(own)
    positions.extend(own_pos)
    return JoinedReading("".join(text), tuple(positions), len(pieces), pieces[0].start if pieces else seg.start)
