"""What an evaluation writes and prints: `predictions.jsonl`, the precision-recall and
F1-threshold plots, `report.html` and the side-by-side table of the systems (`SYSTEMS`, in that
order)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.metrics import apply_thresholds, label_metrics
from train.outputs import write_atomic

SYSTEMS = ("model", "tfidf_logreg", "keyword")


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
