"""Metrics against answers computed by hand: masked entries count for nothing, thresholds change
predictions, micro vs macro F1, threshold tuning, bootstrap intervals, average precision, and the
`evaluate` metric agreeing with `train.metrics`."""

from __future__ import annotations

import numpy as np
import pytest

from train.evaluate_metric import MaskedMultilabelMetric, compute_masked_metrics
from train.metrics import (
    apply_thresholds,
    bootstrap_f1_ci,
    multilabel_metrics,
    report_thresholds,
    sigmoid,
    tune_thresholds,
    tune_thresholds_by_origin,
)

# Five clauses, three labels. Label `b` has two masked entries that would be errors if they
# counted (r2: scored 0.8 but negative, r4: scored 0.1 but positive); label `c` is masked everywhere.
LABELS = ["a", "b", "c"]
PROBS = np.array(
    [
        [0.9, 0.2, 0.9],
        [0.6, 0.7, 0.1],
        [0.4, 0.8, 0.9],
        [0.2, 0.1, 0.1],
        [0.7, 0.1, 0.9],
    ]
)
GOLD = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 0]])
MASK = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]])

# Hand-computed. At 0.5: a flags r0 r1 r4 -> tp 2 (r0 r4), fp 1 (r1), fn 1 (r2); b over r0 r1 r3
# flags r1 -> tp 1. Micro: tp 3, fp 1, fn 1. Macro averages a and b only (c has no annotation).
# At a=0.65: a flags r0 r4 -> tp 2, fp 0, fn 1; micro tp 3, fp 0, fn 1 -> F1 6/7.
CASES = [
    (
        "threshold 0.5",
        0.5,
        {
            "a": {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3},
            "b": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
            "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        },
        0.75,
        (2 / 3 + 1.0) / 2,
    ),
    (
        "per-label thresholds",
        [0.65, 0.5, 0.5],
        {
            "a": {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3},
            "b": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
            "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        },
        6 / 7,
        0.9,
    ),
    (
        "threshold above every score",
        0.95,
        {
            "a": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 3},
            "b": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
            "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        },
        0.0,
        0.0,
    ),
]


@pytest.mark.parametrize(
    ("name", "thresholds", "per_label", "micro", "macro"), CASES, ids=[c[0] for c in CASES]
)
def test_multilabel_metrics_by_hand(name, thresholds, per_label, micro, macro):
    result = multilabel_metrics(apply_thresholds(PROBS, thresholds), GOLD, MASK, LABELS)
    for label, expected in per_label.items():
        for key, value in expected.items():
            assert result[label][key] == pytest.approx(value), (name, label, key)
    assert result["micro_f1"] == pytest.approx(micro)
    assert result["macro_f1"] == pytest.approx(macro)


def test_masked_entries_count_for_nothing():
    # The same data with b's masked entries unmasked: they become a false positive and a false
    # negative (F1 1/2), and c counts in the macro average as a 0.
    unmasked = multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, np.ones_like(MASK), LABELS)
    assert unmasked["b"]["f1"] == pytest.approx(0.5)
    assert unmasked["b"]["support"] == 2
    masked = multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, MASK, LABELS)
    assert masked["b"]["f1"] == 1.0
    # Changing the gold value or the score of a masked entry changes nothing.
    gold, probs = GOLD.copy(), PROBS.copy()
    gold[2, 1], probs[4, 1], gold[:, 2] = 1, 0.99, 1 - gold[:, 2]
    again = multilabel_metrics(apply_thresholds(probs, 0.5), gold, MASK, LABELS, probs)
    assert again == multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, MASK, LABELS, PROBS)


def test_label_with_only_negatives_counts_in_macro_only_when_flagged():
    gold = np.array([[1, 0], [0, 0], [1, 0]])
    mask = np.ones_like(gold)
    quiet = multilabel_metrics(np.array([[1, 0], [0, 0], [1, 0]]), gold, mask, ["a", "b"])
    assert quiet["b"]["predicted"] == 0 and quiet["macro_f1"] == 1.0
    false_alarm = multilabel_metrics(np.array([[1, 0], [0, 1], [1, 0]]), gold, mask, ["a", "b"])
    assert false_alarm["b"]["f1"] == 0.0 and false_alarm["macro_f1"] == pytest.approx(0.5)


def test_label_without_annotations_is_left_out_of_macro_not_scored_zero():
    result = multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, MASK, LABELS)
    assert result["macro_f1"] == pytest.approx((result["a"]["f1"] + result["b"]["f1"]) / 2)
    nothing = multilabel_metrics(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 1)), ["x"])
    assert nothing["macro_f1"] == 0.0 and nothing["micro_f1"] == 0.0


def test_apply_thresholds_flags_at_equality_and_per_label():
    probs = np.array([[0.5, 0.5], [0.49, 0.7]])
    assert apply_thresholds(probs, 0.5).tolist() == [[1, 1], [0, 1]]
    assert apply_thresholds(probs, [0.4, 0.8]).tolist() == [[1, 0], [1, 0]]


def test_sigmoid_values_and_stability():
    out = sigmoid(np.array([0.0, np.log(3.0), -1000.0, 1000.0]))
    assert out == pytest.approx([0.5, 0.75, 0.0, 1.0])
    assert np.isfinite(out).all()


def test_average_precision_by_hand():
    result = multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, MASK, LABELS, PROBS)
    # a ranked by score: 0.9 (+), 0.7 (+), 0.6 (-), 0.4 (+), 0.2 (-) -> (1/1 + 2/2 + 3/4) / 3.
    assert result["a"]["average_precision"] == pytest.approx(2.75 / 3)
    # b over its annotated entries: the only positive (0.7) ranks first.
    assert result["b"]["average_precision"] == pytest.approx(1.0)
    # c has no annotated entry: undefined, not 0.
    assert result["c"]["average_precision"] is None


TUNE_CASES = [
    # Positives at 0.4, 0.6, 0.8 and a negative at 0.2: any t in (0.2, 0.4] is perfect; ties go
    # to the grid value closest to 0.5 -> 0.40.
    ("separable", [0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1], [1, 1, 1, 1], 0.40),
    # A masked positive at 0.1: ignored, so (0.3, 0.6] is perfect and 0.5 lies inside it. Were it
    # counted, t <= 0.1 (F1 6/7) would beat t in (0.3, 0.6] (F1 4/5) and the answer would be 0.10.
    ("masked positive ignored", [0.1, 0.3, 0.6, 0.8], [1, 0, 1, 1], [0, 1, 1, 1], 0.50),
    # Negatives up to 0.96 and positives at 0.98: only a cut above 0.96 separates them.
    ("saturated scores", [0.5, 0.9, 0.96, 0.98, 0.98], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1], 0.97),
    # No annotated positive: the default.
    ("no positives", [0.2, 0.9, 0.6, 0.8], [0, 0, 0, 1], [1, 1, 1, 0], 0.5),
]


@pytest.mark.parametrize(
    ("name", "probs", "gold", "mask", "expected"), TUNE_CASES, ids=[c[0] for c in TUNE_CASES]
)
def test_tune_thresholds_picks_the_best_threshold(name, probs, gold, mask, expected):
    col = lambda v: np.asarray(v, dtype=float).reshape(-1, 1)  # noqa: E731
    assert tune_thresholds(col(probs), col(gold), col(mask)) == pytest.approx([expected])


def test_tune_thresholds_keeps_the_given_default_for_unannotated_labels():
    probs = np.array([[0.9, 0.9], [0.1, 0.1]])
    assert tune_thresholds(
        probs, np.array([[1, 1], [0, 0]]), np.array([[1, 0], [1, 0]]), default=0.3
    ) == [0.5, 0.3]


def test_thresholds_are_tuned_on_real_rows_when_they_hold_enough_positives():
    # Label 0: real positives score 0.6 (real negatives 0.2); team-written positives 0.95 and
    # team negatives 0.65, so over every row the best threshold is above 0.65 and misses the real
    # positives. Label 1 has no real positive.
    real = np.array([True] * 4 + [False] * 8)
    label0 = [0.6, 0.6, 0.2, 0.2] + [0.95] * 4 + [0.65] * 4
    label1 = [0.1] * 4 + [0.9] * 4 + [0.3] * 4
    probs = np.array([label0, label1]).T
    gold = np.array([[1, 1, 0, 0] + [1] * 4 + [0] * 4, [0] * 4 + [1] * 4 + [0] * 4]).T
    mask = np.ones_like(gold)
    everywhere = tune_thresholds(probs, gold, mask)
    thresholds, tuned_on = tune_thresholds_by_origin(probs, gold, mask, real, min_real_positives=2)
    assert tuned_on == ["real", "all"]
    assert 0.2 < thresholds[0] <= 0.6 and everywhere[0] > 0.65
    assert thresholds[1] == everywhere[1]
    # Too few real positives, or no origin at all: every row.
    assert tune_thresholds_by_origin(probs, gold, mask, real, min_real_positives=3) == (
        everywhere,
        ["all", "all"],
    )
    assert tune_thresholds_by_origin(probs, gold, mask, None)[1] == ["all", "all"]


def test_report_thresholds_weigh_precision_and_never_fall_below_the_flag_threshold():
    # Positives at 0.9 and 0.4, negatives at 0.45 and 0.1: F1 is best taking both positives (and
    # the negative at 0.45; ties go to the threshold closest to 0.5: 0.40), F0.5 taking only the
    # sure one (0.50); the report threshold never undercuts the flag threshold.
    probs = np.array([[0.9], [0.4], [0.45], [0.1], [0.1]])
    gold = np.array([[1], [1], [0], [0], [0]])
    mask = np.ones_like(gold)
    assert tune_thresholds(probs, gold, mask) == [pytest.approx(0.4)]
    assert tune_thresholds(probs, gold, mask, beta=0.5) == [pytest.approx(0.5)]
    assert report_thresholds(probs, gold, mask, None, [0.4]) == [pytest.approx(0.5)]
    assert report_thresholds(probs, gold, mask, None, [0.7]) == [pytest.approx(0.7)]


def test_bootstrap_ci_contains_the_estimate_and_is_deterministic():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.8, gold, 1 - gold)
    mask = (rng.random(200) < 0.9).astype(int)
    f1 = multilabel_metrics(pred[:, None], gold[:, None], mask[:, None], ["x"])["x"]["f1"]
    lo, hi = bootstrap_f1_ci(pred, gold, mask, n_resamples=200, seed=7)
    assert lo <= f1 <= hi and hi - lo < 0.3
    assert bootstrap_f1_ci(pred, gold, mask, n_resamples=200, seed=7) == (lo, hi)
    assert bootstrap_f1_ci(pred, gold, mask, n_resamples=200, seed=8) != (lo, hi)


def test_bootstrap_ci_ignores_masked_errors():
    # Perfect on the annotated entries, wrong on every masked one: every resample that holds an
    # annotated positive scores F1 = 1 (a resample without one has probability 0.75**20 < 0.4%),
    # so the CI is [1, 1].
    gold = np.array([1, 0] * 5 + [1, 0] * 5)
    pred = np.concatenate([gold[:10], 1 - gold[10:]])
    mask = np.array([1] * 10 + [0] * 10)
    assert bootstrap_f1_ci(pred, gold, mask, n_resamples=200, seed=0) == (1.0, 1.0)
    assert bootstrap_f1_ci(pred[:0], gold[:0], mask[:0]) == (0.0, 0.0)


# ----------------------------------------------------------------------------- evaluate metric


def _assert_same(result: dict, expected: dict) -> None:
    assert result["micro_f1"] == pytest.approx(expected["micro_f1"])
    assert result["macro_f1"] == pytest.approx(expected["macro_f1"])
    for label in LABELS:
        for key, value in expected[label].items():
            if value is None:
                assert result[label][key] is None
            else:
                assert result[label][key] == pytest.approx(value), (label, key)


@pytest.mark.parametrize("thresholds", [0.5, [0.65, 0.5, 0.5]])
def test_evaluate_metric_agrees_with_train_metrics(thresholds):
    expected = multilabel_metrics(apply_thresholds(PROBS, thresholds), GOLD, MASK, LABELS, PROBS)
    result = MaskedMultilabelMetric().compute(
        predictions=PROBS,
        references=GOLD,
        label_mask=MASK,
        label_names=LABELS,
        thresholds=thresholds,
    )
    _assert_same(result, expected)
    assert [result[n]["annotated"] for n in LABELS] == [5, 3, 0]
    assert compute_masked_metrics(PROBS, GOLD, MASK, LABELS, thresholds) == result


def test_evaluate_metric_streams_batches_with_their_masks():
    metric = MaskedMultilabelMetric()
    for rows in (slice(0, 2), slice(2, 5)):
        metric.add_batch(predictions=PROBS[rows], references=GOLD[rows], label_mask=MASK[rows])
    result = metric.compute(label_names=LABELS)
    _assert_same(
        result, multilabel_metrics(apply_thresholds(PROBS, 0.5), GOLD, MASK, LABELS, PROBS)
    )
    assert result["b"]["f1"] == 1.0  # the masks travelled with their rows


def test_evaluate_metric_takes_flags_and_defaults_label_names():
    flags = apply_thresholds(PROBS, 0.5)
    result = MaskedMultilabelMetric().compute(
        predictions=flags.tolist(),
        references=GOLD.tolist(),
        label_mask=MASK.tolist(),
        average_precision=False,
    )
    assert result["label_0"]["f1"] == pytest.approx(2 / 3)
    assert result["macro_f1"] == pytest.approx(5 / 6)
    assert "average_precision" not in result["label_0"]
