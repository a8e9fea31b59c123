"""Write ``MODEL_CARD.md`` for the risk classifier from the metrics that ``service.risk.train`` counted."""

from __future__ import annotations

from pathlib import Path


def write_model_card(out: Path, m: dict) -> Path:
    a = m["held_out"]["any_suicide"]
    t = m["targets"]
    met = a["recall"] >= t["any_suicide_recall"] and a["precision"] >= t["any_suicide_precision"]
    lines = [
        f"# Risk classifier `{m['model_id']}`",
        "",
        f"Date: {m['date']}. Reproduce: `{m['command']}` (seeded; {m['train_seconds']} s on one CPU thread).",
        "",
        "Character 1–3-gram bag (vocabulary of n-grams seen at least twice in the training data, "
        f"{m['vocab_size']} entries) → mean embedding → MLP → 10 label probabilities + `any_suicide` "
        "(`passive_ideation`…`suicide_attempt`). Exported to ONNX (`risk_clf.onnx`, input `ids`), vocabulary in `vocab.json`, "
        "outputs and the shipped threshold in `classifier.json`. Runs with onnxruntime on the CPU.",
        "",
        "## Data",
        f"- PsyGUARD `valid.json` ({m['data']['psyguard_rows']} Chinese utterances, EMNLP 2024, MIT), labels mapped as "
        "`/work/shared/data/README.md` says. PsyGUARD's own test split was not fetched or used.",
        f"- `service/risk/data/train_extra.jsonl`: {m['data']['extra_rows']} sentences written for this project "
        "(hyperbole and negation negatives, third-party statements → `suicide_exploration`, hotline-style positives, "
        "an ASR-error spelling). They are added to every training part and never scored.",
        "- The annotated calls (`/work/shared/data/calls/calls.jsonl`) were read while writing the lexicon and the extra "
        "sentences (no sentence copied) and are used by `service.risk.devreport` for development figures; they are not "
        "training data and the figures on them are not held-out.",
        "",
        "Label support in PsyGUARD valid: " + ", ".join(f"{k} {v}" for k, v in m["data"]["label_support"].items()) + ".",
        "",
        "## Split",
        f"{m['split']['folds']}-fold cross-validation on the PsyGUARD rows, stratified by {m['split']['stratified_by']}, "
        f"seed {m['split']['seed']}. Threshold: {m['split']['threshold_selection']}; the fold's held-out rows are scored "
        f"with it. Fold thresholds {m['fold_thresholds']}; the shipped model (trained on all rows) uses their median, "
        f"{m['shipped_threshold']}.",
        "",
        "## Held-out metrics (pooled over folds; never scored on training rows)",
        "",
        "| what | precision | recall | F1 | tp | fp | fn |",
        "|---|---|---|---|---|---|---|",
        f"| any_suicide (fold threshold) | {a['precision']} | {a['recall']} | {a['f1']} | {a['tp']} | {a['fp']} | {a['fn']} |",
    ]
    for src, s in m["held_out"]["any_suicide_by_source"].items():
        lines.append(f"| any_suicide, {src} | {s['precision']} | {s['recall']} | {s['f1']} | {s['tp']} | {s['fp']} | {s['fn']} |")
    for lb, s in m["held_out"]["per_label_at_0.5"].items():
        lines.append(f"| {lb} (0.5, support {s['support']}) | {s['precision']} | {s['recall']} | {s['f1']} | {s['tp']} | {s['fp']} | {s['fn']} |")
    if "engine" in m["held_out"]:
        e = m["held_out"]["engine"]
        lines += ["", f"Engine (lexicon + this classifier, context rules) on the same folds: any_suicide precision "
                      f"{e['precision']}, recall {e['recall']}, F1 {e['f1']}. The lexicon was written after reading "
                      "PsyGUARD valid examples, so this figure is optimistic."]
    lines += [
        "",
        f"Target: any_suicide recall ≥ {t['any_suicide_recall']} at precision ≥ {t['any_suicide_precision']}: "
        + ("**met**." if met else "**not met** — a finding, not a reason to move the threshold."),
        "",
        "## Limits",
        "- Per-label figures for `suicide_plan`, `suicide_preparation`, `suicide_attempt`, `self_harm_ideation` rest on "
        "2–18 examples; the engine takes those labels from the lexicon, the classifier is used for any_suicide and "
        "ideation.",
        "- PsyGUARD is mostly written text (social media, chat); hotline speech after ASR differs.",
    ]
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
