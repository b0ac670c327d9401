"""Evaluation end to end on the tiny trained model (the real `main()`, asserting on the files it
wrote), the baselines, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from train.baselines import KeywordBaseline, TfidfLogRegBaseline
from train.evaluation import main, worst_errors
from train.evaluation_report import SYSTEMS, write_report
from train.metrics import multilabel_metrics
from train.taxonomy import load_taxonomy

NAMES = list(load_taxonomy().names)


@pytest.fixture(scope="module")
def evaluated(tiny_trained_model, tiny_clauses, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("eval")
    written = main(
        [
            "--model", str(tiny_trained_model),
            "--data", str(tiny_clauses["test"]),
            "--train", str(tiny_clauses["train"]),
            "--validation", str(tiny_clauses["validation"]),
            "--output", str(out),
            "--bootstrap", "100",
        ]
    )  # fmt: skip
    assert written == out
    return out, json.loads((out / "metrics.json").read_text())


def _test_rows(tiny_clauses) -> list[dict]:
    return [json.loads(line) for line in tiny_clauses["test"].read_text().splitlines()]


def test_metrics_file_has_every_system_label_and_interval(evaluated, tiny_clauses):
    _, metrics = evaluated
    rows = _test_rows(tiny_clauses)
    assert set(metrics) == {"test", "by_source", "by_origin", "meta", "labelled_documents"}
    assert metrics["labelled_documents"] is None  # no labelled document among these clauses
    assert list(metrics["test"]) == list(SYSTEMS)
    annotated = np.asarray([r["label_mask"] for r in rows]).sum(0)
    support = (
        np.asarray([r["labels"] for r in rows]) * np.asarray([r["label_mask"] for r in rows])
    ).sum(0)
    for system, result in metrics["test"].items():
        for j, name in enumerate(NAMES):
            entry = result[name]
            assert set(entry) >= {
                "precision",
                "recall",
                "f1",
                "support",
                "average_precision",
                "f1_ci95",
            }
            assert entry["support"] == support[j] and entry["annotated"] == annotated[j]
            lo, hi = entry["f1_ci95"]
            assert lo - 1e-9 <= entry["f1"] <= hi + 1e-9, (system, name)
        scored = [result[n]["f1"] for n in NAMES if result[n]["support"] or result[n]["predicted"]]
        assert result["macro_f1"] == pytest.approx(np.mean(scored))
        lo, hi = result["micro_f1_ci95"]
        assert lo - 1e-9 <= result["micro_f1"] <= hi + 1e-9
    # data_retention is masked on every third row of the fixture: 11 of 32 do not count.
    assert metrics["test"]["model"]["data_retention"]["annotated"] == 21
    # The fixture's templates are trivially separable by words; both baselines get them right.
    assert metrics["test"]["tfidf_logreg"]["macro_f1"] >= 0.9
    assert metrics["test"]["keyword"]["ai_training"]["f1"] == 1.0


def test_real_and_team_clauses_are_scored_apart_with_intervals(evaluated, tiny_clauses):
    from train.metrics import label_metrics

    out, metrics = evaluated
    rows = _test_rows(tiny_clauses)
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for origin in ("real", "team"):
        block = metrics["by_origin"][origin]
        idx = [i for i, r in enumerate(rows) if r["origin"] == origin]
        assert block["clauses"] == len(idx) == 16
        for j, name in enumerate(NAMES):
            entry = block["model"][name]
            assert entry["f1_ci95"] is not None and "average_precision" in entry
            gold = np.asarray([rows[i]["labels"][j] for i in idx])
            mask = np.asarray([rows[i]["label_mask"][j] for i in idx])
            pred = np.asarray([int(name in preds[i]["labels"]) for i in idx])
            assert entry["f1"] == pytest.approx(label_metrics(pred, gold, mask)["f1"])
        assert set(block) >= {"model", "tfidf_logreg", "keyword", "clauses"}


def test_document_rates_compare_gold_and_predicted_on_full_mask_document_rows():
    from train.evaluation import document_rates

    rows = [
        {"source": "ota_contrib_2026", "document": "a"},
        {"source": "ota_contrib_2026", "document": "a"},
        {"source": "tosdr_corpus_text", "document": "b"},
        {"source": "ota_contrib_2026", "document": "c"},  # masked label: not exhaustive
        {"source": "team", "document": ""},
    ]
    gold = np.array([[1, 0], [0, 0], [1, 1], [1, 1], [1, 1]])
    mask = np.array([[1, 1], [1, 1], [1, 1], [1, 0], [1, 1]])
    scores = {"model": np.array([[0.9, 0.9], [0.1, 0.1], [0.2, 0.9], [0.9, 0.9], [0.9, 0.9]])}
    out = document_rates(rows, scores, {"model": [0.5, 0.5]}, gold, mask, ["x", "y"])
    assert out["clauses"] == 3 and out["documents"] == 2
    assert out["gold_rate"] == pytest.approx({"x": 2 / 3, "y": 1 / 3})
    assert out["predicted_rate"]["model"] == pytest.approx({"x": 1 / 3, "y": 2 / 3})
    assert (
        document_rates(rows[3:], scores, {"model": [0.5, 0.5]}, gold[3:], mask[3:], ["x", "y"])
        is None
    )


def test_model_metrics_match_its_written_predictions(evaluated, tiny_clauses):
    out, metrics = evaluated
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    rows = _test_rows(tiny_clauses)
    assert [p["id"] for p in preds] == [r["id"] for r in rows]
    flags = np.asarray([[int(n in p["labels"]) for n in NAMES] for p in preds])
    scores = np.asarray([[p["scores"][n] for n in NAMES] for p in preds])
    thresholds = metrics["meta"]["thresholds"]["model"]
    assert (flags == (scores >= np.asarray(thresholds) - 1e-6)).all()
    gold = np.asarray([r["labels"] for r in rows])
    mask = np.asarray([r["label_mask"] for r in rows])
    expected = multilabel_metrics(flags, gold, mask, NAMES)
    assert metrics["test"]["model"]["micro_f1"] == pytest.approx(expected["micro_f1"])
    assert metrics["test"]["model"]["macro_f1"] == pytest.approx(expected["macro_f1"])


def test_breakdowns_by_source_and_origin_partition_the_clauses(evaluated):
    _, metrics = evaluated
    assert set(metrics["by_origin"]) == {"real", "team"}
    assert set(metrics["by_source"]) == {"fixture", "team"}
    for key in ("by_source", "by_origin"):
        groups = metrics[key].values()
        assert sum(g["clauses"] for g in groups) == 32
        for group in groups:
            assert set(SYSTEMS) <= set(group)
            assert {"macro_f1", "micro_f1"} <= set(group["model"])
        support = sum(g["model"]["ai_training"]["support"] for g in groups)
        assert support == metrics["test"]["model"]["ai_training"]["support"]


def test_plots_and_report_are_written(evaluated):
    out, _ = evaluated
    for name in [*(f"pr_{n}.png" for n in NAMES), "f1_threshold.png"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    html = (out / "report.html").read_text()
    assert "False positives" in html and "False negatives" in html
    assert '<img src="f1_threshold.png"' in html and '<img src="pr_ai_training.png"' in html
    assert "tfidf_logreg" in html and "By origin" in html


def test_report_escapes_clause_text(evaluated, tmp_path):
    out, metrics = evaluated
    example = {
        "id": "x<1>",
        "score": 0.9,
        "source": "s",
        "text": "<script>alert('x')</script> & more",
    }
    errors = {n: {"false_positives": [example], "false_negatives": []} for n in NAMES}
    write_report(tmp_path / "report.html", metrics, "test", errors, [], "f1_threshold.png")
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html and "x&lt;1&gt;" in html


def test_worst_errors_by_hand():
    rows = [{"id": str(i), "text": f"t{i}"} for i in range(6)]
    scores = np.array([[0.9], [0.7], [0.95], [0.2], [0.4], [0.6]])
    gold = np.array([[0], [0], [0], [1], [1], [1]])
    mask = np.array([[1], [1], [0], [1], [1], [1]])
    # Threshold 0.5: false positives 0 (0.9) and 1 (0.7), 2 is masked; false negatives 3 (0.2), 4 (0.4).
    errors = worst_errors(rows, scores, [0.5], gold, mask, ["x"], k=5)["x"]
    assert [e["id"] for e in errors["false_positives"]] == ["0", "1"]
    assert [e["id"] for e in errors["false_negatives"]] == ["3", "4"]
    assert (
        worst_errors(rows, scores, [0.5], gold, mask, ["x"], k=1)["x"]["false_negatives"][0][
            "score"
        ]
        == 0.2
    )


def test_a_file_without_a_train_set_skips_baselines_and_says_so(
    tiny_trained_model, tiny_clauses, tmp_path, capsys
):
    main(
        [
            "--model",
            str(tiny_trained_model),
            "--data",
            str(tiny_clauses["test"]),
            "--output",
            str(tmp_path),
            "--bootstrap",
            "0",
        ]
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert list(metrics["test"]) == ["model"]
    assert metrics["meta"]["baselines"]["note"].startswith("skipped")
    assert metrics["test"]["model"]["ai_training"]["f1_ci95"] is None
    assert "baselines: skipped" in capsys.readouterr().out


def test_keyword_baseline_flags_the_grant_not_its_denial():
    keyword = KeywordBaseline(NAMES).fit()
    j = NAMES.index("ai_training")
    probs = keyword.predict_proba(
        [
            "We may use your content to train our artificial intelligence models.",
            "We do not use your content to train artificial intelligence models.",
            "Zoom does not use any of your audio, video, chat, screen sharing, attachments or other "
            "communications-like Customer Content to train Zoom or third-party artificial intelligence models.",
            "You may not use our content to train AI models.",
        ]
    )
    assert probs[:, j].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert set(np.unique(probs)) <= {0.0, 1.0}


def test_tfidf_baseline_learns_each_label_from_annotated_rows_only():
    def row(text, labels, mask):
        return {"text": text, "labels": labels, "label_mask": mask}

    # Label 0: learnable. Label 1: only positives among annotated rows -> constant 1.
    # Label 2: never annotated -> constant 0 (its "1"s are masked and must not be learned).
    train = [row("we train models on your data", [1, 1, 1], [1, 1, 0]) for _ in range(5)]
    train += [row("we keep your data safe", [0, 0, 1], [1, 0, 0]) for _ in range(5)]
    baseline = TfidfLogRegBaseline(["a", "b", "c"]).fit(train, train)
    probs = baseline.predict_proba(["we train models on your data", "we keep your data safe"])
    assert probs[0, 0] > 0.5 > probs[1, 0]
    assert probs[:, 1].tolist() == [1.0, 1.0] and probs[:, 2].tolist() == [0.0, 0.0]
    assert baseline.thresholds_tuned and len(baseline.thresholds) == 3


def test_missing_model_or_data_is_one_clear_line(tiny_trained_model, tmp_path):
    with pytest.raises(SystemExit) as err:
        main(["--model", str(tmp_path / "no-model"), "--output", str(tmp_path)])
    assert str(err.value.code).startswith("error: ") and "no-model" in str(err.value.code)
    assert "not found" in str(err.value.code)
    with pytest.raises(SystemExit) as err:
        main(
            [
                "--model",
                str(tiny_trained_model),
                "--data",
                str(tmp_path / "gone.jsonl"),
                "--output",
                str(tmp_path),
            ]
        )
    assert "gone.jsonl" in str(err.value.code) and "not found" in str(err.value.code)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "labels": ["no_such_label"]}\n')
    with pytest.raises(SystemExit) as err:
        main(["--model", str(tiny_trained_model), "--data", str(bad), "--output", str(tmp_path)])
    assert "bad.jsonl:1" in str(err.value.code) and "no_such_label" in str(err.value.code)
    assert not (tmp_path / "metrics.json").exists()


def test_printed_summary_leads_with_real_clauses(evaluated):
    from train.evaluation_report import summary_text

    _, metrics = evaluated
    text = summary_text(metrics, "test", NAMES)
    assert text.startswith("REAL clauses (headline): 16 clauses\n")
    assert text.index("team-written clauses: 16 clauses") < text.index("all clauses of test")
