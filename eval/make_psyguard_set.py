"""Turn PsyGUARD's ``valid.json`` into labelled-utterance JSONL for ``python -m eval utterances``.

    python -m eval.make_psyguard_set ../shared/data/psyguard/valid.json \
        --out var/eval/psyguard-valid.jsonl

One line per row: ``{"id": "psyguard-N", "text": …, "risk": [labels], "source": "psyguard:DATA_SOURCE"}``, the
Chinese labels mapped as ``shared/data/README.md`` says (the same map the risk classifier trains with,
``service.risk.train.PSYGUARD_LABELS``; "与自杀/自伤/攻击行为无关" means no label). ``N`` is the row's position in the
file: PsyGUARD's own ``idx`` repeats within ``valid.json``.

The shipped risk classifier is trained on every row of this file: ``utterances`` on it gives a training-set
figure. Held-out figures are the classifier's cross-validation (``python -m service.risk.train``,
``models/risk/MODEL_CARD.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def convert(rows: list[dict]) -> list[dict]:
    """PsyGUARD rows → utterance objects; raises ValueError naming the row of an unknown label."""
    from service.risk.train import PSYGUARD_LABELS

    out = []
    for n, row in enumerate(rows):
        unknown = [label for label in row["labels"] if label not in PSYGUARD_LABELS]
        if unknown:
            raise ValueError(f"row {n} (idx {row.get('idx')}): unknown label(s) {unknown}")
        labels = sorted({PSYGUARD_LABELS[label] for label in row["labels"]} - {None})
        out.append({"id": f"psyguard-{n}", "text": row["text"], "risk": labels,
                    "source": f"psyguard:{row.get('data_source', '?')}"})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.make_psyguard_set", description=__doc__.splitlines()[0])
    p.add_argument("valid_json", type=Path, help="PsyGUARD valid.json")
    p.add_argument("--out", type=Path, required=True, help="utterances JSONL to write")
    args = p.parse_args(argv)
    try:
        utterances = convert(json.loads(args.valid_json.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"python -m eval.make_psyguard_set: {args.valid_json}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(u, ensure_ascii=False) + "\n" for u in utterances), encoding="utf-8")
    print(f"{len(utterances)} utterances: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
