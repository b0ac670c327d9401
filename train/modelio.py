"""The self-describing model folder, and the one tokenise function used everywhere.

A model folder holds the weights (safetensors), the tokenizer, a transformers `config.json`
(with `id2label`, `problem_type`) and `clausewatch.json`: label names, per-label thresholds,
max length, taxonomy version and dataset content hash. Inference, export and diff need nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

META_FILE = "clausewatch.json"
FORMAT_VERSION = 1


@dataclass
class ModelMeta:
    """What travels with the weights."""

    labels: list[str]
    thresholds: list[float]
    max_length: int
    taxonomy_version: str = ""
    dataset_hash: str = ""
    base_model: str = ""
    label_definitions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # Stricter per-label thresholds for what `diff` and `watch` report as a grant or a withdrawal
    # (F0.5-best on validation); empty in models trained before them: the flag thresholds serve.
    report_thresholds: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.thresholds) != len(self.labels):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.labels)} labels")
        if self.report_thresholds and len(self.report_thresholds) != len(self.labels):
            raise ValueError(
                f"{len(self.report_thresholds)} report thresholds for {len(self.labels)} labels"
            )


def save_meta(folder: str | Path, meta: ModelMeta) -> Path:
    """Write `clausewatch.json` into `folder`."""
    path = Path(folder) / META_FILE
    path.write_text(json.dumps(asdict(meta), indent=2) + "\n", encoding="utf-8")
    return path


def load_meta(folder: str | Path) -> ModelMeta:
    """Read `clausewatch.json`; a clear error when the folder is not a ClauseWatch model."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder}: not a ClauseWatch model folder (no {META_FILE}); "
            "train one with `make train` or pass the `model/` folder of a run"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(ModelMeta.__dataclass_fields__)
    return ModelMeta(**{k: v for k, v in data.items() if k in known})


def tokenize_texts(
    tokenizer,
    texts: list[str],
    max_length: int,
    padding: bool | str = False,
    return_tensors: str | None = None,
):
    """Tokenise clauses the same way for training, inference and export (truncate to the model's
    max length; padding is left to the batch collator unless asked for)."""
    return tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=padding,
        return_tensors=return_tensors,
    )
