"""Which segments a field cites when more support it than the field may cite (a 30–90 minute call has 600–2,000).

A field cites the segments behind its value first, then fills up to its cap; the draft lists them in time order.
Taking the earliest ids in time order instead cited, in a long call, only the opening minutes: a 紧急 call's
``risk_level`` named early passive lines and never the pills swallowed an hour in, and ``referral`` 急诊 named no
segment that says 急诊 or 120.

- :func:`by_rank`: tiers from most to least relevant (``risk_level``: the gravest criteria first);
- :func:`by_value`: one group per listed value (``referral``, ``problem_categories``): each value gets a segment
  before any value gets a second;
- :func:`spread`: segments of equal relevance in an order whose every prefix is spread over the call (first, last,
  middle, quarters, …), so a cap keeps the first mention, the latest and some in between, not the first few.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def spread(ids: Iterable[int]) -> list[int]:
    """``ids`` (time order, duplicates dropped) reordered so that any prefix is spread evenly over them."""
    items = list(dict.fromkeys(ids))
    n = len(items)
    if n <= 2:
        return items
    order = [0, n - 1]
    spans = [(0, n - 1)]
    while spans:
        nxt = []
        for lo, hi in spans:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            order.append(mid)
            nxt += [(lo, mid), (mid, hi)]
        spans = nxt
    return [items[i] for i in order]


def by_rank(tiers: Iterable[Iterable[int]], cap: int) -> list[int]:
    """Up to ``cap`` ids, the first tier's before the second's …; each tier in :func:`spread` order; time order."""
    chosen: list[int] = []
    for tier in tiers:
        for i in spread(tier):
            if len(chosen) >= cap:
                return sorted(chosen)
            if i not in chosen:
                chosen.append(i)
    return sorted(chosen)


def by_value(groups: Sequence[Iterable[int]], cap: int) -> list[int]:
    """Up to ``cap`` ids taken from the groups in turn (each value's first segment, then each one's second …)."""
    queues = [spread(g) for g in groups]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < cap and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and q[depth] not in chosen and len(chosen) < cap:
                chosen.append(q[depth])
        depth += 1
    return sorted(chosen)
