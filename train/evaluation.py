"""Evaluate a trained model on labelled clauses, side by side with two baselines.

Evaluation is prediction plus metrics: the model scores clauses through `ClausePredictor` (the
path batch inference uses), the baselines through the same `predict_proba` interface, and every
system is scored on the same rows by `MaskedMultilabelMetric` (masked entries count for nothing).

Outputs, in `<run>/eval/` by default: `metrics.json`, `predictions.jsonl`, `pr_<label>.png`,
`f1_threshold.png` and `report.html` (written by `train.evaluation_report`); the side-by-side table
is printed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.baselines import KeywordBaseline, TfidfLogRegBaseline, rows_to_arrays
from train.clause_files import read_clause_file
from train.errors import ConfigError, DataError
from train.evaluate_metric import compute_masked_metrics
from train.evaluation_report import (
    plot_f1_threshold,
    plot_pr_curves,
    summary_text,
    write_predictions,
    write_report,
)
from train.metrics import apply_thresholds, bootstrap_f1_ci
from train.outputs import write_atomic
from train.paths import repo_path
from train.taxonomy import Taxonomy

DEFAULT_MODEL = Path("outputs/latest/model")
DEFAULT_DATA = Path("data/processed")
N_WORST = 5  # false positives / false negatives shown per label in the report
GROUP_FIELDS = {"by_source": "source", "by_origin": "origin"}


# ----------------------------------------------------------------------------- data


def built_dataset_dir(path: str | Path) -> Path | None:
    """The `datasets` folder of a built dataset (`data/processed` or `data/processed/dataset`)."""
    path = Path(path)
    for folder in (path / "dataset", path):
        if (folder / "dataset_dict.json").is_file():
            return folder
    return None


def load_built_split(path: str | Path, split: str, label_names: Sequence[str]) -> list[dict]:
    """Rows of one split of the built dataset; its labels must be the model's, in the same order."""
    from datasets import load_from_disk

    folder = built_dataset_dir(path)
    if folder is None:
        raise DataError(
            path, "no built dataset here (expected dataset/dataset_dict.json); run `make data`"
        )
    stats_path = folder.parent / "stats.json"
    if stats_path.is_file():
        names = json.loads(stats_path.read_text(encoding="utf-8")).get("label_names")
        if names and list(names) != list(label_names):
            raise DataError(
                stats_path,
                f"the dataset's labels {names} differ from the model's {list(label_names)}; "
                "evaluate with data built from the model's taxonomy",
            )
    ds = load_from_disk(str(folder))
    if split not in ds:
        raise DataError(folder, f"no split {split!r} (available: {', '.join(ds)})")
    rows = ds[split].to_list()
    if rows and len(rows[0]["labels"]) != len(label_names):
        raise DataError(
            folder,
            f"clauses carry {len(rows[0]['labels'])} labels, the model has {len(label_names)}",
        )
    return rows


def load_rows(data: str | Path, split: str, taxonomy: Taxonomy) -> list[dict]:
    """Labelled clauses to evaluate: a split of a built dataset folder, or a `.jsonl`/`.csv` file."""
    path = repo_path(data)
    if path.is_dir():
        rows = load_built_split(path, split, taxonomy.names)
    elif path.is_file():
        rows = read_clause_file(path, taxonomy)
    else:
        raise DataError(
            path, "not found: pass a built dataset folder (`make data`) or a .jsonl/.csv file"
        )
    if not rows:
        raise DataError(
            path,
            f"no clauses to evaluate (split {split!r})"
            if path.is_dir()
            else "no clauses to evaluate",
        )
    return rows


def load_baseline_rows(
    train_on: str | Path, validation: str | Path | None, taxonomy: Taxonomy
) -> tuple[list[dict], list[dict] | None]:
    """Training and validation clauses for the baselines: a built dataset folder's train and
    validation splits, or a train file (with an optional validation file)."""
    path = repo_path(train_on)
    if path.is_dir():
        train_rows = load_built_split(path, "train", taxonomy.names)
        val_rows = load_built_split(path, "validation", taxonomy.names)
    else:
        train_rows = read_clause_file(path, taxonomy)
        val_rows = None
    if validation is not None:
        val_rows = read_clause_file(repo_path(validation), taxonomy)
    if not train_rows:
        raise DataError(path, "no training clauses for the baselines")
    return train_rows, val_rows


# ----------------------------------------------------------------------------- scoring


def score_system(
    scores: np.ndarray,
    thresholds: Sequence[float],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Per-label precision/recall/F1/support/average precision, micro and macro F1 (through the
    evaluate metric), plus 95% bootstrap intervals of each label's F1 and of micro F1."""
    result = compute_masked_metrics(scores, gold, mask, label_names, thresholds)
    pred = apply_thresholds(scores, thresholds)
    for j, name in enumerate(label_names):
        ci = None
        if n_bootstrap > 0 and mask[:, j].any():
            ci = list(bootstrap_f1_ci(pred[:, j], gold[:, j], mask[:, j], n_bootstrap, seed))
        result[name]["f1_ci95"] = ci
    result["micro_f1_ci95"] = (
        list(bootstrap_f1_ci(pred, gold, mask, n_bootstrap, seed))
        if n_bootstrap > 0 and len(pred)
        else None
    )
    return result


def group_breakdown(
    rows: Sequence[dict],
    field: str,
    system_scores: dict[str, np.ndarray],
    thresholds: dict[str, Sequence[float]],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
) -> dict:
    """`{group: {"clauses": n, system: {macro_f1, micro_f1, label: {precision, recall, f1,
    support, annotated}}}}` for each value of `field` (empty values grouped as `unknown`)."""
    values = np.asarray([str(r.get(field) or "unknown") for r in rows])
    out: dict = {}
    for value in sorted(set(values)):
        idx = np.flatnonzero(values == value)
        group: dict = {"clauses": len(idx)}
        for system, scores in system_scores.items():
            group[system] = compute_masked_metrics(
                scores[idx],
                gold[idx],
                mask[idx],
                label_names,
                thresholds[system],
                average_precision=False,
            )
        out[value] = group
    return out


DOCUMENT_SOURCES = ("ota_contrib_2026", "tosdr_corpus_text")


def origin_results(
    rows: Sequence[dict],
    system_scores: dict[str, np.ndarray],
    thresholds: dict[str, Sequence[float]],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    n_bootstrap: int,
    seed: int,
) -> dict:
    """Full results (per-label P/R/F1, AP, bootstrap intervals) on real clauses and on
    team-written clauses separately: `{"real": {system: ...}, "team": {...}}`. The real ones are
    the headline; team-written clauses share one style and would flatter every system."""
    origins = np.asarray([str(r.get("origin") or "real") for r in rows])
    out: dict = {}
    for origin in ("real", "team"):
        idx = np.flatnonzero(origins == origin)
        if len(idx) == 0:
            continue
        out[origin] = {
            system: score_system(
                scores[idx],
                thresholds[system],
                gold[idx],
                mask[idx],
                label_names,
                n_bootstrap,
                seed,
            )
            for system, scores in system_scores.items()
        }
        out[origin]["clauses"] = int(len(idx))
    return out


def document_rates(
    rows: Sequence[dict],
    system_scores: dict[str, np.ndarray],
    thresholds: dict[str, Sequence[float]],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    documents: set[str] | None = None,
) -> dict | None:
    """On the exhaustively labelled real documents (every clause, every label annotated): each
    label's gold rate beside each system's predicted rate, the check that a system flags about as
    often as a careful reader would on ordinary documents."""
    # Only whole labelled documents (`documents`, from data/labelled_documents.csv): single
    # clauses labelled for every label elsewhere (AI mentions) would skew the rates.
    idx = np.flatnonzero(
        [
            r.get("source") in DOCUMENT_SOURCES
            and bool(np.all(m))
            and (documents is None or r.get("document") in documents)
            for r, m in zip(rows, mask, strict=True)
        ]
    )
    if len(idx) == 0:
        return None
    out: dict = {
        "clauses": int(len(idx)),
        "documents": len({rows[i].get("document") for i in idx}),
        "gold_rate": {n: float(gold[idx, j].mean()) for j, n in enumerate(label_names)},
        "predicted_rate": {},
    }
    for system, scores in system_scores.items():
        flags = apply_thresholds(scores[idx], thresholds[system])
        out["predicted_rate"][system] = {
            n: float(flags[:, j].mean()) for j, n in enumerate(label_names)
        }
    return out


def worst_errors(
    rows: Sequence[dict],
    scores: np.ndarray,
    thresholds: Sequence[float],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    k: int = N_WORST,
) -> dict:
    """Per label, the k most confident false positives (highest-scoring flagged negatives) and
    false negatives (lowest-scoring missed positives), among annotated entries only."""
    pred = apply_thresholds(scores, thresholds)
    out = {}
    for j, name in enumerate(label_names):
        annotated = mask[:, j] == 1
        fp = np.flatnonzero(annotated & (gold[:, j] == 0) & (pred[:, j] == 1))
        fn = np.flatnonzero(annotated & (gold[:, j] == 1) & (pred[:, j] == 0))
        fp = fp[np.argsort(-scores[fp, j], kind="stable")][:k]
        fn = fn[np.argsort(scores[fn, j], kind="stable")][:k]
        out[name] = {
            "false_positives": [_example(rows[i], scores[i, j]) for i in fp],
            "false_negatives": [_example(rows[i], scores[i, j]) for i in fn],
        }
    return out


def _example(row: dict, score: float) -> dict:
    return {
        "id": str(row.get("id", "")),
        "score": float(score),
        "source": str(row.get("source") or ""),
        "text": str(row["text"]),
    }


def _labelled_documents() -> set[str]:
    """Ids of the exhaustively labelled documents (empty when the table is missing)."""
    from train.doc_labels import load_manifest

    return {d.document for d in load_manifest()}


# ----------------------------------------------------------------------------- evaluate


def evaluate_model(
    model_dir: str | Path = DEFAULT_MODEL,
    data: str | Path = DEFAULT_DATA,
    split: str = "test",
    output_dir: str | Path | None = None,
    backend: str = "auto",
    n_bootstrap: int = 1000,
    train_baselines_on: str | Path | None = None,
    baseline_validation: str | Path | None = None,
    baselines: bool = True,
    seed: int = 0,
    batch_size: int = 64,
) -> dict:
    """Score the model and the baselines on `split` of `data`, write `metrics.json`,
    `predictions.jsonl`, plots and `report.html` into `output_dir` (default `<run>/eval`), print
    the side-by-side table, and return the metrics.

    `data` is a built dataset folder (its `split` is evaluated) or a labelled `.jsonl`/`.csv`.
    Baselines train on `train_baselines_on` (a built dataset folder: its train split, thresholds
    tuned on its validation split; or a train file, with `baseline_validation` for thresholds),
    by default on the built dataset being evaluated. A file without a train set skips them.
    """
    from train.inference import ClausePredictor

    model_path = repo_path(model_dir)
    if not model_path.exists():
        raise FileNotFoundError(
            f"{model_dir}: model folder not found; train one with `make train` or pass --model"
        )
    # --- model and data
    predictor = ClausePredictor(model_path, backend=backend)
    labels = list(predictor.labels)
    definitions = predictor.meta.label_definitions
    taxonomy = Taxonomy(
        predictor.meta.taxonomy_version,
        tuple(labels),
        tuple(definitions.get(n, "") for n in labels),
    )
    data_path = repo_path(data)
    rows = load_rows(data_path, split, taxonomy)
    texts, gold, mask = rows_to_arrays(rows)
    out_dir = Path(output_dir) if output_dir is not None else model_path.parent / "eval"
    print(
        f"evaluating {model_path} ({predictor.backend_name}) on {data_path} [{split}]: {len(rows)} clauses"
    )

    # --- predictions: the model, then baselines on the same texts
    system_scores = {
        "model": np.asarray(predictor.predict_proba(texts, batch_size=batch_size), dtype=np.float64)
    }
    thresholds = {"model": [float(t) for t in predictor.thresholds]}
    baseline_info = _baseline_source(data_path, train_baselines_on, baseline_validation, baselines)
    if baseline_info["trained_on"] is not None:
        train_rows, val_rows = load_baseline_rows(
            baseline_info["trained_on"], baseline_validation, taxonomy
        )
        if not val_rows:
            baseline_info["note"] += "; no validation clauses, so the TF-IDF thresholds stay at 0.5"
        for system in (TfidfLogRegBaseline(labels, seed=seed), KeywordBaseline(labels)):
            system.fit(train_rows, val_rows)
            system_scores[system.name] = system.predict_proba(texts)
            thresholds[system.name] = [float(t) for t in system.thresholds]
    print(f"baselines: {baseline_info['note']}")

    # --- metrics
    results = {
        system: score_system(scores, thresholds[system], gold, mask, labels, n_bootstrap, seed)
        for system, scores in system_scores.items()
    }
    metrics: dict = {split: results}
    for key, field in GROUP_FIELDS.items():
        metrics[key] = group_breakdown(rows, field, system_scores, thresholds, gold, mask, labels)
    # Real and team-written clauses apart, with intervals: `by_origin.real` is the headline.
    for origin, block in origin_results(
        rows, system_scores, thresholds, gold, mask, labels, n_bootstrap, seed
    ).items():
        metrics["by_origin"][origin].update(block)
    metrics["labelled_documents"] = document_rates(
        rows, system_scores, thresholds, gold, mask, labels, _labelled_documents()
    )
    metrics["meta"] = {
        "model_dir": str(model_dir),
        "backend": predictor.backend_name,
        "data": str(data),
        "split": split,
        "clauses": len(rows),
        "labels": labels,
        "thresholds": thresholds,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "baselines": baseline_info,
        "output_dir": str(out_dir),
    }

    # --- write
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_text = json.dumps(metrics, indent=2, default=float) + "\n"
    write_atomic(out_dir / "metrics.json", lambda fh: fh.write(metrics_text))
    write_predictions(
        out_dir / "predictions.jsonl",
        rows,
        system_scores["model"],
        thresholds["model"],
        gold,
        mask,
        labels,
    )
    pr_plots = plot_pr_curves(out_dir, system_scores, thresholds, gold, mask, labels)
    f1_plot = plot_f1_threshold(
        out_dir, system_scores["model"], thresholds["model"], gold, mask, labels
    )
    errors = worst_errors(rows, system_scores["model"], thresholds["model"], gold, mask, labels)
    write_report(out_dir / "report.html", metrics, split, errors, pr_plots, f1_plot)
    print(summary_text(metrics, split, labels))
    print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'report.html'}")
    return metrics


def _baseline_source(
    data_path: Path, train_on: str | Path | None, validation: str | Path | None, enabled: bool
) -> dict:
    """Where the baselines learn from, and a sentence saying so (or why they are skipped)."""
    info: dict = {"trained_on": None, "validation": None if validation is None else str(validation)}
    if not enabled:
        info["note"] = "skipped (--no-baselines)"
    elif train_on is not None:
        info["trained_on"] = str(train_on)
        info["note"] = f"trained on {train_on}" + (
            f", thresholds tuned on {validation}" if validation else ""
        )
    elif built_dataset_dir(data_path) is not None:
        info["trained_on"] = str(data_path)
        info["note"] = (
            f"trained on the train split of {data_path}, thresholds tuned on its validation split"
        )
    else:
        info["note"] = (
            f"skipped: {data_path.name} has no train split to fit them on "
            "(pass --train FILE or evaluate a built dataset folder)"
        )
    return info


def main(argv: list[str] | None = None) -> Path:
    """`python scripts/run_eval.py --model outputs/latest/model [--data FILE.jsonl --train FILE]`."""
    import argparse

    from train.inference import BACKENDS

    parser = argparse.ArgumentParser(description="Evaluate a ClauseWatch model against baselines.")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model folder (a run's model/)")
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help="built dataset folder, or a labelled .jsonl/.csv"
    )
    parser.add_argument("--split", default="test", help="split of the built dataset to evaluate")
    parser.add_argument("--output", default=None, help="output folder (default: <run>/eval)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="inference backend")
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% CIs (0: none)"
    )
    parser.add_argument(
        "--train", default=None, help="baselines' training data: built dataset folder or file"
    )
    parser.add_argument(
        "--validation", default=None, help="file to tune the TF-IDF baseline's thresholds on"
    )
    parser.add_argument("--no-baselines", action="store_true", help="score the model only")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the bootstrap and the baselines"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="inference batch size")
    args = parser.parse_args(argv)
    try:
        metrics = evaluate_model(
            args.model,
            data=args.data,
            split=args.split,
            output_dir=args.output,
            backend=args.backend,
            n_bootstrap=args.bootstrap,
            train_baselines_on=args.train,
            baseline_validation=args.validation,
            baselines=not args.no_baselines,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    except (DataError, ConfigError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None
    return Path(metrics["meta"]["output_dir"])
