"""Assemble, check and write eval reports: the contract's JSON, a Markdown summary and a one-file HTML report.

The JSON holds the keys of ``eval-contract.md`` (checked by :func:`contract_problems`) plus counts, per-call rows and
a ``meta`` block saying what data, model and settings produced the numbers. The HTML is written beside the JSON
(same name, ``.html``) with its figures embedded as base64 PNG (matplotlib, Agg canvas, no pyplot state).
Reports carry ids, labels, counts and timings only, never transcript text.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.data import RISK_LABELS, file_sha256
from eval.normalize import NORMALISER_NAME

REPORT_FORMAT = "eval-report/1"
KINDS = ("calls", "utterances", "bench", "corrections")
PACKAGES = ("faster-whisper", "ctranslate2", "onnxruntime", "jiwer", "OpenCC", "cn2an", "numpy", "hotline-scribe")
LEVEL_NAMES_EN = {"无": "none", "低": "low", "中": "medium", "高": "high", "紧急": "urgent"}
"""Figure tick labels (matplotlib here has no CJK font); tables keep the Chinese."""

CONTRACT_KEYS: dict[str, tuple[str, ...]] = {
    "asr": ("asr.cer", "asr.ref_chars"),
    "risk.segment": ("risk.segment.any_suicide.precision", "risk.segment.any_suicide.recall",
                     "risk.segment.any_suicide.f1",
                     *(f"risk.segment.labels.{label}.{k}" for label in RISK_LABELS
                       for k in ("precision", "recall", "f1", "support"))),
    "risk.call": ("risk.call.level_accuracy", "risk.call.high_recall", "risk.call.false_alerts_per_nonrisk_call"),
    "worksheet": ("worksheet.fields", "worksheet.mean"),
    "latency": ("latency.final_p50_s", "latency.final_p95_s", "latency.alert_p95_s"),
    "bench": tuple(f"bench.{k}" for k in ("concurrency", "realtime_factor", "final_p95_s", "alert_p95_s",
                                          "offline_cpu_s", "stream_cpu_s", "dropped_frames")),
}
REQUIRED_SECTIONS = {"calls": ("risk.segment", "risk.call", "worksheet"), "utterances": ("risk.segment",),
                     "bench": ("bench",), "corrections": ("worksheet",)}


class CostClock:
    """Wall time of each step an eval command runs in its own process, by kind of step (``risk_caller_segment``,
    ``risk_counselor_segment``, ``worksheet_draft``…): the ``cost`` section of a report.

    The steps run one at a time, as the service runs them for one call: a segment's risk analysis includes the
    lexicon's passes, the context and level rules and, for a caller segment the rules leave open, the classifier
    (onnxruntime, one thread). A benchmark figure, not a test: it says what this machine took on this data."""

    def __init__(self) -> None:
        self._ms: dict[str, list[float]] = {}

    @contextmanager
    def time(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._ms.setdefault(step, []).append((time.perf_counter() - start) * 1000.0)

    def summary(self) -> dict[str, Any]:
        """Per step: n, p50, p95, mean and max in milliseconds (numpy's percentiles, as for latencies)."""
        import numpy as np

        out: dict[str, Any] = {"unit": "ms", "machine": f"{platform.machine()}, {_cpu_count()} CPUs"}
        for step, values in sorted(self._ms.items()):
            v = np.asarray(values, dtype=float)
            out[step] = {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
                         "mean": float(v.mean()), "max": float(v.max())}
        return out


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _get(report: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = report
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def contract_problems(report: Mapping[str, Any]) -> list[str]:
    """Contract keys missing from a report: those of every section it has, and the sections its kind needs."""
    kind = report.get("kind")
    problems = [] if kind in KINDS else [f"kind {kind!r} is not one of {KINDS}"]
    for section in REQUIRED_SECTIONS.get(kind, ()):
        if not _get(report, section)[0]:
            problems.append(f"{section} (needed for {kind})")
    for section, keys in CONTRACT_KEYS.items():
        if _get(report, section)[0]:
            problems += [key for key in keys if not _get(report, key)[0]]
    if "meta" not in report:
        problems.append("meta")
    return problems


def make_meta(data_path: Path | str, *, command: str, model: str | None = None,
              engine_versions: Mapping[str, str] | None = None, settings: Mapping[str, Any] | None = None,
              data_sha256: str | None = None, **extra: Any) -> dict[str, Any]:
    """The ``meta`` block: data file and its sha256, command, model, engine versions (risk lexicon, classifier,
    worksheet engine…), effective settings, normaliser, package versions, time. ``extra`` is added as is.

    ``data_sha256`` is for data that is not one file (a database): the caller hashes it; otherwise the file's
    bytes are hashed."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "report_format": REPORT_FORMAT,
        "command": command,
        "data_file": str(data_path),
        "data_sha256": data_sha256 or file_sha256(data_path),
        "model": model,
        "engine_versions": dict(engine_versions or {}),
        "settings": dict(settings or {}),
        "normaliser": NORMALISER_NAME,
        "risk_matching": "time-overlap/1",
        "packages": packages,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def build_report(kind: str, *, meta: Mapping[str, Any], asr: Mapping | None = None,
                 risk_segment: Mapping | None = None, risk_call: Mapping | None = None,
                 worksheet: Mapping | None = None, latency: Mapping | None = None,
                 bench: Mapping | None = None, corrections: Mapping | None = None,
                 cost: Mapping | None = None) -> dict[str, Any]:
    """Assemble a report from the outputs of ``eval.scoring`` (``score_asr``, ``score_segment_risk``,
    ``score_calls``, ``score_worksheets``, ``latency_block``), a bench dict and ``eval.corrections``'
    ``corrections`` section and a :class:`CostClock` summary (``cost``, beyond the contract); leave out what the run
    did not measure. Raises ``ValueError`` naming any contract key
    that is missing."""
    report: dict[str, Any] = {"kind": kind}
    if asr is not None:
        report["asr"] = dict(asr)
    if risk_segment is not None or risk_call is not None:
        report["risk"] = {}
        if risk_segment is not None:
            report["risk"]["segment"] = dict(risk_segment)
        if risk_call is not None:
            report["risk"]["call"] = dict(risk_call)
    for name, section in (("worksheet", worksheet), ("latency", latency), ("bench", bench),
                          ("corrections", corrections), ("cost", cost)):
        if section is not None:
            report[name] = dict(section)
    report["meta"] = dict(meta)
    problems = contract_problems(report)
    if problems:
        raise ValueError("report is missing contract keys: " + ", ".join(problems))
    return report


def html_name_problem(out_path: Path) -> str | None:
    """The HTML goes beside the JSON with the suffix .html: a report named so would be overwritten by it."""
    if out_path.suffix.lower() in (".html", ".htm"):
        return (f"--out {out_path} names the HTML page written beside the report; give the JSON's name "
                f"({out_path.with_suffix('.json').name})")
    return None


def write_report(report: Mapping[str, Any], out_path: Path | str) -> tuple[Path, Path]:
    """Write the report as JSON to ``out_path`` and as HTML beside it (``.html``); returns both paths."""
    out_path = Path(out_path)
    if (problem := html_name_problem(out_path)) is not None:
        raise ValueError(problem)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    html_path = out_path.with_suffix(".html")
    html_path.write_text(render_html(report), encoding="utf-8")
    return out_path, html_path


def progress(iterable: Iterable | None = None, desc: str = "", total: int | None = None, *, enabled: bool = True,
             unit: str = "item"):
    """A tqdm progress bar on stderr, hidden when stderr is not a terminal or when ``enabled`` is False
    (``--no-progress``). Without ``iterable``, call ``.update()`` yourself (calls finishing out of order)."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, unit=unit, disable=None if enabled else True,
                leave=False, dynamic_ncols=True)


# ------------------------------------------------------------------------------------------------------ tables


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: ``None`` → ``–``, floats to ``digits`` places, ints as they are."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def tables(report: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each section present: what both the Markdown and the HTML show."""
    out = []
    if "asr" in report:
        a = report["asr"]
        out.append(("ASR", ["CER", "N (ref chars)", "S", "D", "I", "normaliser"],
                    [[fmt(a["cer"], 4), fmt(a["ref_chars"]), fmt(a.get("substitutions")), fmt(a.get("deletions")),
                      fmt(a.get("insertions")), str(a.get("normaliser", ""))]]))
    seg = report.get("risk", {}).get("segment")
    if seg:
        rows = [["any_suicide", *(fmt(seg["any_suicide"].get(k)) for k in ("precision", "recall", "f1", "support"))]]
        rows += [[label, *(fmt(m.get(k)) for k in ("precision", "recall", "f1", "support"))]
                 for label, m in seg["labels"].items()]
        if "micro" in seg:
            rows.append(["micro (10 labels)", *(fmt(seg["micro"].get(k)) for k in ("precision", "recall", "f1",
                                                                                      "support"))])
        out.append(("Risk per segment", ["label", "precision", "recall", "F1", "support"], rows))
    call = report.get("risk", {}).get("call")
    if call:
        keys = ("level_accuracy", "high_recall", "false_alerts_per_nonrisk_call", "high_precision",
                "level_within_one", "calls")
        out.append(("Risk per call", list(keys), [[fmt(call.get(k)) for k in keys]]))
        if "confusion" in call:
            levels = call["confusion"]["levels"]
            out.append(("Risk level confusion (rows: reference, columns: service)", ["ref \\ hyp", *levels],
                        [[lvl, *map(str, row)] for lvl, row in zip(levels, call["confusion"]["matrix"])]))
    if "worksheet" in report and "corrections" not in report:  # corrections shows the scores beside the changes
        w = report["worksheet"]
        rows = [[f, fmt(v)] for f, v in w["fields"].items()] + [["mean", fmt(w["mean"])]]
        out.append(("Worksheet fields", ["field", "score"], rows))
    if "corrections" in report:
        c = report["corrections"]
        scores = report.get("worksheet", {}).get("fields", {})
        rows = [[f, fmt(scores.get(f)), fmt(v["changed"]), fmt(v["changed_share"]), fmt(v["marked_corrected"])]
                for f, v in c["fields"].items()]
        rows.append(["mean", fmt(report.get("worksheet", {}).get("mean")), "", fmt(c["changed_share_mean"]), ""])
        out.append((f"Counselor changes ({c['worksheets']} finalized worksheets)",
                    ["field", "draft score", "changed", "changed share", "marked corrected"], rows))
        out.append(("Draft engines", ["engine", "version", "worksheets", "worksheet mean"],
                    [[e["engine"], e["version"], fmt(e["worksheets"]),
                      fmt(next((g["worksheet"]["mean"] for g in c.get("by_engine", [])
                                if (g["engine"], g["version"]) == (e["engine"], e["version"])),
                               report.get("worksheet", {}).get("mean")))] for e in c["engines"]]))
    if "latency" in report:
        lat = report["latency"]
        out.append(("Latency (s)", ["final_p50_s", "final_p95_s", "alert_p95_s", "alert_pipeline_p95_s", "finals",
                                    "alerts", "alerts timed", "alerts unjustified"],
                    [[fmt(lat["final_p50_s"]), fmt(lat["final_p95_s"]), fmt(lat["alert_p95_s"]),
                      fmt(lat.get("alert_pipeline_p95_s")), fmt(lat.get("final", {}).get("n")),
                      fmt(lat.get("alerts")), fmt(lat.get("alerts_timed")), fmt(lat.get("alerts_unjustified"))]]))
    if "cost" in report:
        c = report["cost"]
        steps = [k for k, v in c.items() if isinstance(v, Mapping)]
        out.append((f"Cost per step (ms; this process, one at a time; {c.get('machine', '')})",
                    ["step", "n", "p50", "p95", "mean", "max"],
                    [[k, fmt(c[k]["n"]), *(fmt(c[k][q], 2) for q in ("p50", "p95", "mean", "max"))] for k in steps]))
    if "bench" in report:
        b = report["bench"]
        keys = [k for k, v in b.items() if not isinstance(v, (dict, list))]
        out.append(("Bench", keys, [[fmt(b[k]) for k in keys]]))
    return out


def markdown_summary(report: Mapping[str, Any]) -> str:
    """The short human-readable summary printed to stdout: one Markdown table per section, plus data and model."""
    meta = report.get("meta", {})
    lines = [f"# eval {report.get('kind', '')}: {meta.get('data_file', '')}",
             f"data sha256 {str(meta.get('data_sha256', ''))[:12]}… · model {meta.get('model') or '–'} · "
             f"normaliser {meta.get('normaliser', '–')}", ""]
    if meta.get("alert_latency_note"):
        lines[-1:] = [f"note: {meta['alert_latency_note']}", ""]
    for title, header, rows in tables(report):
        if title.startswith("Risk level confusion"):
            continue  # in the HTML; too wide for a terminal summary
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ figures


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figures(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for the confusion matrix, per-label F1, per-field bars and latency histograms."""
    from matplotlib.figure import Figure

    out = []
    call = report.get("risk", {}).get("call")
    if call and "confusion" in call:
        levels = [LEVEL_NAMES_EN.get(x, x) for x in call["confusion"]["levels"]]
        matrix = call["confusion"]["matrix"]
        fig = Figure(figsize=(4.8, 4))
        ax = fig.add_subplot()
        ax.imshow(matrix, cmap="Blues")
        top = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, n in enumerate(row):
                ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
        ax.set_xticks(range(len(levels)), levels)
        ax.set_yticks(range(len(levels)), levels)
        ax.set_xlabel("service level")
        ax.set_ylabel("reference level")
        out.append(("Call risk level: reference vs service", _png(fig)))
    seg = report.get("risk", {}).get("segment")
    if seg:
        names = ["any_suicide", *seg["labels"]]
        values = [(seg["any_suicide"]["f1"] or 0.0), *((m["f1"] or 0.0) for m in seg["labels"].values())]
        out.append(("Segment risk F1 per label (– shown as 0)", _png(_bars(names, values, "F1"))))
    if "worksheet" in report:
        fields = report["worksheet"]["fields"]
        out.append(("Worksheet score per field",
                    _png(_bars(list(fields), [v or 0.0 for v in fields.values()], "score"))))
    lat = report.get("latency", {})
    for key, caption in (("final_values_s", "final latency (s)"), ("alert_values_s", "alert latency (s)")):
        values = lat.get(key) or []
        if values:
            fig = Figure(figsize=(6, 3))
            ax = fig.add_subplot()
            ax.hist(values, bins=min(40, max(5, len(values) // 5)), color="#4878a8")
            ax.set_xlabel("seconds")
            ax.set_ylabel("count")
            ax.set_title(caption)
            out.append((caption, _png(fig)))
    return out


def _bars(names: list[str], values: list[float], xlabel: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 0.3 * len(names) + 0.8))
    ax = fig.add_subplot()
    ax.barh(range(len(names)), values, color="#4878a8")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    for i, v in enumerate(values):
        inside = v > 0.85
        ax.text(v - 0.01 if inside else v + 0.01, i, f"{v:.2f}", va="center", fontsize=8,
                ha="right" if inside else "left", color="white" if inside else "black")
    return fig


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML page (tables, figures, per-call rows, meta)."""
    e = html.escape
    meta = report.get("meta", {})
    parts = ["<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
             # ids, names and values in it come from data (a call id, who finalized a worksheet): all escaped,
             # and should one ever slip through, the page runs no script and loads nothing
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
             "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">",
             f"<title>eval {e(str(report.get('kind', '')))} report</title><style>",
             "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
             "td,th{border:1px solid #ccc;padding:0.2em 0.6em;text-align:right}"
             "th{background:#f0f0f0}td:first-child{text-align:left}figure{margin:1em 0}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto}",
             "</style></head><body>",
             f"<h1>eval {e(str(report.get('kind', '')))}: {e(str(meta.get('data_file', '')))}</h1>",
             f"<p>data sha256 <code>{e(str(meta.get('data_sha256', '')))}</code> · model "
             f"<code>{e(str(meta.get('model')))}</code> · created {e(str(meta.get('created_utc', '')))}</p>"]
    for title, header, rows in tables(report):
        parts.append(_html_table(title, header, rows))
    for caption, png in figures(report):
        parts.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{png}'>"
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    for title, rows in (("Calls", report.get("risk", {}).get("call", {}).get("rows")),
                        ("Alerts", report.get("latency", {}).get("alert_rows")),
                        ("Worksheet per call", report.get("worksheet", {}).get("rows")),
                        ("Finalized worksheets", report.get("corrections", {}).get("rows"))):
        if rows:
            header = list(rows[0])
            parts.append(_html_table(title, header, [[_cell(r.get(k)) for k in header] for r in rows]))
    parts.append("<h2>meta</h2><pre>" + e(json.dumps(meta, ensure_ascii=False, indent=2)) + "</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return fmt(value, 2)


def _html_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{e(str(title))}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
