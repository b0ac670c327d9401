"""Training end to end on the tiny model: the real `main()`, resume after a kill, 2-process DDP,
and configuration errors that say what to fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import train_tiny

from train.clause_files import read_clause_file
from train.config import load_config
from train.errors import ConfigError, DataError
from train.inference import ClausePredictor
from train.metrics import apply_thresholds, multilabel_metrics
from train.taxonomy import load_taxonomy
from train.training import last_complete_checkpoint, main, positive_weights

REPO = Path(__file__).resolve().parent.parent


def _tiny_args(model_dir: Path, clauses: dict, out: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(REPO / "configs" / "base.yaml"),
        f"model.model_name_or_path={model_dir}",
        f"data.train_file={clauses['train']}",
        f"data.validation_file={clauses['validation']}",
        f"training.output_root={out}",
        "training.run_name=tiny",
        "training.per_device_train_batch_size=16",
        "training.learning_rate=1.0e-03",
        "training.report_to=none",
        *extra,
    ]


def test_main_writes_a_self_describing_model_and_true_metrics(tiny_trained_model, tiny_clauses):
    run = tiny_trained_model.parent
    summary = json.loads((run / "train_summary.json").read_text())
    meta = json.loads((tiny_trained_model / "clausewatch.json").read_text())
    names = list(load_taxonomy().names)
    assert meta["labels"] == names
    assert len(meta["thresholds"]) == len(names)
    assert all(0.05 <= t <= 0.95 for t in meta["thresholds"])
    assert meta["max_length"] == 64  # the tiny tokenizer's limit caps the configured 256
    assert meta["dataset_hash"] == summary["dataset_hash"] and len(meta["dataset_hash"]) == 64
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert (tiny_trained_model / name).is_file()
    config = json.loads((tiny_trained_model / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"]["0"] == names[0]
    assert (run.parent / "latest").resolve() == run.resolve()
    # 96 clauses, batch 16, 2 epochs
    assert summary["global_step"] == 12
    losses = [e["loss"] for e in summary["log_history"] if "loss" in e]
    assert losses and all(np.isfinite(losses))

    # The validation metrics in the summary are what the saved model really scores.
    rows = read_clause_file(tiny_clauses["validation"], load_taxonomy())
    predictor = ClausePredictor(tiny_trained_model, backend="torch")
    probs = predictor.predict_proba([r["text"] for r in rows])
    gold = np.array([r["labels"] for r in rows])
    mask = np.array([r["label_mask"] for r in rows])
    again = multilabel_metrics(
        apply_thresholds(probs, meta["thresholds"]), gold, mask, names, probs
    )
    assert again["macro_f1"] == pytest.approx(summary["validation_tuned"]["macro_f1"], abs=1e-6)
    assert summary["validation_tuned"]["data_retention"]["support"] == sum(
        r["labels"][4] for r in rows if r["label_mask"][4]
    )


def test_restart_after_kill_resumes_from_last_checkpoint(tmp_path, tiny_model_dir, tiny_clauses):
    args = _tiny_args(
        tiny_model_dir,
        tiny_clauses,
        tmp_path,
        "training.max_steps=200",
        "training.eval_strategy=steps",
        "training.eval_steps=20",
        "training.save_total_limit=3",
        "training.early_stopping_patience=0",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "run_train.py"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoints = tmp_path / "tiny" / "checkpoints"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and last_complete_checkpoint(checkpoints) is None:
            assert proc.poll() is None, "training finished before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = last_complete_checkpoint(checkpoints)
    assert killed_at is not None
    step_at_kill = int(killed_at.rsplit("-", 1)[1])
    assert step_at_kill < 200
    assert not (tmp_path / "tiny" / "model").exists()

    main(args)

    summary = json.loads((tmp_path / "tiny" / "train_summary.json").read_text())
    assert summary["global_step"] == 200
    logged_steps = [e["step"] for e in summary["log_history"] if "loss" in e]
    # The history before the kill was restored from the checkpoint, and the count went on.
    assert min(logged_steps) <= step_at_kill < max(logged_steps)
    assert (tmp_path / "tiny" / "model" / "clausewatch.json").is_file()


def test_incomplete_checkpoint_is_skipped(tmp_path):
    good = tmp_path / "checkpoint-10"
    bad = tmp_path / "checkpoint-20"
    for folder in (good, bad):
        folder.mkdir()
    for name in ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt"):
        (good / name).write_text("x")
    (bad / "model.safetensors").write_text("x")  # killed while saving
    assert last_complete_checkpoint(tmp_path) == str(good)


def test_two_process_ddp_on_cpu(tmp_path, tiny_model_dir, tiny_clauses):
    args = _tiny_args(
        tiny_model_dir, tiny_clauses, tmp_path, "training.max_steps=4", "training.use_cpu=true"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29517",
            str(REPO / "scripts" / "run_train.py"),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "tiny" / "train_summary.json").read_text())
    assert summary["global_step"] == 4
    # Written once, by the main process only.
    assert result.stdout.count("model saved to") == 1
    assert (tmp_path / "tiny" / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "training:\n  lerning_rate: 1.0e-04\n",
            "unknown key training.lerning_rate (did you mean learning_rate",
        ),
        ("optimiser:\n  lr: 1\n", "unknown section 'optimiser'"),
        ("training:\n  num_train_epochs: three\n", "training.num_train_epochs: expected a number"),
        (
            "training:\n  pos_weight: auto\n",
            "training.pos_weight: 'auto' is not one of none, sqrt, ratio",
        ),
    ],
)
def test_bad_config_names_the_key(tmp_path, yaml_text, message):
    path = tmp_path / "exp.yaml"
    path.write_text("defaults: " + str(REPO / "configs" / "base.yaml") + "\n" + yaml_text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(path)


def test_experiment_inherits_base_and_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"defaults: {REPO / 'configs' / 'base.yaml'}\ntraining:\n  learning_rate: 3.0e-05\n"
    )
    cfg = load_config(path, ["training.num_train_epochs=1"])
    assert cfg.training.learning_rate == pytest.approx(3e-5)
    assert cfg.training.num_train_epochs == 1.0
    assert cfg.training.per_device_train_batch_size == 16  # from base


def test_missing_dataset_says_what_to_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(
            [
                "--config",
                str(REPO / "configs" / "base.yaml"),
                f"data.dataset_dir={tmp_path / 'none'}",
            ]
        )
    assert "make data" in str(err.value) and "no built dataset" in str(err.value)


def test_unknown_label_in_user_file_names_file_and_line(tmp_path, tiny_model_dir, tiny_clauses):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "we sell data", "labels": ["data_sharing"]}\n{"text": "x y", "labels": ["spying"]}\n'
    )
    with pytest.raises(DataError, match=r"bad\.jsonl:2: unknown label 'spying'"):
        read_clause_file(bad, load_taxonomy())
    with pytest.raises(SystemExit, match=r"bad\.jsonl:2"):
        main(_tiny_args(tiny_model_dir, {**tiny_clauses, "train": bad}, tmp_path))


def test_dataset_built_with_other_labels_is_refused(tmp_path, tiny_model_dir):
    folder = tmp_path / "processed"
    (folder / "dataset").mkdir(parents=True)
    (folder / "dataset" / "dataset_dict.json").write_text('{"splits": ["train", "validation"]}')
    (folder / "stats.json").write_text(json.dumps({"label_names": ["ai_training", "spying"]}))
    with pytest.raises(SystemExit, match=r"unknown label\(s\): \['spying'\]"):
        main(["--config", str(REPO / "configs" / "base.yaml"), f"data.dataset_dir={folder}"])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("none", None), ("ratio", [3.0, 1.0, 10.0]), ("sqrt", [np.sqrt(3.0), 1.0, np.sqrt(19.0)])],
)
def test_positive_weights_use_unmasked_counts(mode, expected):
    # label 0: 1 pos / 3 neg; label 1: no positives -> 1; label 2: 1 pos / 19 neg (ratio capped at 10)
    labels = np.zeros((20, 3))
    mask = np.zeros((20, 3))
    labels[0, 0] = 1
    mask[:4, 0] = 1
    mask[:5, 1] = 1
    labels[0, 2] = 1
    mask[:, 2] = 1
    weights = positive_weights(labels, mask, mode, cap=10.0)
    if expected is None:
        assert weights is None
    else:
        np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_masked_entries_contribute_nothing_to_the_loss():
    import torch

    from train.training import build_trainer_class

    trainer_cls = build_trainer_class()
    trainer = trainer_cls.__new__(trainer_cls)
    trainer.pos_weight = None

    class Model(torch.nn.Module):
        def forward(self, **inputs):
            return type("Out", (), {"logits": inputs["x"]})()

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    full = trainer.compute_loss(
        Model(), {"x": logits, "labels": labels, "label_mask": torch.ones(2, 2)}
    )
    # Masking the second column: whatever its labels say, only column 0 counts.
    flipped = labels.clone()
    flipped[:, 1] = 1 - flipped[:, 1]
    mask = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    masked = trainer.compute_loss(Model(), {"x": logits, "labels": flipped, "label_mask": mask})
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels[:, 0])
    assert masked.item() == pytest.approx(expected.item(), rel=1e-6)
    assert full.item() != pytest.approx(masked.item())


def test_tiny_run_helper_is_reusable(tmp_path, tiny_model_dir, tiny_clauses):
    run = train_tiny(tiny_model_dir, tiny_clauses, tmp_path, "training.max_steps=2")
    assert json.loads((run / "train_summary.json").read_text())["global_step"] == 2


def test_base_yaml_and_config_defaults_agree_and_help_prints_them():
    """configs/base.yaml is where defaults live; the dataclasses must hold the same values (one
    set of defaults), and `--help-config` prints what `make train` uses."""
    import dataclasses

    import yaml

    from train.config import SECTIONS, config_help
    from train.taxonomy import REPO_ROOT

    base = yaml.safe_load((REPO_ROOT / "configs" / "base.yaml").read_text())
    assert set(base) == set(SECTIONS)
    for section, cls in SECTIONS.items():
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert set(base[section]) == set(fields), section
        for name, f in fields.items():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert base[section][name] == default, f"{section}.{name}"
    text = config_help()
    assert f"num_train_epochs = {float(base['training']['num_train_epochs'])}" in text
    assert (
        f"per_device_train_batch_size = {base['training']['per_device_train_batch_size']}" in text
    )
