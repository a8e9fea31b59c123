"""Compare two eval reports: every numeric leaf, old → new, delta, and whether it improved or regressed.

Direction per metric (:func:`direction`): lower is better for CER and its error counts, latencies, the cost
section's milliseconds, CPU, realtime factor, dropped frames, false and unjustified alerts, missing worksheet fields
and the share of draft fields counselors changed; higher is better for precision, recall, F1, accuracies, worksheet scores and hits; everything
else (supports, counts of calls, characters or worksheets, concurrency) is shown as changed without a verdict.
Lists (per-call rows, raw latencies, confusion matrices) and ``meta`` are not diffed number by number; differing
data, model, normaliser or settings are called out first, since numbers from different data are not comparable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.report import fmt

LOWER_BETTER = {"cer", "substitutions", "deletions", "insertions", "realtime_factor", "offline_cpu_s",
                "stream_cpu_s", "dropped_frames", "false_alerts_per_nonrisk_call", "alerts_unjustified",
                "changed_share", "changed_share_mean"}
HIGHER_BETTER = {"precision", "recall", "f1", "level_accuracy", "high_recall", "high_precision",
                 "level_within_one", "mean"}
NEUTRAL = {"n", "support", "detections", "correct_detections", "found", "hits", "ref_chars", "pairs", "calls",
           "high_calls", "nonrisk_calls", "concurrency", "alerts", "alerts_timed", "worksheets", "worksheets_changed",
           "changed", "marked_corrected"}
META_KEYS = ("data_sha256", "model", "normaliser", "risk_matching", "engine_versions", "settings")


@dataclass(frozen=True, slots=True)
class Change:
    """One numeric leaf that differs (``old`` or ``new`` is None when the key is only in one report)."""

    path: str
    old: float | None
    new: float | None
    verdict: str  # "improved", "regressed", "changed", "added", "removed"

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


def direction(path: str) -> str | None:
    """``"lower"``, ``"higher"`` or ``None`` (no verdict) for a dotted report key."""
    parts = path.split(".")
    leaf = parts[-1]
    if parts[:2] == ["worksheet", "fields"]:
        return "higher"
    if parts[:2] == ["worksheet", "missing"]:
        return "lower"
    if leaf in NEUTRAL:
        return None
    if parts[0] in ("latency", "cost") or leaf.endswith("_s") or leaf in LOWER_BETTER:
        return "lower"
    if leaf in HIGHER_BETTER:
        return "higher"
    return None


def numeric_leaves(node: Any, prefix: str = "") -> dict[str, float | None]:
    """Dotted path → value for every number (and null) in nested dicts, skipping lists, bools and ``meta``."""
    out: dict[str, float | None] = {}
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if path == "meta":
                continue
            out.update(numeric_leaves(value, path))
    elif node is None or (isinstance(node, (int, float)) and not isinstance(node, bool)):
        out[prefix] = node
    return out


def diff_reports(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float = 1e-9) -> list[Change]:
    """Every numeric leaf that moved by more than ``tolerance`` (or appeared, vanished, became null)."""
    old, new = numeric_leaves(a), numeric_leaves(b)
    changes = []
    for path in list(old) + [p for p in new if p not in old]:
        o, n = old.get(path), new.get(path)
        if path not in new:
            changes.append(Change(path, o, None, "removed"))
        elif path not in old:
            changes.append(Change(path, None, n, "added"))
        elif o is None or n is None:
            if o is not n:
                changes.append(Change(path, o, n, "changed"))
        elif abs(n - o) > tolerance:
            better = direction(path)
            verdict = ("changed" if better is None else
                       "improved" if (n < o) == (better == "lower") else "regressed")
            changes.append(Change(path, o, n, verdict))
    return changes


def meta_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Lines naming the ``meta`` entries (data, model, normaliser, engines, settings) that differ."""
    ma, mb = a.get("meta", {}), b.get("meta", {})
    return [f"{key}: {json.dumps(ma.get(key), ensure_ascii=False)} → {json.dumps(mb.get(key), ensure_ascii=False)}"
            for key in META_KEYS if ma.get(key) != mb.get(key)]


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float = 1e-9) -> str:
    """Markdown: what differs in ``meta``, then a table of every numeric leaf that moved (path, old, new, delta,
    verdict), regressions first, then the count of regressions, improvements and unchanged leaves."""
    changes = diff_reports(a, b, tolerance)
    order = {"regressed": 0, "improved": 1, "changed": 2, "added": 3, "removed": 4}
    changes.sort(key=lambda c: order[c.verdict])
    lines = []
    meta = meta_differences(a, b)
    if meta:
        lines += ["## Not the same run setup", ""] + [f"- {m}" for m in meta] + [""]
        if any(m.startswith("data_sha256") for m in meta):
            lines += ["**Different data files: the numbers below are not comparable.**", ""]
    counts = {v: sum(c.verdict == v for c in changes) for v in order}
    unchanged = len(set(numeric_leaves(a)) & set(numeric_leaves(b))) - sum(
        c.verdict in ("regressed", "improved", "changed") for c in changes)
    lines.append(f"{counts['regressed']} regressed, {counts['improved']} improved, {counts['changed']} changed "
                 f"without a direction, {counts['added']} added, {counts['removed']} removed, {unchanged} unchanged.")
    if changes:
        lines += ["", "| metric | old | new | delta | |", "|---|---|---|---|---|"]
        for c in changes:
            delta = "–" if c.delta is None else f"{c.delta:+.4g}"
            lines.append(f"| {c.path} | {fmt(c.old, 4)} | {fmt(c.new, 4)} | {delta} | {c.verdict} |")
    return "\n".join(lines) + "\n"


def load_report(path: Path | str) -> dict[str, Any]:
    """A report JSON written by :func:`eval.report.write_report`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
