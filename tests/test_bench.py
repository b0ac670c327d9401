"""The benchmark's measuring code on the tiny model: every path scores the same clauses, the
ratios and agreements are computed from what was measured."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from train.bench import format_speed, measure_speed, run_path
from train.export import export_model
from train.inference import ClausePredictor
from train.modelio import load_meta

TEXTS = [
    "we may use your content to train our ai models",
    "you grant us a worldwide perpetual licence to your content",
    "we share your information with advertisers and partners and we retain your data for years",
    "this privacy policy is for the service",
] * 3


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory, tiny_trained_model):
    run = tmp_path_factory.mktemp("bench-run")
    shutil.copytree(tiny_trained_model, run / "model")
    export_model(run / "model", max_parity=20)
    return run / "export"


def test_pipeline_and_our_paths_give_the_same_probabilities(tiny_export):
    import time

    launched = time.time()
    torch_probs, seconds, first = run_path("torch_fp32", tiny_export, TEXTS, launched)
    pipe_probs, _, _ = run_path("pipeline_b32", tiny_export, TEXTS)
    onnx_probs, _, _ = run_path("onnx_fp32", tiny_export, TEXTS)
    assert seconds > 0
    assert 0 < first < time.time() - launched
    assert torch_probs.shape == (len(TEXTS), 7)
    np.testing.assert_allclose(pipe_probs, torch_probs, atol=1e-5)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    direct = ClausePredictor(tiny_export, backend="torch").predict_proba(TEXTS)
    np.testing.assert_allclose(direct, torch_probs, atol=1e-6)


def test_measure_speed_reports_ratios_memory_and_agreement(tiny_export, tmp_path):
    results = measure_speed(tiny_export, TEXTS, tmp_path, ["pipeline_b32", "torch_fp32"])
    base, ours = results["pipeline_b32"], results["torch_fp32"]
    # Same clauses on both paths: the speed-up is the ratio of the two measured times.
    assert ours["speedup_vs_pipeline_b32"] == pytest.approx(base["seconds"] / ours["seconds"])
    assert base["clauses_per_s"] == pytest.approx(len(TEXTS) / base["seconds"])
    assert ours["label_agreement_vs_torch_fp32"] == 1.0
    assert base["label_agreement_vs_torch_fp32"] >= 0.95
    assert 50 < ours["peak_rss_mb"] < 8000
    # from the worker's launch to its first scored clause: positive, and within the run
    assert 0 < ours["first_clause_s"] < 300 and base["first_clause_s"] > 0
    assert "first s" in format_speed(results)
    assert "torch_fp32" in format_speed(results)
    # Flag rates: one share per label, equal to thresholding the saved probabilities by hand.
    meta = load_meta(tiny_export / "hf")
    probs = np.load(tmp_path / "probs_torch_fp32.npy")
    by_hand = (probs >= np.asarray(meta.thresholds)).mean(axis=0)
    assert list(ours["flag_rate"]) == meta.labels
    np.testing.assert_allclose(list(ours["flag_rate"].values()), by_hand)


def test_gold_rates_from_the_labelled_documents_of_a_build(tmp_path):
    import json

    from train.bench import format_rates, labelled_gold_rates

    stats = {
        "labelled_documents": {
            "train": {"documents": 2, "clauses": 30, "positives": {"a": 3, "b": 0}},
            "validation": {"documents": 0, "clauses": 0, "positives": {"a": 0, "b": 0}},
            "test": {"documents": 1, "clauses": 10, "positives": {"a": 1, "b": 2}},
        }
    }
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    gold = labelled_gold_rates(tmp_path)
    assert gold["documents"] == 3 and gold["clauses"] == 40
    assert gold["all"] == {"a": 0.1, "b": 0.05}
    assert gold["test"] == {"a": 0.1, "b": 0.2}
    text = format_rates({"torch": {"flag_rate": {"a": 0.25, "b": 0.0}}}, gold)
    assert text.splitlines()[1].split() == ["a", "0.100", "0.250"]
    assert labelled_gold_rates(tmp_path / "missing") is None


def test_big_diff_versions_come_from_disjoint_documents(tmp_path):
    from fixture_builder import RAW

    from train.bench_diff import make_versions

    old, new = make_versions(RAW, 100, 7, tmp_path)
    old_text, new_text = old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8")
    assert len(old_text.encode()) >= 100 and len(new_text.encode()) >= 100
    corpus = sorted((RAW / "tosdr_corpus_text/corpus/text").glob("*.txt"))
    in_old = {p.name for p in corpus if p.read_text(encoding="utf-8").strip() in old_text}
    in_new = {p.name for p in corpus if p.read_text(encoding="utf-8").strip() in new_text}
    assert in_old and in_new and not in_old & in_new
    with pytest.raises(ValueError, match="less than"):
        make_versions(RAW, 10_000, 7, tmp_path)


def test_big_diff_reports_its_parts_from_a_separate_process(tiny_export, tmp_path):
    from fixture_builder import RAW

    from train.bench_diff import format_result, measure
    from train.diff import diff_documents, read_version

    result = measure(str(tiny_export), RAW, tmp_path / "work", 100, 7, "onnx-int8")
    assert "error" not in result, result
    assert result["backend"] == "onnx-int8"
    # The same clause counts as a diff run here on the same two files.
    old, new = tmp_path / "work/old.txt", tmp_path / "work/new.txt"
    direct = diff_documents(
        ClausePredictor(tiny_export, backend="onnx-int8"),
        read_version(old)[0],
        read_version(new)[0],
    )
    assert (result["old_clauses"], result["new_clauses"]) == (
        direct["old_clauses"],
        direct["new_clauses"],
    )
    assert result["wall_s"] > result["load_s"] + result["segment_s"]
    assert 50 < result["peak_rss_mb"] < 8000
    line = format_result(result)
    assert f"{result['old_clauses']:,} and {result['new_clauses']:,} clauses" in line
    failed = measure(str(tmp_path / "no-model"), RAW, tmp_path / "work2", 100, 7, "onnx-int8")
    assert "cannot load model" in failed["error"]


@pytest.mark.parametrize(
    ("change", "new", "removed", "denials", "right"),
    [
        ("granted", "1", "0", 0, True),
        ("widened", "1", "0", 0, True),
        ("withdrawn", "0", "1", 0, True),
        ("narrowed", "0", "1", 0, True),
        ("unchanged", "0", "0", 0, True),
        # A reworded grant is neither new nor removed.
        ("reworded", "1", "0", 0, False),
        ("reworded", "0", "0", 0, True),
        ("granted", "0", "0", 0, False),
        ("withdrawn", "1", "0", 0, False),
        # Right label change, but an added denial was flagged as a grant.
        ("granted", "1", "0", 1, False),
    ],
)
def test_pair_scoring_counts_widened_as_new_and_narrowed_as_removed(
    change, new, removed, denials, right
):
    from train.bench import pair_is_right

    expect = {"expect_new_ai_grant": new, "expect_removed_ai_grant": removed}
    assert pair_is_right(change, expect, denials) is right


def test_denials_count_when_the_diff_lists_them_as_newly_flagged():
    from train.bench import denials_listed

    result = {
        "newly_flagged": [
            {"text": "We do not  train AI on your files.", "new_labels": ["ai_training"]},
            {"text": "to train an AI system,", "new_labels": ["data_sharing"]},
            {"text": "We may train models on your files.", "new_labels": ["ai_training"]},
        ]
    }
    denials = ["We do not train AI on your files.", "to train an AI system,", "Never sold."]
    # The first is listed as a new ai_training flag (spacing aside); the second is listed for
    # another label only; the third denial is not listed at all.
    assert denials_listed(result, denials) == 1
    assert denials_listed(result, []) == 0


class _Wobbly:
    """A predictor whose scores move by 0.6 logit when a clause is batched with others."""

    labels = ["a", "b"]
    thresholds = [0.5, 0.5]
    backend_name = "fake"

    class meta:  # noqa: N801 - stands in for ModelMeta
        report_thresholds = [0.8, 0.8]

    BASE = {"near flag": -0.3, "far": 3.0, "low": -2.0, "near report": 1.0}

    def predict_proba(self, texts, batch_size=64):
        shift = 0.6 if len(texts) > 1 else 0.0
        logits = np.array([[self.BASE[t] + shift, -5.0 + shift] for t in texts])
        return 1 / (1 + np.exp(-logits))


def test_batch_wobble_finds_the_decisions_that_differ_and_what_each_margin_misses():
    from train.bench_wobble import format_result, measure

    r = measure(_Wobbly(), list(_Wobbly.BASE), margins=(0.2, 0.5, 1.5, 3.0))
    # "near flag": -0.3 alone, +0.3 batched: the flag differs, 0.3 logit from its threshold;
    # "near report": 1.0 alone, 1.6 batched: the report decision (logit 1.386) differs.
    assert r["differing"]["flag"]["decisions"] == 1
    assert r["differing"]["flag"]["farthest_batched_logits"] == pytest.approx(0.3)
    assert r["differing"]["report"]["decisions"] == 1
    assert r["differing"]["report"]["farthest_batched_logits"] == pytest.approx(1.6 - np.log(4))
    assert r["missed_at_margin"] == {"0.2": 2, "0.5": 0, "1.5": 0, "3.0": 0}
    # batched logits 0.3, 3.6, -1.4, 1.6: nearest decision 0.3, 2.21, 1.4, 0.21 logits away
    assert r["rescored_at_margin"] == {"0.2": 0, "0.5": 2, "1.5": 3, "3.0": 4}
    assert r["logit_gap_near_threshold"]["1.0"] == pytest.approx(0.6)
    assert "flag 1" in format_result(r) and "0.5: 2 (0 missed)" in format_result(r)


def test_speed_paths_and_a_clause_file_for_machines_without_the_raw_sources(tmp_path):
    import argparse
    import json

    from train.bench import GPU_PATHS, speed_clauses, speed_paths

    assert speed_paths("torch_bf16_gpu, torch_fp32_gpu") == ["torch_bf16_gpu", "torch_fp32_gpu"]
    assert "torch_fp32" in speed_paths(None) and not set(GPU_PATHS) & set(speed_paths(None))
    with pytest.raises(SystemExit, match="unknown path.*tpu"):
        speed_paths("onnx_int8,tpu")
    clauses = tmp_path / "clauses.json"
    clauses.write_text(json.dumps(TEXTS))
    args = argparse.Namespace(clauses=clauses, n=5, seed=7)
    assert speed_clauses(args, tmp_path / "no-raw", tmp_path / "no-export") == TEXTS
    clauses.write_text(json.dumps({"text": "not a list"}))
    with pytest.raises(SystemExit, match="clauses.json: expected a non-empty JSON list"):
        speed_clauses(args, tmp_path, tmp_path)
