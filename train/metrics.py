"""Multi-label metrics over unmasked entries only. Pure functions of arrays.

`probs`, `labels` and `mask` are (n_clauses, n_labels) arrays; an entry whose mask is 0 is not
annotated by its source and counts for nothing: not as a positive, not as a negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5


def apply_thresholds(probs: np.ndarray, thresholds: Sequence[float] | float) -> np.ndarray:
    """The one logits-to-labels rule: a label is flagged when its probability >= its threshold."""
    return (np.asarray(probs) >= np.asarray(thresholds, dtype=float)).astype(np.int64)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Logistic function (scipy's numerically stable `expit`, imported here: the ONNX graphs end
    in the sigmoid, so their scoring path never needs scipy)."""
    from scipy.special import expit

    return expit(np.asarray(logits, dtype=np.float64))


def _counts(pred: np.ndarray, gold: np.ndarray, mask: np.ndarray) -> tuple[int, int, int]:
    m = mask.astype(bool)
    tp = int(np.sum((pred == 1) & (gold == 1) & m))
    fp = int(np.sum((pred == 1) & (gold == 0) & m))
    fn = int(np.sum((pred == 0) & (gold == 1) & m))
    return tp, fp, fn


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def label_metrics(
    pred: np.ndarray, gold: np.ndarray, mask: np.ndarray, scores: np.ndarray | None = None
) -> dict:
    """Precision, recall, F1, support (and average precision when scores are given) of one label."""
    tp, fp, fn = _counts(pred, gold, mask)
    precision, recall, f1 = _prf(tp, fp, fn)
    out = {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": tp + fn,
        "predicted": tp + fp,
    }
    if scores is not None:
        m = mask.astype(bool)
        has_both = m.any() and 0 < gold[m].sum() < m.sum()
        # Imported here: scoring paths use this module for thresholds only and should not pay
        # for scikit-learn's import (seconds, with scipy.stats and pandas).
        from sklearn.metrics import average_precision_score

        out["average_precision"] = (
            float(average_precision_score(gold[m], scores[m])) if has_both else None
        )
    return out


def multilabel_metrics(
    pred: np.ndarray,
    gold: np.ndarray,
    mask: np.ndarray,
    label_names: Sequence[str],
    scores: np.ndarray | None = None,
) -> dict:
    """Per-label metrics plus micro and macro F1. Macro F1 averages the labels whose F1 is
    defined: at least one unmasked positive, or at least one flag on an unmasked entry (a false
    alarm counts as F1 0). A label with neither (nobody annotated it here, or only as negative and
    the system never flagged it) is left out rather than scored 0."""
    pred, gold, mask = (np.asarray(a) for a in (pred, gold, mask))
    result: dict = {}
    totals = np.zeros(3, dtype=np.int64)
    f1s = []
    for j, name in enumerate(label_names):
        col_scores = None if scores is None else np.asarray(scores)[:, j]
        result[name] = label_metrics(pred[:, j], gold[:, j], mask[:, j], col_scores)
        totals += _counts(pred[:, j], gold[:, j], mask[:, j])
        if result[name]["support"] or result[name]["predicted"]:
            f1s.append(result[name]["f1"])
    result["micro_f1"] = _prf(*totals)[2]
    result["macro_f1"] = float(np.mean(f1s)) if f1s else 0.0
    return result


def _f_beta(tp: int, fp: int, fn: int, beta: float) -> float:
    b2 = beta * beta
    denominator = (1 + b2) * tp + b2 * fn + fp
    return (1 + b2) * tp / denominator if denominator else 0.0


# Candidate thresholds: 0.05 to 0.99 in steps of 0.01. A fine-tuned model's sigmoid saturates, so
# a label whose negatives also score high (content_license: other parties' licences to the user)
# can be best cut above 0.95; a grid that stopped there left that label at its edge.
THRESHOLD_GRID = tuple(float(t) for t in np.round(np.arange(0.05, 0.995, 0.01), 2))


def tune_thresholds(
    probs: np.ndarray,
    gold: np.ndarray,
    mask: np.ndarray,
    grid: Sequence[float] = THRESHOLD_GRID,
    default: float = DEFAULT_THRESHOLD,
    beta: float = 1.0,
) -> list[float]:
    """Per label, the threshold on `grid` that maximises F-beta (F1 by default; `beta=0.5` weighs
    precision twice as much as recall) on unmasked entries (ties: the one closest to 0.5).
    Labels without positives keep `default`."""
    thresholds = []
    for j in range(probs.shape[1]):
        m = mask[:, j].astype(bool)
        if not m.any() or gold[m, j].sum() == 0:
            thresholds.append(default)
            continue
        best = max(
            grid,
            key=lambda t: (
                _f_beta(
                    *_counts((probs[m, j] >= t).astype(int), gold[m, j], np.ones(m.sum())), beta
                ),
                -abs(t - 0.5),
            ),
        )
        thresholds.append(float(best))
    return thresholds


# A label's threshold is tuned on the real validation clauses alone when they hold at least this
# many of its positives: real documents are what the model is run on and what the headline
# measures, and team-written positives (one easy style) otherwise pull thresholds up.
MIN_REAL_POSITIVES = 20


def real_mask(origins) -> np.ndarray:
    """Boolean row vector from rows' `origin` values: real clauses (a missing origin, as in the
    peer tasks' sentences, counts as real) against team-written ones."""
    return np.asarray([str(o or "real") == "real" for o in origins], dtype=bool)


def tune_thresholds_by_origin(
    probs: np.ndarray,
    gold: np.ndarray,
    mask: np.ndarray,
    real: np.ndarray | None,
    min_real_positives: int = MIN_REAL_POSITIVES,
    beta: float = 1.0,
) -> tuple[list[float], list[str]]:
    """`tune_thresholds` per label on the real rows (`real`, a boolean row vector) when they hold
    at least `min_real_positives` annotated positives of the label, else on every row. Returns the
    thresholds and, per label, which rows they were tuned on (`"real"` or `"all"`)."""
    everywhere = tune_thresholds(probs, gold, mask, beta=beta)
    if real is None or not np.any(real):
        return everywhere, ["all"] * probs.shape[1]
    real = np.asarray(real, dtype=bool)
    on_real = tune_thresholds(probs[real], gold[real], mask[real], beta=beta)
    thresholds, tuned_on = [], []
    for j in range(probs.shape[1]):
        positives = int((gold[real, j] * mask[real, j]).sum())
        use_real = positives >= min_real_positives
        thresholds.append(on_real[j] if use_real else everywhere[j])
        tuned_on.append("real" if use_real else "all")
    return thresholds, tuned_on


# Reports a reader acts on (a grant in `diff` / `watch`) weigh precision twice as much as recall.
REPORT_BETA = 0.5


def report_thresholds(
    probs: np.ndarray,
    gold: np.ndarray,
    mask: np.ndarray,
    real: np.ndarray | None,
    flag: list[float],
) -> list[float]:
    """Per label, the F0.5-best threshold (on the real rows where they hold enough positives, as
    for the flag thresholds), never below the label's flag threshold `flag`."""
    tuned, _ = tune_thresholds_by_origin(probs, gold, mask, real, beta=REPORT_BETA)
    return [max(a, b) for a, b in zip(tuned, flag, strict=True)]


def bootstrap_f1_ci(
    pred: np.ndarray,
    gold: np.ndarray,
    mask: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of one label's F1, resampling clauses."""
    rng = np.random.default_rng(seed)
    n = len(pred)
    if n == 0:
        return (0.0, 0.0)
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        values[i] = _prf(*_counts(pred[idx], gold[idx], mask[idx]))[2]
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))
