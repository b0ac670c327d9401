"""ClauseWatch's own `evaluate` metric: masked multi-label precision, recall, F1, support and
average precision, with micro and macro F1.

The Hugging Face hub (`evaluate.load("f1")`) is not reachable offline and its F1 knows nothing of
label masks, so the metric is a local `evaluate.Metric` subclass, instantiated directly. The maths
lives in `train.metrics`; this module only adapts it to `evaluate`'s add_batch / compute protocol.

Inputs per clause (the metric's features, so they stream through `add_batch` together):
- `predictions`: one score per label, probabilities or 0/1 flags;
- `references`: the gold 0/1 labels;
- `label_mask`: 1 where the clause's source annotates the label, 0 where it does not (ignored).
Options given to `compute`: `label_names`, `thresholds` (one per label or one for all; default
0.5, which leaves 0/1 predictions unchanged) and `average_precision` (default True).
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate
import numpy as np

from train.metrics import DEFAULT_THRESHOLD, apply_thresholds, multilabel_metrics

_DESCRIPTION = """Multi-label precision, recall, F1, support and average precision per label, plus
micro and macro F1, counted only over entries whose label mask is 1 (annotated). Macro F1 averages
the labels that have at least one annotated entry."""

_INPUTS = """
Args:
    predictions: per clause, one score per label (probabilities, or 0/1 flags).
    references: per clause, the gold 0/1 label of each label.
    label_mask: per clause, 1 where the label is annotated, 0 where it is not (ignored).
    label_names: label names in vector order (default `label_0`, `label_1`, ...).
    thresholds: a label is flagged when its score >= its threshold (one per label, or one number).
    average_precision: also report each label's average precision from the scores.
Returns:
    `{label: {precision, recall, f1, support, annotated, average_precision}, micro_f1, macro_f1}`;
    `annotated` counts the label's unmasked entries, `average_precision` is None when a label's
    annotated entries do not hold both classes.
Example:
    >>> metric = MaskedMultilabelMetric()
    >>> metric.compute(predictions=[[0.9, 0.2]], references=[[1, 1]], label_mask=[[1, 0]],
    ...                label_names=["a", "b"])["a"]["f1"]
    1.0
"""


class MaskedMultilabelMetric(evaluate.Metric):
    """Masked multi-label metrics as an `evaluate.Metric` (keep_in_memory by default: nothing is
    written to the metrics cache folder)."""

    def __init__(self, keep_in_memory: bool = True, **kwargs) -> None:
        super().__init__(keep_in_memory=keep_in_memory, **kwargs)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Sequence(datasets.Value("int64")),
                    "label_mask": datasets.Sequence(datasets.Value("int64")),
                }
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        label_mask,
        label_names: Sequence[str] | None = None,
        thresholds: Sequence[float] | float = DEFAULT_THRESHOLD,
        average_precision: bool = True,
    ) -> dict:
        n_labels = len(label_names) if label_names is not None else _width(predictions)
        scores = _as_matrix(predictions, n_labels, np.float64)
        gold = _as_matrix(references, n_labels, np.int64)
        mask = _as_matrix(label_mask, n_labels, np.int64)
        if not scores.shape == gold.shape == mask.shape:
            raise ValueError(
                f"predictions {scores.shape}, references {gold.shape} and label_mask {mask.shape} "
                "must have the same shape"
            )
        names = (
            list(label_names)
            if label_names is not None
            else [f"label_{j}" for j in range(n_labels)]
        )
        result = multilabel_metrics(
            apply_thresholds(scores, thresholds),
            gold,
            mask,
            names,
            scores if average_precision else None,
        )
        for j, name in enumerate(names):
            result[name]["annotated"] = int(mask[:, j].sum())
        return result


def _width(rows) -> int:
    return len(rows[0]) if len(rows) else 0


def _as_matrix(rows, n_labels: int, dtype) -> np.ndarray:
    """(n, n_labels) array, also when there are no rows."""
    array = np.asarray(rows, dtype=dtype)
    return array.reshape(0, n_labels) if array.size == 0 else array


def compute_masked_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    thresholds: Sequence[float] | float = DEFAULT_THRESHOLD,
    average_precision: bool = True,
) -> dict:
    """One-shot helper: score (n, n_labels) arrays with a fresh `MaskedMultilabelMetric`."""
    return MaskedMultilabelMetric().compute(
        predictions=np.asarray(scores, dtype=np.float64),
        references=np.asarray(labels, dtype=np.int64),
        label_mask=np.asarray(mask, dtype=np.int64),
        label_names=list(label_names),
        thresholds=thresholds,
        average_precision=average_precision,
    )
