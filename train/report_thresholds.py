"""Add report thresholds to a model trained before they existed, or tune a model's thresholds
again after the tuning rule changed.

`make train` saves two sets of per-label thresholds in `clausewatch.json`: the flag thresholds
(F1-best on validation) and the stricter report thresholds (F0.5-best, never below the flag
ones) that `diff` and `watch` need before they call a clause a grant or a withdrawal. A model
folder from before has only the first set; this command scores the validation split of the
dataset the model was trained on with the model itself and adds the second, by the same rule as
training. The flag thresholds are left as they are unless `--flag-thresholds` asks for them to be
tuned again by today's rule too (for a model trained before that rule changed, such as the wider
threshold grid). Export the model again afterwards (`make export`) so the ONNX and Hub folders
carry them too.

    python scripts/report_thresholds.py --model outputs/latest/model [--dataset-dir data/processed]
        [--flag-thresholds]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from train.errors import DataError
from train.evaluation import load_built_split
from train.inference import ClausePredictor
from train.metrics import real_mask, report_thresholds, tune_thresholds_by_origin
from train.modelio import META_FILE, load_meta, save_meta
from train.paths import repo_path


def add_report_thresholds(
    model_dir: Path, dataset_dir: Path, batch_size: int = 64, flag_thresholds: bool = False
) -> list[float]:
    """Score the validation split with the model, write its report thresholds (and with
    `flag_thresholds` its flag thresholds, tuned as training tunes them) into `clausewatch.json`
    and return the report thresholds. The dataset must be the one the model was trained on."""
    meta = load_meta(model_dir)
    stats_path = dataset_dir / "stats.json"
    if stats_path.is_file() and meta.dataset_hash:
        built = json.loads(stats_path.read_text(encoding="utf-8")).get("content_hash", "")
        if built and built != meta.dataset_hash:
            raise DataError(
                stats_path,
                f"dataset {built[:12]}… is not the one the model was trained on "
                f"({meta.dataset_hash[:12]}…); build that one (`make data` at its commit)",
            )
    rows = load_built_split(dataset_dir, "validation", meta.labels)
    if not rows:
        raise DataError(dataset_dir, "no validation clauses")
    predictor = ClausePredictor(model_dir, backend="auto")
    probs = predictor.predict_proba([r["text"] for r in rows], batch_size=batch_size)
    gold = np.asarray([r["labels"] for r in rows])
    mask = np.asarray([r["label_mask"] for r in rows])
    real = real_mask(r.get("origin") for r in rows)
    flag = list(meta.thresholds)
    if flag_thresholds:
        flag, _ = tune_thresholds_by_origin(probs, gold, mask, real)
    reporting = report_thresholds(probs, gold, mask, real, flag)
    save_meta(model_dir, replace(meta, thresholds=flag, report_thresholds=reporting))
    return reporting


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    p.add_argument("--model", required=True, help=f"a trained model folder (with {META_FILE})")
    p.add_argument("--dataset-dir", default="data/processed", help="the built dataset")
    p.add_argument(
        "--flag-thresholds",
        action="store_true",
        help="tune the flag thresholds again too, by the rule training uses today",
    )
    args = p.parse_args(argv)
    model_dir = repo_path(args.model)
    try:
        before = load_meta(model_dir).thresholds
        reporting = add_report_thresholds(
            model_dir, repo_path(args.dataset_dir), flag_thresholds=args.flag_thresholds
        )
    except (DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    meta = load_meta(model_dir)
    for j, (name, flag, report) in enumerate(
        zip(meta.labels, meta.thresholds, reporting, strict=True)
    ):
        was = f" (was {before[j]:.2f})" if before[j] != flag else ""
        print(f"{name:<18} flag {flag:.2f}{was}  report {report:.2f}")
    print(f"wrote {model_dir / META_FILE}; run `make export` to carry them to the export")
    return 0


if __name__ == "__main__":
    sys.exit(main())
