"""Running a conversation through the service's own risk path (``RiskAnalysis.analyze``) for the risk tests: the
counselor's opening first, each turn as a final segment, pieces ``gap`` seconds apart as the recognizer cuts them."""

from __future__ import annotations

from service.analysis import RiskAnalysis
from service.risk import RiskEngine
from service.types import FinalSegment

C, K = "caller", "counselor"
OPENING = (K, "您好，这里是心理援助热线，请问有什么可以帮到您？")


def run_call(engine: RiskEngine, turns: list[tuple[str, str]], call_id: str,
             gap: float = 0.3) -> tuple[RiskAnalysis, list]:
    """The call's analysis and each segment's risk (the opening's first)."""
    ra, out, t = RiskAnalysis(engine, call_id, None), [], 0.0
    for i, (who, text) in enumerate([OPENING, *turns]):
        d = max(1.0, 0.25 * len(text))
        out.append(ra.analyze(FinalSegment(call_id, i, who, t, t + d, text))[0])
        t += d + gap
    return ra, out


def worded(risk) -> dict[str, str]:
    """The labels a segment's words carry, with the words."""
    return {k.label: k.text for k in risk.keywords}
