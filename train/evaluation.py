"""Evaluate a trained model on labelled clauses, side by side with two baselines.

Evaluation is prediction plus metrics: the model scores clauses through `ClausePredictor` (the
path batch inference uses), the baselines through the same `predict_proba` interface, and every
system is scored on the same rows by `MaskedMultilabelMetric` (masked entries count for nothing).

Outputs, in `<run>/eval/` by default: `metrics.json`, `predictions.jsonl`, `pr_<label>.png`,
`f1_threshold.png` and `report.html`; the side-by-side table is printed.
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
from train.metrics import apply_thresholds, bootstrap_f1_ci, label_metrics
from train.outputs import write_atomic
from train.taxonomy import REPO_ROOT, Taxonomy

SYSTEMS = ("model", "tfidf_logreg", "keyword")
DEFAULT_MODEL = Path("outputs/latest/model")
DEFAULT_DATA = Path("data/processed")
N_WORST = 5  # false positives / false negatives shown per label in the report
GROUP_FIELDS = {"by_source": "source", "by_origin": "origin"}


def _repo_path(value: str | Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() or path.exists() else REPO_ROOT / path


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
    path = _repo_path(data)
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
    path = _repo_path(train_on)
    if path.is_dir():
        train_rows = load_built_split(path, "train", taxonomy.names)
        val_rows = load_built_split(path, "validation", taxonomy.names)
    else:
        train_rows = read_clause_file(path, taxonomy)
        val_rows = None
    if validation is not None:
        val_rows = read_clause_file(_repo_path(validation), taxonomy)
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


# ----------------------------------------------------------------------------- outputs


def write_predictions(
    path: Path,
    rows: Sequence[dict],
    scores: np.ndarray,
    thresholds: Sequence[float],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
) -> None:
    """One line per clause: id, the model's score per label, its flagged labels, the gold labels
    and the labels the clause's source does not annotate."""
    pred = apply_thresholds(scores, thresholds)
    lines = []
    for i, row in enumerate(rows):
        item = {
            "id": str(row.get("id", i)),
            "scores": {name: round(float(scores[i, j]), 6) for j, name in enumerate(label_names)},
            "labels": [name for j, name in enumerate(label_names) if pred[i, j]],
            "gold": [name for j, name in enumerate(label_names) if gold[i, j] and mask[i, j]],
            "not_annotated": [name for j, name in enumerate(label_names) if not mask[i, j]],
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda fh: fh.write(text))


# Distinct dashes, so that systems with identical curves (easy data) stay visible.
_LINE_STYLES = {
    "model": {"linewidth": 2},
    "tfidf_logreg": {"linestyle": "--"},
    "keyword": {"linestyle": ":"},
}


def plot_pr_curves(
    out_dir: Path,
    system_scores: dict[str, np.ndarray],
    thresholds: dict[str, Sequence[float]],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
) -> list[str]:
    """`pr_<label>.png`: precision-recall curve of every system, each system's operating point
    (its thresholds) marked. Returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    files = []
    for j, name in enumerate(label_names):
        m = mask[:, j] == 1
        y = gold[m, j]
        fig, ax = plt.subplots(figsize=(5, 4))
        if m.any() and 0 < y.sum() < len(y):
            for system, scores in system_scores.items():
                precision, recall, _ = precision_recall_curve(y, scores[m, j])
                (line,) = ax.step(
                    recall, precision, where="post", label=system, **_LINE_STYLES.get(system, {})
                )
                op = label_metrics(
                    apply_thresholds(scores[m, j], thresholds[system][j]), y, np.ones_like(y)
                )
                ax.plot(op["recall"], op["precision"], "o", color=line.get_color())
            ax.axhline(y.mean(), color="grey", linestyle=":", linewidth=1, label="chance")
            ax.legend(loc="lower left", fontsize=8)
        else:
            ax.text(0.5, 0.5, "needs annotated positives and negatives", ha="center", va="center")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
        ax.set_title(f"{name} (n={int(m.sum())}, positives={int(y.sum())})", fontsize=10)
        fig.tight_layout()
        filename = f"pr_{name}.png"
        fig.savefig(out_dir / filename, dpi=100)
        plt.close(fig)
        files.append(filename)
    return files


def plot_f1_threshold(
    out_dir: Path,
    scores: np.ndarray,
    thresholds: Sequence[float],
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
) -> str:
    """`f1_threshold.png`: the model's F1 against the threshold, one panel per label, with the
    threshold it uses marked. Returns the file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    cols = min(4, len(label_names))
    rows = -(-len(label_names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for j, name in enumerate(label_names):
        ax = axes[j // cols][j % cols]
        f1 = [
            label_metrics(apply_thresholds(scores[:, j], t), gold[:, j], mask[:, j])["f1"]
            for t in grid
        ]
        ax.plot(grid, f1)
        ax.axvline(thresholds[j], color="red", linestyle="--", linewidth=1)
        ax.set_title(f"{name} (t={thresholds[j]:.2f})", fontsize=9)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="threshold", ylabel="F1")
    for j in range(len(label_names), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    filename = "f1_threshold.png"
    fig.savefig(out_dir / filename, dpi=100)
    plt.close(fig)
    return filename


_REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ClauseWatch evaluation: {{ split }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child, td.text { text-align: left; }
td.text { max-width: 800px; }
img { max-width: 100%; }
.plots img { width: 380px; }
</style></head><body>
<h1>ClauseWatch evaluation: {{ split }}</h1>
<p>Model <code>{{ meta.model_dir }}</code> (backend {{ meta.backend }}) on <code>{{ meta.data }}</code>:
{{ meta.clauses }} clauses. Entries a clause's source does not annotate count for nothing.
Baselines: {{ meta.baselines.note }}</p>

<h2>Summary</h2>
<table><tr><th>system</th><th>macro F1</th><th>micro F1</th><th>micro F1 95% CI</th>
{% for label in labels %}<th>{{ label }} F1</th>{% endfor %}</tr>
{% for system in systems %}{% set m = results[system] %}<tr><td>{{ system }}</td>
<td>{{ fmt(m.macro_f1) }}</td><td>{{ fmt(m.micro_f1) }}</td><td>{{ ci(m.micro_f1_ci95) }}</td>
{% for label in labels %}<td>{{ fmt(m[label].f1) }}</td>{% endfor %}</tr>
{% endfor %}</table>

<h2>Per label</h2>
<table><tr><th>label</th><th>support</th><th>annotated</th>
{% for system in systems %}<th>{{ system }} P</th><th>R</th><th>F1</th><th>F1 95% CI</th><th>AP</th>{% endfor %}</tr>
{% for label in labels %}<tr><td>{{ label }}</td><td>{{ results.model[label].support }}</td>
<td>{{ results.model[label].annotated }}</td>
{% for system in systems %}{% set r = results[system][label] %}<td>{{ fmt(r.precision) }}</td>
<td>{{ fmt(r.recall) }}</td><td>{{ fmt(r.f1) }}</td><td>{{ ci(r.f1_ci95) }}</td>
<td>{{ fmt(r.average_precision) }}</td>{% endfor %}</tr>
{% endfor %}</table>

{% for title, groups in breakdowns %}
<h2>{{ title }}</h2>
<table><tr><th>group</th><th>clauses</th>
{% for system in systems %}<th>{{ system }} macro F1</th><th>micro F1</th>{% endfor %}
{% for label in labels %}<th>model {{ label }} F1 (support)</th>{% endfor %}</tr>
{% for name, group in groups.items() %}<tr><td>{{ name }}</td><td>{{ group.clauses }}</td>
{% for system in systems %}<td>{{ fmt(group[system].macro_f1) }}</td><td>{{ fmt(group[system].micro_f1) }}</td>{% endfor %}
{% for label in labels %}<td>{% if group.model[label].annotated %}{{ fmt(group.model[label].f1) }} ({{ group.model[label].support }}){% else %}-{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}

<h2>Plots</h2>
<p>F1 of the model against the threshold (dashed: the threshold it uses).</p>
<img src="{{ f1_plot }}" alt="F1 against threshold per label">
<p>Precision-recall curves (dots: each system's operating point).</p>
<div class="plots">{% for plot in pr_plots %}<img src="{{ plot }}" alt="{{ plot }}">{% endfor %}</div>

<h2>Worst errors of the model</h2>
{% for label in labels %}
<h3>{{ label }} (threshold {{ fmt(thresholds[loop.index0]) }})</h3>
{% for kind, title in (("false_positives", "False positives (highest scores among negatives)"), ("false_negatives", "False negatives (lowest scores among positives)")) %}
<h4>{{ title }}</h4>
{% if errors[label][kind] %}<table><tr><th>score</th><th>id</th><th>source</th><th>text</th></tr>
{% for ex in errors[label][kind] %}<tr><td>{{ fmt(ex.score) }}</td><td>{{ ex.id }}</td><td>{{ ex.source }}</td>
<td class="text">{{ ex.text | truncate(600) }}</td></tr>{% endfor %}</table>
{% else %}<p>None.</p>{% endif %}
{% endfor %}
{% endfor %}
</body></html>
"""


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ci(value) -> str:
    return "-" if not value else f"[{value[0]:.3f}, {value[1]:.3f}]"


def write_report(
    path: Path, metrics: dict, split: str, errors: dict, pr_plots: list[str], f1_plot: str
) -> None:
    """Self-contained HTML report (plots referenced by relative path, every text escaped)."""
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    results = metrics[split]
    systems = [s for s in SYSTEMS if s in results]
    html = env.from_string(_REPORT).render(
        split=split,
        meta=metrics["meta"],
        labels=metrics["meta"]["labels"],
        systems=systems,
        results=results,
        breakdowns=[
            ("By source", metrics["by_source"]),
            ("By origin (real text vs team-written)", metrics["by_origin"]),
        ],
        thresholds=metrics["meta"]["thresholds"]["model"],
        errors=errors,
        pr_plots=pr_plots,
        f1_plot=f1_plot,
        fmt=_fmt,
        ci=_ci,
    )
    write_atomic(path, lambda fh: fh.write(html))


def format_table(results: dict, label_names: Sequence[str]) -> str:
    """The side-by-side table printed on screen: F1 per label and system, micro and macro F1."""
    systems = [s for s in SYSTEMS if s in results]
    width = max(len(n) for n in [*label_names, "macro F1"]) + 2
    header = (
        f"{'label':<{width}}{'support':>8}"
        + "".join(f"{s:>15}" for s in systems)
        + f"{'model F1 95% CI':>18}"
    )
    lines = [header, "-" * len(header)]
    for name in label_names:
        row = results["model"][name]
        cells = "".join(f"{_fmt(results[s][name]['f1']):>15}" for s in systems)
        lines.append(f"{name:<{width}}{row['support']:>8}{cells}{_ci(row['f1_ci95']):>18}")
    lines.append("-" * len(header))
    for key, title in (("micro_f1", "micro F1"), ("macro_f1", "macro F1")):
        cells = "".join(f"{_fmt(results[s][key]):>15}" for s in systems)
        extra = _ci(results["model"]["micro_f1_ci95"]) if key == "micro_f1" else ""
        lines.append(f"{title:<{width}}{'':>8}{cells}{extra:>18}")
    return "\n".join(lines)


def _labelled_documents() -> set[str]:
    """Ids of the exhaustively labelled documents (empty when the table is missing)."""
    from train.doc_labels import load_manifest

    return {d.document for d in load_manifest()}


def summary_text(metrics: dict, split: str, label_names: Sequence[str]) -> str:
    """Printed after evaluation: real clauses first (the headline), then team-written clauses,
    then all clauses, and the labelled-document flag rates."""
    parts = []
    origins = metrics.get("by_origin", {})
    for origin, title in (("real", "REAL clauses (headline)"), ("team", "team-written clauses")):
        block = origins.get(origin, {})
        if (
            "model" in block
            and isinstance(block["model"], dict)
            and "f1_ci95"
            in next(iter(v for k, v in block["model"].items() if k in label_names), {})
        ):
            parts.append(f"{title}: {block['clauses']} clauses\n{format_table(block, label_names)}")
    parts.append(f"all clauses of {split}\n{format_table(metrics[split], label_names)}")
    docs = metrics.get("labelled_documents")
    if docs:
        systems = [s for s in SYSTEMS if s in docs["predicted_rate"]]
        lines = [
            f"flag rate on {docs['documents']} exhaustively labelled documents "
            f"({docs['clauses']} clauses): gold vs predicted",
            f"{'label':<18}{'gold':>8}" + "".join(f"{s:>15}" for s in systems),
        ]
        for name in label_names:
            cells = "".join(f"{docs['predicted_rate'][s][name]:>15.3f}" for s in systems)
            lines.append(f"{name:<18}{docs['gold_rate'][name]:>8.3f}{cells}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


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

    model_path = _repo_path(model_dir)
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
    data_path = _repo_path(data)
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
