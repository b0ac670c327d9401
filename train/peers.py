"""Peers' tasks reproduced with ClauseWatch's own training and evaluation code: each run of a
task prepared by `train.peer_data` is trained and scored, beside the published numbers.

Scoring follows LexGLUE's micro and macro F1 over the task's labels, *without* an extra
"fair"/"none" class: a sentence with no label counts only through its false positives.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from train.errors import DataError
from train.machine import cpu_name
from train.paths import REPO_ROOT
from train.peer_data import (
    DEFAULT_SEED,
    PEERS_DIR,
    check_task,
    is_prepared,
    prepare,
    run_names,
    split_files,
)

CONFIGS_DIR = REPO_ROOT / "configs"
OUTPUT_ROOT = Path("outputs") / "peers"

# Training settings copied from each run's resolved config into results.json.
SETTINGS_REPORTED = (
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "learning_rate",
    "pos_weight",
    "pos_weight_cap",
    "eval_strategy",
    "eval_steps",
    "early_stopping_patience",
    "selection_metric",
    "torch_threads",
    "seed",
)

# Published test macro-F1 (in %) quoted beside ours. Not the same data or split: see `note`.
PUBLISHED = {
    "claudette": {
        "source": "LexGLUE README, UNFAIR-ToS (github.com/coastalcph/lex-glue; Chalkidis et al., "
        "ACL 2022)",
        "metric": "macro_f1",
        "scores": {"Legal-BERT": 83.0, "BERT": 81.3, "TF-IDF+SVM": 75.0},
        "note": "older 2019 CLAUDETTE corpus (50 ToS) with LexGLUE's own train/dev/test split, "
        "not these document folds; LexGLUE's scorer also appends a ninth column, derived from "
        "whether a sentence has any label, to gold and predictions: ours scores the 8 labels only",
    },
    "opp115": {
        "source": "PrivacyGLUE, OPP-115 (Shankar et al., Applied Sciences 2023)",
        "metric": "macro_f1",
        "scores": {"PrivBERT": 82.1, "BERT-base": 78.4},
        "note": "PrivacyGLUE's own OPP-115 split, not this seeded policy split",
    },
}


# ----------------------------------------------------------------------------- train + evaluate


def _system_scores(results: dict, label_names: Sequence[str]) -> dict:
    f1 = {name: results[name]["f1"] for name in label_names}
    return {
        "micro_f1": results["micro_f1"],
        # LexGLUE and PrivacyGLUE average F1 over every class of the task, so this does too (a
        # class absent from a fold's test documents and never predicted counts as 0 here).
        "macro_f1": sum(f1.values()) / len(f1),
        "f1": f1,
    }


def run_one(
    task: str,
    run: str,
    files: dict[str, Path],
    config: Path,
    output_root: Path,
    overrides: Sequence[str] = (),
    n_bootstrap: int = 1000,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Train one run through `train.training.main` and score it and the baselines on its test
    file with `train.evaluation.evaluate_model`; returns the run's entry of results.json."""
    import yaml

    from train.evaluation import evaluate_model
    from train.training import main as train_main

    t0 = time.time()
    model_dir = train_main(
        [
            "--config",
            str(config),
            f"data.train_file={files['train']}",
            f"data.validation_file={files['validation']}",
            f"data.test_file={files['test']}",
            f"training.output_root={output_root}",
            f"training.run_name={run}",
            *overrides,
        ]
    )
    _finish_tracker()
    t1 = time.time()
    run_dir = Path(model_dir).parent
    metrics = evaluate_model(
        model_dir,
        data=files["test"],
        split="test",
        output_dir=run_dir / "eval",
        backend="torch",
        n_bootstrap=n_bootstrap,
        train_baselines_on=files["train"],
        baseline_validation=files["validation"],
        seed=seed,
    )
    t2 = time.time()
    summary = json.loads((run_dir / "train_summary.json").read_text(encoding="utf-8"))
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    results, labels = metrics["test"], metrics["meta"]["labels"]
    return {
        "model": _system_scores(results["model"], labels),
        "tfidf_logreg": _system_scores(results["tfidf_logreg"], labels),
        "test_clauses": metrics["meta"]["clauses"],
        "test_positives": {name: results["model"][name]["support"] for name in labels},
        "train_clauses": summary["train_clauses"],
        "epochs_completed": summary["epochs_completed"],
        "global_step": summary["global_step"],
        "train_wall_time_s": round(t1 - t0, 1),
        "eval_wall_time_s": round(t2 - t1, 1),
        "wall_time_s": round(t2 - t0, 1),
        "hardware": {**summary["hardware"], "cpu": cpu_name()},
        "settings": {
            **resolved["model"],
            **{key: resolved["training"][key] for key in SETTINGS_REPORTED},
            "best_checkpoint": summary["best_checkpoint"],
        },
        "run_dir": str(run_dir),
        "data": {split: str(path) for split, path in files.items()},
    }


def _finish_tracker() -> None:
    """Close the wandb run, so the next fold in this process starts its own."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def mean_over_runs(runs: dict[str, dict]) -> dict:
    """Mean micro/macro F1 of each system over the runs done."""
    out: dict = {"runs": sorted(runs)}
    for system in ("model", "tfidf_logreg"):
        out[system] = {
            key: sum(r[system][key] for r in runs.values()) / len(runs)
            for key in ("micro_f1", "macro_f1")
        }
    return out


def run_peer(
    task: str,
    folds: Sequence[int] | None = None,
    raw_dir: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    output_root: str | Path = OUTPUT_ROOT,
    data_dir: str | Path | None = None,
    n_bootstrap: int = 1000,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Prepare a peer task's data if missing, train and evaluate each run (CLAUDETTE: the `folds`
    given, default all; OPP-115: its one split), write `<output_root>/<task>/results.json` (per
    run and the mean over runs, with the published numbers) and print the table."""
    check_task(task)
    data_dir = Path(data_dir or PEERS_DIR)
    if not is_prepared(task, data_dir):
        if raw_dir is None:
            raise DataError(data_dir / task, "peer data not prepared and no raw folder given")
        prepare(task, raw_dir, data_dir, seed=seed)
    runs = run_names(task, data_dir)
    if task == "claudette" and folds is not None:
        wanted = [f"fold{k}" for k in folds]
        missing = [r for r in wanted if r not in runs]
        if missing:
            raise DataError(data_dir / task, f"no such fold(s) {missing}; prepared: {runs}")
        runs = wanted
    elif task == "opp115" and folds not in (None, [], [0], (0,)):
        raise ValueError("OPP-115 has a single policy split; --folds applies to claudette only")
    config = Path(config) if config else CONFIGS_DIR / f"{task}.yaml"
    out_dir = Path(output_root)
    out_dir = out_dir if out_dir.is_absolute() else REPO_ROOT / out_dir
    out_dir = out_dir / task
    results_path = out_dir / "results.json"
    # Runs of earlier invocations stay in the file; a run done again replaces its entry.
    previous = (
        json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    )
    done = dict(previous.get("runs", {}))
    result = _results(task, done, data_dir) if done else None
    for run in runs:
        files = split_files(task, run, data_dir)
        done[run] = run_one(task, run, files, config, out_dir, overrides, n_bootstrap, seed)
        result = _results(task, done, data_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = results_path.with_name(".results.json.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, results_path)
    print(format_results(result))
    print(f"wrote {results_path}")
    return result


def _results(task: str, runs: dict[str, dict], data_dir: Path) -> dict:
    stats_path = data_dir / task / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else {}
    return {
        "task": task,
        "scoring": "micro and macro F1 over the task's labels on each run's test file, at the "
        "thresholds tuned on its validation file; no extra 'fair'/'none' class (LexGLUE adds one "
        "for UNFAIR-ToS); macro F1 averages all labels, a label without test positives included",
        "data_seed": stats.get("seed"),
        "label_names": stats.get("label_names"),
        "runs": dict(sorted(runs.items(), key=lambda kv: kv[0])),
        "mean": mean_over_runs(runs),
        "published": PUBLISHED[task],
    }


def format_results(result: dict) -> str:
    """Micro/macro F1 (in %) of the model and the TF-IDF baseline per run, their mean, and the
    published numbers beside them."""
    lines = [
        f"{result['task']}: test F1 (%) over {len(result['label_names'] or [])} labels, "
        "no 'none' class",
        f"{'run':<10}{'system':<15}{'micro F1':>9}{'macro F1':>9}{'wall s':>9}",
    ]
    rows = [*result["runs"].items(), ("mean", result["mean"])]
    for run, entry in rows:
        for system in ("model", "tfidf_logreg"):
            scores = entry[system]
            wall = f"{entry['wall_time_s']:.0f}" if "wall_time_s" in entry else ""
            lines.append(
                f"{run:<10}{system:<15}{100 * scores['micro_f1']:>9.1f}"
                f"{100 * scores['macro_f1']:>9.1f}{wall if system == 'model' else '':>9}"
            )
    pub = result["published"]
    quoted = ", ".join(f"{name} {score:.1f}" for name, score in pub["scores"].items())
    lines.append(f"published macro F1: {quoted}")
    lines.append(f"  source: {pub['source']}")
    lines.append(f"  not comparable as is: {pub['note']}")
    return "\n".join(lines)
