"""A training run's folder: the fingerprint of the settings its weights depend on, the check that
refuses to resume it with other settings, its creation (fingerprint and resolved config), the last
complete checkpoint a run resumes from, and the `latest` link beside it.

Used by `train.training.train`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import yaml

from train.errors import ConfigError

FINGERPRINT_FILE = "run_fingerprint.json"

# The settings that change the trained weights. Logging, evaluation and saving frequency, paths,
# trackers, workers and threads are left out: they may change between a run's start and its resume.
FINGERPRINT_KEYS = (
    "data.max_train_samples",
    "model.model_name_or_path",
    "model.max_length",
    "training.num_train_epochs",
    "training.max_steps",
    "training.per_device_train_batch_size",
    "training.gradient_accumulation_steps",
    "training.learning_rate",
    "training.weight_decay",
    "training.warmup_ratio",
    "training.lr_scheduler_type",
    "training.pos_weight",
    "training.pos_weight_cap",
    "training.group_by_length",
    "training.seed",
)

# Files of a local model folder that define its weights and tokens.
MODEL_IDENTITY_FILES = (
    "config.json",
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def model_identity(model_path: str, model_config=None) -> str:
    """sha256 over a local model folder's config, tokenizer and `*.safetensors` files; for a
    Hugging Face id, the commit of the cached snapshot (empty when unknown)."""
    folder = Path(model_path)
    if not folder.is_dir():
        return str(getattr(model_config, "_commit_hash", None) or "")
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.name in MODEL_IDENTITY_FILES or path.suffix == ".safetensors"):
            digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def run_fingerprint(
    resolved: dict,
    labels: list[str] | None = None,
    model_id: str | None = None,
    processes: int | None = None,
) -> dict:
    """What the weights of a run depend on, as flat `section.key: value` pairs, from a resolved
    config (the dict saved as a run's `config.yaml`); keys it lacks are left out. Settings without
    effect are dropped: epochs when max_steps > 0, the cap when pos_weight is none."""
    fp: dict = {}
    if resolved.get("dataset_hash"):
        fp["dataset_hash"] = resolved["dataset_hash"]
    for dotted in FINGERPRINT_KEYS:
        section, key = dotted.split(".", 1)
        values = resolved.get(section) or {}
        if key in values:
            fp[dotted] = values[key]
    max_steps = fp.get("training.max_steps")
    if isinstance(max_steps, (int, float)) and not isinstance(max_steps, bool):
        if max_steps > 0:
            fp.pop("training.num_train_epochs", None)
        else:
            fp["training.max_steps"] = -1
    if fp.get("training.pos_weight") == "none":
        fp.pop("training.pos_weight_cap", None)
    if labels is not None:
        fp["labels"] = list(labels)
    if model_id:
        fp["model.weights_sha256_or_commit"] = model_id
    if processes is not None:
        fp["processes"] = processes
    return fp


def _shown(value) -> str:
    if isinstance(value, str) and len(value) >= 40 and all(c in "0123456789abcdef" for c in value):
        return value[:12]
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _has_trained_state(run_dir: Path) -> bool:
    return (run_dir / "model").is_dir() or (
        last_complete_checkpoint(run_dir / "checkpoints") is not None
    )


def _previous_fingerprint(run_dir: Path) -> dict | None:
    """The fingerprint a run folder was started with; from its `config.yaml` for folders older
    than the fingerprint file."""
    saved = run_dir / FINGERPRINT_FILE
    if saved.is_file():
        try:
            previous = json.loads(saved.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = None
        if isinstance(previous, dict):
            return previous
    config = run_dir / "config.yaml"
    if config.is_file():
        try:
            previous = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return None
        return run_fingerprint(previous) if isinstance(previous, dict) else None
    return None


def check_resumable(run_dir: Path, fingerprint: dict) -> None:
    """Refuse to resume a run folder holding checkpoints or a model trained with other settings
    (reads only; nothing is loaded or written)."""
    previous = _previous_fingerprint(run_dir)
    if previous is None or not _has_trained_state(run_dir):
        return
    changes = [
        f"{key} {_shown(previous[key])} → {_shown(value)}"
        for key, value in fingerprint.items()
        if key in previous and previous[key] != value
    ]
    if changes:
        raise ConfigError(
            f"{run_dir} was trained with other settings ({'; '.join(changes)}), so it cannot be "
            "resumed: choose a new training.run_name, delete the folder, or pass "
            "training.overwrite_output_dir=true to start this run over"
        )


def _is_run_folder(run_dir: Path) -> bool:
    return any(
        (run_dir / name).exists() for name in (FINGERPRINT_FILE, "config.yaml", "checkpoints")
    )


def start_run_dir(run_dir: Path, fingerprint: dict, resolved: dict, overwrite: bool) -> None:
    """Create (or, with overwrite, empty) the run folder and record the run's fingerprint and
    resolved config."""
    if overwrite and run_dir.is_dir() and _is_run_folder(run_dir):
        print(f"training.overwrite_output_dir: deleting {run_dir} to start over")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (
        (FINGERPRINT_FILE, json.dumps(fingerprint, indent=2) + "\n"),
        ("config.yaml", yaml.safe_dump(resolved, sort_keys=False)),
    ):
        tmp = run_dir / f".{name}.{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, run_dir / name)


CHECKPOINT_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest `checkpoint-N` holding every file a resume needs. A run killed while writing a
    checkpoint leaves an incomplete folder: it is skipped, so the run resumes from the one before."""
    if not folder.is_dir():
        return None
    steps = []
    for path in folder.glob("checkpoint-*"):
        suffix = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and suffix.isdigit():
            steps.append((int(suffix), path))
    for _, path in sorted(steps, reverse=True):
        if all((path / name).is_file() for name in CHECKPOINT_FILES):
            return str(path)
        print(f"skipping incomplete checkpoint {path}")
    return None


def link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)
