"""Training end to end on the tiny model: the real `main()`, resume after a kill, 2-process DDP,
and configuration errors that say what to fix."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_tiny_clauses, train_tiny

from train.clause_files import read_clause_file
from train.config import load_config
from train.errors import ConfigError, DataError
from train.inference import ClausePredictor
from train.metrics import apply_thresholds, multilabel_metrics, tune_thresholds_by_origin
from train.modelio import load_meta
from train.run_folder import last_complete_checkpoint
from train.taxonomy import load_taxonomy
from train.training import main, positive_weights

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
    assert all(0.05 <= t <= 0.99 for t in meta["thresholds"])
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
    # Thresholds come from the real validation rows where those hold enough positives.
    real = np.array([str(r.get("origin") or "real") == "real" for r in rows])
    _, tuned_on = tune_thresholds_by_origin(probs, gold, mask, real)
    assert summary["thresholds_tuned_on"] == dict(zip(names, tuned_on, strict=True))
    # Report thresholds (what a diff needs to call a grant) are never below the flag ones.
    assert len(meta["report_thresholds"]) == len(names)
    assert all(r >= t for r, t in zip(meta["report_thresholds"], meta["thresholds"], strict=True))


def test_max_samples_train_and_tune_on_the_first_clauses(tmp_path, tiny_model_dir, tiny_clauses):
    """`data.max_train_samples` trains on the first N clauses (fewer steps) and
    `data.max_eval_samples` tunes and reports on the first N validation clauses only."""
    run = train_tiny(
        tiny_model_dir,
        tiny_clauses,
        tmp_path / "out",
        "data.max_train_samples=32",
        "data.max_eval_samples=20",
        "training.num_train_epochs=1",
    )
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["train_clauses"] == 32
    assert summary["global_step"] == 2  # 32 clauses at batch 16, one epoch
    rows = read_clause_file(tiny_clauses["validation"], load_taxonomy())
    supports = [
        sum(r["labels"][4] for r in part if r["label_mask"][4]) for part in (rows[:20], rows)
    ]
    assert supports[0] != supports[1]  # the fixture tells the first 20 from all of them
    assert summary["validation_tuned"]["data_retention"]["support"] == supports[0]


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
            "training.pos_weight: expected one of none, sqrt, ratio, got 'auto'",
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


def test_selection_on_tuned_macro_f1_picks_the_best_tuned_evaluation(
    tmp_path, tiny_model_dir, tiny_clauses
):
    run = train_tiny(
        tiny_model_dir,
        tiny_clauses,
        tmp_path,
        "training.num_train_epochs=3",
        "training.early_stopping_patience=0",
        "training.selection_metric=tuned_macro_f1",
    )
    summary = json.loads((run / "train_summary.json").read_text())
    evals = [e for e in summary["log_history"] if "eval_tuned_macro_f1" in e]
    assert len(evals) == 3
    # Tuning the thresholds on the same predictions can only match or beat the 0.5 threshold.
    assert all(e["eval_tuned_macro_f1"] >= e["eval_macro_f1"] - 1e-9 for e in evals)
    assert summary["selection_metric"] == "tuned_macro_f1"
    best = max(evals, key=lambda e: e["eval_tuned_macro_f1"])
    assert summary["best_validation_selection_metric"] == pytest.approx(best["eval_tuned_macro_f1"])
    assert summary["best_checkpoint"].endswith(f"checkpoint-{best['step']}")


def test_base_yaml_and_config_defaults_agree_and_help_prints_them():
    """configs/base.yaml is where defaults live; the dataclasses must hold the same values (one
    set of defaults), and `--help-config` prints what `make train` uses."""
    import dataclasses

    import yaml

    from train.config import SECTIONS, config_help
    from train.paths import REPO_ROOT

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


# ----------------------------------------------------------------------------- run fingerprint


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, tiny_clauses) -> dict:
    """A finished 2-step tiny run on its own copy of the base model (a test may change those
    weights and put them back); tests rerun in a copy of the run folder."""
    root = tmp_path_factory.mktemp("fingerprint")
    model = root / "base"
    shutil.copytree(tiny_model_dir, model)
    run = train_tiny(model, tiny_clauses, root / "out", "training.max_steps=2")
    assert last_complete_checkpoint(run / "checkpoints") and (run / "model").is_dir()
    return {"model": model, "run": run}


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A tiny base model of another architecture (hidden size 48), same tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("other-bert")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    torch.manual_seed(1)
    BertModel(BertConfig.from_pretrained(tiny_model_dir, hidden_size=48)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def other_clauses(tmp_path_factory) -> dict[str, Path]:
    return make_tiny_clauses(tmp_path_factory.mktemp("other-clauses"), seed=1)


def _copy_run(finished_run: dict, out: Path) -> Path:
    run = out / "tiny"
    shutil.copytree(finished_run["run"], run)
    return run


def _rerun(finished_run, clauses, out, *extra, model=None) -> Path:
    return train_tiny(model or finished_run["model"], clauses, out, "training.max_steps=2", *extra)


def _snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _overrides(change: tuple[str, ...], other_model: Path, other_clauses: dict) -> list[str]:
    values = {"other_model": other_model, "other_train": other_clauses["train"]}
    return [item.format(**values) for item in change if item != "REINIT_WEIGHTS"]


# (overrides for the rerun, what the refusal names: setting old → new)
REFUSED = [
    (("training.learning_rate=5.0e-04",), "training.learning_rate 0.001 → 0.0005"),
    (("model.model_name_or_path={other_model}",), "model.model_name_or_path "),
    (("REINIT_WEIGHTS",), "model.weights_sha256_or_commit "),
    (("data.train_file={other_train}",), "dataset_hash "),
    (("data.max_train_samples=48",), "data.max_train_samples 0 → 48"),
    (("model.max_length=32",), "model.max_length 256 → 32"),
    (("training.max_steps=3",), "training.max_steps 2 → 3"),
    (("training.per_device_train_batch_size=8",), "training.per_device_train_batch_size 16 → 8"),
    (("training.gradient_accumulation_steps=2",), "training.gradient_accumulation_steps 1 → 2"),
    (("training.weight_decay=0.0",), "training.weight_decay 0.01 → 0.0"),
    (("training.warmup_ratio=0.0",), "training.warmup_ratio 0.1 → 0.0"),
    (("training.lr_scheduler_type=cosine",), 'training.lr_scheduler_type "linear" → "cosine"'),
    (("training.pos_weight=ratio",), 'training.pos_weight "sqrt" → "ratio"'),
    (("training.pos_weight_cap=3.0",), "training.pos_weight_cap 10.0 → 3.0"),
    (("training.group_by_length=false",), "training.group_by_length true → false"),
    (("training.seed=7",), "training.seed 42 → 7"),
    (
        ("training.learning_rate=5.0e-04", "training.seed=7"),
        "training.learning_rate 0.001 → 0.0005; training.seed 42 → 7",
    ),
]


@pytest.mark.parametrize(("change", "expected"), REFUSED)
def test_rerun_with_other_weight_settings_stops_before_touching_the_run(
    tmp_path, finished_run, tiny_clauses, other_model_dir, other_clauses, change, expected
):
    run = _copy_run(finished_run, tmp_path)
    before = _snapshot(run)
    saved = {p: p.read_bytes() for p in finished_run["model"].iterdir() if p.is_file()}
    try:
        if "REINIT_WEIGHTS" in change:  # same folder, same architecture, other weights
            import torch
            from transformers import BertConfig, BertModel

            torch.manual_seed(1)
            BertModel(BertConfig.from_pretrained(finished_run["model"])).save_pretrained(
                finished_run["model"]
            )
        with pytest.raises(SystemExit) as err:
            _rerun(
                finished_run,
                tiny_clauses,
                tmp_path,
                *_overrides(change, other_model_dir, other_clauses),
            )
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    message = str(err.value)
    assert message.startswith(f"error: {run} was trained with other settings ("), message
    assert expected in message
    assert message.endswith(
        "choose a new training.run_name, delete the folder, or pass "
        "training.overwrite_output_dir=true to start this run over"
    )
    assert _snapshot(run) == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("training.learning_rate=5.0e-04",), "training.learning_rate 0.001 → 0.0005"),
        (("model.model_name_or_path={other_model}",), "model.model_name_or_path "),
        (("training.max_steps=3",), "training.max_steps 2 → 3"),
    ],
)
def test_run_folder_without_fingerprint_is_compared_by_its_config_yaml(
    tmp_path, finished_run, tiny_clauses, other_model_dir, other_clauses, change, expected
):
    run = _copy_run(finished_run, tmp_path)
    (run / "run_fingerprint.json").unlink()
    before = _snapshot(run)
    with pytest.raises(SystemExit, match=expected):
        _rerun(
            finished_run,
            tiny_clauses,
            tmp_path,
            *_overrides(change, other_model_dir, other_clauses),
        )
    assert _snapshot(run) == before


# (overrides for the rerun, paths removed from the run folder first, whether it resumes)
GOES_ON = [
    (("training.logging_steps=1",), (), True),
    (("training.per_device_eval_batch_size=8", "training.torch_threads=2"), (), True),
    (
        (
            "training.eval_strategy=steps",
            "training.eval_steps=1",
            "training.early_stopping_patience=0",
            "training.save_total_limit=1",
        ),
        (),
        True,
    ),
    # nothing was trained in the folder yet: its settings may still change
    (("training.learning_rate=5.0e-04",), ("checkpoints", "model"), False),
]


@pytest.mark.parametrize(("change", "removed", "resumes"), GOES_ON)
def test_rerun_goes_on_when_the_weights_settings_agree(
    tmp_path, capsys, finished_run, tiny_clauses, change, removed, resumes
):
    run = _copy_run(finished_run, tmp_path)
    for name in removed:
        shutil.rmtree(run / name)
    _rerun(finished_run, tiny_clauses, tmp_path, *change)
    assert ("resuming from" in capsys.readouterr().out) == resumes
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["global_step"] >= 2
    saved = yaml.safe_load((run / "config.yaml").read_text())
    for item in change:
        dotted, value = item.split("=")
        section, key = dotted.split(".")
        assert saved[section][key] == yaml.safe_load(value)
    fingerprint = json.loads((run / "run_fingerprint.json").read_text())
    assert fingerprint["training.learning_rate"] == saved["training"]["learning_rate"]


@pytest.mark.parametrize(
    ("change", "hidden_size", "learning_rate"),
    [
        (("training.learning_rate=5.0e-04",), 32, 5e-4),
        (("model.model_name_or_path={other_model}",), 48, 1e-3),
    ],
)
def test_overwrite_output_dir_starts_over_and_the_model_matches_its_metadata(
    tmp_path,
    capsys,
    finished_run,
    tiny_clauses,
    other_model_dir,
    other_clauses,
    change,
    hidden_size,
    learning_rate,
):
    run = _copy_run(finished_run, tmp_path)
    (run / "eval").mkdir()
    (run / "eval" / "metrics.json").write_text("{}")  # results of the old model
    extra = _overrides(change, other_model_dir, other_clauses)
    _rerun(finished_run, tiny_clauses, tmp_path, *extra, "training.overwrite_output_dir=true")
    assert "resuming from" not in capsys.readouterr().out
    assert not (run / "eval").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    meta = json.loads((run / "model" / "clausewatch.json").read_text())
    weights_config = json.loads((run / "model" / "config.json").read_text())
    fingerprint = json.loads((run / "run_fingerprint.json").read_text())
    assert weights_config["hidden_size"] == hidden_size
    assert meta["base_model"] == saved["model"]["model_name_or_path"]
    assert saved["training"]["learning_rate"] == pytest.approx(learning_rate)
    assert fingerprint["training.learning_rate"] == saved["training"]["learning_rate"]
    assert fingerprint["model.model_name_or_path"] == meta["base_model"]
    # The next start with the same settings resumes the new run.
    _rerun(finished_run, tiny_clauses, tmp_path, *extra)
    assert "resuming from" in capsys.readouterr().out


@pytest.mark.parametrize(
    "override, missing, expect_error",
    [
        ("training.use_cpu=true", "use_cpu", "training.use_cpu"),
        # eval_strategy reaches transformers as eval_strategy and save_strategy
        ("training.eval_strategy=steps", "save_strategy", "training.eval_strategy"),
        ("training.group_by_length=false", "train_sampling_strategy", "training.group_by_length"),
        ("training.learning_rate=3.0e-05", "use_cpu", None),  # changed key is not the dropped one
        (None, "use_cpu", None),  # defaults only: dropped quietly
    ],
)
def test_a_changed_setting_that_transformers_lacks_stops_the_run(override, missing, expect_error):
    """Older transformers (GPU images) lack some TrainingArguments; a dropped argument that
    carries a setting the user changed is an error naming that setting, never silently ignored."""
    import dataclasses

    from transformers import TrainingArguments

    from train.config import load_config
    from train.training import _training_arguments

    overrides = ["training.report_to=none"] + ([override] if override else [])
    if override and "eval_strategy" in override:
        overrides.append("training.eval_steps=10")
    cfg = load_config(REPO / "configs" / "base.yaml", overrides)
    real_fields = dataclasses.fields

    def fields_without(cls):
        found = real_fields(cls)
        if cls is TrainingArguments:
            found = tuple(f for f in found if f.name != missing)
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dataclasses, "fields", fields_without)
        if expect_error:
            with pytest.raises(ConfigError, match=expect_error.replace(".", r"\.")) as err:
                _training_arguments(cfg, Path("/tmp/unused-run"), has_bf16=False)
            assert "the installed transformers" in str(err.value)
        else:
            args = _training_arguments(cfg, Path("/tmp/unused-run"), has_bf16=False)
            assert args.learning_rate == cfg.training.learning_rate


def test_make_train_builds_the_dataset_only_for_configs_that_read_it(tmp_path, capsys):
    """`make train` asks `train.config --dataset-to-build` what to build: the main dataset for a
    config that reads it and lacks it, nothing for a peer config (its own files) or a built one."""
    from train.config import main as config_main

    missing = tmp_path / "not-built"
    assert config_main(["--dataset-to-build", f"data.dataset_dir={missing}"]) == 0
    assert capsys.readouterr().out.strip() == str(missing)
    built = tmp_path / "built"
    (built / "dataset").mkdir(parents=True)
    (built / "dataset" / "dataset_dict.json").write_text("{}")
    assert config_main(["--dataset-to-build", f"data.dataset_dir={built}"]) == 0
    assert capsys.readouterr().out == ""
    peer = ["--config", str(REPO / "configs" / "claudette.yaml"), f"data.dataset_dir={missing}"]
    assert config_main(["--dataset-to-build", *peer]) == 0
    assert capsys.readouterr().out == ""
    assert config_main(["--dataset-to-build", "training.learning_rate=-1"]) == 2
    assert "training.learning_rate" in capsys.readouterr().err
    makefile = (REPO / "Makefile").read_text()
    assert "-m train.config --dataset-to-build" in makefile.split("\ntrain:")[1].split("\n\n")[0]


def test_config_defaults_come_from_base_yaml_and_a_missing_key_is_named(monkeypatch):
    """The dataclasses hold no second set of values: a field takes `configs/base.yaml`'s value;
    a field the YAML lacks, or a YAML key with no field, stops with the key's name."""
    from dataclasses import dataclass

    import train.config as config

    monkeypatch.setattr(config, "_BASE_VALUES", {"demo": {"rate": 0.25, "tags": ["a"]}})

    @dataclass
    @config._defaults_from_base("demo")
    class Demo:
        rate: float = config._f("A rate.")
        tags: list = config._f("Some tags.")

    first, second = Demo(), Demo()
    assert first.rate == 0.25 and first.tags == ["a"]
    first.tags.append("b")
    assert second.tags == ["a"]  # each instance its own copy
    monkeypatch.setattr(config, "_BASE_VALUES", {"demo": {"rate": 0.25, "extra": 1}})
    with pytest.raises(ConfigError, match=r"no value for demo\.tags; unknown key demo\.extra"):

        @config._defaults_from_base("demo")
        class Broken:
            rate: float = config._f("A rate.")
            tags: list = config._f("Some tags.")


def _model_with_meta_and_its_data(tiny_trained_model, tiny_clauses, tmp_path, **meta_changes):
    """A copy of the tiny model with `meta_changes` written into its `clausewatch.json`, and a
    built dataset folder holding its validation split: (model dir, data dir, original meta,
    validation rows)."""
    from datasets import Dataset, DatasetDict

    from train.modelio import save_meta

    model = tmp_path / "model"
    shutil.copytree(tiny_trained_model, model)
    meta = load_meta(model)
    save_meta(model, dataclasses.replace(meta, **meta_changes))
    rows = read_clause_file(tiny_clauses["validation"], load_taxonomy())
    data = tmp_path / "processed"
    DatasetDict({"validation": Dataset.from_list(rows)}).save_to_disk(str(data / "dataset"))
    stats = {"content_hash": meta.dataset_hash, "label_names": meta.labels}
    (data / "stats.json").write_text(json.dumps(stats))
    return model, data, meta, rows


def test_report_thresholds_are_added_to_an_older_model(tiny_trained_model, tiny_clauses, tmp_path):
    """`scripts/report_thresholds.py` gives a model saved without report thresholds the ones
    training would have written (never below the flag thresholds), from the validation split of
    the dataset it was trained on, and refuses another dataset."""
    from train.report_thresholds import add_report_thresholds, main

    model, data, meta, _ = _model_with_meta_and_its_data(
        tiny_trained_model, tiny_clauses, tmp_path, report_thresholds=[]
    )
    stats = json.loads((data / "stats.json").read_text())

    assert main(["--model", str(model), "--dataset-dir", str(data)]) == 0
    added = load_meta(model)
    assert added.thresholds == meta.thresholds  # flag thresholds untouched
    assert len(added.report_thresholds) == len(meta.labels)
    assert all(r >= t for r, t in zip(added.report_thresholds, added.thresholds, strict=True))

    (data / "stats.json").write_text(json.dumps({**stats, "content_hash": "0" * 64}))
    with pytest.raises(DataError, match="not the one the model was trained on"):
        add_report_thresholds(model, data)


def test_flag_thresholds_are_tuned_again_on_request(tiny_trained_model, tiny_clauses, tmp_path):
    """`--flag-thresholds` replaces a model's flag thresholds with the ones today's rule picks on
    the validation split (as training would), and the report thresholds follow them."""
    from train.inference import ClausePredictor
    from train.metrics import real_mask, tune_thresholds_by_origin
    from train.report_thresholds import main

    # Off the tuning grid, so only a fresh tuning can replace them.
    n_labels = len(load_taxonomy().names)
    model, data, _, rows = _model_with_meta_and_its_data(
        tiny_trained_model, tiny_clauses, tmp_path, thresholds=[0.123] * n_labels
    )

    assert main(["--model", str(model), "--dataset-dir", str(data), "--flag-thresholds"]) == 0
    probs = ClausePredictor(model, backend="auto").predict_proba([r["text"] for r in rows])
    expected, _ = tune_thresholds_by_origin(
        probs,
        np.asarray([r["labels"] for r in rows]),
        np.asarray([r["label_mask"] for r in rows]),
        real_mask(r.get("origin") for r in rows),
    )
    retuned = load_meta(model)
    assert retuned.thresholds == pytest.approx(expected)
    assert 0.123 not in retuned.thresholds
    assert all(r >= t for r, t in zip(retuned.report_thresholds, retuned.thresholds, strict=True))


def test_worker_tokenisation_scores_like_the_in_process_path(tiny_trained_model, monkeypatch):
    """The GPU path (batches grouped by characters, tokenised in DataLoader worker processes)
    gives the same probabilities and embeddings, in input order, as the CPU path."""
    import train.inference as inference

    texts = [
        f"We may share clause number {i} with partners." + " more" * (i % 17) for i in range(60)
    ]
    predictor = ClausePredictor(tiny_trained_model, backend="torch")
    assert predictor.default_batch_size == inference.CPU_BATCH_SIZE
    assert inference.gpu_tokenizer_workers(2) == 0  # a few batches: no processes to start
    direct, direct_vectors = predictor.predict_with_embeddings(texts, batch_size=8)
    predictor.backend.tokenize_in_workers = True
    monkeypatch.setattr(inference, "gpu_tokenizer_workers", lambda n_batches: 2)
    workers, worker_vectors = predictor.predict_with_embeddings(texts, batch_size=8)
    np.testing.assert_allclose(workers, direct, atol=1e-5)
    np.testing.assert_allclose(worker_vectors, direct_vectors, atol=1e-5)


def test_gpu_bundle_halves_the_weights_and_keeps_the_dataset(tiny_model_dir, tmp_path):
    """`scripts/gpu_bundle.py`: the base model's float weights in fp16 (integer buffers as they
    were), every other file copied, and each JSONL split xz-compressed byte for byte."""
    import importlib.util
    import lzma

    from safetensors.torch import load_file

    spec = importlib.util.spec_from_file_location(
        "gpu_bundle_script", Path(__file__).parents[1] / "scripts" / "gpu_bundle.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.pack_base_model(Path(tiny_model_dir), tmp_path / "base")
    original = load_file(Path(tiny_model_dir) / "model.safetensors")
    half = load_file(tmp_path / "base" / "model.fp16.safetensors")
    assert set(half) == set(original)
    for name, tensor in original.items():
        if tensor.is_floating_point():
            assert str(half[name].dtype) == "torch.float16"
            np.testing.assert_allclose(half[name].float(), tensor, atol=2e-3, rtol=1e-3)
        else:
            assert half[name].dtype == tensor.dtype and bool((half[name] == tensor).all())
    assert (tmp_path / "base" / "config.json").read_bytes() == (
        Path(tiny_model_dir) / "config.json"
    ).read_bytes()
    assert not (tmp_path / "base" / "model.safetensors").exists()

    data = tmp_path / "processed"
    (data / "jsonl").mkdir(parents=True)
    for split in script.SPLITS:
        (data / "jsonl" / f"{split}.jsonl").write_text(f'{{"text": "{split} clause"}}\n')
    (data / "stats.json").write_text('{"content_hash": "abc"}')
    script.pack_dataset(data, tmp_path / "data")
    with lzma.open(tmp_path / "data" / "validation.jsonl.xz", "rt") as f:
        assert f.read() == '{"text": "validation clause"}\n'
    (data / "jsonl" / "test.jsonl").unlink()
    with pytest.raises(SystemExit, match="test.jsonl: missing"):
        script.pack_dataset(data, tmp_path / "again")


def test_gpu_check_script_parses_and_stops_without_a_gpu(tmp_path):
    """`scripts/gpu_check.sh` is valid bash, and on a machine without `nvidia-smi` it stops at
    once with a non-zero exit (it never trains on the CPU by mistake)."""
    import subprocess

    script = Path(__file__).parents[1] / "scripts" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    (tmp_path / "bundle").mkdir()
    bash = subprocess.run(["which", "bash"], capture_output=True, text=True).stdout.strip()
    run = subprocess.run(
        [bash, str(script), str(tmp_path / "bundle"), str(tmp_path / "out")],
        env={"HOME": str(tmp_path), "PATH": f"{tmp_path}:{Path(bash).parent}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert not (tmp_path / "out" / "train_summary.json").exists()
